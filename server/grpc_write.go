package server

import (
	"context"
	"sort"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/ingest"
	servingpb "github.com/feastgo/feastgo/protos/feast/serving"
	typespb "github.com/feastgo/feastgo/protos/feast/types"
)

// grpcFeatureServer is Feast's GrpcFeatureServer ("feast listen"): Push and
// WriteToOnlineStore of one row, and GetOnlineFeatures as ServingService
// answers it. Errors follow the HTTP API's kinds (a bad row is
// INVALID_ARGUMENT, an unknown view NOT_FOUND) where Feast says INTERNAL.
type grpcFeatureServer struct {
	servingpb.UnimplementedGrpcFeatureServerServer
	g *GRPC
}

// registerWrite adds GrpcFeatureServer to s when writes are configured.
func (g *GRPC) registerWrite(s *grpc.Server) {
	if g.Ingest != nil {
		servingpb.RegisterGrpcFeatureServerServer(s, &grpcFeatureServer{g: g})
	}
}

// Push writes one row through a push source. allow_registry_cache is
// false unless set (proto3), so by default the registry is refreshed
// first, as Feast's server does.
func (f *grpcFeatureServer) Push(ctx context.Context, in *servingpb.PushRequest) (*servingpb.PushResponse, error) {
	frame, err := rowFrame(in.GetFeatures(), in.GetTypedFeatures())
	if err != nil {
		return nil, err
	}
	mode, err := ingest.ParseMode(in.GetTo())
	if err == nil {
		err = f.g.Ingest.Push(ctx, in.GetStreamFeatureView(), frame, mode,
			ingest.WriteOptions{Transform: true, AllowRegistryCache: in.GetAllowRegistryCache()})
	}
	if err != nil {
		return nil, grpcError(err)
	}
	return &servingpb.PushResponse{Status: true}, nil
}

// WriteToOnlineStore writes one row to a view.
func (f *grpcFeatureServer) WriteToOnlineStore(ctx context.Context, in *servingpb.WriteToOnlineStoreRequest) (*servingpb.WriteToOnlineStoreResponse, error) {
	frame, err := rowFrame(in.GetFeatures(), in.GetTypedFeatures())
	if err != nil {
		return nil, err
	}
	if err := f.g.Ingest.WriteToOnlineStore(ctx, in.GetFeatureViewName(), frame,
		ingest.WriteOptions{Transform: true, AllowRegistryCache: in.GetAllowRegistryCache()}); err != nil {
		return nil, grpcError(err)
	}
	return &servingpb.WriteToOnlineStoreResponse{Status: true}, nil
}

// GetOnlineFeatures answers like ServingService.GetOnlineFeatures.
func (f *grpcFeatureServer) GetOnlineFeatures(ctx context.Context, in *servingpb.GetOnlineFeaturesRequest) (*servingpb.GetOnlineFeaturesResponse, error) {
	return f.g.GetOnlineFeatures(ctx, in)
}

// rowFrame makes the one-row frame of a gRPC write: string values (parsed
// as the declared types ask) or typed values, never both. Columns are in
// name order, protobuf maps having none.
func rowFrame(strs map[string]string, typed map[string]*typespb.Value) (*ingest.Frame, error) {
	if len(strs) > 0 && len(typed) > 0 {
		return nil, status.Error(codes.InvalidArgument, "Only one of features or typed_features may be set, not both")
	}
	frame := &ingest.Frame{Strings: len(typed) == 0}
	names := make([]string, 0, len(strs)+len(typed))
	for k := range strs {
		names = append(names, k)
	}
	for k := range typed {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, n := range names {
		var v core.Value
		if frame.Strings {
			v = core.StringValue(strs[n])
		} else {
			var err error
			if v, err = writeValueFromProto(typed[n]); err != nil {
				return nil, grpcError(core.Invalidf("typed_features.%s: %v", n, err))
			}
		}
		frame.Columns = append(frame.Columns, ingest.Column{Name: n, Values: []core.Value{v}})
	}
	return frame, nil
}

// writeValueFromProto converts a typed feature of a gRPC write as Feast's
// parse_typed does: the oneof's value, with .val of list and set messages
// as a Python list. JSON, UUID and decimal values are strings, their lists
// and every set a list; maps, structs, nested lists and zoned timestamps
// are protobuf messages there, which Arrow cannot convert (Feast fails),
// and are refused.
func writeValueFromProto(v *typespb.Value) (core.Value, error) {
	str := func(s string) (core.Value, error) { return core.StringValue(s), nil }
	strs := func(l []string) (core.Value, error) {
		return listOf(core.StringList, len(l), func(i int) core.Value { return core.StringValue(l[i]) }), nil
	}
	ints := func(n int, at func(int) int64) (core.Value, error) {
		return listOf(core.Int64List, n, func(i int) core.Value { return core.Int64Value(at(i)) }), nil
	}
	switch x := v.GetVal().(type) {
	case *typespb.Value_JsonVal:
		return str(x.JsonVal)
	case *typespb.Value_UuidVal:
		return str(x.UuidVal)
	case *typespb.Value_TimeUuidVal:
		return str(x.TimeUuidVal)
	case *typespb.Value_DecimalVal:
		return str(x.DecimalVal)
	case *typespb.Value_JsonListVal:
		return strs(x.JsonListVal.GetVal())
	case *typespb.Value_UuidListVal:
		return strs(x.UuidListVal.GetVal())
	case *typespb.Value_TimeUuidListVal:
		return strs(x.TimeUuidListVal.GetVal())
	case *typespb.Value_DecimalListVal:
		return strs(x.DecimalListVal.GetVal())
	case *typespb.Value_StringSetVal:
		return strs(x.StringSetVal.GetVal())
	case *typespb.Value_UuidSetVal:
		return strs(x.UuidSetVal.GetVal())
	case *typespb.Value_TimeUuidSetVal:
		return strs(x.TimeUuidSetVal.GetVal())
	case *typespb.Value_DecimalSetVal:
		return strs(x.DecimalSetVal.GetVal())
	case *typespb.Value_BytesListVal:
		l := x.BytesListVal.GetVal()
		return listOf(core.BytesList, len(l), func(i int) core.Value { return core.Value{Type: core.Bytes, S: string(l[i])} }), nil
	case *typespb.Value_BytesSetVal:
		l := x.BytesSetVal.GetVal()
		return listOf(core.BytesList, len(l), func(i int) core.Value { return core.Value{Type: core.Bytes, S: string(l[i])} }), nil
	case *typespb.Value_UnixTimestampListVal:
		l := x.UnixTimestampListVal.GetVal()
		return ints(len(l), func(i int) int64 { return l[i] })
	case *typespb.Value_UnixTimestampSetVal:
		l := x.UnixTimestampSetVal.GetVal()
		return ints(len(l), func(i int) int64 { return l[i] })
	case *typespb.Value_Int64SetVal:
		l := x.Int64SetVal.GetVal()
		return ints(len(l), func(i int) int64 { return l[i] })
	case *typespb.Value_Int32SetVal:
		l := x.Int32SetVal.GetVal()
		return ints(len(l), func(i int) int64 { return int64(l[i]) })
	case *typespb.Value_DoubleSetVal:
		l := x.DoubleSetVal.GetVal()
		return listOf(core.DoubleList, len(l), func(i int) core.Value { return core.DoubleValue(l[i]) }), nil
	case *typespb.Value_FloatSetVal:
		l := x.FloatSetVal.GetVal()
		return listOf(core.DoubleList, len(l), func(i int) core.Value { return core.DoubleValue(float64(l[i])) }), nil
	case *typespb.Value_BoolSetVal:
		l := x.BoolSetVal.GetVal()
		return listOf(core.BoolList, len(l), func(i int) core.Value { return core.BoolValue(l[i]) }), nil
	case *typespb.Value_MapVal, *typespb.Value_StructVal, *typespb.Value_MapListVal, *typespb.Value_StructListVal,
		*typespb.Value_ListVal, *typespb.Value_SetVal, *typespb.Value_ScalarMapVal, *typespb.Value_ZonedTimestampVal:
		m := v.ProtoReflect()
		field := m.WhichOneof(m.Descriptor().Oneofs().ByName("val")).Name()
		return core.Value{}, core.Invalidf("%s cannot be written as a typed feature (Feast cannot convert the message); send MAP and STRUCT features as JSON text in features", field)
	}
	return valueFromProto(v)
}
