package protos_test

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	corepb "github.com/feastgo/feastgo/protos/feast/core"
	registrypb "github.com/feastgo/feastgo/protos/feast/registry"
	servingpb "github.com/feastgo/feastgo/protos/feast/serving"
	typespb "github.com/feastgo/feastgo/protos/feast/types"
)

// The golden files come from real Feast; `make proto-golden` rewrites them.
const (
	feastDescriptorsFile = "testdata/feast-descriptors.pb"
	feastRegistryFile    = "testdata/registry.db"
)

// TestValueWireVectors checks Value encodings against bytes produced by Feast's
// Python SDK: they are what online stores hold.
func TestValueWireVectors(t *testing.T) {
	tests := []struct {
		name string
		msg  *typespb.Value
		hex  string
	}{
		{"int64 1001", &typespb.Value{Val: &typespb.Value_Int64Val{Int64Val: 1001}}, "20e907"},
		{"int64 308", &typespb.Value{Val: &typespb.Value_Int64Val{Int64Val: 308}}, "20b402"},
		{"float 0.5", &typespb.Value{Val: &typespb.Value_FloatVal{FloatVal: 0.5}}, "350000003f"},
		{"double 0.5", &typespb.Value{Val: &typespb.Value_DoubleVal{DoubleVal: 0.5}}, "29000000000000e03f"},
		{"string abc", &typespb.Value{Val: &typespb.Value_StringVal{StringVal: "abc"}}, "1203616263"},
		{"bool true", &typespb.Value{Val: &typespb.Value_BoolVal{BoolVal: true}}, "3801"},
		{"unix timestamp", &typespb.Value{Val: &typespb.Value_UnixTimestampVal{UnixTimestampVal: 1640995200}}, "4080b3be8e06"},
		{"int64 list", &typespb.Value{Val: &typespb.Value_Int64ListVal{Int64ListVal: &typespb.Int64List{Val: []int64{1, 2, 3}}}}, "72050a03010203"},
		{"null_val", &typespb.Value{Val: &typespb.Value_NullVal{NullVal: typespb.Null_NULL}}, "980100"},
		{"missing value", &typespb.Value{}, ""},
		{"zoned timestamp", &typespb.Value{Val: &typespb.Value_ZonedTimestampVal{ZonedTimestampVal: &typespb.ZonedTimestamp{UnixTimestamp: 1640995200, Zone: "Europe/Paris"}}}, "8203140880b3be8e06120c4575726f70652f5061726973"},
		{"map", &typespb.Value{Val: &typespb.Value_MapVal{MapVal: &typespb.Map{Val: map[string]*typespb.Value{"a": {Val: &typespb.Value_Int32Val{Int32Val: 7}}}}}}, "a201090a070a016112021807"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := hex.DecodeString(tt.hex)
			if err != nil {
				t.Fatalf("bad test vector: %v", err)
			}
			got, err := proto.MarshalOptions{Deterministic: true}.Marshal(tt.msg)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Marshal = %x, want %s", got, tt.hex)
			}
			var back typespb.Value
			if err := proto.Unmarshal(want, &back); err != nil {
				t.Fatalf("Unmarshal(%s): %v", tt.hex, err)
			}
			if !proto.Equal(&back, tt.msg) {
				t.Errorf("Unmarshal(%s) = %v, want %v", tt.hex, &back, tt.msg)
			}
		})
	}
}

// TestRegistryRoundTrip checks that a registry built in Go survives encoding
// and decoding.
func TestRegistryRoundTrip(t *testing.T) {
	ts := timestamppb.New(time.Date(2022, 1, 1, 0, 0, 0, 500_000_000, time.UTC))
	fileSource := &corepb.DataSource{
		Name:                   "driver_stats_source",
		Project:                "demo",
		Type:                   corepb.DataSource_BATCH_FILE,
		TimestampField:         "event_timestamp",
		CreatedTimestampColumn: "created",
		FieldMapping:           map[string]string{"id": "driver_id"},
		DataSourceClassType:    "feast.infra.offline_stores.file_source.FileSource",
		Options: &corepb.DataSource_FileOptions_{FileOptions: &corepb.DataSource_FileOptions{
			Uri:        "data/driver_stats.parquet",
			FileFormat: &corepb.FileFormat{Format: &corepb.FileFormat_ParquetFormat_{ParquetFormat: &corepb.FileFormat_ParquetFormat{}}},
		}},
	}
	requestSource := &corepb.DataSource{
		Name: "vals_to_add",
		Type: corepb.DataSource_REQUEST_SOURCE,
		Options: &corepb.DataSource_RequestDataOptions_{RequestDataOptions: &corepb.DataSource_RequestDataOptions{
			Schema: []*corepb.FeatureSpecV2{{Name: "val_to_add", ValueType: typespb.ValueType_INT64}},
		}},
	}
	version := int32(2)
	reg := &corepb.Registry{
		RegistrySchemaVersion: "1",
		VersionId:             "9b3c1a52-3f0e-4c57-9d6a-3a1f6f0d2b11",
		LastUpdated:           ts,
		Projects: []*corepb.Project{{
			Spec: &corepb.ProjectSpec{Name: "demo", Tags: map[string]string{"team": "rides"}},
			Meta: &corepb.ProjectMeta{CreatedTimestamp: ts},
		}},
		ProjectMetadata: []*corepb.ProjectMetadata{{Project: "demo", ProjectUuid: "{}"}},
		Entities: []*corepb.Entity{{
			Spec: &corepb.EntitySpecV2{Name: "driver", Project: "demo", JoinKey: "driver_id", ValueType: typespb.ValueType_INT64},
			Meta: &corepb.EntityMeta{CreatedTimestamp: ts, LastUpdatedTimestamp: ts},
		}},
		DataSources: []*corepb.DataSource{fileSource, requestSource},
		FeatureViews: []*corepb.FeatureView{{
			Spec: &corepb.FeatureViewSpec{
				Name:          "driver_hourly_stats",
				Project:       "demo",
				Entities:      []string{"driver"},
				Features:      []*corepb.FeatureSpecV2{{Name: "conv_rate", ValueType: typespb.ValueType_FLOAT}},
				EntityColumns: []*corepb.FeatureSpecV2{{Name: "driver_id", ValueType: typespb.ValueType_INT64}},
				Ttl:           durationpb.New(24 * time.Hour),
				BatchSource:   fileSource,
				Online:        true,
			},
			Meta: &corepb.FeatureViewMeta{
				MaterializationIntervals: []*corepb.MaterializationInterval{{StartTime: ts, EndTime: ts}},
				State:                    corepb.FeatureViewState_AVAILABLE_ONLINE,
			},
		}},
		OnDemandFeatureViews: []*corepb.OnDemandFeatureView{{
			Spec: &corepb.OnDemandFeatureViewSpec{
				Name:     "transformed_conv_rate",
				Project:  "demo",
				Features: []*corepb.FeatureSpecV2{{Name: "conv_rate_plus_val", ValueType: typespb.ValueType_DOUBLE}},
				Sources: map[string]*corepb.OnDemandSource{
					"driver_hourly_stats": {Source: &corepb.OnDemandSource_FeatureViewProjection{FeatureViewProjection: &corepb.FeatureViewProjection{
						FeatureViewName: "driver_hourly_stats",
						FeatureColumns:  []*corepb.FeatureSpecV2{{Name: "conv_rate", ValueType: typespb.ValueType_FLOAT}},
					}}},
					"vals_to_add": {Source: &corepb.OnDemandSource_RequestDataSource{RequestDataSource: requestSource}},
				},
				FeatureTransformation: &corepb.FeatureTransformationV2{Transformation: &corepb.FeatureTransformationV2_UserDefinedFunction{
					UserDefinedFunction: &corepb.UserDefinedFunctionV2{Name: "transformed_conv_rate", BodyText: "def transformed_conv_rate(inputs): ...", Mode: "python"},
				}},
				Mode: "python",
			},
		}},
		FeatureServices: []*corepb.FeatureService{{
			Spec: &corepb.FeatureServiceSpec{
				Name:    "driver_activity",
				Project: "demo",
				Features: []*corepb.FeatureViewProjection{{
					FeatureViewName:      "driver_hourly_stats",
					FeatureViewNameAlias: "stats",
					JoinKeyMap:           map[string]string{"driver_id": "id"},
					VersionTag:           &version,
				}},
				LoggingConfig: &corepb.LoggingConfig{SampleRate: 0.25, Destination: &corepb.LoggingConfig_FileDestination_{
					FileDestination: &corepb.LoggingConfig_FileDestination{Path: "logs"},
				}},
			},
		}},
		LabelViews: []*corepb.LabelView{{Spec: &corepb.LabelViewSpec{
			Name: "driver_labels", Project: "demo", ConflictPolicy: corepb.ConflictResolutionPolicy_MAJORITY_VOTE,
		}}},
		FeatureViewVersionHistory: &corepb.FeatureViewVersionHistory{Records: []*corepb.FeatureViewVersionRecord{{
			FeatureViewName: "driver_hourly_stats", ProjectId: "demo", VersionNumber: 2, FeatureViewProto: []byte{0x0a, 0x00},
		}}},
		Permissions: []*corepb.Permission{{Spec: &corepb.PermissionSpec{
			Name:    "readers",
			Types:   []corepb.PermissionSpec_Type{corepb.PermissionSpec_FEATURE_VIEW},
			Actions: []corepb.PermissionSpec_AuthzedAction{corepb.PermissionSpec_READ_ONLINE},
			Policy: &corepb.Policy{PolicyType: &corepb.Policy_RoleBasedPolicy{
				RoleBasedPolicy: &corepb.RoleBasedPolicy{Roles: []string{"reader"}},
			}},
		}}},
		Infra: &corepb.Infra{InfraObjects: []*corepb.InfraObject{{
			InfraObjectClassType: "feast.infra.online_stores.sqlite.SqliteTable",
			InfraObject:          &corepb.InfraObject_SqliteTable{SqliteTable: &corepb.SqliteTable{Path: "data/online.db", Name: "demo_driver_hourly_stats"}},
		}}},
	}

	blob, err := proto.Marshal(reg)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	var back corepb.Registry
	if err := proto.Unmarshal(blob, &back); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	if !proto.Equal(&back, reg) {
		t.Errorf("registry changed in a round trip:\n got  %v\n want %v", &back, reg)
	}
}

// TestFeastRegistryDecodes reads a registry written by Feast itself: every
// field must be known to our schema, and re-encoding must lose nothing.
func TestFeastRegistryDecodes(t *testing.T) {
	blob, err := os.ReadFile(feastRegistryFile)
	if err != nil {
		t.Fatal(err)
	}
	var reg corepb.Registry
	if err := proto.Unmarshal(blob, &reg); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	for _, path := range unknownFieldPaths(reg.ProtoReflect(), "Registry") {
		t.Errorf("field unknown to our schema at %s", path)
	}

	if got := reg.GetRegistrySchemaVersion(); got != "1" {
		t.Errorf("registry_schema_version = %q, want \"1\"", got)
	}
	var entities []string
	for _, e := range reg.GetEntities() {
		entities = append(entities, e.GetSpec().GetProject()+"/"+e.GetSpec().GetName()+"/"+e.GetSpec().GetJoinKey())
	}
	slices.Sort(entities)
	if want := []string{"golden/__dummy/__dummy_id", "golden/driver/driver_id"}; !slices.Equal(entities, want) {
		t.Errorf("entities = %q, want %q", entities, want)
	}
	var odfv *corepb.OnDemandFeatureViewSpec
	for _, v := range reg.GetOnDemandFeatureViews() {
		if v.GetSpec().GetName() == "transformed_conv_rate" {
			odfv = v.GetSpec()
		}
	}
	if odfv == nil {
		t.Fatal("on-demand view transformed_conv_rate not found")
	}
	if got := odfv.GetSources()["vals_to_add"].GetRequestDataSource().GetRequestDataOptions().GetSchema(); len(got) != 1 || got[0].GetName() != "val_to_add" {
		t.Errorf("request source schema = %v, want [val_to_add]", got)
	}
	if got := odfv.GetSources()["driver_hourly_stats"].GetFeatureViewProjection().GetFeatureViewName(); got != "driver_hourly_stats" {
		t.Errorf("projection source names view %q, want driver_hourly_stats", got)
	}

	again, err := proto.Marshal(&reg)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	var back corepb.Registry
	if err := proto.Unmarshal(again, &back); err != nil {
		t.Fatalf("Unmarshal of our own encoding: %v", err)
	}
	if !proto.Equal(&back, &reg) {
		t.Error("Feast's registry changed after our decode and re-encode")
	}
}

// TestUnknownFieldsSurvive checks that fields added by a newer Feast pass
// through a decode and re-encode untouched.
func TestUnknownFieldsSurvive(t *testing.T) {
	blob, err := proto.Marshal(&corepb.Registry{RegistrySchemaVersion: "1"})
	if err != nil {
		t.Fatal(err)
	}
	future := protowire.AppendTag(nil, 999, protowire.BytesType)
	future = protowire.AppendBytes(future, []byte("from a newer Feast"))
	blob = append(blob, future...)

	var reg corepb.Registry
	if err := proto.Unmarshal(blob, &reg); err != nil {
		t.Fatal(err)
	}
	again, err := proto.Marshal(&reg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(again, future) {
		t.Errorf("re-encoded registry %x lost unknown field %x", again, future)
	}
}

// TestDescriptorsMatchFeast compares our compiled schema with the one in the
// Feast wheel: same files, packages, imports, message, field and enum names,
// numbers, types, labels, oneofs, presence, reserved ranges and services.
// Comments, declaration order and file options (go_package, java_*) may differ.
func TestDescriptorsMatchFeast(t *testing.T) {
	// Make sure every generated package is linked in and registered.
	_ = []proto.Message{&corepb.Registry{}, &corepb.PrecomputedFeatureVector{}, &typespb.EntityKey{},
		&typespb.Field{}, &servingpb.GetOnlineFeaturesRequest{}, &servingpb.PushRequest{}, &servingpb.TransformFeaturesRequest{}, &registrypb.ListEntitiesRequest{}}

	raw, err := os.ReadFile(feastDescriptorsFile)
	if err != nil {
		t.Fatal(err)
	}
	var feast descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(raw, &feast); err != nil {
		t.Fatalf("Unmarshal %s: %v", feastDescriptorsFile, err)
	}
	if len(feast.GetFile()) == 0 {
		t.Fatalf("%s holds no files", feastDescriptorsFile)
	}
	for _, want := range feast.GetFile() {
		t.Run(want.GetName(), func(t *testing.T) {
			fd, err := protoregistry.GlobalFiles.FindFileByPath(want.GetName())
			if err != nil {
				t.Fatalf("no file of ours is registered as %s: %v", want.GetName(), err)
			}
			got := protodesc.ToFileDescriptorProto(fd)
			wantFacts, gotFacts := schemaFacts(want), schemaFacts(got)
			for _, f := range wantFacts {
				if !slices.Contains(gotFacts, f) {
					t.Errorf("missing from ours: %s", f)
				}
			}
			for _, f := range gotFacts {
				if !slices.Contains(wantFacts, f) {
					t.Errorf("not in Feast:      %s", f)
				}
			}
		})
	}
}

// schemaFacts lists, one line each, the parts of a file's schema that decide
// its wire format, text and JSON names, and generated API, sorted.
func schemaFacts(f *descriptorpb.FileDescriptorProto) []string {
	var facts []string
	add := func(format string, args ...any) { facts = append(facts, fmt.Sprintf(format, args...)) }

	add("syntax %q", f.GetSyntax())
	add("package %q", f.GetPackage())
	for _, dep := range f.GetDependency() {
		add("import %q", dep)
	}
	scope := f.GetPackage()
	if scope != "" {
		scope += "."
	}
	enum := func(prefix string, e *descriptorpb.EnumDescriptorProto) {
		name := prefix + e.GetName()
		add("enum %s deprecated=%v", name, e.GetOptions().GetDeprecated())
		for _, v := range e.GetValue() {
			add("enum %s value %s = %d deprecated=%v", name, v.GetName(), v.GetNumber(), v.GetOptions().GetDeprecated())
		}
		for _, r := range e.GetReservedRange() {
			add("enum %s reserved %d to %d", name, r.GetStart(), r.GetEnd())
		}
		for _, r := range e.GetReservedName() {
			add("enum %s reserved %q", name, r)
		}
	}
	var message func(prefix string, m *descriptorpb.DescriptorProto)
	message = func(prefix string, m *descriptorpb.DescriptorProto) {
		name := prefix + m.GetName()
		add("message %s deprecated=%v map_entry=%v", name, m.GetOptions().GetDeprecated(), m.GetOptions().GetMapEntry())
		for _, fld := range m.GetField() {
			oneof := "-"
			if fld.OneofIndex != nil {
				oneof = m.GetOneofDecl()[fld.GetOneofIndex()].GetName()
			}
			add("message %s field %d %s %s %s %s oneof=%s proto3_optional=%v deprecated=%v packed=%v default=%q",
				name, fld.GetNumber(), fld.GetName(), fld.GetLabel(), fld.GetType(), fld.GetTypeName(), oneof,
				fld.GetProto3Optional(), fld.GetOptions().GetDeprecated(), fld.GetOptions().GetPacked(), fld.GetDefaultValue())
		}
		for _, r := range m.GetReservedRange() {
			add("message %s reserved %d to %d", name, r.GetStart(), r.GetEnd()-1)
		}
		for _, r := range m.GetReservedName() {
			add("message %s reserved %q", name, r)
		}
		for _, r := range m.GetExtensionRange() {
			add("message %s extensions %d to %d", name, r.GetStart(), r.GetEnd()-1)
		}
		for _, e := range m.GetEnumType() {
			enum(name+".", e)
		}
		for _, n := range m.GetNestedType() {
			message(name+".", n)
		}
	}
	for _, e := range f.GetEnumType() {
		enum(scope, e)
	}
	for _, m := range f.GetMessageType() {
		message(scope, m)
	}
	for _, s := range f.GetService() {
		add("service %s%s", scope, s.GetName())
		for _, m := range s.GetMethod() {
			add("service %s%s rpc %s(%s) returns (%s) client_streaming=%v server_streaming=%v",
				scope, s.GetName(), m.GetName(), m.GetInputType(), m.GetOutputType(), m.GetClientStreaming(), m.GetServerStreaming())
		}
	}
	if len(f.GetExtension()) > 0 {
		add("extensions %d", len(f.GetExtension()))
	}
	slices.Sort(facts)
	return facts
}

// unknownFieldPaths returns where in m bytes were kept as unknown fields.
func unknownFieldPaths(m protoreflect.Message, path string) []string {
	var paths []string
	if len(m.GetUnknown()) > 0 {
		paths = append(paths, path)
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Message() == nil {
			return true
		}
		sub := path + "." + string(fd.Name())
		switch {
		case fd.IsList():
			for i := range v.List().Len() {
				paths = append(paths, unknownFieldPaths(v.List().Get(i).Message(), fmt.Sprintf("%s[%d]", sub, i))...)
			}
		case fd.IsMap():
			if fd.MapValue().Message() == nil {
				return true
			}
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				paths = append(paths, unknownFieldPaths(mv.Message(), fmt.Sprintf("%s[%q]", sub, k.String()))...)
				return true
			})
		default:
			paths = append(paths, unknownFieldPaths(v.Message(), sub)...)
		}
		return true
	})
	return paths
}
