package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feastgo/feastgo/internal/testenv"
	"github.com/feastgo/feastgo/internal/testrepo"
)

// redisRepo is the golden repo on the test Redis's database db.
func redisRepo(t *testing.T, db int) string {
	t.Helper()
	repo := filepath.Join(t.TempDir(), "repo")
	if err := testrepo.CopyTree(goldenRepo, repo); err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf("project: pipeline_monitoring\nprovider: local\nregistry: data/registry.db\n"+
		"online_store:\n  type: redis\n  connection_string: %s,db=%d\n"+
		"offline_store:\n  type: file\nentity_key_serialization_version: 3\n", testenv.Service(t, "FEASTGO_TEST_REDIS"), db)
	if err := os.WriteFile(filepath.Join(repo, "feature_store.yaml"), []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return repo
}

func postJSON(t *testing.T, url, body string) string {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

func scrape(t *testing.T, port int) string {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return string(b)
}

func writeErrorCount(t *testing.T, base string, n int) {
	t.Helper()
	postJSON(t, base+"/write-to-online-store", fmt.Sprintf(`{"feature_view_name": "pipeline_stats", "df": {"pipeline_id": [7301],
		"event_timestamp": ["2025-01-%02d"], "created": [null], "avg_execution_time": [1], "success_rate": [1], "error_count": [%d],
		"failure_probability": [0], "avg_memory_usage": [0], "cpu_utilization": [0], "last_status": ["late"], "is_active": [false]}}`, n, n))
}

// The cache end to end on Redis: served from memory (the metrics count the
// hits), and a value written by another server is read once Redis's
// invalidation reaches this one.
func TestServeOnlineCacheRedis(t *testing.T) {
	repo := redisRepo(t, 6)
	hp, mp, other := testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
	startServerArgs(t, []string{"-c", repo, "serve", "-p", fmt.Sprint(hp), "-m", "--metrics-port", fmt.Sprint(mp),
		"--online-cache-bytes", "1000000", "--no-materialize-if-empty"})
	startServerArgs(t, []string{"-c", repo, "serve", "-p", fmt.Sprint(other), "--no-materialize-if-empty"})
	base, otherBase := fmt.Sprintf("http://127.0.0.1:%d", hp), fmt.Sprintf("http://127.0.0.1:%d", other)
	waitHTTP(t, http.DefaultClient, base+"/health")
	waitHTTP(t, http.DefaultClient, otherBase+"/health")
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(scrape(t, mp), "\nfeature_server_online_cache_live 1\n"); {
		if time.Now().After(deadline) {
			t.Fatal("the cache never went live")
		}
		time.Sleep(10 * time.Millisecond)
	}
	read := func() string {
		return postJSON(t, base+"/get-online-features", `{"features":["pipeline_stats:error_count"],"entities":{"pipeline_id":[7301]}}`)
	}
	writeErrorCount(t, otherBase, 1)
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(read(), `"values":[1]`); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the first write never read back: %s", read())
		}
	}
	read()
	m := scrape(t, mp)
	if strings.Contains(m, "\nfeature_server_online_cache_hits_total 0\n") || !strings.Contains(m, "feature_server_online_cache_bytes") {
		t.Fatalf("no hit counted:\n%s", grepLines(m, "online_cache"))
	}
	writeErrorCount(t, otherBase, 2)
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(read(), `"values":[2]`); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("another server's write is never seen through the cache: %s", read())
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// Cache flags that cannot work are refused, naming the flag.
func TestServeOnlineCacheFlags(t *testing.T) {
	for args, want := range map[string]string{
		"--online-cache-bytes -1":                                "--online-cache-bytes -1",
		"--online-cache-bytes 100 --online-cache-ttl -1s":        "--online-cache-ttl",
		"--online-cache-bytes 100 --online-cache-mode sometimes": `--online-cache-mode "sometimes"`,
		"--online-cache-bytes 100 --online-cache-mode tracking":  "--online-cache-mode tracking: online_store sqlite",
	} {
		a := append([]string{"-c", goldenRepo, "serve", "-p", fmt.Sprint(testenv.FreePort(t))}, strings.Fields(args)...)
		err := Run(context.Background(), a, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error naming %q", args, err, want)
		}
	}
	// A TTL-only cache on SQLite serves.
	hp, mp := testenv.FreePort(t), testenv.FreePort(t)
	startServer(t, "-p", fmt.Sprint(hp), "-m", "--metrics-port", fmt.Sprint(mp), "--online-cache-bytes", "1000000")
	base := fmt.Sprintf("http://127.0.0.1:%d", hp)
	waitHTTP(t, http.DefaultClient, base+"/health")
	body := `{"features":["pipeline_stats:error_count"],"entities":{"pipeline_id":[1]}}`
	if a, b := postJSON(t, base+"/get-online-features", body), postJSON(t, base+"/get-online-features", body); a != b {
		t.Fatalf("cached answer differs:\n%s\n%s", a, b)
	}
	if m := scrape(t, mp); !strings.Contains(m, "\nfeature_server_online_cache_hits_total 1\n") {
		t.Fatalf("want one hit:\n%s", grepLines(m, "online_cache"))
	}
}
