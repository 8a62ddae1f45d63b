package client

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"

	servingpb "github.com/feastgo/feastgo/protos/feast/serving"
	typespb "github.com/feastgo/feastgo/protos/feast/types"
)

// NewGRPC returns a client of the server's gRPC API at target
// ("host:6567"). Without transport credentials among dial the connection
// is plaintext. The connection is made lazily and shared by all calls.
func NewGRPC(target string, opts Options, dial ...grpc.DialOption) (*Client, error) {
	dial = append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, dial...)
	conn, err := grpc.NewClient(target, dial...)
	if err != nil {
		return nil, &Error{Kind: KindInvalidArgument, Message: fmt.Sprintf("target %q: %v", target, err)}
	}
	return &Client{t: &grpcTransport{
		conn:    conn,
		serving: servingpb.NewServingServiceClient(conn),
		writes:  servingpb.NewGrpcFeatureServerClient(conn),
		healthC: healthpb.NewHealthClient(conn),
	}, opts: opts.withDefaults()}, nil
}

type grpcTransport struct {
	conn    *grpc.ClientConn
	serving servingpb.ServingServiceClient
	writes  servingpb.GrpcFeatureServerClient
	healthC healthpb.HealthClient
}

func withToken(ctx context.Context, token string) context.Context {
	if token == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

func (t *grpcTransport) getOnlineFeatures(ctx context.Context, req *OnlineRequest, token string) (*OnlineResponse, error) {
	in := &servingpb.GetOnlineFeaturesRequest{FullFeatureNames: req.FullFeatureNames}
	if req.FeatureService != "" {
		in.Kind = &servingpb.GetOnlineFeaturesRequest_FeatureService{FeatureService: req.FeatureService}
	} else {
		in.Kind = &servingpb.GetOnlineFeaturesRequest_Features{Features: &servingpb.FeatureList{Val: req.Features}}
	}
	var err error
	if in.Entities, err = repeatedValues("OnlineRequest.Entities", req.Entities); err != nil {
		return nil, err
	}
	if in.RequestContext, err = repeatedValues("OnlineRequest.RequestContext", req.RequestContext); err != nil {
		return nil, err
	}
	out, err := t.serving.GetOnlineFeatures(withToken(ctx, token), in)
	if err != nil {
		return nil, grpcError(ctx, err, false)
	}
	return decodeOnlineProto(out)
}

func (t *grpcTransport) push(ctx context.Context, req *PushRequest, token string) error {
	to := req.To
	if to == "" {
		to = PushOnline
	}
	return eachRow("PushRequest.Rows", req.Rows, func(row map[string]*typespb.Value) error {
		_, err := t.writes.Push(withToken(ctx, token), &servingpb.PushRequest{
			StreamFeatureView: req.PushSource, TypedFeatures: row, To: string(to),
		})
		if err != nil {
			return grpcError(ctx, err, to != PushOnline)
		}
		return nil
	})
}

func (t *grpcTransport) writeToOnlineStore(ctx context.Context, req *WriteRequest, token string) error {
	return eachRow("WriteRequest.Rows", req.Rows, func(row map[string]*typespb.Value) error {
		_, err := t.writes.WriteToOnlineStore(withToken(ctx, token), &servingpb.WriteToOnlineStoreRequest{
			FeatureViewName: req.FeatureView, TypedFeatures: row,
		})
		if err != nil {
			return grpcError(ctx, err, false)
		}
		return nil
	})
}

func (t *grpcTransport) health(ctx context.Context, token string) error {
	out, err := t.healthC.Check(withToken(ctx, token), &healthpb.HealthCheckRequest{})
	if err != nil {
		return grpcError(ctx, err, false)
	}
	if out.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return &Error{Kind: KindUnavailable, Message: "health: " + out.GetStatus().String()}
	}
	return nil
}

func (t *grpcTransport) close() error { return t.conn.Close() }

// eachRow sends the rows of cols one at a time, in order: Feast's
// GrpcFeatureServer takes one row per call. A failure stops at that row;
// the rows before it are written.
func eachRow(field string, cols map[string][]any, send func(map[string]*typespb.Value) error) error {
	n, err := columnsLen(field, cols)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(cols))
	for k := range cols {
		names = append(names, k)
	}
	sort.Strings(names)
	for i := range n {
		row := make(map[string]*typespb.Value, len(names))
		for _, name := range names {
			v, err := toProto(cols[name][i])
			if err != nil {
				return &Error{Kind: KindInvalidArgument, Message: fmt.Sprintf("%s[%q][%d]: %v", field, name, i, err)}
			}
			row[name] = v
		}
		if err := send(row); err != nil {
			if i > 0 {
				return fmt.Errorf("row %d of %d (the rows before it are written): %w", i, n, err)
			}
			return err
		}
	}
	return nil
}

func repeatedValues(field string, cols map[string][]any) (map[string]*typespb.RepeatedValue, error) {
	if len(cols) == 0 {
		return nil, nil
	}
	out := make(map[string]*typespb.RepeatedValue, len(cols))
	for name, vs := range cols {
		rv := &typespb.RepeatedValue{Val: make([]*typespb.Value, len(vs))}
		for i, v := range vs {
			pv, err := toProto(v)
			if err != nil {
				return nil, &Error{Kind: KindInvalidArgument, Message: fmt.Sprintf("%s[%q][%d]: %v", field, name, i, err)}
			}
			rv.Val[i] = pv
		}
		out[name] = rv
	}
	return out, nil
}

// toProto makes the protobuf Value of a request value.
func toProto(v any) (*typespb.Value, error) {
	switch x := v.(type) {
	case nil:
		return &typespb.Value{}, nil
	case int:
		return &typespb.Value{Val: &typespb.Value_Int64Val{Int64Val: int64(x)}}, nil
	case int64:
		return &typespb.Value{Val: &typespb.Value_Int64Val{Int64Val: x}}, nil
	case int32:
		return &typespb.Value{Val: &typespb.Value_Int32Val{Int32Val: x}}, nil
	case float64:
		return &typespb.Value{Val: &typespb.Value_DoubleVal{DoubleVal: x}}, nil
	case float32:
		return &typespb.Value{Val: &typespb.Value_FloatVal{FloatVal: x}}, nil
	case string:
		return &typespb.Value{Val: &typespb.Value_StringVal{StringVal: x}}, nil
	case bool:
		return &typespb.Value{Val: &typespb.Value_BoolVal{BoolVal: x}}, nil
	case []byte:
		return &typespb.Value{Val: &typespb.Value_BytesVal{BytesVal: x}}, nil
	case time.Time:
		return &typespb.Value{Val: &typespb.Value_UnixTimestampVal{UnixTimestampVal: x.Unix()}}, nil
	}
	return nil, fmt.Errorf("unsupported value type %T", v)
}

// grpcError maps a failed call to an *Error. An Unavailable status is
// retried unless appends says the call appended rows (an offline push),
// whose Unavailable cannot tell refusal from a lost answer.
func grpcError(ctx context.Context, err error, appends bool) error {
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return err
	}
	s := status.Convert(err)
	e := &Error{Message: s.Message()}
	switch s.Code() {
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
		e.Kind = KindInvalidArgument
	case codes.NotFound:
		e.Kind = KindNotFound
	case codes.Unavailable:
		e.Kind, e.mayHaveApplied = KindUnavailable, appends
	case codes.Unauthenticated:
		e.Kind = KindUnauthenticated
	case codes.PermissionDenied:
		e.Kind = KindPermissionDenied
	case codes.ResourceExhausted:
		e.Kind = KindTooLarge
	case codes.DeadlineExceeded:
		e.Kind, e.mayHaveApplied = KindDeadline, true
	default:
		e.Kind = KindInternal
	}
	return e
}

// decodeOnlineProto turns a gRPC answer into the values the JSON answer
// gives (see Feature).
func decodeOnlineProto(out *servingpb.GetOnlineFeaturesResponse) (*OnlineResponse, error) {
	names := out.GetMetadata().GetFeatureNames().GetVal()
	results := out.GetResults()
	if len(results) != len(names) {
		return nil, fmt.Errorf("client: reading the answer: %d results for %d feature names", len(results), len(names))
	}
	r := &OnlineResponse{FeatureNames: names, Columns: make([][]Feature, len(names))}
	for i, fv := range results {
		vals, sts, tss := fv.GetValues(), fv.GetStatuses(), fv.GetEventTimestamps()
		col := make([]Feature, len(vals))
		for j, v := range vals {
			f := Feature{Value: fromProto(v), EventTime: time.Unix(0, 0).UTC()}
			if j < len(sts) {
				f.Status = Status(sts[j])
			}
			if j < len(tss) {
				f.EventTime = tss[j].AsTime()
			}
			col[j] = f
		}
		r.Columns[i] = col
	}
	return r, nil
}

// fromProto turns a protobuf Value into its Go value: the set oneof
// field's scalar, normalized as Feature documents, or for a list, set or
// map message its elements.
func fromProto(v *typespb.Value) any {
	m := v.ProtoReflect()
	od := m.Descriptor().Oneofs().ByName("val")
	fd := m.WhichOneof(od)
	if fd == nil || fd.Name() == "null_val" {
		return nil
	}
	return reflectValue(fd, m.Get(fd))
}

func reflectValue(fd protoreflect.FieldDescriptor, v protoreflect.Value) any {
	switch fd.Kind() {
	case protoreflect.Int32Kind, protoreflect.Int64Kind:
		return v.Int()
	case protoreflect.FloatKind:
		return float64(float32(v.Float()))
	case protoreflect.DoubleKind:
		return v.Float()
	case protoreflect.StringKind:
		return v.String()
	case protoreflect.BoolKind:
		return v.Bool()
	case protoreflect.BytesKind:
		return v.Bytes()
	case protoreflect.EnumKind:
		return nil
	case protoreflect.MessageKind:
		if val, ok := v.Message().Interface().(*typespb.Value); ok {
			return fromProto(val)
		}
		return messageValue(v.Message())
	}
	return nil
}

// messageValue reads a list, set or map message: its one field "val".
func messageValue(m protoreflect.Message) any {
	fd := m.Descriptor().Fields().ByName("val")
	if fd == nil {
		return nil
	}
	switch {
	case fd.IsMap():
		out := map[string]any{}
		m.Get(fd).Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
			out[k.String()] = reflectValue(fd.MapValue(), v)
			return true
		})
		return out
	case fd.IsList():
		l := m.Get(fd).List()
		out := make([]any, l.Len())
		for i := range l.Len() {
			out[i] = reflectValue(fd, l.Get(i))
		}
		return out
	}
	return reflectValue(fd, m.Get(fd))
}
