package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/feastgo/feastgo/internal/testenv"
	"github.com/feastgo/feastgo/internal/testlog"
	"github.com/feastgo/feastgo/internal/testrepo"
)

// workerChildren lists this process's children running the worker script:
// pid and command line.
func workerChildren(t *testing.T) map[int]string {
	t.Helper()
	out := map[int]string{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	me := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so cut at the last ')'.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(me) || f[0] == "Z" {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if c := strings.ReplaceAll(string(cmdline), "\x00", " "); strings.Contains(c, "feastgo_worker.py") {
			out[pid] = c
		}
	}
	return out
}

// TestServeStartsItsOwnPythonWorker: on a repo whose python-mode ODFVs need
// Python and with no transformation service running, the server starts
// the embedded worker itself (the Python found through the feast command
// on PATH) and answers what Feast answers; a killed worker is restarted
// and the next request succeeds; stopping the server leaves no child.
func TestServeStartsItsOwnPythonWorker(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	venv := testenv.FeastVenv(t)
	repo := testrepo.Copy(t, filepath.Join("testdata", "workerrepo"))
	env := append(os.Environ(), "FEAST_USAGE=False", "TZ=UTC", "PYTHONDONTWRITEBYTECODE=1")
	run := func(name string, args ...string) []byte {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir, cmd.Env = repo, env
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("%s %v: %v\n%s%s", name, args, err, out, stderr)
		}
		return out
	}
	py, feast := filepath.Join(venv, "bin", "python"), filepath.Join(venv, "bin", "feast")
	run(py, "make_data.py")
	run(feast, "apply")
	run(feast, "materialize", "2024-12-31T00:00:00", "2025-01-02T00:00:00")

	features := []string{"py_math:root", "py_blob_len:blob_len", "py_blob_unread:scaled"}
	req := map[string]any{"features": features, "entity_rows": []map[string]any{
		{"pipeline_id": 1, "scale": 2.0}, {"pipeline_id": 2, "scale": 1.0}, {"pipeline_id": 3, "scale": -4.0}}}
	reqJSON, _ := json.Marshal(req)
	var feastAnswer map[string][]any
	if err := json.Unmarshal(run(py, "expected.py", string(reqJSON)), &feastAnswer); err != nil {
		t.Fatal(err)
	}

	// Nothing answers at the configured endpoint; the worker's Python is
	// the one the feast command on PATH runs.
	yamlPath := filepath.Join(repo, "feature_store.yaml")
	y, _ := os.ReadFile(yamlPath)
	y = bytes.Replace(y, []byte("127.0.0.1:1\n"), fmt.Appendf(nil, "127.0.0.1:%d\n", testenv.FreePort(t)), 1)
	if err := os.WriteFile(yamlPath, y, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", filepath.Join(venv, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("FEAST_USAGE", "False")

	port := testenv.FreePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	logs := &testlog.Buffer{}
	go func() { done <- Run(ctx, []string{"-c", repo, "serve", "-p", fmt.Sprint(port)}, io.Discard, logs) }()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	client := &http.Client{Timeout: 90 * time.Second}
	waitHTTP(t, client, base+"/health")
	if n := len(workerChildren(t)); n != 0 {
		t.Fatalf("%d workers before any request needs one", n)
	}

	body, _ := json.Marshal(map[string]any{"features": features, "entities": map[string]any{
		"pipeline_id": []int{1, 2, 3}, "scale": []float64{2.0, 1.0, -4.0}}})
	check := func(what string) {
		t.Helper()
		var resp *http.Response
		var b []byte
		// A request waits for a starting worker as long as a delegated
		// call may take (30 s); on a loaded machine importing Feast can
		// take longer, and the server answers 503 meanwhile. Ask again
		// then, within the worker's own start limit (2 min).
		for deadline := time.Now().Add(2 * time.Minute); ; {
			var err error
			resp, err = client.Post(base+"/get-online-features", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			b, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable || !bytes.Contains(b, []byte("waiting for the Python worker to start")) || time.Now().After(deadline) {
				break
			}
		}
		if resp.StatusCode != 200 {
			t.Fatalf("%s: HTTP %d %s\nlog:\n%s", what, resp.StatusCode, b, logs.String())
		}
		var got struct {
			Metadata struct {
				FeatureNames []string `json:"feature_names"`
			} `json:"metadata"`
			Results []struct {
				Values []any `json:"values"`
			} `json:"results"`
		}
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: %v: %s", what, err, b)
		}
		for _, name := range []string{"root", "blob_len", "scaled"} {
			want, ok := feastAnswer[name]
			if !ok {
				t.Fatalf("Feast's answer has no %s: %v", name, feastAnswer)
			}
			found := false
			for i, n := range got.Metadata.FeatureNames {
				if n == name {
					found = true
					if fmt.Sprint(got.Results[i].Values) != fmt.Sprint(want) {
						t.Errorf("%s: %s = %v, Feast %v", what, name, got.Results[i].Values, want)
					}
				}
			}
			if !found {
				t.Fatalf("%s: no %s in %s", what, name, b)
			}
		}
	}
	check("first request")
	workers := workerChildren(t)
	if len(workers) != 1 {
		t.Fatalf("workers after the first request: %v", workers)
	}
	var pid int
	var cmdline string
	for pid, cmdline = range workers {
	}
	if !strings.Contains(cmdline, filepath.Join(venv, "bin", "python")) {
		t.Errorf("the worker does not run the venv's Python (found through feast on PATH): %s", cmdline)
	}
	fields := strings.Fields(cmdline)
	sockDir := ""
	for i, f := range fields {
		if f == "--socket" && i+1 < len(fields) {
			sockDir = filepath.Dir(fields[i+1])
		}
	}
	if sockDir == "" {
		t.Fatalf("no --socket in %s", cmdline)
	}

	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for workerChildren(t)[pid] != "" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	check("the request after the worker was killed")
	workers = workerChildren(t)
	if len(workers) != 1 || workers[pid] != "" {
		t.Fatalf("workers after the restart: %v (killed %d)", workers, pid)
	}
	if !strings.Contains(logs.String(), "restarting it") {
		t.Errorf("no restart in the log:\n%s", logs.String())
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v\nlog:\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not stop in 30s")
	}
	if w := workerChildren(t); len(w) != 0 {
		t.Fatalf("workers left after the server stopped: %v", w)
	}
	if _, err := os.Stat(sockDir); !os.IsNotExist(err) {
		t.Errorf("the worker's directory %s is left: %v", sockDir, err)
	}
}
