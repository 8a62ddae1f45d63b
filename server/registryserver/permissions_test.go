package registryserver_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/feastgo/feastgo/auth"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
	registrypb "github.com/feastgo/feastgo/protos/feast/registry"
	"github.com/feastgo/feastgo/registry"
	"github.com/feastgo/feastgo/server/registryserver"
)

const permProject = "permissions_conformance"

// Users of the golden permission matrix (conformance/permissions_goldens.py).
var permUsers = map[string]*auth.User{
	"alice": {Name: "alice", Roles: []string{"reader"}},
	"bob":   {Name: "bob", Groups: []string{"writers"}},
	"carol": {Name: "carol", Roles: []string{"admin"}},
	"dan":   {Name: "dan", Namespaces: []string{"team-a"}},
}

// userFromMetadata stands in for the token verifier's interceptor.
func userFromMetadata(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get("x-test-user"); len(v) == 1 {
			ctx = auth.NewContext(ctx, permUsers[v[0]])
		}
	}
	return next(ctx, req)
}

// servePermissions serves a copy of the golden repo's registry (Permission
// objects applied by the real feast apply).
func servePermissions(t *testing.T) registrypb.RegistryServerClient {
	t.Helper()
	b, err := os.ReadFile("../../permissions/testdata/repo/data/registry.db")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "registry.db")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := registry.Open(context.Background(), &registry.FileSource{Path: path}, registry.Options{Project: permProject})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(grpc.UnaryInterceptor(userFromMetadata))
	registryserver.Register(gs, registryserver.New(r))
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return registrypb.NewRegistryServerClient(conn)
}

func as(user string) context.Context {
	if user == "" {
		return context.Background()
	}
	return metadata.AppendToOutgoingContext(context.Background(), "x-test-user", user)
}

func wantDenied(t *testing.T, err error, want ...string) {
	t.Helper()
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("%v, want PermissionDenied", err)
	}
	msg := status.Convert(err).Message()
	for _, w := range append(want, `"class": "FeastPermissionError"`, "Permission error:") {
		if !strings.Contains(msg, w) {
			t.Fatalf("%s lacks %q", msg, w)
		}
	}
}

func TestRegistryReadsAreAuthorized(t *testing.T) {
	c := servePermissions(t)
	get := func(user string) error {
		_, err := c.GetFeatureView(as(user), &registrypb.GetFeatureViewRequest{Name: "driver_daily", Project: permProject, AllowCache: true})
		return err
	}
	for _, u := range []string{"", "bob", "carol"} {
		if err := get(u); err != nil {
			t.Fatalf("%q: %v", u, err)
		}
	}
	wantDenied(t, get("alice"), `Permission driver_writer denied execution of ['DESCRIBE'] to FeatureView:driver_daily`)
	// A missing object is NOT_FOUND before any permission check.
	_, err := c.GetFeatureView(as("alice"), &registrypb.GetFeatureViewRequest{Name: "nope", Project: permProject, AllowCache: true})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("%v, want NotFound", err)
	}

	list := func(user string) ([]*corepb.FeatureView, error) {
		r, err := c.ListFeatureViews(as(user), &registrypb.ListFeatureViewsRequest{Project: permProject, AllowCache: true})
		return r.GetFeatureViews(), err
	}
	all, err := list("")
	if err != nil || len(all) < 3 {
		t.Fatalf("no_auth: %d views, %v", len(all), err)
	}
	if got, err := list("carol"); err != nil || len(got) != len(all) {
		t.Fatalf("carol: %d views, %v", len(got), err)
	}
	// customer_profile is matched by admin alone (no name pattern): Feast's
	// filter_only raises rather than filtering it out.
	_, err = list("bob")
	wantDenied(t, err, "FeatureView:customer_profile")

	ents, err := c.ListEntities(as("dan"), &registrypb.ListEntitiesRequest{Project: permProject, AllowCache: true})
	if err != nil || len(ents.GetEntities()) == 0 {
		t.Fatalf("dan lists entities: %v, %v", ents, err)
	}
}

func TestRegistryWritesAreAuthorized(t *testing.T) {
	c := servePermissions(t)
	apply := func(user, name string) error {
		_, err := c.ApplyEntity(as(user), &registrypb.ApplyEntityRequest{Project: permProject,
			Entity: &corepb.Entity{Spec: &corepb.EntitySpecV2{Name: name, Project: permProject, JoinKey: name + "_id"}}})
		return err
	}
	wantDenied(t, apply("dan", "rider"), "['CREATE'] to Entity:rider")
	if err := apply("carol", "rider"); err != nil {
		t.Fatal(err)
	}
	// Updating asks DESCRIBE and UPDATE of the stored object.
	wantDenied(t, apply("dan", "rider"), "['DESCRIBE', 'UPDATE'] to Entity:rider")
	_, err := c.DeleteEntity(as("bob"), &registrypb.DeleteEntityRequest{Name: "rider", Project: permProject})
	wantDenied(t, err, "['DELETE'] to Entity:rider")
	if _, err := c.DeleteEntity(as("carol"), &registrypb.DeleteEntityRequest{Name: "rider", Project: permProject}); err != nil {
		t.Fatal(err)
	}
}
