package registryserver

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/feastgo/feastgo/auth"
	"github.com/feastgo/feastgo/core"
	authz "github.com/feastgo/feastgo/permissions"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
	registrypb "github.com/feastgo/feastgo/protos/feast/registry"
)

// Authorization follows registry_server.py: a Get asserts DESCRIBE on the
// object found, a List keeps the objects the user may DESCRIBE
// (permitted_resources, filter_only), an Apply asserts DESCRIBE and UPDATE
// on the stored object and on the new one when it exists, CREATE on the
// new one otherwise (assert_permissions_to_update), a Delete asserts
// DELETE. The permissions are those of the request's project (Feast's gRPC
// interceptor sets it from request.project), the server's own project when
// the request names none. Nothing is checked without a user in the
// context (no_auth).

// resourceOf is the permission resource of a registry object.
func resourceOf(m proto.Message) (authz.Resource, bool) {
	switch x := m.(type) {
	case *corepb.Entity:
		return authz.Resource{Type: authz.Entity, Name: x.GetSpec().GetName()}, true
	case *corepb.DataSource:
		return authz.DataSourceResource(x), true
	case *corepb.FeatureView:
		t := authz.FeatureView
		if x.GetSpec().GetFeatureTransformation() != nil {
			t = authz.BatchFeatureView
		}
		return authz.Resource{Type: t, Name: x.GetSpec().GetName()}, true
	case *corepb.StreamFeatureView:
		return authz.Resource{Type: authz.StreamFeatureView, Name: x.GetSpec().GetName()}, true
	case *corepb.OnDemandFeatureView:
		return authz.Resource{Type: authz.OnDemandFeatureView, Name: x.GetSpec().GetName()}, true
	case *corepb.LabelView:
		return authz.Resource{Type: authz.LabelView, Name: x.GetSpec().GetName()}, true
	case *corepb.FeatureService:
		return authz.Resource{Type: authz.FeatureService, Name: x.GetSpec().GetName()}, true
	case *corepb.SavedDataset:
		return authz.Resource{Type: authz.SavedDataset, Name: x.GetSpec().GetName()}, true
	case *corepb.ValidationReference:
		return authz.Resource{Type: authz.ValidationReference, Name: x.GetName()}, true
	case *corepb.Permission:
		return authz.PermissionResource(x), true
	case *corepb.Project:
		return authz.Resource{Type: authz.Project, Name: x.GetSpec().GetName()}, true
	case *registrypb.AnyFeatureView:
		switch v := x.GetAnyFeatureView().(type) {
		case *registrypb.AnyFeatureView_FeatureView:
			return resourceOf(v.FeatureView)
		case *registrypb.AnyFeatureView_StreamFeatureView:
			return resourceOf(v.StreamFeatureView)
		case *registrypb.AnyFeatureView_OnDemandFeatureView:
			return resourceOf(v.OnDemandFeatureView)
		case *registrypb.AnyFeatureView_LabelView:
			return resourceOf(v.LabelView)
		}
	}
	return authz.Resource{}, false
}

// plan is the compiled permissions of project (the server's when empty).
func (s *Server) plan(project string) *authz.Plan {
	snap := s.reg.Current()
	if project == "" {
		project = snap.Project
	}
	return snap.Permissions.For(project)
}

// grpcDenial is a denial as Feast's registry server sends it:
// PERMISSION_DENIED with the error's JSON detail.
func grpcDenial(err error) error {
	var fe *core.Error
	if errors.As(err, &fe) {
		return feastError(codes.PermissionDenied, fe.Class, fe.Message)
	}
	return err
}

// assert checks actions on the object for the request's user.
func (s *Server) assert(ctx context.Context, project string, m proto.Message, actions ...authz.Action) error {
	u := auth.FromContext(ctx)
	if u == nil {
		return nil
	}
	r, ok := resourceOf(m)
	if !ok {
		return nil
	}
	return grpcDenial(s.plan(project).Check(u, r, actions...))
}

// assertProject checks actions on a project by name.
func (s *Server) assertProject(ctx context.Context, project string, actions ...authz.Action) error {
	u := auth.FromContext(ctx)
	if u == nil {
		return nil
	}
	r := authz.Resource{Type: authz.Project, Name: project}
	return grpcDenial(s.plan(project).Check(u, r, actions...))
}

// describable keeps the items the user may DESCRIBE (permitted_resources).
func describable[T proto.Message](s *Server, ctx context.Context, project string, items []T) ([]T, error) {
	u := auth.FromContext(ctx)
	if u == nil {
		return items, nil
	}
	plan := s.plan(project)
	out := items[:0:0]
	for _, it := range items {
		r, ok := resourceOf(it)
		if !ok {
			out = append(out, it)
			continue
		}
		keep, err := plan.Permitted(u, r, authz.Describe)
		if err != nil {
			return nil, grpcDenial(err)
		}
		if keep {
			out = append(out, it)
		}
	}
	return out, nil
}

// assertToUpdate is assert_permissions_to_update: DESCRIBE and UPDATE on
// the stored object and the new one when one is stored, else CREATE.
func assertToUpdate[T proto.Message](s *Server, ctx context.Context, stored []T, obj T, project string) error {
	if auth.FromContext(ctx) == nil {
		return nil
	}
	if old, ok := find(stored, objectName(obj), project); ok {
		if err := s.assert(ctx, project, old, authz.Describe, authz.Update); err != nil {
			return err
		}
		return s.assert(ctx, project, obj, authz.Describe, authz.Update)
	}
	return s.assert(ctx, project, obj, authz.Create)
}

// anyView finds a view of any kind, as the registry's get_any_feature_view.
func anyView(reg *corepb.Registry, name, project string) (*registrypb.AnyFeatureView, bool) {
	for _, v := range allViews(reg, project, nil) {
		if viewName(v) == name {
			return v, true
		}
	}
	return nil, false
}

// assertProjectToUpdate is assert_permissions_to_update on Project(name):
// DESCRIBE and UPDATE when the project exists, else CREATE.
func (s *Server) assertProjectToUpdate(ctx context.Context, name string) error {
	if auth.FromContext(ctx) == nil {
		return nil
	}
	if name == "" {
		name = s.reg.Current().Project
	}
	return assertToUpdate(s, ctx, projects(s.reg.Current().Proto), &corepb.Project{Spec: &corepb.ProjectSpec{Name: name}}, "")
}

// assertProjectExisting asserts DESCRIBE on a stored project, CREATE on
// one that is not stored (GetInfra).
func (s *Server) assertProjectExisting(ctx context.Context, name string) error {
	if auth.FromContext(ctx) == nil {
		return nil
	}
	if _, ok := find(projects(s.reg.Current().Proto), name, ""); ok {
		return s.assertProject(ctx, name, authz.Describe)
	}
	return s.assertProject(ctx, name, authz.Create)
}

// describableProto is Proto under authentication: every project and
// object the user may DESCRIBE, as Feast's Proto builds it from filtered
// lists.
func (s *Server) describableProto(ctx context.Context, reg, out *corepb.Registry) (*corepb.Registry, error) {
	ps, err := describable(s, ctx, "", projects(reg))
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		name := p.GetSpec().GetName()
		out.Projects = append(out.Projects, p)
		if err := appendDescribable(s, ctx, name, &out.Entities, reg.GetEntities()); err != nil {
			return nil, err
		}
		if err := appendDescribable(s, ctx, name, &out.DataSources, reg.GetDataSources()); err != nil {
			return nil, err
		}
		if err := appendDescribable(s, ctx, name, &out.FeatureViews, reg.GetFeatureViews()); err != nil {
			return nil, err
		}
		if err := appendDescribable(s, ctx, name, &out.StreamFeatureViews, reg.GetStreamFeatureViews()); err != nil {
			return nil, err
		}
		if err := appendDescribable(s, ctx, name, &out.OnDemandFeatureViews, reg.GetOnDemandFeatureViews()); err != nil {
			return nil, err
		}
		if err := appendDescribable(s, ctx, name, &out.LabelViews, reg.GetLabelViews()); err != nil {
			return nil, err
		}
		if err := appendDescribable(s, ctx, name, &out.FeatureServices, reg.GetFeatureServices()); err != nil {
			return nil, err
		}
		if err := appendDescribable(s, ctx, name, &out.SavedDatasets, reg.GetSavedDatasets()); err != nil {
			return nil, err
		}
		if err := appendDescribable(s, ctx, name, &out.ValidationReferences, reg.GetValidationReferences()); err != nil {
			return nil, err
		}
		if err := appendDescribable(s, ctx, name, &out.Permissions, reg.GetPermissions()); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func appendDescribable[T proto.Message](s *Server, ctx context.Context, project string, dst *[]T, all []T) error {
	// Proto names no project: the server's own permissions apply.
	items, err := describable(s, ctx, "", inProject(all, project, nil))
	if err != nil {
		return err
	}
	*dst = append(*dst, items...)
	return nil
}
