package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/feastgo/feastgo/registry"
)

// Health states of a check in /health/detail.
const (
	healthy   = "healthy"
	degraded  = "degraded"
	unhealthy = "unhealthy: "
)

// HealthChecks are the checks behind GET /health/detail and gRPC health:
// the online store and the offline store pinged (each a StoreHealth, so a
// probe loop costs each store one ping a second at most), and the
// registry's last refresh.
type HealthChecks struct {
	Online   *StoreHealth // nil: the online store has nothing to ping
	Offline  *StoreHealth // nil: the offline store has nothing to ping
	Registry *registry.Registry
}

// HealthReport is the answer of GET /health/detail.
type HealthReport struct {
	// Status is "healthy" when every check is, else "degraded".
	Status string `json:"status"`
	// Checks holds "healthy" or "unhealthy: <reason>" for online_store,
	// offline_store and feast_registry.
	Checks map[string]string `json:"checks"`
	// serving is false when reads cannot be answered: no registry, or the
	// online store down. /health/detail then answers 503, as /health does.
	serving bool
}

// Report runs (or reuses) every check.
func (c *HealthChecks) Report(ctx context.Context) HealthReport {
	rep := HealthReport{Status: healthy, Checks: map[string]string{}, serving: true}
	set := func(name string, err error) {
		if err == nil {
			rep.Checks[name] = healthy
			return
		}
		rep.Checks[name] = unhealthy + err.Error()
		rep.Status = degraded
	}
	onlineErr := c.online(ctx)
	set("online_store", onlineErr)
	var offlineErr error
	if c.Offline != nil {
		offlineErr = c.Offline.Check(ctx)
	}
	set("offline_store", offlineErr)
	set("feast_registry", registryHealth(c.Registry))
	rep.serving = onlineErr == nil && c.loaded()
	return rep
}

// serving reports whether reads can be answered: a registry loaded and
// the online store answering. It checks only those two, for gRPC health.
func (c *HealthChecks) serving(ctx context.Context) bool {
	return c.loaded() && c.online(ctx) == nil
}

func (c *HealthChecks) online(ctx context.Context) error {
	if c.Online == nil {
		return nil
	}
	return c.Online.Check(ctx)
}

func (c *HealthChecks) loaded() bool { return c.Registry != nil && c.Registry.Current() != nil }

// registryHealth is the registry's check: loaded, and its last refresh
// succeeded (a failing refresh keeps serving the last good snapshot, which
// is degraded, not down).
func registryHealth(r *registry.Registry) error {
	if r == nil || r.Current() == nil {
		return errors.New("no registry loaded")
	}
	if err := r.LastError(); err != nil {
		return fmt.Errorf("refresh failing, serving the snapshot loaded at %s: %w",
			r.Current().LoadedAt.UTC().Format(time.RFC3339), err)
	}
	return nil
}

func (h *HTTP) healthDetail(w http.ResponseWriter, r *http.Request) {
	rep := h.Checks.Report(r.Context())
	w.Header().Set("Content-Type", "application/json")
	if !rep.serving {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(rep)
}

// grpcHealth answers gRPC health checks from the same checks: NOT_SERVING
// while the online store is down, or once the base server (which the
// drain shuts down) says so.
type grpcHealth struct {
	*health.Server
	checks *HealthChecks
}

// Check implements healthpb.HealthServer.
func (g *grpcHealth) Check(ctx context.Context, in *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	resp, err := g.Server.Check(ctx, in)
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING || g.checks == nil {
		return resp, err
	}
	if !g.checks.serving(ctx) {
		if ctx.Err() != nil {
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_NOT_SERVING}, nil
	}
	return resp, nil
}
