package remoteregistry_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/feastgo/feastgo/internal/bench"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
	"github.com/feastgo/feastgo/registry"
	"github.com/feastgo/feastgo/registry/remoteregistry"
	"github.com/feastgo/feastgo/server/registryserver"
)

// start serves reg from a registry file over loopback and returns the
// address and a stop function.
func start(tb testing.TB, reg *corepb.Registry) (string, func()) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "registry.db")
	b, err := proto.Marshal(reg)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		tb.Fatal(err)
	}
	r, err := registry.Open(context.Background(), &registry.FileSource{Path: path}, registry.Options{Project: "p"})
	if err != nil {
		tb.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	gs := grpc.NewServer()
	registryserver.Register(gs, registryserver.New(r))
	go func() { _ = gs.Serve(lis) }()
	return lis.Addr().String(), gs.Stop
}

func TestRemoteSnapshotAndLastGood(t *testing.T) {
	addr, stop := start(t, bench.Registry("p", 3, 2))
	src, err := remoteregistry.Open(remoteregistry.Config{Target: addr, Project: "p"})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx := context.Background()
	r, err := registry.Open(ctx, src, registry.Options{Project: "p"})
	if err != nil {
		t.Fatal(err)
	}
	v, ok := r.Current().View("fv_2")
	if !ok {
		t.Fatal("view fv_2 missing from the remote snapshot")
	}
	if _, ok := v.Feature("f_1"); !ok {
		t.Error("feature fv_2:f_1 missing")
	}
	if _, ok := r.Current().Entity("driver"); !ok {
		t.Error("entity driver missing")
	}

	stop()
	err = r.Refresh(ctx)
	if err == nil || !strings.Contains(err.Error(), "registry server unreachable") {
		t.Errorf("refresh with the server down = %v, want an unreachable error", err)
	}
	if _, ok := r.Current().View("fv_2"); !ok {
		t.Error("the last good snapshot was not kept")
	}
}

func TestOpenFailsWhenServerIsDown(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	_ = lis.Close()
	src, err := remoteregistry.Open(remoteregistry.Config{Target: addr, Project: "p"})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	_, err = registry.Open(context.Background(), src, registry.Options{Project: "p"})
	if err == nil || !strings.Contains(err.Error(), "registry server unreachable") || !strings.Contains(err.Error(), addr) {
		t.Errorf("Open with no server = %v, want an error naming %s as unreachable", err, addr)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Setenv("SSL_CERT_FILE", "")
	t.Setenv("REQUESTS_CA_BUNDLE", "")
	tests := []struct {
		cfg  remoteregistry.Config
		want string
	}{
		{remoteregistry.Config{}, "registry.path: required"},
		{remoteregistry.Config{Target: "h:1", IsTLS: true}, "registry.is_tls: TLS needs a CA certificate"},
		{remoteregistry.Config{Target: "h:1", Cert: "/nonexistent.pem", ClientCert: "c.pem"}, "registry.client_cert, registry.client_key"},
		{remoteregistry.Config{Target: "h:1", Cert: "/nonexistent.pem"}, "registry.cert"},
	}
	for _, tt := range tests {
		_, err := remoteregistry.Open(tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Open(%+v) = %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

// BenchmarkOpenLargeRegistry loads and compiles a registry of 1,000 views
// with 10 features each (issue 14's size) from a registry server over
// loopback: one op is a full snapshot load, as a refresh does.
func BenchmarkOpenLargeRegistry(b *testing.B) {
	addr, stop := start(b, bench.Registry("p", 1000, 10))
	defer stop()
	src, err := remoteregistry.Open(remoteregistry.Config{Target: addr, Project: "p"})
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		r, err := registry.Open(ctx, src, registry.Options{Project: "p"})
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := r.Current().View("fv_999"); !ok {
			b.Fatal("view fv_999 missing")
		}
	}
}
