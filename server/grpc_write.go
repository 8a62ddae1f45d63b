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
			if v, err = valueFromProto(typed[n]); err != nil {
				return nil, grpcError(core.Invalidf("typed_features.%s: %v", n, err))
			}
		}
		frame.Columns = append(frame.Columns, ingest.Column{Name: n, Values: []core.Value{v}})
	}
	return frame, nil
}
