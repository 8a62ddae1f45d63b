package main

import (
	"bytes"
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

	"github.com/feastgo/feastgo/internal/testlog"
)

// materializeRepo is a temp copy of the golden repo (Feast's registry and
// config) with the demo parquet files and no online store.
func materializeRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		filepath.Join(goldenRepo, "feature_store.yaml"):  filepath.Join(dir, "feature_store.yaml"),
		filepath.Join(goldenRepo, "data", "registry.db"): filepath.Join(dir, "data", "registry.db"),
	}
	parquets, _ := filepath.Glob(filepath.Join("..", "..", "feature_repo", "data", "*.parquet"))
	for _, p := range parquets {
		files[p] = filepath.Join(dir, "data", filepath.Base(p))
	}
	for from, to := range files {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := Run(context.Background(), args, &out, &errOut)
	return out.String() + errOut.String(), err
}

func TestMaterializeCommand(t *testing.T) {
	repo := materializeRepo(t)
	out, err := runCLI(t, "-c", repo, "materialize", "2025-01-01T00:00:00", "2025-01-08T00:00:00")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{
		"Materializing 7 feature views from 2025-01-01 00:00:00+00:00 to 2025-01-08 00:00:00+00:00 into the sqlite online store.",
		"pipeline_stats:\n  10 rows in",
		"Materialized 7 feature views, 54 rows (214 feature values) in ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Not a terminal: no progress bar escapes.
	if strings.Contains(out, "\r") {
		t.Errorf("progress bar drawn on a non-terminal:\n%q", out)
	}

	out, err = runCLI(t, "-c", repo, "materialize-incremental", "2025-01-09T00:00:00Z", "--views", "pipeline_stats", "-vteam_stats")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{
		"Materializing 2 feature views to 2025-01-09 00:00:00+00:00 into the sqlite online store.",
		"pipeline_stats from 2025-01-08 00:00:00+00:00 to 2025-01-09 00:00:00+00:00:",
		"Materialized 2 feature views, 0 rows",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestMaterializeCommandErrors(t *testing.T) {
	repo := materializeRepo(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"materialize", "2025-01-01"}, "START_TS and END_TS are required"},
		{[]string{"materialize", "yesterday", "2025-01-08"}, "START_TS"},
		{[]string{"materialize", "2025-01-08", "2025-01-01"}, "is greater than the given end_date"},
		{[]string{"materialize", "2025-01-01", "2025-01-08", "--views", "nope"}, "Feature view nope does not exist in project pipeline_monitoring"},
		{[]string{"materialize", "2025-01-01", "2025-01-08", "--views"}, "requires an argument"},
		{[]string{"materialize", "2025-01-01", "2025-01-08", "--nope"}, "no such option '--nope'"},
		{[]string{"materialize", "--disable-event-timestamp", "2025-01-01"}, "cannot specify START_TS or END_TS"},
		{[]string{"materialize-incremental"}, "exactly one argument, END_TS"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			out, err := runCLI(t, append([]string{"-c", repo}, c.args...)...)
			if err == nil || !strings.Contains(err.Error()+out, c.want) {
				t.Errorf("want an error with %q, got %v\n%s", c.want, err, out)
			}
		})
	}
}

// A fresh checkout has the registry but no online.db: serve fills it from
// the parquet files over the recorded intervals and answers with values,
// without touching the registry; with --materialize-if-empty=false it does
// not. /materialize works on the same server.
func TestServeFillsEmptyStore(t *testing.T) {
	for _, fill := range []bool{true, false} {
		t.Run(fmt.Sprintf("fill=%v", fill), func(t *testing.T) {
			repo := materializeRepo(t)
			regBefore, _ := os.ReadFile(filepath.Join(repo, "data", "registry.db"))
			port := testenv.FreePort(t)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			var logs testlog.Buffer
			go func() {
				done <- Run(ctx, []string{"-c", repo, "serve", "-p", fmt.Sprint(port), fmt.Sprintf("--materialize-if-empty=%v", fill)}, io.Discard, &logs)
			}()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("serve: %v\n%s", err, logs.String())
				}
			}()
			base := fmt.Sprintf("http://127.0.0.1:%d", port)
			waitHTTP(t, http.DefaultClient, base+"/health")
			body := `{"features": ["pipeline_stats:last_status", "pipeline_stats:error_count"], "entities": {"pipeline_id": [7]}}`
			resp, err := http.Post(base+"/get-online-features", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if fill != strings.Contains(string(got), `"cancelled"`) {
				t.Errorf("fill=%v: answer %s", fill, got)
			}
			if regAfter, _ := os.ReadFile(filepath.Join(repo, "data", "registry.db")); !bytes.Equal(regBefore, regAfter) {
				t.Error("start-up fill must not write the registry")
			}
			if !fill {
				return
			}
			resp, err = http.Post(base+"/materialize", "application/json",
				strings.NewReader(`{"start_ts": "2025-01-01T00:00:00", "end_ts": "2025-01-08T00:00:00", "feature_views": ["team_stats"]}`))
			if err != nil {
				t.Fatal(err)
			}
			got, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(got) != "null" {
				t.Errorf("POST /materialize: %d %s", resp.StatusCode, got)
			}
			// The fill said what it did.
			deadline := time.Now().Add(5 * time.Second)
			for !strings.Contains(logs.String(), "online store filled") && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if !strings.Contains(logs.String(), "online store filled") {
				t.Errorf("no fill log line:\n%s", logs.String())
			}
		})
	}
}

// A fill that cannot read its sources does not keep the server down: it
// says so and serves the store as it is.
func TestServeStartsWhenFillFails(t *testing.T) {
	repo := materializeRepo(t)
	parquets, _ := filepath.Glob(filepath.Join(repo, "data", "*.parquet"))
	for _, p := range parquets {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	port := testenv.FreePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var logs bytes.Buffer
	go func() { done <- Run(ctx, []string{"-c", repo, "serve", "-p", fmt.Sprint(port)}, io.Discard, &logs) }()
	waitHTTP(t, http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/health", port))
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if !strings.Contains(logs.String(), "filling the empty online store failed") {
		t.Errorf("no error logged:\n%s", logs.String())
	}
}
