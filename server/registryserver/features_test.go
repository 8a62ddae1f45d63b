package registryserver_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	corepb "github.com/feastgo/feastgo/protos/feast/core"
	registrypb "github.com/feastgo/feastgo/protos/feast/registry"
	typespb "github.com/feastgo/feastgo/protos/feast/types"
)

// lineageSample is project p with a source, an entity, two views (one with
// a struct and a list feature), an on-demand view reading one of them and a
// request source, and a service over both views.
func lineageSample() *corepb.Registry {
	src := &corepb.DataSource{Name: "orders_src", Project: "p", Type: corepb.DataSource_BATCH_FILE}
	reg := &corepb.Registry{RegistrySchemaVersion: "1",
		Projects: []*corepb.Project{{Spec: &corepb.ProjectSpec{Name: "p"}}},
		Entities: []*corepb.Entity{{Spec: &corepb.EntitySpecV2{Name: "driver", Project: "p", JoinKey: "driver_id"}}},
		FeatureViews: []*corepb.FeatureView{
			{Spec: &corepb.FeatureViewSpec{Name: "stats", Project: "p", Entities: []string{"driver"}, BatchSource: src,
				Features: []*corepb.FeatureSpecV2{
					{Name: "rate", ValueType: typespb.ValueType_DOUBLE, Description: "trips per hour", Tags: map[string]string{"pii": "no"}},
					{Name: "hist", ValueType: typespb.ValueType_INT64_LIST},
					{Name: "loc", ValueType: typespb.ValueType_STRUCT, Tags: map[string]string{"feast:struct_schema": `{"lat": "FLOAT64", "tags": "Array(STRING)"}`}},
				}}},
			{Spec: &corepb.FeatureViewSpec{Name: "extra", Project: "p", Entities: []string{"driver"}, BatchSource: src,
				Features: []*corepb.FeatureSpecV2{{Name: "rate", ValueType: typespb.ValueType_FLOAT}}}},
		},
		OnDemandFeatureViews: []*corepb.OnDemandFeatureView{{Spec: &corepb.OnDemandFeatureViewSpec{Name: "adjusted", Project: "p",
			Features: []*corepb.FeatureSpecV2{{Name: "rate_plus", ValueType: typespb.ValueType_DOUBLE}},
			Sources: map[string]*corepb.OnDemandSource{
				"stats": {Source: &corepb.OnDemandSource_FeatureViewProjection{FeatureViewProjection: &corepb.FeatureViewProjection{FeatureViewName: "stats"}}},
				"req":   {Source: &corepb.OnDemandSource_RequestDataSource{RequestDataSource: &corepb.DataSource{Name: "req_src", Type: corepb.DataSource_REQUEST_SOURCE}}},
			}}}},
		FeatureServices: []*corepb.FeatureService{{Spec: &corepb.FeatureServiceSpec{Name: "svc", Project: "p",
			Features: []*corepb.FeatureViewProjection{{FeatureViewName: "stats"}, {FeatureViewName: "adjusted"}}}}},
	}
	return reg
}

func TestListFeaturesAndGetFeatureAsFeast(t *testing.T) {
	c, _, _ := serve(t, lineageSample())
	ctx := context.Background()
	list := func(r *registrypb.ListFeaturesRequest) []string {
		t.Helper()
		resp, err := c.ListFeatures(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, f := range resp.GetFeatures() {
			out = append(out, f.GetFeatureView()+"."+f.GetName()+":"+f.GetType())
		}
		return out
	}
	// Every view kind in Feast's order (views, then on-demand views), each
	// type as str() of the Feast type.
	all := list(&registrypb.ListFeaturesRequest{Project: "p"})
	want := []string{"stats.rate:Float64", "stats.hist:Array(Int64)", "stats.loc:Struct({lat: Float64, tags: Array(String)})",
		"extra.rate:Float32", "adjusted.rate_plus:Float64"}
	if !slices.Equal(all, want) {
		t.Fatalf("ListFeatures = %v, want %v", all, want)
	}
	if got := list(&registrypb.ListFeaturesRequest{Project: "p", Name: "rate"}); !slices.Equal(got, []string{"stats.rate:Float64", "extra.rate:Float32"}) {
		t.Errorf("by name: %v", got)
	}
	if got := list(&registrypb.ListFeaturesRequest{Project: "p", FeatureView: "extra"}); !slices.Equal(got, []string{"extra.rate:Float32"}) {
		t.Errorf("by view: %v", got)
	}
	if got := list(&registrypb.ListFeaturesRequest{Project: "p", Kind: "label"}); len(got) != 0 {
		t.Errorf("label kind in a repo without label views: %v", got)
	}
	paged, err := c.ListFeatures(ctx, &registrypb.ListFeaturesRequest{Project: "p",
		Sorting: &registrypb.SortingParams{SortBy: "name", SortOrder: "desc"}, Pagination: &registrypb.PaginationParams{Page: 1, Limit: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if n := paged.GetPagination().GetTotalCount(); n != 5 || len(paged.GetFeatures()) != 2 || paged.GetFeatures()[0].GetName() != "rate_plus" {
		t.Errorf("sorted page: total %d, %v", n, paged.GetFeatures())
	}

	f, err := c.GetFeature(ctx, &registrypb.GetFeatureRequest{Project: "p", FeatureView: "stats", Name: "rate"})
	if err != nil {
		t.Fatal(err)
	}
	if f.GetDescription() != "trips per hour" || f.GetTags()["pii"] != "no" || f.GetKind() != "feature" || f.GetType() != "Float64" {
		t.Errorf("GetFeature = %v", f)
	}
	loc, err := c.GetFeature(ctx, &registrypb.GetFeatureRequest{Project: "p", FeatureView: "stats", Name: "loc"})
	if err != nil {
		t.Fatal(err)
	}
	if len(loc.GetTags()) != 0 {
		t.Errorf("the struct schema tag is a type detail, not a tag Feast shows: %v", loc.GetTags())
	}
	_, err = c.GetFeature(ctx, &registrypb.GetFeatureRequest{Project: "p", FeatureView: "extra", Name: "hist"})
	if status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), "Feature hist not found in feature view extra in project p") {
		t.Errorf("missing feature: %v", err)
	}
}

func edges(rs []*registrypb.EntityRelation) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, fmt.Sprintf("%s:%s->%s:%s", r.GetSource().GetType(), r.GetSource().GetName(), r.GetTarget().GetType(), r.GetTarget().GetName()))
	}
	return out
}

func TestLineageAsFeast(t *testing.T) {
	c, _, _ := serve(t, lineageSample())
	ctx := context.Background()
	resp, err := c.GetRegistryLineage(ctx, &registrypb.GetRegistryLineageRequest{Project: "p"})
	if err != nil {
		t.Fatal(err)
	}
	// Feast's _parse_direct_relationships order: services, views (entities,
	// features, source), on-demand entities and features, then their sources.
	direct := []string{
		"featureView:stats->featureService:svc", "featureView:adjusted->featureService:svc",
		"entity:driver->featureView:stats", "feature:rate->featureView:stats", "feature:hist->featureView:stats",
		"feature:loc->featureView:stats", "dataSource:orders_src->featureView:stats",
		"entity:driver->featureView:extra", "feature:rate->featureView:extra", "dataSource:orders_src->featureView:extra",
		"feature:rate_plus->featureView:adjusted",
		"dataSource:req_src->featureView:adjusted", "featureView:stats->featureView:adjusted",
	}
	if got := edges(resp.GetRelationships()); !slices.Equal(got, direct) {
		t.Errorf("direct:\n got %v\nwant %v", got, direct)
	}
	// Whatever points at a served view points at the service; an entity
	// points at its views' sources.
	indirect := edges(resp.GetIndirectRelationships())
	for _, e := range []string{"entity:driver->featureService:svc", "feature:rate->featureService:svc",
		"dataSource:orders_src->featureService:svc", "dataSource:req_src->featureService:svc", "entity:driver->dataSource:orders_src"} {
		if !slices.Contains(indirect, e) {
			t.Errorf("indirect lacks %s: %v", e, indirect)
		}
	}
	// driver reaches svc through stats only: extra is in no service.
	if n := len(slices.DeleteFunc(slices.Clone(indirect), func(e string) bool { return e != "entity:driver->featureService:svc" })); n != 1 {
		t.Errorf("entity:driver->featureService:svc %d times, want once (through stats): %v", n, indirect)
	}

	filtered, err := c.GetRegistryLineage(ctx, &registrypb.GetRegistryLineageRequest{Project: "p", FilterObjectType: "featureView", FilterObjectName: "extra"})
	if err != nil {
		t.Fatal(err)
	}
	if got := edges(filtered.GetRelationships()); !slices.Equal(got, []string{"entity:driver->featureView:extra",
		"feature:rate->featureView:extra", "dataSource:orders_src->featureView:extra"}) {
		t.Errorf("filtered: %v", got)
	}

	obj, err := c.GetObjectRelationships(ctx, &registrypb.GetObjectRelationshipsRequest{Project: "p", ObjectType: "dataSource", ObjectName: "req_src", IncludeIndirect: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := edges(obj.GetRelationships()); !slices.Equal(got, []string{"dataSource:req_src->featureView:adjusted", "dataSource:req_src->featureService:svc"}) {
		t.Errorf("object relationships: %v", got)
	}
	_, err = c.GetObjectRelationships(ctx, &registrypb.GetObjectRelationshipsRequest{Project: "p", ObjectType: "view", ObjectName: "stats"})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "object_type") {
		t.Errorf("unknown object type: %v", err)
	}
}
