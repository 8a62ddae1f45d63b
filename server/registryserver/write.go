package registryserver

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/feastgo/feastgo/auth"
	authz "github.com/feastgo/feastgo/permissions"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
	registrypb "github.com/feastgo/feastgo/protos/feast/registry"
	"github.com/feastgo/feastgo/registry"
)

// Writes are stored at once, whatever commit says (Commit is then a no-op),
// as one registry.Update: a registry file is rewritten whole and renamed
// into place. Registries that store objects one by one (SQL) accept only
// ApplyMaterialization, the one change their Update knows how to store.

// errUnchanged is returned by a change that found nothing to do.
var errUnchanged = errors.New("unchanged")

// update runs change against the registry store and refreshes the snapshot.
func (s *Server) update(ctx context.Context, anyObject bool, change func(*corepb.Registry, time.Time) error) (*emptypb.Empty, error) {
	src := s.reg.Source()
	if _, ok := src.(registry.Transactor); ok && anyObject {
		return nil, status.Errorf(codes.FailedPrecondition,
			"registry %s: this server writes only materialization records to a SQL registry; apply other objects with feast apply", src.Location())
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	err := registry.Update(ctx, src, now, func(reg *corepb.Registry) error { return change(reg, now) })
	if err != nil && !errors.Is(err, errUnchanged) {
		if st, ok := status.FromError(err); ok && st.Code() != codes.Unknown {
			return nil, err
		}
		return nil, status.Errorf(codes.Internal, "%v", err)
	}
	if err := s.reg.Refresh(ctx); err != nil {
		return nil, status.Errorf(codes.Unavailable, "stored, but the registry refresh failed: %v", err)
	}
	return &emptypb.Empty{}, nil
}

// ensureProject adds the project when the registry has none of that name,
// as Feast's _prepare_registry_for_changes does before a change.
func ensureProject(reg *corepb.Registry, project string, now time.Time) {
	if project == "" {
		return
	}
	for _, p := range projects(reg) {
		if p.GetSpec().GetName() == project {
			return
		}
	}
	ts := timestamppb.New(now)
	reg.Projects = append(reg.Projects, &corepb.Project{Spec: &corepb.ProjectSpec{Name: project},
		Meta: &corepb.ProjectMeta{CreatedTimestamp: ts, LastUpdatedTimestamp: ts}})
	reg.ProjectMetadata = append(reg.ProjectMetadata, &corepb.ProjectMetadata{Project: project, ProjectUuid: uuid.NewString()})
}

// put stores obj in project: an object of the same name is removed and
// the new one appended (Feast's order), keeping the old created timestamp
// and stamping last_updated with now; an identical object is left alone.
func put[T proto.Message](list *[]T, obj T, project string, now time.Time) error {
	obj = proto.CloneOf(obj)
	setProject(obj, project)
	name := objectName(obj)
	for i, old := range *list {
		if objectName(old) != name || objectProject(old) != project {
			continue
		}
		if sameIgnoringStamps(old, obj) {
			return errUnchanged
		}
		stamp(obj, createdOf(old), now)
		keepMaterialization(old, obj)
		*list = append(append((*list)[:i:i], (*list)[i+1:]...), obj)
		return nil
	}
	stamp(obj, nil, now)
	*list = append(*list, obj)
	return nil
}

// keepMaterialization carries a view's materialization intervals and
// state over to its new version when the new one has none, as Feast's
// apply_feature_view keeps them (a view from a repository never has any).
func keepMaterialization(old, obj proto.Message) {
	om, nm := stampHolder(old.ProtoReflect()), stampHolder(obj.ProtoReflect())
	for _, f := range []protoreflect.Name{"materialization_intervals", "state"} {
		fd := om.Descriptor().Fields().ByName(f)
		if fd == nil || !om.Has(fd) || nm.Has(fd) {
			continue
		}
		nm.Set(fd, om.Get(fd))
	}
}

// remove deletes the object of project named name; a missing one is
// Feast's not-found error for it.
func remove[T proto.Message](list *[]T, name, project string, missing error) error {
	for i, old := range *list {
		if objectName(old) == name && objectProject(old) == project {
			*list = append((*list)[:i:i], (*list)[i+1:]...)
			return nil
		}
	}
	return missing
}

// stampHolder is where an object keeps its timestamps: its meta, or the
// object itself (data sources).
func stampHolder(m protoreflect.Message) protoreflect.Message {
	if fd := m.Descriptor().Fields().ByName("meta"); fd != nil && fd.Message() != nil {
		return m.Mutable(fd).Message()
	}
	return m
}

func setTime(m protoreflect.Message, field protoreflect.Name, ts *timestamppb.Timestamp) {
	if fd := m.Descriptor().Fields().ByName(field); fd != nil && fd.Message() != nil && ts != nil {
		m.Set(fd, protoreflect.ValueOfMessage(ts.ProtoReflect()))
	}
}

func createdOf(m proto.Message) *timestamppb.Timestamp {
	h := m.ProtoReflect()
	if fd := h.Descriptor().Fields().ByName("meta"); fd != nil && fd.Message() != nil {
		h = h.Get(fd).Message()
	}
	if fd := h.Descriptor().Fields().ByName("created_timestamp"); fd != nil && h.Has(fd) {
		if ts, ok := h.Get(fd).Message().Interface().(*timestamppb.Timestamp); ok {
			return ts
		}
	}
	return nil
}

func stamp(m proto.Message, created *timestamppb.Timestamp, now time.Time) {
	h := stampHolder(m.ProtoReflect())
	if created == nil {
		created = timestamppb.New(now)
	}
	setTime(h, "created_timestamp", created)
	setTime(h, "last_updated_timestamp", timestamppb.New(now))
}

func setProject(m proto.Message, project string) {
	h := m.ProtoReflect()
	if fd := h.Descriptor().Fields().ByName("spec"); fd != nil && fd.Message() != nil {
		h = h.Mutable(fd).Message()
	}
	if fd := h.Descriptor().Fields().ByName("project"); fd != nil && fd.Kind() == protoreflect.StringKind {
		h.Set(fd, protoreflect.ValueOfString(project))
	}
}

// sameIgnoringStamps compares two objects without their timestamps.
func sameIgnoringStamps(a, b proto.Message) bool {
	a, b = proto.Clone(a), proto.Clone(b)
	for _, m := range []proto.Message{a, b} {
		h := stampHolder(m.ProtoReflect())
		for _, f := range []protoreflect.Name{"created_timestamp", "last_updated_timestamp"} {
			if fd := h.Descriptor().Fields().ByName(f); fd != nil {
				h.Clear(fd)
			}
		}
	}
	return proto.Equal(a, b)
}

func applyTo[T proto.Message](s *Server, ctx context.Context, field func(*corepb.Registry) *[]T, obj T, project string) (*emptypb.Empty, error) {
	if !obj.ProtoReflect().IsValid() {
		return nil, status.Error(codes.InvalidArgument, "the object to apply is missing")
	}
	if err := assertToUpdate(s, ctx, *field(s.reg.Current().Proto), obj, project); err != nil {
		return nil, err
	}
	return s.update(ctx, true, func(reg *corepb.Registry, now time.Time) error {
		ensureProject(reg, project, now)
		return put(field(reg), obj, project, now)
	})
}

func deleteFrom[T proto.Message](s *Server, ctx context.Context, field func(*corepb.Registry) *[]T, name, project string, missing error) (*emptypb.Empty, error) {
	if auth.FromContext(ctx) != nil {
		old, ok := find(*field(s.reg.Current().Proto), name, project)
		if !ok {
			return nil, missing
		}
		if err := s.assert(ctx, project, old, authz.Delete); err != nil {
			return nil, err
		}
	}
	return s.update(ctx, true, func(reg *corepb.Registry, _ time.Time) error {
		return remove(field(reg), name, project, missing)
	})
}

func entities(r *corepb.Registry) *[]*corepb.Entity               { return &r.Entities }
func dataSources(r *corepb.Registry) *[]*corepb.DataSource        { return &r.DataSources }
func featureViews(r *corepb.Registry) *[]*corepb.FeatureView      { return &r.FeatureViews }
func streamViews(r *corepb.Registry) *[]*corepb.StreamFeatureView { return &r.StreamFeatureViews }
func odfvs(r *corepb.Registry) *[]*corepb.OnDemandFeatureView     { return &r.OnDemandFeatureViews }
func labelViews(r *corepb.Registry) *[]*corepb.LabelView          { return &r.LabelViews }
func services(r *corepb.Registry) *[]*corepb.FeatureService       { return &r.FeatureServices }
func savedDatasets(r *corepb.Registry) *[]*corepb.SavedDataset    { return &r.SavedDatasets }
func validationRefs(r *corepb.Registry) *[]*corepb.ValidationReference {
	return &r.ValidationReferences
}
func permissions(r *corepb.Registry) *[]*corepb.Permission { return &r.Permissions }

func (s *Server) ApplyEntity(ctx context.Context, r *registrypb.ApplyEntityRequest) (*emptypb.Empty, error) {
	return applyTo(s, ctx, entities, r.GetEntity(), r.GetProject())
}

func (s *Server) DeleteEntity(ctx context.Context, r *registrypb.DeleteEntityRequest) (*emptypb.Empty, error) {
	return deleteFrom(s, ctx, entities, r.GetName(), r.GetProject(), notFound("EntityNotFoundException", "Entity", r.GetName(), r.GetProject()))
}

func (s *Server) ApplyDataSource(ctx context.Context, r *registrypb.ApplyDataSourceRequest) (*emptypb.Empty, error) {
	return applyTo(s, ctx, dataSources, r.GetDataSource(), r.GetProject())
}

func (s *Server) DeleteDataSource(ctx context.Context, r *registrypb.DeleteDataSourceRequest) (*emptypb.Empty, error) {
	return deleteFrom(s, ctx, dataSources, r.GetName(), r.GetProject(), notFound("DataSourceObjectNotFoundException", "Data source", r.GetName(), r.GetProject()))
}

// ApplyFeatureView stores a view of any kind.
func (s *Server) ApplyFeatureView(ctx context.Context, r *registrypb.ApplyFeatureViewRequest) (*emptypb.Empty, error) {
	switch v := r.GetBaseFeatureView().(type) {
	case *registrypb.ApplyFeatureViewRequest_FeatureView:
		return applyTo(s, ctx, featureViews, v.FeatureView, r.GetProject())
	case *registrypb.ApplyFeatureViewRequest_StreamFeatureView:
		return applyTo(s, ctx, streamViews, v.StreamFeatureView, r.GetProject())
	case *registrypb.ApplyFeatureViewRequest_OnDemandFeatureView:
		return applyTo(s, ctx, odfvs, v.OnDemandFeatureView, r.GetProject())
	case *registrypb.ApplyFeatureViewRequest_LabelView:
		return applyTo(s, ctx, labelViews, v.LabelView, r.GetProject())
	}
	return nil, status.Error(codes.InvalidArgument, "base_feature_view: no view given")
}

// DeleteFeatureView deletes a view of any kind by name.
func (s *Server) DeleteFeatureView(ctx context.Context, r *registrypb.DeleteFeatureViewRequest) (*emptypb.Empty, error) {
	name, project := r.GetName(), r.GetProject()
	missing := notFound(fvNotFound, fvKind, name, project)
	if auth.FromContext(ctx) != nil {
		v, ok := anyView(s.reg.Current().Proto, name, project)
		if !ok {
			return nil, missing
		}
		if err := s.assert(ctx, project, v, authz.Delete); err != nil {
			return nil, err
		}
	}
	return s.update(ctx, true, func(reg *corepb.Registry, _ time.Time) error {
		for _, del := range []func() error{
			func() error { return remove(&reg.FeatureViews, name, project, missing) },
			func() error { return remove(&reg.StreamFeatureViews, name, project, missing) },
			func() error { return remove(&reg.OnDemandFeatureViews, name, project, missing) },
			func() error { return remove(&reg.LabelViews, name, project, missing) },
		} {
			if err := del(); err == nil {
				return nil
			}
		}
		return missing
	})
}

func (s *Server) ApplyFeatureService(ctx context.Context, r *registrypb.ApplyFeatureServiceRequest) (*emptypb.Empty, error) {
	return applyTo(s, ctx, services, r.GetFeatureService(), r.GetProject())
}

func (s *Server) DeleteFeatureService(ctx context.Context, r *registrypb.DeleteFeatureServiceRequest) (*emptypb.Empty, error) {
	return deleteFrom(s, ctx, services, r.GetName(), r.GetProject(), notFound("FeatureServiceNotFoundException", "Feature service", r.GetName(), r.GetProject()))
}

func (s *Server) ApplySavedDataset(ctx context.Context, r *registrypb.ApplySavedDatasetRequest) (*emptypb.Empty, error) {
	return applyTo(s, ctx, savedDatasets, r.GetSavedDataset(), r.GetProject())
}

func (s *Server) DeleteSavedDataset(ctx context.Context, r *registrypb.DeleteSavedDatasetRequest) (*emptypb.Empty, error) {
	return deleteFrom(s, ctx, savedDatasets, r.GetName(), r.GetProject(), notFound("SavedDatasetNotFound", "Saved dataset", r.GetName(), r.GetProject()))
}

func (s *Server) ApplyValidationReference(ctx context.Context, r *registrypb.ApplyValidationReferenceRequest) (*emptypb.Empty, error) {
	return applyTo(s, ctx, validationRefs, r.GetValidationReference(), r.GetProject())
}

func (s *Server) DeleteValidationReference(ctx context.Context, r *registrypb.DeleteValidationReferenceRequest) (*emptypb.Empty, error) {
	return deleteFrom(s, ctx, validationRefs, r.GetName(), r.GetProject(), notFound("ValidationReferenceNotFound", "Validation reference", r.GetName(), r.GetProject()))
}

func (s *Server) ApplyPermission(ctx context.Context, r *registrypb.ApplyPermissionRequest) (*emptypb.Empty, error) {
	return applyTo(s, ctx, permissions, r.GetPermission(), r.GetProject())
}

func (s *Server) DeletePermission(ctx context.Context, r *registrypb.DeletePermissionRequest) (*emptypb.Empty, error) {
	return deleteFrom(s, ctx, permissions, r.GetName(), r.GetProject(), notFound("PermissionObjectNotFoundException", "Permission", r.GetName(), r.GetProject()))
}

// ApplyProject stores a project (named by its spec).
func (s *Server) ApplyProject(ctx context.Context, r *registrypb.ApplyProjectRequest) (*emptypb.Empty, error) {
	p := r.GetProject()
	if p.GetSpec().GetName() == "" {
		return nil, status.Error(codes.InvalidArgument, "project.spec.name: required")
	}
	if err := assertToUpdate(s, ctx, s.reg.Current().Proto.GetProjects(), p, ""); err != nil {
		return nil, err
	}
	return s.update(ctx, true, func(reg *corepb.Registry, now time.Time) error {
		return put(&reg.Projects, p, "", now)
	})
}

// DeleteProject removes a project and its legacy metadata entry (the
// project's objects stay, as in Feast's file registry).
func (s *Server) DeleteProject(ctx context.Context, r *registrypb.DeleteProjectRequest) (*emptypb.Empty, error) {
	name := r.GetName()
	missing := feastError(codes.NotFound, "ProjectObjectNotFoundException", "Project "+name+" does not exist")
	if auth.FromContext(ctx) != nil {
		old, ok := find(s.reg.Current().Proto.GetProjects(), name, "")
		if !ok {
			return nil, missing
		}
		if err := s.assert(ctx, name, old, authz.Delete); err != nil {
			return nil, err
		}
	}
	return s.update(ctx, true, func(reg *corepb.Registry, _ time.Time) error {
		if err := remove(&reg.Projects, name, "", missing); err != nil {
			return err
		}
		for i, m := range reg.ProjectMetadata {
			if m.GetProject() == name {
				reg.ProjectMetadata = append(reg.ProjectMetadata[:i:i], reg.ProjectMetadata[i+1:]...)
				break
			}
		}
		return nil
	})
}

// ApplyMaterialization records a materialized interval of a view.
func (s *Server) ApplyMaterialization(ctx context.Context, r *registrypb.ApplyMaterializationRequest) (*emptypb.Empty, error) {
	view := r.GetFeatureView().GetSpec().GetName()
	if view == "" {
		return nil, status.Error(codes.InvalidArgument, "feature_view.spec.name: required")
	}
	if auth.FromContext(ctx) != nil {
		fv, ok := find(s.reg.Current().Proto.GetFeatureViews(), view, r.GetProject())
		if !ok {
			return nil, notFound(fvNotFound, fvKind, view, r.GetProject())
		}
		if err := s.assert(ctx, r.GetProject(), fv, authz.WriteOnline); err != nil {
			return nil, err
		}
	}
	return s.update(ctx, false, func(reg *corepb.Registry, now time.Time) error {
		err := registry.RecordMaterialization(reg, r.GetProject(), view, r.GetStartDate().AsTime(), r.GetEndDate().AsTime(), now)
		if err != nil {
			return notFound(fvNotFound, fvKind, view, r.GetProject())
		}
		return nil
	})
}

// UpdateInfra replaces the registry's infra objects.
func (s *Server) UpdateInfra(ctx context.Context, r *registrypb.UpdateInfraRequest) (*emptypb.Empty, error) {
	if err := s.assertProjectToUpdate(ctx, r.GetProject()); err != nil {
		return nil, err
	}
	return s.update(ctx, true, func(reg *corepb.Registry, now time.Time) error {
		ensureProject(reg, r.GetProject(), now)
		reg.Infra = proto.CloneOf(r.GetInfra())
		return nil
	})
}
