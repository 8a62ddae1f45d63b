package registryserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"

	corepb "github.com/feastgo/feastgo/protos/feast/core"
	registrypb "github.com/feastgo/feastgo/protos/feast/registry"
	typespb "github.com/feastgo/feastgo/protos/feast/types"
)

// Features across views, as Feast 0.67's ListFeatures and GetFeature build
// them from the Python view objects: every view kind of the project (feature,
// stream, on-demand, label views, in that order) the user may DESCRIBE; the
// type is the str() of the field's Feast type; owner and timestamps stay
// empty (Feast looks for spec and meta attributes its view objects do not
// have); kind is "label" for a label view's fields, "feature" otherwise.

// Tags Feast keeps a field's type details in (not shown as tags).
const (
	structSchemaTag    = "feast:struct_schema"
	nestedInnerTypeTag = "feast:nested_inner_type"
)

// viewFeatures lists the project's views of every kind with their kind and
// features.
func viewFeatures(reg *corepb.Registry, project string) []*registrypb.AnyFeatureView {
	return allViews(reg, project, nil)
}

func featuresOf(v *registrypb.AnyFeatureView) (kind string, fs []*corepb.FeatureSpecV2) {
	switch x := v.GetAnyFeatureView().(type) {
	case *registrypb.AnyFeatureView_FeatureView:
		return "feature", x.FeatureView.GetSpec().GetFeatures()
	case *registrypb.AnyFeatureView_StreamFeatureView:
		return "feature", x.StreamFeatureView.GetSpec().GetFeatures()
	case *registrypb.AnyFeatureView_OnDemandFeatureView:
		return "feature", x.OnDemandFeatureView.GetSpec().GetFeatures()
	case *registrypb.AnyFeatureView_LabelView:
		return "label", x.LabelView.GetSpec().GetFeatures()
	}
	return "feature", nil
}

func featureOf(view, kind string, f *corepb.FeatureSpecV2) *registrypb.Feature {
	tags := map[string]string{}
	for k, v := range f.GetTags() {
		if k != structSchemaTag && k != nestedInnerTypeTag {
			tags[k] = v
		}
	}
	if len(tags) == 0 {
		tags = nil
	}
	return &registrypb.Feature{Name: f.GetName(), FeatureView: view, Type: feastTypeString(f),
		Description: f.GetDescription(), Tags: tags, Kind: kind}
}

// ListFeatures lists the features of the project's views, narrowed by
// feature_view, name and kind, sorted and paged.
func (s *Server) ListFeatures(ctx context.Context, r *registrypb.ListFeaturesRequest) (*registrypb.ListFeaturesResponse, error) {
	reg, err := s.current(ctx, r.GetAllowCache())
	if err != nil {
		return nil, err
	}
	views, err := describable(s, ctx, r.GetProject(), viewFeatures(reg, r.GetProject()))
	if err != nil {
		return nil, err
	}
	var out []*registrypb.Feature
	for _, v := range views {
		kind, fs := featuresOf(v)
		if r.GetKind() != "" && kind != r.GetKind() {
			continue
		}
		name := viewName(v)
		if r.GetFeatureView() != "" && name != r.GetFeatureView() {
			continue
		}
		for _, f := range fs {
			if r.GetName() != "" && f.GetName() != r.GetName() {
				continue
			}
			out = append(out, featureOf(name, kind, f))
		}
	}
	items, meta := page(out, r.GetPagination(), r.GetSorting())
	return &registrypb.ListFeaturesResponse{Features: items, Pagination: meta}, nil
}

// GetFeature finds a feature by view and name; a missing one is Feast's
// FeastObjectNotFoundException.
func (s *Server) GetFeature(ctx context.Context, r *registrypb.GetFeatureRequest) (*registrypb.Feature, error) {
	reg, err := s.current(ctx, r.GetAllowCache())
	if err != nil {
		return nil, err
	}
	views, err := describable(s, ctx, r.GetProject(), viewFeatures(reg, r.GetProject()))
	if err != nil {
		return nil, err
	}
	for _, v := range views {
		if viewName(v) != r.GetFeatureView() {
			continue
		}
		kind, fs := featuresOf(v)
		for _, f := range fs {
			if f.GetName() == r.GetName() {
				return featureOf(viewName(v), kind, f), nil
			}
		}
	}
	return nil, feastError(codes.NotFound, "FeastObjectNotFoundException",
		fmt.Sprintf("Feature %s not found in feature view %s in project %s", r.GetName(), r.GetFeatureView(), r.GetProject()))
}

// Feast type names by primitive (PrimitiveFeastType member name → str()).
var primitiveNames = map[string]string{
	"INVALID": "Invalid", "STRING": "String", "BYTES": "Bytes", "PDF_BYTES": "PdfBytes", "IMAGE_BYTES": "ImageBytes",
	"BOOL": "Bool", "INT32": "Int32", "INT64": "Int64", "FLOAT32": "Float32", "FLOAT64": "Float64",
	"UNIX_TIMESTAMP": "UnixTimestamp", "MAP": "Map", "JSON": "Json", "UUID": "Uuid", "TIME_UUID": "TimeUuid",
	"DECIMAL": "Decimal", "SCALAR_MAP": "ScalarMap", "ZONED_TIMESTAMP": "ZonedTimestamp",
}

// Value types by the Feast type they stand for (from_value_type).
var valueTypeNames = map[typespb.ValueType_Enum]string{
	typespb.ValueType_INVALID: "Invalid", typespb.ValueType_BYTES: "Bytes", typespb.ValueType_STRING: "String",
	typespb.ValueType_INT32: "Int32", typespb.ValueType_INT64: "Int64", typespb.ValueType_DOUBLE: "Float64",
	typespb.ValueType_FLOAT: "Float32", typespb.ValueType_BOOL: "Bool", typespb.ValueType_UNIX_TIMESTAMP: "UnixTimestamp",
	typespb.ValueType_MAP: "Map", typespb.ValueType_JSON: "Json", typespb.ValueType_UUID: "Uuid",
	typespb.ValueType_TIME_UUID: "TimeUuid", typespb.ValueType_DECIMAL: "Decimal", typespb.ValueType_SCALAR_MAP: "ScalarMap",
	typespb.ValueType_ZONED_TIMESTAMP: "ZonedTimestamp", 30: "PdfBytes", 31: "ImageBytes",
	typespb.ValueType_BYTES_LIST: "Array(Bytes)", typespb.ValueType_STRING_LIST: "Array(String)",
	typespb.ValueType_INT32_LIST: "Array(Int32)", typespb.ValueType_INT64_LIST: "Array(Int64)",
	typespb.ValueType_DOUBLE_LIST: "Array(Float64)", typespb.ValueType_FLOAT_LIST: "Array(Float32)",
	typespb.ValueType_BOOL_LIST: "Array(Bool)", typespb.ValueType_UNIX_TIMESTAMP_LIST: "Array(UnixTimestamp)",
	typespb.ValueType_MAP_LIST: "Array(Map)", typespb.ValueType_JSON_LIST: "Array(Json)",
	typespb.ValueType_UUID_LIST: "Array(Uuid)", typespb.ValueType_TIME_UUID_LIST: "Array(TimeUuid)",
	typespb.ValueType_DECIMAL_LIST: "Array(Decimal)",
	typespb.ValueType_BYTES_SET:    "Set(Bytes)", typespb.ValueType_STRING_SET: "Set(String)",
	typespb.ValueType_INT32_SET: "Set(Int32)", typespb.ValueType_INT64_SET: "Set(Int64)",
	typespb.ValueType_DOUBLE_SET: "Set(Float64)", typespb.ValueType_FLOAT_SET: "Set(Float32)",
	typespb.ValueType_BOOL_SET: "Set(Bool)", typespb.ValueType_UNIX_TIMESTAMP_SET: "Set(UnixTimestamp)",
	typespb.ValueType_UUID_SET: "Set(Uuid)", typespb.ValueType_TIME_UUID_SET: "Set(TimeUuid)",
	typespb.ValueType_DECIMAL_SET: "Set(Decimal)",
	typespb.ValueType_STRUCT:      "Struct({_value: String})", typespb.ValueType_STRUCT_LIST: "Array(Struct({_value: String}))",
	typespb.ValueType_VALUE_LIST: "Array(Array(String))", typespb.ValueType_VALUE_SET: "Set(Array(String))",
}

// feastTypeString is str() of the Feast type Field.from_proto rebuilds: a
// struct from its schema tag, a nested collection from its inner-type tag,
// else from the value type. A value type or tag Feast cannot read (where its
// own call fails) shows as the value type's name.
func feastTypeString(f *corepb.FeatureSpecV2) string {
	vt := f.GetValueType()
	switch {
	case vt == typespb.ValueType_STRUCT && f.GetTags()[structSchemaTag] != "":
		if s, ok := structString(f.GetTags()[structSchemaTag]); ok {
			return s
		}
	case vt == typespb.ValueType_STRUCT_LIST && f.GetTags()[structSchemaTag] != "":
		if s, ok := structString(f.GetTags()[structSchemaTag]); ok {
			return "Array(" + s + ")"
		}
	case (vt == typespb.ValueType_VALUE_LIST || vt == typespb.ValueType_VALUE_SET) && f.GetTags()[nestedInnerTypeTag] != "":
		if s, ok := typeFromString(f.GetTags()[nestedInnerTypeTag]); ok {
			return s
		}
	default:
		if s, ok := valueTypeNames[vt]; ok {
			return s
		}
	}
	return vt.String()
}

// typeFromString is _str_to_feast_type, shown as str() shows the result.
func typeFromString(t string) (string, bool) {
	switch {
	case strings.HasPrefix(t, "Array(") && strings.HasSuffix(t, ")"):
		in, ok := typeFromString(t[6 : len(t)-1])
		return "Array(" + in + ")", ok
	case strings.HasPrefix(t, "Set(") && strings.HasSuffix(t, ")"):
		in, ok := typeFromString(t[4 : len(t)-1])
		return "Set(" + in + ")", ok
	case strings.HasPrefix(t, "{"):
		var wrapper struct {
			Struct json.RawMessage `json:"__struct__"`
		}
		if json.Unmarshal([]byte(t), &wrapper) == nil && wrapper.Struct != nil {
			return structString(string(wrapper.Struct))
		}
	}
	s, ok := primitiveNames[t]
	return s, ok
}

// structString shows a struct schema ({"field": "TYPE", ...}, in its order)
// as Struct({field: Type, ...}).
func structString(schema string) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader([]byte(schema)))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", false
	}
	var parts []string
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return "", false
		}
		var val string
		if err := dec.Decode(&val); err != nil {
			return "", false
		}
		t, ok := typeFromString(val)
		if !ok {
			return "", false
		}
		parts = append(parts, fmt.Sprintf("%v: %s", key, t))
	}
	if len(parts) == 0 {
		return "", false
	}
	return "Struct({" + strings.Join(parts, ", ") + "})", true
}
