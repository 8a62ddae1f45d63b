package server

import (
	"context"
	"sort"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/ingest"
	"github.com/feastgo/feastgo/internal/pyconv"
	"github.com/feastgo/feastgo/online"
	servingpb "github.com/feastgo/feastgo/protos/feast/serving"
	typespb "github.com/feastgo/feastgo/protos/feast/types"
	"github.com/feastgo/feastgo/version"
)

// GRPC serves feast.serving.ServingService with the HTTP API's semantics.
type GRPC struct {
	servingpb.UnimplementedServingServiceServer
	Online *online.Service
	// Ingest, when set, also serves GrpcFeatureServer (Push,
	// WriteToOnlineStore).
	Ingest *ingest.Service
	// Checks, when set, make health answer NOT_SERVING while the online
	// store is down, as /health answers 503.
	Checks *HealthChecks
}

// Register adds the serving, health and reflection services to s.
func (g *GRPC) Register(s *grpc.Server) *health.Server {
	servingpb.RegisterServingServiceServer(s, g)
	g.registerWrite(s)
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus("feast.serving.ServingService", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(s, &grpcHealth{Server: hs, checks: g.Checks})
	reflection.Register(s)
	return hs
}

// Response header metadata of GetFeastServingInfo.
const (
	feastVersionHeader  = "feast-version"
	serverVersionHeader = "feature-server-version"
)

// GetFeastServingInfo answers the Feast version this server is compatible
// with (the field is "Feast version of this serving deployment"); our own
// version is in the response header metadata.
func (g *GRPC) GetFeastServingInfo(ctx context.Context, _ *servingpb.GetFeastServingInfoRequest) (*servingpb.GetFeastServingInfoResponse, error) {
	// A header that cannot be sent (no stream: a direct call) changes no answer.
	_ = grpc.SetHeader(ctx, metadata.Pairs(feastVersionHeader, version.Feast, serverVersionHeader, version.Server))
	return &servingpb.GetFeastServingInfoResponse{Version: version.Feast}, nil
}

// GetOnlineFeatures answers like POST /get-online-features.
func (g *GRPC) GetOnlineFeatures(ctx context.Context, in *servingpb.GetOnlineFeaturesRequest) (*servingpb.GetOnlineFeaturesResponse, error) {
	req := &online.Request{
		FeatureService:      in.GetFeatureService(),
		Features:            in.GetFeatures().GetVal(),
		FullFeatureNames:    in.GetFullFeatureNames(),
		IncludeViewMetadata: in.GetIncludeFeatureViewVersionMetadata(),
	}
	var err error
	if req.Entities, err = columnsFromProto(in.GetEntities(), "entities"); err != nil {
		return nil, grpcError(err)
	}
	if req.RequestContext, err = columnsFromProto(in.GetRequestContext(), "request_context"); err != nil {
		return nil, grpcError(err)
	}
	resp, err := g.Online.GetOnlineFeatures(ctx, req)
	if err != nil {
		return nil, grpcError(err)
	}
	defer resp.Release() // responseToProto copies every value
	return responseToProto(resp)
}

func grpcError(err error) error {
	_, code := StatusOf(err)
	return status.Error(code, err.Error())
}

// columnsFromProto converts a proto entity map. Map order is not defined in
// protobuf, so columns are sorted by name for a stable response.
func columnsFromProto(m map[string]*typespb.RepeatedValue, field string) ([]online.Column, error) {
	if len(m) == 0 {
		return nil, nil
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	cols := make([]online.Column, len(names))
	for i, n := range names {
		vals := m[n].GetVal()
		cols[i] = online.Column{Name: n, Values: make([]core.Value, len(vals))}
		for j, v := range vals {
			cv, err := valueFromProto(v)
			if err != nil {
				return nil, core.Invalidf("%s.%s[%d]: %v", field, n, j, err)
			}
			cols[i].Values[j] = cv
		}
	}
	return cols, nil
}

// valueFromProto converts the scalar and scalar-list values a request can
// carry.
func valueFromProto(v *typespb.Value) (core.Value, error) {
	switch x := v.GetVal().(type) {
	case nil, *typespb.Value_NullVal:
		return core.Value{}, nil
	case *typespb.Value_StringVal:
		return core.StringValue(x.StringVal), nil
	case *typespb.Value_BytesVal:
		return core.Value{Type: core.Bytes, S: string(x.BytesVal)}, nil
	case *typespb.Value_Int32Val:
		return core.Value{Type: core.Int32, I: int64(x.Int32Val)}, nil
	case *typespb.Value_Int64Val:
		return core.Int64Value(x.Int64Val), nil
	case *typespb.Value_UnixTimestampVal:
		return core.Value{Type: core.UnixTimestamp, I: x.UnixTimestampVal}, nil
	case *typespb.Value_DoubleVal:
		return core.DoubleValue(x.DoubleVal), nil
	case *typespb.Value_FloatVal:
		return core.Value{Type: core.Float, F: float64(x.FloatVal)}, nil
	case *typespb.Value_BoolVal:
		return core.BoolValue(x.BoolVal), nil
	case *typespb.Value_DoubleListVal:
		return listOf(core.DoubleList, len(x.DoubleListVal.GetVal()), func(i int) core.Value { return core.DoubleValue(x.DoubleListVal.Val[i]) }), nil
	case *typespb.Value_FloatListVal:
		return listOf(core.FloatList, len(x.FloatListVal.GetVal()), func(i int) core.Value {
			return core.Value{Type: core.Float, F: float64(x.FloatListVal.Val[i])}
		}), nil
	case *typespb.Value_Int64ListVal:
		return listOf(core.Int64List, len(x.Int64ListVal.GetVal()), func(i int) core.Value { return core.Int64Value(x.Int64ListVal.Val[i]) }), nil
	case *typespb.Value_Int32ListVal:
		return listOf(core.Int32List, len(x.Int32ListVal.GetVal()), func(i int) core.Value {
			return core.Value{Type: core.Int32, I: int64(x.Int32ListVal.Val[i])}
		}), nil
	case *typespb.Value_StringListVal:
		return listOf(core.StringList, len(x.StringListVal.GetVal()), func(i int) core.Value { return core.StringValue(x.StringListVal.Val[i]) }), nil
	case *typespb.Value_BoolListVal:
		return listOf(core.BoolList, len(x.BoolListVal.GetVal()), func(i int) core.Value { return core.BoolValue(x.BoolListVal.Val[i]) }), nil
	}
	return core.Value{}, core.Invalidf("value type %T is not supported in requests", v.GetVal())
}

func listOf(t core.ValueType, n int, at func(int) core.Value) core.Value {
	out := core.Value{Type: t, List: make([]core.Value, n)}
	for i := range out.List {
		out.List[i] = at(i)
	}
	return out
}

// valueToProto converts a decoded value.
func valueToProto(v core.Value) *typespb.Value {
	switch v.Type {
	case core.String:
		return &typespb.Value{Val: &typespb.Value_StringVal{StringVal: v.S}}
	case core.Bytes:
		return &typespb.Value{Val: &typespb.Value_BytesVal{BytesVal: []byte(v.S)}}
	case core.Int32:
		return &typespb.Value{Val: &typespb.Value_Int32Val{Int32Val: int32(v.I)}}
	case core.Int64:
		return &typespb.Value{Val: &typespb.Value_Int64Val{Int64Val: v.I}}
	case core.UnixTimestamp:
		return &typespb.Value{Val: &typespb.Value_UnixTimestampVal{UnixTimestampVal: v.I}}
	case core.Double:
		return &typespb.Value{Val: &typespb.Value_DoubleVal{DoubleVal: v.F}}
	case core.Float:
		return &typespb.Value{Val: &typespb.Value_FloatVal{FloatVal: pyconv.Float32(v.F)}}
	case core.Bool:
		return &typespb.Value{Val: &typespb.Value_BoolVal{BoolVal: v.I != 0}}
	case core.DoubleList:
		l := make([]float64, len(v.List))
		for i, e := range v.List {
			l[i] = e.F
		}
		return &typespb.Value{Val: &typespb.Value_DoubleListVal{DoubleListVal: &typespb.DoubleList{Val: l}}}
	case core.FloatList:
		l := make([]float32, len(v.List))
		for i, e := range v.List {
			l[i] = pyconv.Float32(e.F)
		}
		return &typespb.Value{Val: &typespb.Value_FloatListVal{FloatListVal: &typespb.FloatList{Val: l}}}
	case core.Int64List:
		l := make([]int64, len(v.List))
		for i, e := range v.List {
			l[i] = e.I
		}
		return &typespb.Value{Val: &typespb.Value_Int64ListVal{Int64ListVal: &typespb.Int64List{Val: l}}}
	case core.StringList:
		l := make([]string, len(v.List))
		for i, e := range v.List {
			l[i] = e.S
		}
		return &typespb.Value{Val: &typespb.Value_StringListVal{StringListVal: &typespb.StringList{Val: l}}}
	}
	return &typespb.Value{}
}

func responseToProto(r *core.OnlineResponse) (*servingpb.GetOnlineFeaturesResponse, error) {
	out := &servingpb.GetOnlineFeaturesResponse{
		Metadata: &servingpb.GetOnlineFeaturesResponseMetadata{FeatureNames: &servingpb.FeatureList{}},
		Results:  make([]*servingpb.GetOnlineFeaturesResponse_FeatureVector, len(r.Columns)),
	}
	epoch := &timestamppb.Timestamp{}
	for ci := range r.Columns {
		c := &r.Columns[ci]
		out.Metadata.FeatureNames.Val = append(out.Metadata.FeatureNames.Val, c.Name)
		n := c.Len()
		fv := &servingpb.GetOnlineFeaturesResponse_FeatureVector{
			Values:          make([]*typespb.Value, n),
			Statuses:        make([]servingpb.FieldStatus, n),
			EventTimestamps: make([]*timestamppb.Timestamp, n),
		}
		for i := 0; i < n; i++ {
			if c.Raw != nil {
				v := &typespb.Value{}
				if err := proto.Unmarshal(c.Raw[i], v); err != nil {
					return nil, status.Errorf(13, "decoding stored value of %s: %v", c.Name, err)
				}
				fv.Values[i] = v
			} else {
				fv.Values[i] = valueToProto(c.Typed[i])
			}
			fv.Statuses[i] = servingpb.FieldStatus(c.StatusAt(i))
			if ts := c.TSAt(i); ts != (core.Timestamp{}) {
				fv.EventTimestamps[i] = &timestamppb.Timestamp{Seconds: ts.Seconds, Nanos: ts.Nanos}
			} else {
				fv.EventTimestamps[i] = epoch
			}
		}
		out.Results[ci] = fv
	}
	for _, m := range r.ViewMetadata {
		out.Metadata.FeatureViewMetadata = append(out.Metadata.FeatureViewMetadata,
			&servingpb.FeatureViewMetadata{Name: m.Name, Version: m.Version})
	}
	return out, nil
}
