package worker

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakePython writes a shell script standing in for the interpreter: it
// runs body with $sock set to the --socket argument.
func fakePython(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "python3")
	script := "#!/bin/sh\nsock=\nwhile [ $# -gt 0 ]; do [ \"$1\" = --socket ] && sock=$2; shift; done\n" + body + "\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// serving announces itself and exits when stdin closes, as the worker does.
const serving = `echo "feastgo-worker listening on unix:$sock"; exec cat >/dev/null`

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still alive", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startSupervisor runs a Supervisor; done is closed when Run returns.
func startSupervisor(t *testing.T, opts Options) (*Supervisor, context.CancelFunc, chan struct{}) {
	t.Helper()
	s := New(opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return")
		}
	})
	return s, cancel, done
}

func TestSupervisorStartsOnDemandRestartsAndStops(t *testing.T) {
	s, cancel, done := startSupervisor(t, Options{Python: fakePython(t, serving)})
	time.Sleep(50 * time.Millisecond)
	if s.PID() != 0 {
		t.Fatal("a worker runs before anything asked for it")
	}
	ctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	addr, err := s.Endpoint(ctx)
	if err != nil || !strings.HasPrefix(addr, "unix:/") || !strings.HasSuffix(addr, "worker-1.sock") {
		t.Fatalf("Endpoint = %q, %v", addr, err)
	}
	dir := filepath.Dir(strings.TrimPrefix(addr, "unix:"))
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("worker dir %s: %v %v", dir, fi, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "feastgo_worker.py")); err != nil || string(b) != string(Script) {
		t.Fatalf("the embedded script was not written: %v", err)
	}
	pid := s.PID()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	next, err := s.Replacement(ctx, addr)
	if err != nil || next == addr || !strings.HasSuffix(next, "worker-2.sock") {
		t.Fatalf("after the kill: %q, %v (was %q)", next, err, addr)
	}
	pid2 := s.PID()
	if pid2 == 0 || pid2 == pid {
		t.Fatalf("pid after restart %d (was %d)", pid2, pid)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	waitGone(t, pid2)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("worker dir left: %v", err)
	}
	if _, err := s.Endpoint(ctx); !errors.Is(err, errStopped) {
		t.Fatalf("Endpoint after stop: %v", err)
	}
}

func TestSupervisorReportsAWorkerThatCannotStart(t *testing.T) {
	s, _, _ := startSupervisor(t, Options{Python: fakePython(t, `echo "ModuleNotFoundError: No module named 'feast'" >&2; exit 1`)})
	ctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	_, err := s.Endpoint(ctx)
	if err == nil || !strings.Contains(err.Error(), "No module named 'feast'") || ctx.Err() != nil {
		t.Fatalf("err = %v, want the worker's own error at once", err)
	}
}

func TestSupervisorKillsAWorkerThatIgnoresStop(t *testing.T) {
	s, cancel, done := startSupervisor(t, Options{StopTimeout: 200 * time.Millisecond,
		Python: fakePython(t, `trap '' TERM; exec 0</dev/null; echo "feastgo-worker listening on unix:$sock"; while :; do sleep 0.05; done`)})
	ctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	if _, err := s.Endpoint(ctx); err != nil {
		t.Fatal(err)
	}
	pid := s.PID()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	waitGone(t, pid)
}

func TestSupervisorNeverAskedStartsNothing(t *testing.T) {
	s := New(Options{Python: "/nonexistent/python"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Endpoint(context.Background()); !errors.Is(err, errStopped) {
		t.Fatalf("Endpoint after Run: %v", err)
	}
}

func TestFindPythonFollowsTheFeastCommand(t *testing.T) {
	dir := t.TempDir()
	py := filepath.Join(dir, "venv", "bin", "python3.11")
	if err := os.MkdirAll(filepath.Dir(py), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(py, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "feast"), []byte("#!"+py+"\nimport feast\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	if got, err := FindPython(); err != nil || got != py {
		t.Fatalf("FindPython = %q, %v; want %q", got, err, py)
	}
	// Without feast, python3 on PATH.
	if err := os.Remove(filepath.Join(bin, "feast")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "python3"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := FindPython(); err != nil || got != filepath.Join(bin, "python3") {
		t.Fatalf("FindPython = %q, %v", got, err)
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := FindPython(); err == nil || !strings.Contains(err.Error(), "--odfv-worker-python") {
		t.Fatalf("FindPython with nothing on PATH: %v", err)
	}
}
