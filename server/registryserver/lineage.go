package registryserver

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	authz "github.com/feastgo/feastgo/permissions"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
	registrypb "github.com/feastgo/feastgo/protos/feast/registry"
)

// Lineage follows Feast 0.67's feast/lineage/registry_lineage.py over the
// objects its registry server hands it (base_registry._build_registry_proto:
// the project's entities, data sources, views of every kind and feature
// services, no saved datasets). Relations are (type, name) pairs; the types
// are Feast's FeastObjectType values.
const (
	relDataSource     = "dataSource"
	relEntity         = "entity"
	relFeatureView    = "featureView"
	relLabelView      = "labelView"
	relFeatureService = "featureService"
	relFeature        = "feature"
	relSavedDataset   = "savedDataset"
)

// objectTypeNames maps FeastObjectType values to the enum member names
// Python's str() of the member shows (what Feast sorts a type by).
var objectTypeNames = map[string]string{
	relDataSource: "DATA_SOURCE", relEntity: "ENTITY", relFeatureView: "FEATURE_VIEW", relLabelView: "LABEL_VIEW",
	relFeatureService: "FEATURE_SERVICE", relFeature: "FEATURE", relSavedDataset: "SAVED_DATASET",
}

func rel(srcType, srcName, dstType, dstName string) *registrypb.EntityRelation {
	return &registrypb.EntityRelation{
		Source: &registrypb.EntityReference{Type: srcType, Name: srcName},
		Target: &registrypb.EntityReference{Type: dstType, Name: dstName},
	}
}

// directRelations is _parse_direct_relationships, in its order.
func directRelations(reg *corepb.Registry, project string) []*registrypb.EntityRelation {
	var out []*registrypb.EntityRelation
	labelViews := map[string]bool{}
	for _, lv := range inProject(reg.GetLabelViews(), project, nil) {
		labelViews[lv.GetSpec().GetName()] = true
	}
	for _, fs := range inProject(reg.GetFeatureServices(), project, nil) {
		for _, p := range fs.GetSpec().GetFeatures() {
			t := relFeatureView
			if p.GetViewType() == relLabelView || labelViews[p.GetFeatureViewName()] {
				t = relLabelView
			}
			out = append(out, rel(t, p.GetFeatureViewName(), relFeatureService, fs.GetSpec().GetName()))
		}
	}
	for _, fv := range inProject(reg.GetFeatureViews(), project, nil) {
		sp := fv.GetSpec()
		for _, e := range sp.GetEntities() {
			out = append(out, rel(relEntity, e, relFeatureView, sp.GetName()))
		}
		for _, f := range sp.GetFeatures() {
			out = append(out, rel(relFeature, f.GetName(), relFeatureView, sp.GetName()))
		}
		out = append(out, rel(relDataSource, batchSourceName(sp.GetBatchSource()), relFeatureView, sp.GetName()))
	}
	odfvs := inProject(reg.GetOnDemandFeatureViews(), project, nil)
	for _, o := range odfvs {
		sp := o.GetSpec()
		for _, e := range sp.GetEntities() {
			out = append(out, rel(relEntity, e, relFeatureView, sp.GetName()))
		}
		for _, f := range sp.GetFeatures() {
			out = append(out, rel(relFeature, f.GetName(), relFeatureView, sp.GetName()))
		}
	}
	for _, o := range odfvs {
		sp := o.GetSpec()
		// Feast walks the sources map in the order of Python's protobuf map
		// (upb's, which changes from process to process); ours is by key.
		keys := make([]string, 0, len(sp.GetSources()))
		for k := range sp.GetSources() {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			src := sp.GetSources()[k]
			if rs := src.GetRequestDataSource(); rs != nil && rs.GetName() != "" {
				out = append(out, rel(relDataSource, rs.GetName(), relFeatureView, sp.GetName()))
			} else if p := src.GetFeatureViewProjection(); p != nil && p.GetFeatureViewName() != "" {
				out = append(out, rel(relFeatureView, p.GetFeatureViewName(), relFeatureView, sp.GetName()))
			}
		}
	}
	for _, sfv := range inProject(reg.GetStreamFeatureViews(), project, nil) {
		sp := sfv.GetSpec()
		if n := sp.GetStreamSource().GetName(); n != "" {
			out = append(out, rel(relDataSource, n, relFeatureView, sp.GetName()))
		}
		if n := sp.GetBatchSource().GetName(); n != "" {
			out = append(out, rel(relDataSource, n, relFeatureView, sp.GetName()))
		}
	}
	for _, lv := range inProject(reg.GetLabelViews(), project, nil) {
		sp := lv.GetSpec()
		for _, e := range sp.GetEntities() {
			out = append(out, rel(relEntity, e, relLabelView, sp.GetName()))
		}
		// Feast tests the source message for truth, which a present Python
		// message field always is: the push source and its batch source.
		if n := sp.GetSource().GetName(); n != "" {
			out = append(out, rel(relDataSource, n, relLabelView, sp.GetName()))
		}
		if n := sp.GetSource().GetBatchSource().GetName(); n != "" {
			out = append(out, rel(relDataSource, n, relLabelView, sp.GetName()))
		}
	}
	return out
}

// batchSourceName is a view's batch source name; an unnamed source gets
// an "unnamed_source_" id (Feast's is Python's per-process hash of the
// source's text, ours a hash of its bytes).
func batchSourceName(ds *corepb.DataSource) string {
	if ds.GetName() != "" {
		return ds.GetName()
	}
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(ds)
	h := fnv.New64a()
	_, _ = h.Write(b)
	return fmt.Sprintf("unnamed_source_%d", int64(h.Sum64()))
}

// indirectRelations is _parse_indirect_relationships: whatever points at a
// view also points at the services that read it, and an entity points at
// the data sources of its views.
func indirectRelations(reg *corepb.Registry, project string, direct []*registrypb.EntityRelation) []*registrypb.EntityRelation {
	var out []*registrypb.EntityRelation
	isView := func(t string) bool { return t == relFeatureView || t == relLabelView }
	for _, fs := range inProject(reg.GetFeatureServices(), project, nil) {
		for _, p := range fs.GetSpec().GetFeatures() {
			for _, d := range direct {
				if d.GetTarget().GetName() == p.GetFeatureViewName() && isView(d.GetTarget().GetType()) {
					out = append(out, &registrypb.EntityRelation{Source: d.GetSource(),
						Target: &registrypb.EntityReference{Type: relFeatureService, Name: fs.GetSpec().GetName()}})
				}
			}
		}
	}
	sources := map[string][]string{}
	for _, d := range direct {
		if d.GetSource().GetType() == relDataSource && isView(d.GetTarget().GetType()) {
			sources[d.GetTarget().GetName()] = append(sources[d.GetTarget().GetName()], d.GetSource().GetName())
		}
	}
	for _, d := range direct {
		if d.GetSource().GetType() == relEntity && isView(d.GetTarget().GetType()) {
			for _, ds := range sources[d.GetTarget().GetName()] {
				out = append(out, &registrypb.EntityRelation{Source: d.GetSource(),
					Target: &registrypb.EntityReference{Type: relDataSource, Name: ds}})
			}
		}
	}
	return out
}

// involves reports whether a relation has the object at either end.
func involves(r *registrypb.EntityRelation, typ, name string) bool {
	return (r.GetSource().GetType() == typ && r.GetSource().GetName() == name) ||
		(r.GetTarget().GetType() == typ && r.GetTarget().GetName() == name)
}

// assertLineageProject asserts DESCRIBE on the request's project when it
// exists, as Feast's lineage RPCs do (a missing project is not checked).
func (s *Server) assertLineageProject(ctx context.Context, reg *corepb.Registry, project string) error {
	if p, ok := find(projects(reg), project, ""); ok {
		return s.assert(ctx, project, p, authz.Describe)
	}
	return nil
}

// GetRegistryLineage answers a project's direct and indirect relations,
// narrowed to one object when both filter fields are given, each list
// sorted and paged with the same parameters.
func (s *Server) GetRegistryLineage(ctx context.Context, r *registrypb.GetRegistryLineageRequest) (*registrypb.GetRegistryLineageResponse, error) {
	reg, err := s.current(ctx, r.GetAllowCache())
	if err != nil {
		return nil, err
	}
	if err := s.assertLineageProject(ctx, reg, r.GetProject()); err != nil {
		return nil, err
	}
	direct := directRelations(reg, r.GetProject())
	indirect := indirectRelations(reg, r.GetProject(), direct)
	if t, n := r.GetFilterObjectType(), r.GetFilterObjectName(); t != "" && n != "" {
		keep := func(x *registrypb.EntityRelation) bool { return !involves(x, t, n) }
		direct = slices.DeleteFunc(direct, keep)
		indirect = slices.DeleteFunc(indirect, keep)
	}
	out := &registrypb.GetRegistryLineageResponse{}
	out.Relationships, out.RelationshipsPagination = page(direct, r.GetPagination(), r.GetSorting())
	out.IndirectRelationships, out.IndirectRelationshipsPagination = page(indirect, r.GetPagination(), r.GetSorting())
	return out, nil
}

// GetObjectRelationships answers the relations with the object at either
// end: the direct ones, then the indirect ones when asked for.
func (s *Server) GetObjectRelationships(ctx context.Context, r *registrypb.GetObjectRelationshipsRequest) (*registrypb.GetObjectRelationshipsResponse, error) {
	reg, err := s.current(ctx, r.GetAllowCache())
	if err != nil {
		return nil, err
	}
	if err := s.assertLineageProject(ctx, reg, r.GetProject()); err != nil {
		return nil, err
	}
	if _, ok := objectTypeNames[r.GetObjectType()]; !ok {
		// Feast fails with a bare ValueError (UNKNOWN).
		valid := make([]string, 0, len(objectTypeNames))
		for k := range objectTypeNames {
			valid = append(valid, k)
		}
		slices.Sort(valid)
		return nil, status.Errorf(codes.InvalidArgument, "object_type %q is not one of %s", r.GetObjectType(), strings.Join(valid, ", "))
	}
	direct := directRelations(reg, r.GetProject())
	all := direct
	if r.GetIncludeIndirect() {
		all = append(slices.Clip(direct), indirectRelations(reg, r.GetProject(), direct)...)
	}
	all = slices.DeleteFunc(all, func(x *registrypb.EntityRelation) bool { return !involves(x, r.GetObjectType(), r.GetObjectName()) })
	items, meta := page(all, r.GetPagination(), r.GetSorting())
	return &registrypb.GetObjectRelationshipsResponse{Relationships: items, Pagination: meta}, nil
}
