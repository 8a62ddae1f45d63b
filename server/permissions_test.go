package server

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/feastgo/feastgo/auth"
	"github.com/feastgo/feastgo/ingest"
	"github.com/feastgo/feastgo/internal/bench"
	"github.com/feastgo/feastgo/online"
	"github.com/feastgo/feastgo/onlinestore"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
	servingpb "github.com/feastgo/feastgo/protos/feast/serving"
	typespb "github.com/feastgo/feastgo/protos/feast/types"
	"github.com/feastgo/feastgo/registry"
)

// The endpoints enforce the permissions of the golden repo
// (permissions/testdata: Permission objects applied by the real feast
// apply) for a user put in the request context, as the token verifiers
// will put it; without a user (no_auth) nothing is checked.

// permUsers are users of the golden matrix (conformance/permissions_goldens.py).
var permUsers = map[string]*auth.User{
	"alice":  {Name: "alice", Roles: []string{"reader"}},
	"bob":    {Name: "bob", Groups: []string{"writers"}},
	"ivy":    {Name: "ivy", Groups: []string{"ds", "writers"}},
	"hank":   {Name: "hank", Roles: []string{"streamer"}},
	"nobody": {Name: "nobody"},
}

// recordingWriter is an online store that keeps what it is given.
type recordingWriter struct {
	mu      sync.Mutex
	batches []onlinestore.WriteBatch
}

func (w *recordingWriter) Write(_ context.Context, b onlinestore.WriteBatch) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.batches = append(w.batches, b)
	return nil
}

func permissionsSnapshot(t testing.TB) *registry.Snapshot {
	t.Helper()
	raw, err := os.ReadFile("../permissions/testdata/repo/data/registry.db")
	if err != nil {
		t.Fatal(err)
	}
	reg := &corepb.Registry{}
	if err := proto.Unmarshal(raw, reg); err != nil {
		t.Fatal(err)
	}
	snap, err := registry.Compile(reg, "permissions_conformance", false)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func permissionsHTTP(t testing.TB) (*HTTP, *recordingWriter) {
	snap := permissionsSnapshot(t)
	get := func() *registry.Snapshot { return snap }
	w := &recordingWriter{}
	h := &HTTP{
		Online: &online.Service{Snapshot: get, Store: bench.NewMemStore(), KeyVersion: 3},
		Ingest: &ingest.Service{Snapshot: get, Store: w, KeyVersion: 3},
	}
	h.setDefaults()
	return h, w
}

// asUser is the context a verified token of name gives ("" = no_auth).
func asUser(name string) context.Context {
	if name == "" {
		return context.Background()
	}
	return auth.NewContext(context.Background(), permUsers[name])
}

func expectDenied(t *testing.T, status int, body string, want ...string) {
	t.Helper()
	if status != http.StatusForbidden {
		t.Fatalf("status %d, want 403: %s", status, body)
	}
	want = append(want, "FeastPermissionError", "Permission error:")
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Fatalf("body %s lacks %q", body, w)
		}
	}
}

func TestOnlineReadEnforcesReadOnline(t *testing.T) {
	h, _ := permissionsHTTP(t)
	read := func(user, body string) (int, string) {
		st, b := h.onlineFeatures(asUser(user), onlinePath, nil, []byte(body), "application/json", nil, nil)
		return st, string(b)
	}
	views := `{"features":["driver_hourly_stats:rate","customer_profile:age"],"entities":{"driver_id":[1],"customer_id":[1]}}`
	for _, u := range []string{"", "alice"} {
		if st, b := read(u, views); st != http.StatusOK {
			t.Fatalf("user %q: %d %s", u, st, b)
		}
	}
	st, b := read("nobody", views)
	expectDenied(t, st, b, "Permission reader denied execution of ['READ_ONLINE'] to FeatureView:driver_hourly_stats")
	// hank may read stream views only; the first view is the one named.
	st, b = read("hank", `{"features":["driver_stream:rate"],"entities":{"driver_id":[1]}}`)
	if st != http.StatusOK {
		t.Fatalf("hank on a stream view: %d %s", st, b)
	}
	st, b = read("hank", views)
	expectDenied(t, st, b, "FeatureView:driver_hourly_stats")

	// A feature service: the service itself is checked (fs_pattern lets
	// the ds group read driver_* services), not its views.
	svc := `{"feature_service":"driver_service","entities":{"driver_id":[1]},"request_context":{"bonus":[1.0]}}`
	st, b = read("nobody", svc)
	expectDenied(t, st, b, "to FeatureService:driver_service")
	st, b = read("ivy", svc)
	if st == http.StatusForbidden {
		t.Fatalf("ivy may read driver_service: %s", b)
	}

	// An on-demand view: its source views are checked before it.
	st, b = read("hank", `{"features":["driver_rate_plus:rate_plus"],"entities":{"driver_id":[1]},"request_context":{"bonus":[1.0]}}`)
	expectDenied(t, st, b, "FeatureView:driver_hourly_stats")
}

func TestWritesEnforceWriteActions(t *testing.T) {
	h, w := permissionsHTTP(t)
	router := h.router()
	post := func(user, path, body string) (int, string) {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body)).WithContext(asUser(user))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		router.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	push := func(to string) string {
		return `{"push_source_name":"driver_push","df":{"driver_id":[1],"rate":[0.5],"event_timestamp":["2026-01-01T00:00:00Z"]},"to":"` + to + `"}`
	}
	if st, b := post("bob", "/push", push("online")); st != http.StatusOK {
		t.Fatalf("bob pushes online: %d %s", st, b)
	}
	st, b := post("alice", "/push", push("online"))
	expectDenied(t, st, b, "Permission driver_writer denied execution of ['WRITE_ONLINE'] to FeatureView:driver_hourly_stats")
	st, b = post("alice", "/push", push("online_and_offline"))
	expectDenied(t, st, b, "['WRITE_OFFLINE', 'WRITE_ONLINE']")
	// bob may write offline too: the push passes the check (and meets the
	// missing offline store).
	if st, b := post("bob", "/push", push("offline")); st == http.StatusForbidden {
		t.Fatalf("bob pushes offline: %s", b)
	}

	write := `{"feature_view_name":"driver_hourly_stats","df":{"driver_id":[2],"rate":[0.7],"event_timestamp":["2026-01-01T00:00:00Z"]}}`
	if st, b := post("ivy", "/write-to-online-store", write); st != http.StatusOK {
		t.Fatalf("ivy writes: %d %s", st, b)
	}
	st, b = post("nobody", "/write-to-online-store", write)
	expectDenied(t, st, b, "['WRITE_ONLINE'] to FeatureView:driver_hourly_stats")
	if st, b := post("", "/write-to-online-store", write); st != http.StatusOK {
		t.Fatalf("no_auth writes: %d %s", st, b)
	}
	if len(w.batches) != 3 {
		t.Fatalf("%d batches written, want the 3 allowed writes", len(w.batches))
	}
}

// userFromMetadata is a stand-in for the token verifier's interceptor: the
// user named by the x-test-user metadata goes into the context.
func userFromMetadata(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get("x-test-user"); len(v) == 1 {
			ctx = auth.NewContext(ctx, permUsers[v[0]])
		}
	}
	return next(ctx, req)
}

func TestGRPCReadIsPermissionDenied(t *testing.T) {
	h, _ := permissionsHTTP(t)
	conn, req := servingConn(t, h, grpc.UnaryInterceptor(userFromMetadata))
	c := servingpb.NewServingServiceClient(conn)
	call := func(user string) error {
		ctx := context.Background()
		if user != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "x-test-user", user)
		}
		_, err := c.GetOnlineFeatures(ctx, req)
		return err
	}
	for _, u := range []string{"", "alice"} {
		if err := call(u); err != nil {
			t.Fatalf("user %q: %v", u, err)
		}
	}
	err := call("bob")
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "READ_ONLINE") ||
		!strings.Contains(err.Error(), "FeatureView:customer_profile") {
		t.Fatalf("bob: %v, want PermissionDenied naming READ_ONLINE and the view", err)
	}
}

// A read with permissions on against the same read with no user (no_auth).
func BenchmarkOnlineReadPermissions(b *testing.B) {
	h, _ := permissionsHTTP(b)
	body := []byte(`{"features":["driver_hourly_stats:rate","customer_profile:age"],"entities":{"driver_id":[1],"customer_id":[1]}}`)
	for _, c := range []struct{ name, user string }{{"off", ""}, {"on", "alice"}} {
		b.Run(c.name, func(b *testing.B) {
			ctx := asUser(c.user)
			out := make([]byte, 0, 4096)
			b.ReportAllocs()
			for b.Loop() {
				st, ans := h.onlineFeatures(ctx, onlinePath, nil, body, "application/json", out[:0], nil)
				if st != http.StatusOK {
					b.Fatalf("%d %s", st, ans)
				}
			}
		})
	}
}

// servingConn serves h's ServingService (and health) on loopback with
// opts and returns a client for it and the age:1 read the gRPC tests send;
// both are stopped when the test ends.
func servingConn(t *testing.T, h *HTTP, opts ...grpc.ServerOption) (*grpc.ClientConn, *servingpb.GetOnlineFeaturesRequest) {
	t.Helper()
	gs := grpc.NewServer(opts...)
	(&GRPC{Online: h.Online, Checks: &HealthChecks{}}).Register(gs)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, &servingpb.GetOnlineFeaturesRequest{
		Kind:     &servingpb.GetOnlineFeaturesRequest_Features{Features: &servingpb.FeatureList{Val: []string{"customer_profile:age"}}},
		Entities: map[string]*typespb.RepeatedValue{"customer_id": {Val: []*typespb.Value{{Val: &typespb.Value_Int64Val{Int64Val: 1}}}}},
	}
}
