package registryserver

import (
	"context"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	authz "github.com/feastgo/feastgo/permissions"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
	registrypb "github.com/feastgo/feastgo/protos/feast/registry"
)

// get looks an object up for a Get RPC; a missing one is Feast's
// not-found exception of that kind.
func get[T proto.Message](s *Server, ctx context.Context, allowCache bool, list func(*corepb.Registry) []T,
	name, project, class, kind string) (T, error) {
	var zero T
	reg, err := s.current(ctx, allowCache)
	if err != nil {
		return zero, err
	}
	if it, ok := find(list(reg), name, project); ok {
		if err := s.assert(ctx, project, it, authz.Describe); err != nil {
			return zero, err
		}
		return it, nil
	}
	return zero, notFound(class, kind, name, project)
}

// list answers a List RPC: the project's objects with the tags asked for,
// narrowed by keep (nil keeps all), sorted and paged.
func list[T proto.Message](s *Server, ctx context.Context, allowCache bool, all func(*corepb.Registry) []T,
	project string, tags map[string]string, keep func(*corepb.Registry, T) bool,
	pg *registrypb.PaginationParams, so *registrypb.SortingParams) ([]T, *registrypb.PaginationMetadata, error) {
	reg, err := s.current(ctx, allowCache)
	if err != nil {
		return nil, nil, err
	}
	items := inProject(all(reg), project, tags)
	if keep != nil {
		items = slices.DeleteFunc(items, func(it T) bool { return !keep(reg, it) })
	}
	if items, err = describable(s, ctx, project, items); err != nil {
		return nil, nil, err
	}
	items, meta := page(items, pg, so)
	return items, meta, nil
}

const (
	fvNotFound = "FeatureViewNotFoundException"
	fvKind     = "Feature view"
)

func (s *Server) GetEntity(ctx context.Context, r *registrypb.GetEntityRequest) (*corepb.Entity, error) {
	return get(s, ctx, r.GetAllowCache(), (*corepb.Registry).GetEntities, r.GetName(), r.GetProject(), "EntityNotFoundException", "Entity")
}

func (s *Server) ListEntities(ctx context.Context, r *registrypb.ListEntitiesRequest) (*registrypb.ListEntitiesResponse, error) {
	items, meta, err := list(s, ctx, r.GetAllowCache(), (*corepb.Registry).GetEntities, r.GetProject(), r.GetTags(), nil, r.GetPagination(), r.GetSorting())
	if err != nil {
		return nil, err
	}
	return &registrypb.ListEntitiesResponse{Entities: items, Pagination: meta}, nil
}

func (s *Server) GetDataSource(ctx context.Context, r *registrypb.GetDataSourceRequest) (*corepb.DataSource, error) {
	return get(s, ctx, r.GetAllowCache(), (*corepb.Registry).GetDataSources, r.GetName(), r.GetProject(), "DataSourceObjectNotFoundException", "Data source")
}

func (s *Server) ListDataSources(ctx context.Context, r *registrypb.ListDataSourcesRequest) (*registrypb.ListDataSourcesResponse, error) {
	items, meta, err := list(s, ctx, r.GetAllowCache(), (*corepb.Registry).GetDataSources, r.GetProject(), r.GetTags(), nil, r.GetPagination(), r.GetSorting())
	if err != nil {
		return nil, err
	}
	return &registrypb.ListDataSourcesResponse{DataSources: items, Pagination: meta}, nil
}

func (s *Server) GetFeatureView(ctx context.Context, r *registrypb.GetFeatureViewRequest) (*corepb.FeatureView, error) {
	return get(s, ctx, r.GetAllowCache(), (*corepb.Registry).GetFeatureViews, r.GetName(), r.GetProject(), fvNotFound, fvKind)
}

func (s *Server) ListFeatureViews(ctx context.Context, r *registrypb.ListFeatureViewsRequest) (*registrypb.ListFeatureViewsResponse, error) {
	items, meta, err := list(s, ctx, r.GetAllowCache(), (*corepb.Registry).GetFeatureViews, r.GetProject(), r.GetTags(), nil, r.GetPagination(), r.GetSorting())
	if err != nil {
		return nil, err
	}
	return &registrypb.ListFeatureViewsResponse{FeatureViews: items, Pagination: meta}, nil
}

func (s *Server) GetStreamFeatureView(ctx context.Context, r *registrypb.GetStreamFeatureViewRequest) (*corepb.StreamFeatureView, error) {
	return get(s, ctx, r.GetAllowCache(), (*corepb.Registry).GetStreamFeatureViews, r.GetName(), r.GetProject(), fvNotFound, fvKind)
}

func (s *Server) ListStreamFeatureViews(ctx context.Context, r *registrypb.ListStreamFeatureViewsRequest) (*registrypb.ListStreamFeatureViewsResponse, error) {
	items, meta, err := list(s, ctx, r.GetAllowCache(), (*corepb.Registry).GetStreamFeatureViews, r.GetProject(), r.GetTags(), nil, r.GetPagination(), r.GetSorting())
	if err != nil {
		return nil, err
	}
	return &registrypb.ListStreamFeatureViewsResponse{StreamFeatureViews: items, Pagination: meta}, nil
}

func (s *Server) GetOnDemandFeatureView(ctx context.Context, r *registrypb.GetOnDemandFeatureViewRequest) (*corepb.OnDemandFeatureView, error) {
	return get(s, ctx, r.GetAllowCache(), (*corepb.Registry).GetOnDemandFeatureViews, r.GetName(), r.GetProject(), fvNotFound, fvKind)
}

func (s *Server) ListOnDemandFeatureViews(ctx context.Context, r *registrypb.ListOnDemandFeatureViewsRequest) (*registrypb.ListOnDemandFeatureViewsResponse, error) {
	items, meta, err := list(s, ctx, r.GetAllowCache(), (*corepb.Registry).GetOnDemandFeatureViews, r.GetProject(), r.GetTags(), nil, r.GetPagination(), r.GetSorting())
	if err != nil {
		return nil, err
	}
	return &registrypb.ListOnDemandFeatureViewsResponse{OnDemandFeatureViews: items, Pagination: meta}, nil
}

func (s *Server) GetLabelView(ctx context.Context, r *registrypb.GetLabelViewRequest) (*corepb.LabelView, error) {
	return get(s, ctx, r.GetAllowCache(), (*corepb.Registry).GetLabelViews, r.GetName(), r.GetProject(), fvNotFound, fvKind)
}

func (s *Server) ListLabelViews(ctx context.Context, r *registrypb.ListLabelViewsRequest) (*registrypb.ListLabelViewsResponse, error) {
	items, meta, err := list(s, ctx, r.GetAllowCache(), (*corepb.Registry).GetLabelViews, r.GetProject(), r.GetTags(), nil, r.GetPagination(), r.GetSorting())
	if err != nil {
		return nil, err
	}
	return &registrypb.ListLabelViewsResponse{LabelViews: items, Pagination: meta}, nil
}

func (s *Server) GetFeatureService(ctx context.Context, r *registrypb.GetFeatureServiceRequest) (*corepb.FeatureService, error) {
	return get(s, ctx, r.GetAllowCache(), (*corepb.Registry).GetFeatureServices, r.GetName(), r.GetProject(), "FeatureServiceNotFoundException", "Feature service")
}

// ListFeatureServices narrows to the services that read feature_view.
func (s *Server) ListFeatureServices(ctx context.Context, r *registrypb.ListFeatureServicesRequest) (*registrypb.ListFeatureServicesResponse, error) {
	var keep func(*corepb.Registry, *corepb.FeatureService) bool
	if fv := r.GetFeatureView(); fv != "" {
		keep = func(_ *corepb.Registry, svc *corepb.FeatureService) bool { return readsView(svc, fv) }
	}
	items, meta, err := list(s, ctx, r.GetAllowCache(), (*corepb.Registry).GetFeatureServices, r.GetProject(), r.GetTags(), keep, r.GetPagination(), r.GetSorting())
	if err != nil {
		return nil, err
	}
	return &registrypb.ListFeatureServicesResponse{FeatureServices: items, Pagination: meta}, nil
}

// readsView reports whether a service projects the view (by its name, not
// an alias, as Feast's projection.name is).
func readsView(svc *corepb.FeatureService, view string) bool {
	for _, p := range svc.GetSpec().GetFeatures() {
		if p.GetFeatureViewName() == view {
			return true
		}
	}
	return false
}

func (s *Server) GetSavedDataset(ctx context.Context, r *registrypb.GetSavedDatasetRequest) (*corepb.SavedDataset, error) {
	return get(s, ctx, r.GetAllowCache(), (*corepb.Registry).GetSavedDatasets, r.GetName(), r.GetProject(), "SavedDatasetNotFound", "Saved dataset")
}

func (s *Server) ListSavedDatasets(ctx context.Context, r *registrypb.ListSavedDatasetsRequest) (*registrypb.ListSavedDatasetsResponse, error) {
	items, meta, err := list(s, ctx, r.GetAllowCache(), (*corepb.Registry).GetSavedDatasets, r.GetProject(), r.GetTags(), nil, r.GetPagination(), r.GetSorting())
	if err != nil {
		return nil, err
	}
	return &registrypb.ListSavedDatasetsResponse{SavedDatasets: items, Pagination: meta}, nil
}

func (s *Server) GetValidationReference(ctx context.Context, r *registrypb.GetValidationReferenceRequest) (*corepb.ValidationReference, error) {
	return get(s, ctx, r.GetAllowCache(), (*corepb.Registry).GetValidationReferences, r.GetName(), r.GetProject(), "ValidationReferenceNotFound", "Validation reference")
}

func (s *Server) ListValidationReferences(ctx context.Context, r *registrypb.ListValidationReferencesRequest) (*registrypb.ListValidationReferencesResponse, error) {
	items, meta, err := list(s, ctx, r.GetAllowCache(), (*corepb.Registry).GetValidationReferences, r.GetProject(), r.GetTags(), nil, r.GetPagination(), r.GetSorting())
	if err != nil {
		return nil, err
	}
	return &registrypb.ListValidationReferencesResponse{ValidationReferences: items, Pagination: meta}, nil
}

func (s *Server) GetPermission(ctx context.Context, r *registrypb.GetPermissionRequest) (*corepb.Permission, error) {
	return get(s, ctx, r.GetAllowCache(), (*corepb.Registry).GetPermissions, r.GetName(), r.GetProject(), "PermissionObjectNotFoundException", "Permission")
}

func (s *Server) ListPermissions(ctx context.Context, r *registrypb.ListPermissionsRequest) (*registrypb.ListPermissionsResponse, error) {
	items, meta, err := list(s, ctx, r.GetAllowCache(), (*corepb.Registry).GetPermissions, r.GetProject(), r.GetTags(), nil, r.GetPagination(), r.GetSorting())
	if err != nil {
		return nil, err
	}
	return &registrypb.ListPermissionsResponse{Permissions: items, Pagination: meta}, nil
}

func (s *Server) GetProject(ctx context.Context, r *registrypb.GetProjectRequest) (*corepb.Project, error) {
	reg, err := s.current(ctx, r.GetAllowCache())
	if err != nil {
		return nil, err
	}
	for _, p := range projects(reg) {
		if p.GetSpec().GetName() == r.GetName() {
			if err := s.assert(ctx, r.GetName(), p, authz.Describe); err != nil {
				return nil, err
			}
			return p, nil
		}
	}
	return nil, feastError(codes.NotFound, "ProjectObjectNotFoundException", "Project "+r.GetName()+" does not exist")
}

func (s *Server) ListProjects(ctx context.Context, r *registrypb.ListProjectsRequest) (*registrypb.ListProjectsResponse, error) {
	reg, err := s.current(ctx, r.GetAllowCache())
	if err != nil {
		return nil, err
	}
	items := slices.DeleteFunc(projects(reg), func(p *corepb.Project) bool { return !hasAllTags(p, r.GetTags()) })
	if items, err = describable(s, ctx, "", items); err != nil {
		return nil, err
	}
	items, meta := page(items, r.GetPagination(), r.GetSorting())
	return &registrypb.ListProjectsResponse{Projects: items, Pagination: meta}, nil
}
