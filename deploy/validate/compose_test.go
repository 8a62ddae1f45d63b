package validate

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/feastgo/feastgo/config"
)

// root is the repository, two levels up from this package.
const root = "../.."

// loadCompose reads docker-compose.yml as `docker compose config` does:
// compose-go's loader, which checks the file against the Compose
// specification's schema, resolves anchors, merges and interpolation, and
// normalizes it.
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root), cli.WithName("feastgo"), cli.WithOsEnv)
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return p
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, err := p.GetService(name)
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return s
}

// The stack is what the README promises: the server, Redis and PostgreSQL;
// the demo repo materialized into Redis before the server starts; the
// server's healthcheck asking the detailed health through the binary.
func TestComposeStack(t *testing.T) {
	p := loadCompose(t)
	for _, name := range []string{"redis", "postgres", "materialize", "feature-server"} {
		service(t, p, name)
	}
	fs := service(t, p, "feature-server")
	if c := fs.DependsOn["materialize"].Condition; c != types.ServiceConditionCompletedSuccessfully {
		t.Errorf("feature-server waits for materialize with condition %q, want %q", c, types.ServiceConditionCompletedSuccessfully)
	}
	if c := fs.DependsOn["redis"].Condition; c != types.ServiceConditionHealthy {
		t.Errorf("feature-server waits for redis with condition %q, want healthy", c)
	}
	if c := service(t, p, "materialize").DependsOn["redis"].Condition; c != types.ServiceConditionHealthy {
		t.Errorf("materialize waits for redis with condition %q, want healthy", c)
	}
	hc := fs.HealthCheck
	if hc == nil || len(hc.Test) < 3 || hc.Test[0] != "CMD" || hc.Test[1] != binaryInImage(t) || hc.Test[2] != "healthcheck" {
		t.Fatalf("feature-server healthcheck %v: want [CMD %s healthcheck ...] (the image has no shell or curl)", hc, binaryInImage(t))
	}
	if !slices.ContainsFunc(hc.Test, func(s string) bool { return strings.HasSuffix(s, "/health/detail") }) {
		t.Errorf("feature-server healthcheck %v does not ask /health/detail", hc.Test)
	}
	for _, name := range []string{"materialize", "feature-server"} {
		s := service(t, p, name)
		if s.Build == nil || s.Image != fs.Image {
			t.Errorf("%s: build %v image %q; both server services build the one image %q", name, s.Build, s.Image, fs.Image)
		}
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("%s: bind mount source %s: %v", name, v.Source, err)
			}
		}
	}
}

// The feature_store.yaml the compose services mount is one our config
// accepts, with the demo repo's project and registry.
func TestComposeFeatureStoreYAML(t *testing.T) {
	p := loadCompose(t)
	src := mountSource(t, service(t, p, "feature-server"), "/deploy/feature_store.yaml")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(data, filepath.Join(root, "feature_repo"), nil)
	if err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	if cfg.Project != "pipeline_monitoring" || cfg.OnlineStore.Type != "redis" {
		t.Errorf("%s: project %q, online store %q; want the demo project on redis", src, cfg.Project, cfg.OnlineStore.Type)
	}
}

// mountSource is the host path bound at target in s.
func mountSource(t *testing.T, s types.ServiceConfig, target string) string {
	t.Helper()
	for _, v := range s.Volumes {
		if v.Target == target {
			return v.Source
		}
	}
	t.Fatalf("%s mounts nothing at %s", s.Name, target)
	return ""
}

// binaryInImage is where the Dockerfile puts the server.
func binaryInImage(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 4 && f[0] == "COPY" && f[1] == "--from=build" {
			return f[3]
		}
	}
	t.Fatal("Dockerfile: no COPY --from=build of the binary")
	return ""
}

// The loader is a real check: a misspelled key or a wrong type fails it.
func TestComposeLoaderRejectsBadFiles(t *testing.T) {
	for name, text := range map[string]string{
		"unknown key": "services:\n  a:\n    image: x\n    helthcheck:\n      test: [CMD, true]\n",
		"wrong type":  "services:\n  a:\n    image: x\n    ports: 6566\n",
		"bad depends": "services:\n  a:\n    image: x\n    depends_on:\n      b:\n        condition: service_started\n",
	} {
		dir := t.TempDir()
		path := filepath.Join(dir, "docker-compose.yml")
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		opts, err := cli.NewProjectOptions([]string{path}, cli.WithWorkingDirectory(dir), cli.WithName("x"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := opts.LoadProject(context.Background()); err == nil {
			t.Errorf("%s: loaded without an error", name)
		}
	}
}
