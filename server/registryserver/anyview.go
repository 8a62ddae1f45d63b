package registryserver

import (
	"context"
	"slices"

	authz "github.com/feastgo/feastgo/permissions"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
	registrypb "github.com/feastgo/feastgo/protos/feast/registry"
)

// allViews lists a project's views of every kind in Feast's order: feature
// views, stream feature views, on-demand views, label views.
func allViews(reg *corepb.Registry, project string, tags map[string]string) []*registrypb.AnyFeatureView {
	var out []*registrypb.AnyFeatureView
	for _, v := range inProject(reg.GetFeatureViews(), project, tags) {
		out = append(out, &registrypb.AnyFeatureView{AnyFeatureView: &registrypb.AnyFeatureView_FeatureView{FeatureView: v}})
	}
	for _, v := range inProject(reg.GetStreamFeatureViews(), project, tags) {
		out = append(out, &registrypb.AnyFeatureView{AnyFeatureView: &registrypb.AnyFeatureView_StreamFeatureView{StreamFeatureView: v}})
	}
	for _, v := range inProject(reg.GetOnDemandFeatureViews(), project, tags) {
		out = append(out, &registrypb.AnyFeatureView{AnyFeatureView: &registrypb.AnyFeatureView_OnDemandFeatureView{OnDemandFeatureView: v}})
	}
	for _, v := range inProject(reg.GetLabelViews(), project, tags) {
		out = append(out, &registrypb.AnyFeatureView{AnyFeatureView: &registrypb.AnyFeatureView_LabelView{LabelView: v}})
	}
	return out
}

// GetAnyFeatureView finds a view of any kind by name.
func (s *Server) GetAnyFeatureView(ctx context.Context, r *registrypb.GetAnyFeatureViewRequest) (*registrypb.GetAnyFeatureViewResponse, error) {
	reg, err := s.current(ctx, r.GetAllowCache())
	if err != nil {
		return nil, err
	}
	for _, v := range allViews(reg, r.GetProject(), nil) {
		if viewName(v) == r.GetName() {
			if err := s.assert(ctx, r.GetProject(), v, authz.Describe); err != nil {
				return nil, err
			}
			return &registrypb.GetAnyFeatureViewResponse{AnyFeatureView: v}, nil
		}
	}
	return nil, notFound(fvNotFound, fvKind, r.GetName(), r.GetProject())
}

func viewName(v *registrypb.AnyFeatureView) string {
	switch x := v.GetAnyFeatureView().(type) {
	case *registrypb.AnyFeatureView_FeatureView:
		return x.FeatureView.GetSpec().GetName()
	case *registrypb.AnyFeatureView_StreamFeatureView:
		return x.StreamFeatureView.GetSpec().GetName()
	case *registrypb.AnyFeatureView_OnDemandFeatureView:
		return x.OnDemandFeatureView.GetSpec().GetName()
	case *registrypb.AnyFeatureView_LabelView:
		return x.LabelView.GetSpec().GetName()
	}
	return ""
}

// ListAllFeatureViews lists feature, stream and on-demand views (label
// views are left out, as Feast leaves them out), narrowed to those that use
// the entity, define the feature, are read by the feature service or read
// the data source asked for.
func (s *Server) ListAllFeatureViews(ctx context.Context, r *registrypb.ListAllFeatureViewsRequest) (*registrypb.ListAllFeatureViewsResponse, error) {
	reg, err := s.current(ctx, r.GetAllowCache())
	if err != nil {
		return nil, err
	}
	items := slices.DeleteFunc(allViews(reg, r.GetProject(), r.GetTags()), func(v *registrypb.AnyFeatureView) bool {
		return v.GetLabelView() != nil || !matches(reg, r, v)
	})
	if items, err = describable(s, ctx, r.GetProject(), items); err != nil {
		return nil, err
	}
	items, meta := page(items, r.GetPagination(), r.GetSorting())
	return &registrypb.ListAllFeatureViewsResponse{FeatureViews: items, Pagination: meta}, nil
}

// matches applies ListAllFeatureViews' optional filters to one view.
func matches(reg *corepb.Registry, r *registrypb.ListAllFeatureViewsRequest, v *registrypb.AnyFeatureView) bool {
	var entities []string
	var features []*corepb.FeatureSpecV2
	var sources []string
	switch x := v.GetAnyFeatureView().(type) {
	case *registrypb.AnyFeatureView_FeatureView:
		sp := x.FeatureView.GetSpec()
		entities, features = sp.GetEntities(), sp.GetFeatures()
		sources = []string{sp.GetBatchSource().GetName(), sp.GetStreamSource().GetName()}
	case *registrypb.AnyFeatureView_StreamFeatureView:
		sp := x.StreamFeatureView.GetSpec()
		entities, features = sp.GetEntities(), sp.GetFeatures()
		sources = []string{sp.GetBatchSource().GetName(), sp.GetStreamSource().GetName()}
	case *registrypb.AnyFeatureView_OnDemandFeatureView:
		sp := x.OnDemandFeatureView.GetSpec()
		features = sp.GetFeatures()
		for _, src := range sp.GetSources() {
			if rs := src.GetRequestDataSource(); rs != nil {
				sources = append(sources, rs.GetName())
			}
		}
	}
	if e := r.GetEntity(); e != "" && !slices.Contains(entities, e) {
		return false
	}
	if f := r.GetFeature(); f != "" && !slices.ContainsFunc(features, func(s *corepb.FeatureSpecV2) bool { return s.GetName() == f }) {
		return false
	}
	if fs := r.GetFeatureService(); fs != "" {
		svc, ok := find(reg.GetFeatureServices(), fs, r.GetProject())
		if !ok || !readsView(svc, viewName(v)) {
			return false
		}
	}
	if ds := r.GetDataSource(); ds != "" && !slices.Contains(sources, ds) {
		return false
	}
	return true
}
