package offline_test

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/feastgo/feastgo/auth"
	"github.com/feastgo/feastgo/historical"
	"github.com/feastgo/feastgo/internal/testrepo"
	"github.com/feastgo/feastgo/offlinestore/catalog"
	"github.com/feastgo/feastgo/offlinestore/parquet"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
	"github.com/feastgo/feastgo/registry"
	"github.com/feastgo/feastgo/server/offline"
)

// userStream stands in for the token verifier's Flight middleware: every
// stream runs as u.
type userStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *userStream) Context() context.Context { return s.ctx }

// startAs serves the golden repo, with one extra Permission (READ_OFFLINE
// on data sources for role analyst), to a client whose calls run as u.
func startAs(t *testing.T, u *auth.User) *fixture {
	t.Helper()
	repo := testrepo.Copy(t, filepath.Join(goldenRepo, "repo"))
	path := filepath.Join(repo, "data", "registry.db")
	err := registry.Update(context.Background(), &registry.FileSource{Path: path}, time.Now(), func(r *corepb.Registry) error {
		r.Permissions = append(r.Permissions, &corepb.Permission{Spec: &corepb.PermissionSpec{
			Name: "offline_readers", Project: project,
			Types:   []corepb.PermissionSpec_Type{corepb.PermissionSpec_DATA_SOURCE, corepb.PermissionSpec_FEATURE_VIEW},
			Actions: []corepb.PermissionSpec_AuthzedAction{corepb.PermissionSpec_READ_OFFLINE},
			Policy:  &corepb.Policy{PolicyType: &corepb.Policy_RoleBasedPolicy{RoleBasedPolicy: &corepb.RoleBasedPolicy{Roles: []string{"analyst"}}}},
		}})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Open(context.Background(), &registry.FileSource{Path: path}, registry.Options{Project: project})
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.New(parquet.NewEngine(repo))
	t.Cleanup(func() { _ = cat.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &offline.Server{Snapshot: reg.Current, Catalog: cat, Repo: repo, Location: "grpc+tcp://" + ln.Addr().String(),
		Historical: &historical.Retriever{Catalog: cat}}
	g := offline.NewGRPCServer(srv, grpc.StreamInterceptor(func(s any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, next grpc.StreamHandler) error {
		return next(s, &userStream{ServerStream: ss, ctx: auth.NewContext(ss.Context(), u)})
	}))
	go func() { _ = g.Serve(ln) }()
	t.Cleanup(func() { g.Stop(); srv.Close() })
	c, err := flight.NewClientWithMiddleware(ln.Addr().String(), nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &fixture{client: c, repo: repo}
}

func TestFlightPullNeedsReadOffline(t *testing.T) {
	ok := startAs(t, &auth.User{Name: "ann", Roles: []string{"analyst"}})
	got, err := ok.exchange(t, "pull_all_from_table_or_query", pullParams(nil, nil), nil)
	if err != nil {
		t.Fatalf("analyst: %v", err)
	}
	got.Release()

	denied := startAs(t, &auth.User{Name: "bo", Roles: []string{"viewer"}})
	_, err = denied.exchange(t, "pull_all_from_table_or_query", pullParams(nil, nil), nil)
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("%v, want PermissionDenied", err)
	}
	for _, w := range []string{"Flight error: ", "FeastPermissionError", "Permission offline_readers denied execution of ['READ_OFFLINE'] to FileSource:driver_stats_source"} {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("%v lacks %q", err, w)
		}
	}
}
