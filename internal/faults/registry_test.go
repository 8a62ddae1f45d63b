package faults_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feastgo/feastgo/internal/testenv"
	"github.com/feastgo/feastgo/registry"
)

// golden's pipeline_stats rows: ids 1..3 have an error_count.
const registryRead = `{"features":["pipeline_stats:error_count"],"entities":{"pipeline_id":[1,2,3]}}`

// healthDetail is GET /health/detail: its status code and report.
type healthReport struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

func (s *server) healthDetail(t *testing.T) (int, healthReport) {
	t.Helper()
	code, body, err := httpGet(http.DefaultClient, s.base+"/health/detail")
	if err != nil {
		t.Fatalf("/health/detail: %v", err)
	}
	var rep healthReport
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatalf("/health/detail: %d %q: %v", code, body, err)
	}
	return code, rep
}

// registryFault checks the server while the registry is broken: reads
// are answered from the last good registry exactly as before, the
// detailed health says degraded naming the registry's failure (want in
// its text) while /health stays 200, and the refresh-failing metric is 1.
func registryFault(t *testing.T, s *server, good, want string) {
	t.Helper()
	start := time.Now()
	defer func() {
		t.Logf("%s: the fault seen and checked in %v", want, time.Since(start).Round(time.Millisecond))
	}()
	waitFor(t, 30*time.Second, "the registry check to report "+want, func() bool {
		_, rep := s.healthDetail(t)
		return strings.Contains(rep.Checks["feast_registry"], want)
	})
	code, rep := s.healthDetail(t)
	if code != http.StatusOK || rep.Status != "degraded" || !strings.HasPrefix(rep.Checks["feast_registry"], "unhealthy: refresh failing") ||
		rep.Checks["online_store"] != "healthy" {
		t.Errorf("/health/detail: %d %+v, want 200 degraded with the registry's refresh failing", code, rep)
	}
	if v, ok := s.metric(t, "feature_server_registry_refresh_failing"); !ok || v != 1 {
		t.Errorf("feature_server_registry_refresh_failing = %v (exported %v), want 1", v, ok)
	}
	if code, _, err := httpGet(http.DefaultClient, s.base+"/health"); err != nil || code != http.StatusOK {
		t.Errorf("/health: %d %v, want 200 (the server still serves)", code, err)
	}
	for range 20 {
		code, body, err := httpPost(http.DefaultClient, s.base+"/get-online-features", registryRead)
		if err != nil || code != http.StatusOK || body != good {
			t.Fatalf("read from the last good registry: %d %v\n%s\nwant\n%s", code, err, body, good)
		}
	}
}

// registryRecovered waits for the registry's recovery: healthy, the
// metric back to 0, reads as before.
func registryRecovered(t *testing.T, s *server, good string) {
	t.Helper()
	start := time.Now()
	defer func() { t.Logf("recovered in %v", time.Since(start).Round(time.Millisecond)) }()
	waitFor(t, 30*time.Second, "the registry to refresh again", func() bool {
		v, _ := s.metric(t, "feature_server_registry_refresh_failing")
		return v == 0
	})
	waitFor(t, 10*time.Second, "/health/detail to be healthy", func() bool {
		code, rep := s.healthDetail(t)
		return code == http.StatusOK && rep.Status == "healthy"
	})
	if code, body, err := httpPost(http.DefaultClient, s.base+"/get-online-features", registryRead); err != nil || code != http.StatusOK || body != good {
		t.Fatalf("read after the recovery: %d %v %s", code, err, body)
	}
}

// The registry file replaced by garbage, then removed, then restored,
// while the server refreshes it every second: the last good registry is
// served all along, /health/detail says degraded, the refresh-failing
// metric is 1, and all is well again once the file is back.
func TestRegistryFileGarbageRemovedRestored(t *testing.T) {
	repo := goldenRepo(t, "")
	path := filepath.Join(repo, "data", "registry.db")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, repo, "--registry_ttl_sec", "1", "--no-materialize-if-empty")
	code, good, err := httpPost(http.DefaultClient, s.base+"/get-online-features", registryRead)
	if err != nil || code != http.StatusOK || !strings.Contains(good, `"PRESENT"`) {
		t.Fatalf("first read: %d %v %s", code, err, good)
	}
	if code, rep := s.healthDetail(t); code != http.StatusOK || rep.Status != "healthy" {
		t.Fatalf("/health/detail at start: %d %+v", code, rep)
	}
	// Each file is replaced whole (rename), as a writer would, so that a
	// refresh never reads half a file.
	replace := func(b []byte) {
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	replace([]byte("\xff\xfe this is not a registry \x00\x01"))
	registryFault(t, s, good, "proto")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	registryFault(t, s, good, "no such file")
	replace(orig)
	registryRecovered(t, s, good)
}

// motoServer runs a moto S3 server of the test's own on port (the
// virtualenv scripts/go-test.sh installs, FEASTGO_TEST_MOTO_PYTHON).
func motoServer(t *testing.T, port int) *proc {
	t.Helper()
	py := testenv.Service(t, "FEASTGO_TEST_MOTO_PYTHON")
	p := startProc(t, "moto", exec.Command(py, "-m", "moto.server", "-H", "127.0.0.1", "-p", fmt.Sprint(port)))
	waitFor(t, 60*time.Second, "moto to answer", func() bool {
		if p.exited() {
			t.Fatalf("moto exited: %v\n%s", p.err, p.log.String())
		}
		code, _, err := httpGet(http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/", port))
		return err == nil && code == http.StatusOK
	})
	return p
}

// The registry on s3:// (a test-owned moto) while S3 goes away: moto
// killed, refreshes fail and the last good registry is served, degraded
// and the metric set; moto back (empty, as moto keeps nothing) and the
// registry put again, the server recovers.
func TestS3UnreachableDuringRefresh(t *testing.T) {
	port := backendPort(t, false)
	endpoint := fmt.Sprintf("http://127.0.0.1:%d", port)
	t.Setenv("FEAST_S3_ENDPOINT_URL", endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "us-east-1")
	moto := motoServer(t, port)
	repo := goldenRepo(t, "")
	orig, err := os.ReadFile(filepath.Join(repo, "data", "registry.db"))
	if err != nil {
		t.Fatal(err)
	}
	const bucket = "faults-registry"
	put := func() {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPut, endpoint+"/"+bucket, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("creating the bucket: %d", resp.StatusCode)
		}
		ctx := context.Background()
		src, err := registry.NewSource(ctx, "s3://"+bucket+"/reg/registry.db", repo)
		if err != nil {
			t.Fatal(err)
		}
		if err := src.(*registry.S3Source).Put(ctx, orig); err != nil {
			t.Fatal(err)
		}
	}
	put()
	yaml := "project: pipeline_monitoring\nprovider: local\nregistry: s3://" + bucket + "/reg/registry.db\n" +
		"online_store:\n  type: sqlite\n  path: data/online.db\noffline_store:\n  type: file\nentity_key_serialization_version: 3\n"
	if err := os.WriteFile(filepath.Join(repo, "feature_store.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, repo, "--registry_ttl_sec", "1", "--no-materialize-if-empty")
	code, good, err := httpPost(http.DefaultClient, s.base+"/get-online-features", registryRead)
	if err != nil || code != http.StatusOK || !strings.Contains(good, `"PRESENT"`) {
		t.Fatalf("first read: %d %v %s", code, err, good)
	}
	moto.kill()
	registryFault(t, s, good, "connection refused")
	motoServer(t, port)
	put()
	registryRecovered(t, s, good)
}
