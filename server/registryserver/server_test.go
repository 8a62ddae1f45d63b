package registryserver_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	corepb "github.com/feastgo/feastgo/protos/feast/core"
	registrypb "github.com/feastgo/feastgo/protos/feast/registry"
	typespb "github.com/feastgo/feastgo/protos/feast/types"
	"github.com/feastgo/feastgo/registry"
	"github.com/feastgo/feastgo/server/registryserver"
)

// sample is a registry of two projects; p has three views and an entity.
func sample() *corepb.Registry {
	reg := &corepb.Registry{RegistrySchemaVersion: "1", VersionId: "v1",
		Projects: []*corepb.Project{{Spec: &corepb.ProjectSpec{Name: "p"}}, {Spec: &corepb.ProjectSpec{Name: "q"}}},
		Entities: []*corepb.Entity{{Spec: &corepb.EntitySpecV2{Name: "driver", Project: "p", JoinKey: "driver_id", ValueType: typespb.ValueType_INT64}}}}
	for _, n := range []string{"b_view", "a_view", "c_view"} {
		reg.FeatureViews = append(reg.FeatureViews, &corepb.FeatureView{Spec: &corepb.FeatureViewSpec{Name: n, Project: "p",
			Entities: []string{"driver"}, Tags: map[string]string{"team": n[:1]},
			Features: []*corepb.FeatureSpecV2{{Name: "f_" + n, ValueType: typespb.ValueType_DOUBLE}}}})
	}
	reg.FeatureViews = append(reg.FeatureViews, &corepb.FeatureView{Spec: &corepb.FeatureViewSpec{Name: "other", Project: "q"}})
	return reg
}

// serve starts the registry server over loopback on a registry file.
func serve(t *testing.T, reg *corepb.Registry) (registrypb.RegistryServerClient, *grpc.ClientConn, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "registry.db")
	b, err := proto.Marshal(reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := registry.Open(context.Background(), &registry.FileSource{Path: path}, registry.Options{Project: "p"})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	registryserver.Register(gs, registryserver.New(r))
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return registrypb.NewRegistryServerClient(conn), conn, path
}

func names(fvs []*corepb.FeatureView) []string {
	var out []string
	for _, v := range fvs {
		out = append(out, v.GetSpec().GetName())
	}
	return out
}

func TestListFiltersSortsAndPages(t *testing.T) {
	c, _, _ := serve(t, sample())
	ctx := context.Background()
	tests := []struct {
		name string
		req  *registrypb.ListFeatureViewsRequest
		want string
		meta string
	}{
		{"project, registry order", &registrypb.ListFeatureViewsRequest{Project: "p"}, "[b_view a_view c_view]", "total_count:3 total_pages:1"},
		{"other project", &registrypb.ListFeatureViewsRequest{Project: "q"}, "[other]", "total_count:1 total_pages:1"},
		{"tags", &registrypb.ListFeatureViewsRequest{Project: "p", Tags: map[string]string{"team": "a"}}, "[a_view]", "total_count:1 total_pages:1"},
		{"sorted desc", &registrypb.ListFeatureViewsRequest{Project: "p", Sorting: &registrypb.SortingParams{SortBy: "name", SortOrder: "desc"}}, "[c_view b_view a_view]", "total_count:3 total_pages:1"},
		{"page 2 of 2", &registrypb.ListFeatureViewsRequest{Project: "p", Sorting: &registrypb.SortingParams{SortBy: "name"},
			Pagination: &registrypb.PaginationParams{Page: 2, Limit: 2}}, "[c_view]", "page:2 limit:2 total_count:3 total_pages:2 has_previous:true"},
		{"empty", &registrypb.ListFeatureViewsRequest{Project: "none"}, "[]", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.ListFeatureViews(ctx, tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if s := fmt.Sprint(names(got.GetFeatureViews())); s != tt.want {
				t.Errorf("views = %s, want %s", s, tt.want)
			}
			if s := strings.Join(strings.Fields(fmt.Sprint(got.GetPagination())), " "); s != tt.meta && !(tt.meta == "" && s == "") {
				t.Errorf("pagination = %q, want %q", s, tt.meta)
			}
		})
	}
}

func TestGetAndNotFoundAsFeast(t *testing.T) {
	c, _, _ := serve(t, sample())
	ctx := context.Background()
	e, err := c.GetEntity(ctx, &registrypb.GetEntityRequest{Name: "driver", Project: "p"})
	if err != nil || e.GetSpec().GetJoinKey() != "driver_id" {
		t.Fatalf("GetEntity = %v, %v", e, err)
	}
	_, err = c.GetFeatureView(ctx, &registrypb.GetFeatureViewRequest{Name: "other", Project: "p"})
	want := `{"module": "feast.errors", "class": "FeatureViewNotFoundException", "message": "Feature view other does not exist in project p"}`
	if st := status.Convert(err); st.Code() != codes.NotFound || st.Message() != want {
		t.Errorf("GetFeatureView of another project's view = %v, want NOT_FOUND %s", err, want)
	}
	any, err := c.GetAnyFeatureView(ctx, &registrypb.GetAnyFeatureViewRequest{Name: "a_view", Project: "p"})
	if err != nil || any.GetAnyFeatureView().GetFeatureView().GetSpec().GetName() != "a_view" {
		t.Errorf("GetAnyFeatureView = %v, %v", any, err)
	}
	all, err := c.ListAllFeatureViews(ctx, &registrypb.ListAllFeatureViewsRequest{Project: "p", Feature: "f_c_view"})
	if err != nil || len(all.GetFeatureViews()) != 1 {
		t.Errorf("ListAllFeatureViews(feature=f_c_view) = %v, %v", all, err)
	}
}

func TestApplyAndDeleteWriteThrough(t *testing.T) {
	c, _, path := serve(t, sample())
	ctx := context.Background()
	ent := &corepb.Entity{Spec: &corepb.EntitySpecV2{Name: "rider", JoinKey: "rider_id", ValueType: typespb.ValueType_STRING}}
	if _, err := c.ApplyEntity(ctx, &registrypb.ApplyEntityRequest{Entity: ent, Project: "new", Commit: true}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var stored corepb.Registry
	if err := proto.Unmarshal(b, &stored); err != nil {
		t.Fatal(err)
	}
	if len(stored.GetEntities()) != 2 || stored.GetEntities()[1].GetSpec().GetProject() != "new" ||
		stored.GetEntities()[1].GetMeta().GetCreatedTimestamp() == nil {
		t.Errorf("stored entities = %v, want rider appended in project new with timestamps", stored.GetEntities())
	}
	if p, err := c.GetProject(ctx, &registrypb.GetProjectRequest{Name: "new"}); err != nil || p.GetSpec().GetName() != "new" {
		t.Errorf("project new not created by the apply: %v, %v", p, err)
	}
	if _, err := c.DeleteFeatureView(ctx, &registrypb.DeleteFeatureViewRequest{Name: "a_view", Project: "p"}); err != nil {
		t.Fatal(err)
	}
	got, err := c.ListFeatureViews(ctx, &registrypb.ListFeatureViewsRequest{Project: "p", AllowCache: true})
	if err != nil || fmt.Sprint(names(got.GetFeatureViews())) != "[b_view c_view]" {
		t.Errorf("after delete: %v, %v", names(got.GetFeatureViews()), err)
	}
	if _, err := c.DeleteEntity(ctx, &registrypb.DeleteEntityRequest{Name: "nobody", Project: "p"}); status.Code(err) != codes.NotFound {
		t.Errorf("DeleteEntity of a missing entity = %v, want NOT_FOUND", err)
	}
	start, end := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)
	if _, err := c.ApplyMaterialization(ctx, &registrypb.ApplyMaterializationRequest{Project: "p",
		FeatureView: &corepb.FeatureView{Spec: &corepb.FeatureViewSpec{Name: "c_view"}},
		StartDate:   timestamppb.New(start), EndDate: timestamppb.New(end)}); err != nil {
		t.Fatal(err)
	}
	fv, err := c.GetFeatureView(ctx, &registrypb.GetFeatureViewRequest{Name: "c_view", Project: "p"})
	if iv := fv.GetMeta().GetMaterializationIntervals(); err != nil || len(iv) != 1 || !iv[0].GetEndTime().AsTime().Equal(end) {
		t.Errorf("after ApplyMaterialization: %v, %v", iv, err)
	}

	// Re-applying the view from a repository (no meta) keeps what was materialized.
	changed := proto.CloneOf(fv)
	changed.Meta = nil
	changed.Spec.Description = "changed"
	if _, err := c.ApplyFeatureView(ctx, &registrypb.ApplyFeatureViewRequest{Project: "p",
		BaseFeatureView: &registrypb.ApplyFeatureViewRequest_FeatureView{FeatureView: changed}}); err != nil {
		t.Fatal(err)
	}
	fv, err = c.GetFeatureView(ctx, &registrypb.GetFeatureViewRequest{Name: "c_view", Project: "p"})
	if err != nil || fv.GetSpec().GetDescription() != "changed" || len(fv.GetMeta().GetMaterializationIntervals()) != 1 ||
		fv.GetMeta().GetState() != corepb.FeatureViewState_AVAILABLE_ONLINE {
		t.Errorf("re-applied view = %v, %v; want the new spec with the old intervals and state", fv, err)
	}
}

func TestHealthAndProto(t *testing.T) {
	c, conn, _ := serve(t, sample())
	ctx := context.Background()
	h, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: "feast.registry.RegistryServer"})
	if err != nil || h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health = %v, %v", h, err)
	}
	reg, err := c.Proto(ctx, &emptypb.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	// Grouped by project: p's views, then q's.
	if s := fmt.Sprint(names(reg.GetFeatureViews())); s != "[b_view a_view c_view other]" || reg.GetVersionId() != "v1" {
		t.Errorf("Proto views = %s version %q", s, reg.GetVersionId())
	}
}
