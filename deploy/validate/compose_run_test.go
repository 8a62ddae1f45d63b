package validate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/feastgo/feastgo/internal/testenv"
	"github.com/feastgo/feastgo/internal/testrepo"
)

// The compose services' own command lines, run against a real Redis with
// the container paths and ports mapped to the test's: materialize fills
// Redis, the server starts, the healthcheck command turns healthy, and a
// read answers the demo repo's values. SIGTERM then stops it with exit 0, as
// `docker compose down` does.
func TestComposeCommandsRun(t *testing.T) {
	redis := testenv.Service(t, "FEASTGO_TEST_REDIS")
	p := loadCompose(t)
	bin := buildServer(t)

	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	if err := testrepo.CopyTree(filepath.Join(root, "feature_repo"), repo); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(repo, "data", "online.db"))
	fs := service(t, p, "feature-server")
	yamlText, err := os.ReadFile(mountSource(t, fs, "/deploy/feature_store.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(yamlText, []byte("redis:6379")) {
		t.Fatal("deploy/compose/feature_store.yaml does not name redis:6379, the compose service")
	}
	yamlPath := filepath.Join(dir, "feature_store.yaml")
	if err := os.WriteFile(yamlPath, bytes.ReplaceAll(yamlText, []byte("redis:6379"), []byte(redis)), 0o600); err != nil {
		t.Fatal(err)
	}
	httpPort, grpcPort := testenv.FreePort(t), testenv.FreePort(t)
	mapArgs := func(args []string) []string {
		r := strings.NewReplacer("/repo", repo, "/deploy/feature_store.yaml", yamlPath,
			"127.0.0.1:6566", fmt.Sprintf("127.0.0.1:%d", httpPort), "0.0.0.0", "127.0.0.1")
		out := make([]string, len(args))
		for i, a := range args {
			switch a {
			case "6566":
				a = fmt.Sprint(httpPort)
			case "6567":
				a = fmt.Sprint(grpcPort)
			}
			out[i] = r.Replace(a)
		}
		return out
	}

	mat := exec.Command(bin, mapArgs(service(t, p, "materialize").Command)...)
	if out, err := mat.CombinedOutput(); err != nil {
		t.Fatalf("materialize service command: %v\n%s", err, out)
	}

	var serverLog bytes.Buffer
	srv := exec.Command(bin, mapArgs(fs.Command)...)
	srv.Stdout, srv.Stderr = &serverLog, &serverLog
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = srv.Process.Kill()
			<-exited
		}
	})

	// The healthcheck as Docker runs it: the test command, every interval,
	// until it exits 0.
	hc := mapArgs(fs.HealthCheck.Test[2:])
	var last []byte
	healthy := false
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		out, err := exec.Command(bin, hc...).CombinedOutput()
		last = out
		if err == nil {
			healthy = true
			break
		}
	}
	if !healthy {
		t.Fatalf("healthcheck %v never passed; last: %s\nserver log:\n%s", hc, last, serverLog.String())
	}
	if !bytes.Contains(last, []byte(`"status":"healthy"`)) {
		t.Errorf("healthy answer %s", last)
	}

	body := `{"features":["pipeline_stats:error_count"],"entities":{"pipeline_id":[1,2]}}`
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/get-online-features", httpPort), "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Results []struct {
			Values   []any    `json:"values"`
			Statuses []string `json:"statuses"`
		} `json:"results"`
	}
	err = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || len(got.Results) != 2 {
		t.Fatalf("read: %d %v %+v", resp.StatusCode, err, got)
	}
	for i, s := range got.Results[1].Statuses {
		if s != "PRESENT" {
			t.Errorf("pipeline %d: error_count %s (%v): materialize did not fill Redis", i+1, s, got.Results[1].Values[i])
		}
	}

	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stopped = true
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("server exit after SIGTERM: %v\n%s", err, serverLog.String())
		}
	case <-time.After(time.Duration(*fs.StopGracePeriod)):
		_ = srv.Process.Kill()
		t.Errorf("server still running after the stop grace period %s", fs.StopGracePeriod)
	}
}

// buildServer builds cmd/feature-server of the repository this module sits in.
func buildServer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "feature-server")
	cmd := exec.Command("go", "build", "-C", root, "-o", bin, "./cmd/feature-server")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
