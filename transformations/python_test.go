package transformations

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feastgo/feastgo/internal/testenv"
)

// CopyRepo copies a Feast repo's feature_store.yaml and data/ into a temp
// dir, so Python never writes into testdata.
func CopyRepo(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// StartWorker runs transformations/worker on repo and returns its address.
func StartWorker(t testing.TB, repo string) string {
	t.Helper()
	venv := testenv.FeastVenv(t)
	worker, _ := filepath.Abs(filepath.Join("worker", "feastgo_worker.py"))
	cmd := exec.Command(filepath.Join(venv, "bin", "python"), worker, "--repo", repo, "--port", "0")
	cmd.Env = append(os.Environ(), "FEAST_USAGE=False", "PYTHONDONTWRITEBYTECODE=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(t.TempDir(), "worker.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// One waiter: it tells the start-up wait below that the worker died
	// (a missing module, say) and lets the cleanup reap it.
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "feastgo-worker listening on "); ok {
				addr <- a
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case a := <-addr:
		return a
	case <-done:
		b, _ := os.ReadFile(logf.Name())
		t.Fatalf("the worker exited before listening; log:\n%s", b)
	case <-time.After(120 * time.Second):
		b, _ := os.ReadFile(logf.Name())
		t.Fatalf("the worker did not start in 2 minutes; log:\n%s", b)
	}
	return ""
}

// EnsurePyModule installs spec into the venv when module is missing (the
// Feast venv is feast[redis,postgres]; `feast serve_transformations` also
// needs grpcio-reflection, part of Feast's grpcio extra).
func EnsurePyModule(t testing.TB, venv, module, spec string) {
	t.Helper()
	py := filepath.Join(venv, "bin", "python")
	if exec.Command(py, "-c", "import "+module).Run() == nil {
		return
	}
	out, err := exec.Command(py, "-m", "pip", "install", "--disable-pip-version-check", "-q", spec).CombinedOutput()
	if err != nil {
		t.Fatalf("pip install %s: %v\n%s", spec, err, out)
	}
}

// freePort returns a loopback TCP port that was free a moment ago.

// startFeastCommand starts the venv's `feast args...` with its output in a
// log file (whose path it returns) and interrupts it when the test ends.
func startFeastCommand(t testing.TB, venv, logName string, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, filepath.Join(venv, "bin", "feast"), args...)
	cmd.Env = append(append(os.Environ(), "FEAST_USAGE=False"), env...)
	logPath := filepath.Join(t.TempDir(), logName)
	logf, err := os.Create(logPath)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait(); logf.Close() })
	return logPath
}

// StartFeastTransformations runs `feast serve_transformations` on repo.
func StartFeastTransformations(t testing.TB, repo string) string {
	t.Helper()
	venv := testenv.FeastVenv(t)
	EnsurePyModule(t, venv, "grpc_reflection", "grpcio-reflection==1.85.1")
	port := testenv.FreePort(t)
	logPath := startFeastCommand(t, venv, "feast-transformations.log", nil, "-c", repo, "serve_transformations", "--port", fmt.Sprint(port))
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(120 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return addr
		}
		time.Sleep(200 * time.Millisecond)
	}
	b, _ := os.ReadFile(logPath)
	t.Fatalf("feast serve_transformations did not listen on %s in 2 minutes; log:\n%s", addr, b)
	return ""
}

// PrepareBenchRepo copies testdata/benchrepo, writes its parquet data, and
// runs feast apply and feast materialize on it.
func PrepareBenchRepo(t testing.TB) string {
	t.Helper()
	venv := testenv.FeastVenv(t)
	repo := CopyRepo(t, filepath.Join("testdata", "benchrepo"))
	env := append(os.Environ(), "FEAST_USAGE=False", "TZ=UTC", "PYTHONDONTWRITEBYTECODE=1")
	run := func(name string, args ...string) {
		cmd := exec.Command(name, args...)
		cmd.Dir, cmd.Env = repo, env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	run(filepath.Join(venv, "bin", "python"), "make_data.py")
	run(filepath.Join(venv, "bin", "feast"), "apply")
	run(filepath.Join(venv, "bin", "feast"), "materialize", "2024-12-31T00:00:00", "2025-01-02T00:00:00")
	return repo
}

// StartFeastServe runs `feast serve` on repo and returns its base URL.
func StartFeastServe(t testing.TB, repo string) string {
	t.Helper()
	venv := testenv.FeastVenv(t)
	port := testenv.FreePort(t)
	logPath := startFeastCommand(t, venv, "feast-serve.log", []string{"TZ=UTC"}, "-c", repo, "serve", "-h", "127.0.0.1", "-p", fmt.Sprint(port), "--no-access-log")
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(180 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return url
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	b, _ := os.ReadFile(logPath)
	t.Fatalf("feast serve did not get healthy in 3 minutes; log:\n%s", b)
	return ""
}
