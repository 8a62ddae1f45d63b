// Package registryserver serves feast.registry.RegistryServer, the gRPC API
// of `feast serve_registry`, from this server's registry: reads come from
// the snapshot in force (every project's objects, as stored), writes go
// through the registry store (registry.Update) and are followed by a
// refresh, so the next read sees them.
//
// Answers follow Feast 0.67's registry_server.py: the same filters (project,
// tags, the ListAllFeatureViews and ListFeatureServices narrowing), the same
// pagination and sorting, and NOT_FOUND errors whose details are Feast's
// JSON error object, so Feast's remote registry client raises the same
// exceptions. With authentication on, Feast's permissions are enforced as its server
// enforces them (authz.go).
package registryserver

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/feastgo/feastgo/auth"
	authz "github.com/feastgo/feastgo/permissions"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
	registrypb "github.com/feastgo/feastgo/protos/feast/registry"
	"github.com/feastgo/feastgo/registry"
)

// Server implements feast.registry.RegistryServer over a Registry.
type Server struct {
	registrypb.UnimplementedRegistryServerServer
	reg *registry.Registry
	now func() time.Time
}

var _ registrypb.RegistryServerServer = (*Server)(nil)

// New serves reg; writes go to reg.Source().
func New(reg *registry.Registry) *Server {
	return &Server{reg: reg, now: time.Now}
}

// Register adds the registry service, the standard health service
// (SERVING for "" and the registry service) and reflection to gs, as
// `feast serve_registry` does.
func Register(gs *grpc.Server, s *Server) {
	registrypb.RegisterRegistryServerServer(gs, s)
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus(registrypb.RegistryServer_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(gs, hs)
	reflection.Register(gs)
}

// current returns the registry proto to read, refreshed first when the
// caller asked for no cache (allow_cache false, proto3's default, as Feast
// reads it from its own proxied registry).
func (s *Server) current(ctx context.Context, allowCache bool) (*corepb.Registry, error) {
	if !allowCache {
		if err := s.reg.Refresh(ctx); err != nil {
			return nil, status.Errorf(codes.Unavailable, "registry refresh failed: %v", err)
		}
	}
	return s.reg.Current().Proto, nil
}

// feastError is a gRPC error carrying Feast's JSON error detail, which the
// Python client turns back into the named exception.
func feastError(code codes.Code, class, message string) error {
	// json.dumps of Feast's dict: keys in insertion order, ", " and ": ".
	q := func(v string) string {
		b, err := json.Marshal(v)
		if err != nil {
			return `""`
		}
		return string(b)
	}
	return status.Error(code, `{"module": `+q("feast.errors")+`, "class": `+q(class)+`, "message": `+q(message)+`}`)
}

// notFound is Feast's FeastObjectNotFoundException family.
func notFound(class, kind, name, project string) error {
	msg := fmt.Sprintf("%s %s does not exist in project %s", kind, name, project)
	if project == "" {
		msg = fmt.Sprintf("%s %s does not exist", kind, name)
	}
	return feastError(codes.NotFound, class, msg)
}

// Proto returns every project's objects, grouped by project as Feast's
// server rebuilds them, with the registry's version_id and last_updated.
func (s *Server) Proto(ctx context.Context, _ *emptypb.Empty) (*corepb.Registry, error) {
	reg, err := s.current(ctx, true)
	if err != nil {
		return nil, err
	}
	out := &corepb.Registry{VersionId: reg.GetVersionId(), LastUpdated: reg.GetLastUpdated()}
	if auth.FromContext(ctx) != nil {
		return s.describableProto(ctx, reg, out)
	}
	for _, p := range projects(reg) {
		name := p.GetSpec().GetName()
		out.Projects = append(out.Projects, p)
		out.Entities = append(out.Entities, inProject(reg.GetEntities(), name, nil)...)
		out.DataSources = append(out.DataSources, inProject(reg.GetDataSources(), name, nil)...)
		out.FeatureViews = append(out.FeatureViews, inProject(reg.GetFeatureViews(), name, nil)...)
		out.StreamFeatureViews = append(out.StreamFeatureViews, inProject(reg.GetStreamFeatureViews(), name, nil)...)
		out.OnDemandFeatureViews = append(out.OnDemandFeatureViews, inProject(reg.GetOnDemandFeatureViews(), name, nil)...)
		out.LabelViews = append(out.LabelViews, inProject(reg.GetLabelViews(), name, nil)...)
		out.FeatureServices = append(out.FeatureServices, inProject(reg.GetFeatureServices(), name, nil)...)
		out.SavedDatasets = append(out.SavedDatasets, inProject(reg.GetSavedDatasets(), name, nil)...)
		out.ValidationReferences = append(out.ValidationReferences, inProject(reg.GetValidationReferences(), name, nil)...)
		out.Permissions = append(out.Permissions, inProject(reg.GetPermissions(), name, nil)...)
	}
	return out, nil
}

// projects lists the registry's projects, a legacy project_metadata entry
// without a Project standing for one, as Feast synthesizes them on load.
func projects(reg *corepb.Registry) []*corepb.Project {
	out := append([]*corepb.Project(nil), reg.GetProjects()...)
	seen := map[string]bool{}
	for _, p := range out {
		seen[p.GetSpec().GetName()] = true
	}
	for _, m := range reg.GetProjectMetadata() {
		if n := m.GetProject(); n != "" && !seen[n] {
			seen[n] = true
			out = append(out, &corepb.Project{Spec: &corepb.ProjectSpec{Name: n}, Meta: &corepb.ProjectMeta{}})
		}
	}
	return out
}

// Refresh reloads the registry from its store.
func (s *Server) Refresh(ctx context.Context, r *registrypb.RefreshRequest) (*emptypb.Empty, error) {
	if err := s.assertProjectToUpdate(ctx, r.GetProject()); err != nil {
		return nil, err
	}
	if _, err := s.current(ctx, false); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// Commit has nothing to do: every Apply and Delete is stored when made.
func (s *Server) Commit(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

// ListProjectMetadata returns the legacy metadata entries of a project.
func (s *Server) ListProjectMetadata(ctx context.Context, req *registrypb.ListProjectMetadataRequest) (*registrypb.ListProjectMetadataResponse, error) {
	if err := s.assertProject(ctx, req.GetProject(), authz.Describe); err != nil {
		return nil, err
	}
	reg, err := s.current(ctx, req.GetAllowCache())
	if err != nil {
		return nil, err
	}
	out := &registrypb.ListProjectMetadataResponse{}
	for _, m := range reg.GetProjectMetadata() {
		if m.GetProject() == req.GetProject() {
			out.ProjectMetadata = append(out.ProjectMetadata, m)
		}
	}
	return out, nil
}

// GetInfra returns the registry's infra objects of a project.
func (s *Server) GetInfra(ctx context.Context, req *registrypb.GetInfraRequest) (*corepb.Infra, error) {
	if err := s.assertProjectExisting(ctx, req.GetProject()); err != nil {
		return nil, err
	}
	reg, err := s.current(ctx, req.GetAllowCache())
	if err != nil {
		return nil, err
	}
	if reg.GetInfra() == nil {
		return &corepb.Infra{}, nil
	}
	return proto.CloneOf(reg.GetInfra()), nil
}
