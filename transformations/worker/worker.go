// Package worker runs this repository's Python transformation worker
// (feastgo_worker.py, embedded in the binary) as a child process of the
// server, for the on-demand feature views that need Python when no
// transformation service answers: a repo that `feast serve` serves alone
// is then served by ours alone too.
//
// The worker is started on first need, restarted when it dies, and stopped
// when Run's context ends. It speaks the TransformationService gRPC
// protocol the engine already uses for an external worker
// (transformations/delegate.go), on a Unix socket inside a private temp
// dir. Its stdin is a pipe the server holds, and it exits when that pipe
// closes, so it cannot outlive the server even when the server is killed;
// on Linux the kernel also kills it when the server dies (Pdeathsig).
//
// It imports nothing of ours.
package worker

import (
	"bufio"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Script is feastgo_worker.py.
//
//go:embed feastgo_worker.py
var Script []byte

// readyPrefix starts the line the worker prints once it serves.
const readyPrefix = "feastgo-worker listening on "

// Options configures a Supervisor.
type Options struct {
	// Python is the interpreter that has Feast installed; "" finds one
	// (FindPython).
	Python string
	// Repo is the Feast repo directory; YAML its feature_store.yaml when
	// not the repo's own ("" for the default).
	Repo, YAML string
	// StartTimeout bounds one start, from exec to serving (default 2m:
	// importing Feast and loading the registry takes seconds).
	StartTimeout time.Duration
	// StopTimeout is how long a stopping worker may take after SIGTERM
	// before it is killed (default 10s).
	StopTimeout time.Duration
	// MaxBackoff caps the wait between restarts of a worker that keeps
	// failing (default 30s; the first restart after a healthy run is
	// immediate).
	MaxBackoff time.Duration
	Log        *slog.Logger
}

// Supervisor owns the worker process. Endpoint is safe for concurrent use;
// Run must be called once.
type Supervisor struct {
	opts Options

	want     chan struct{} // closed on the first Endpoint call
	wantOnce sync.Once

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every state change
	addr    string        // the serving worker's endpoint, "" when none
	lastErr error         // why the last start failed, until the next try
	pid     int
	stopped bool
}

// New returns a Supervisor; nothing starts before Run and a first
// Endpoint call.
func New(opts Options) *Supervisor {
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 2 * time.Minute
	}
	if opts.StopTimeout == 0 {
		opts.StopTimeout = 10 * time.Second
	}
	if opts.MaxBackoff == 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Supervisor{opts: opts, want: make(chan struct{}), changed: make(chan struct{})}
}

// errStopped is Endpoint's answer once Run has returned.
var errStopped = errors.New("the server is stopping")

// Endpoint asks for the worker (starting it the first time) and returns
// its gRPC target once it serves. It waits while a start is under way,
// for at most ctx; when the last start failed and the next is not due yet
// it returns that failure at once.
func (s *Supervisor) Endpoint(ctx context.Context) (string, error) {
	s.wantOnce.Do(func() { close(s.want) })
	for {
		s.mu.Lock()
		addr, err, stopped, changed := s.addr, s.lastErr, s.stopped, s.changed
		s.mu.Unlock()
		switch {
		case stopped:
			return "", errStopped
		case addr != "":
			return addr, nil
		case err != nil:
			return "", err
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return "", fmt.Errorf("waiting for the Python worker to start: %w", ctx.Err())
		}
	}
}

// Replacement is Endpoint for a caller whose call to the worker at old
// failed as unreachable: it waits until the supervisor has seen that
// worker go and returns the next one's target. A worker still serving at
// old after a second (the failure was something else) is returned as is.
func (s *Supervisor) Replacement(ctx context.Context, old string) (string, error) {
	grace := time.NewTimer(time.Second)
	defer grace.Stop()
	for {
		s.mu.Lock()
		addr, changed := s.addr, s.changed
		s.mu.Unlock()
		if addr != old {
			break
		}
		select {
		case <-changed:
			continue
		case <-grace.C:
		case <-ctx.Done():
			return "", fmt.Errorf("waiting for the Python worker to restart: %w", ctx.Err())
		}
		break
	}
	return s.Endpoint(ctx)
}

// PID is the running worker's process id (0 when none), for tests and logs.
func (s *Supervisor) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pid
}

func (s *Supervisor) set(f func()) {
	s.mu.Lock()
	f()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// Run supervises the worker until ctx ends, then stops it and removes its
// files. It returns nil: a worker that cannot start is logged and
// reported to the requests that need it, it does not stop the server.
func (s *Supervisor) Run(ctx context.Context) error {
	defer s.set(func() { s.addr, s.stopped = "", true })
	select {
	case <-s.want:
	case <-ctx.Done():
		return nil
	}
	dir, err := privateDir()
	if err != nil {
		s.fail(fmt.Errorf("the Python worker: %w", err))
		<-ctx.Done()
		return nil
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "feastgo_worker.py")
	if err := os.WriteFile(script, Script, 0o600); err != nil {
		s.fail(fmt.Errorf("the Python worker: %w", err))
		<-ctx.Done()
		return nil
	}
	python := s.opts.Python
	if python == "" {
		if python, err = FindPython(); err != nil {
			s.fail(err)
			<-ctx.Done()
			return nil
		}
	}
	backoff := time.Duration(0)
	for n := 1; ctx.Err() == nil; n++ {
		if backoff > 0 {
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return nil
			}
			s.set(func() { s.lastErr = nil }) // requests wait for this try
		}
		sock := filepath.Join(dir, fmt.Sprintf("worker-%d.sock", n))
		servedFor, err := s.runOnce(ctx, python, script, sock)
		_ = os.Remove(sock)
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case servedFor >= healthyFor:
			backoff = 0
			s.opts.Log.Warn("the Python worker exited; restarting it", "err", err)
		case servedFor > 0:
			// It worked, then died soon: restart it, more slowly each time
			// it does so again; requests wait for it meanwhile.
			backoff = min(max(2*backoff, time.Second), s.opts.MaxBackoff)
			s.opts.Log.Warn("the Python worker exited soon after starting; restarting it", "err", err, "retry_in", backoff)
		default:
			backoff = min(max(2*backoff, time.Second), s.opts.MaxBackoff)
			s.opts.Log.Error("the Python worker did not start", "python", python, "err", err, "retry_in", backoff)
			s.fail(fmt.Errorf("the Python worker (%s) did not start: %w", python, err))
		}
	}
	return nil
}

func (s *Supervisor) fail(err error) { s.set(func() { s.addr, s.lastErr = "", err }) }

// healthyFor is how long a worker must have served for its exit to be
// followed by an immediate restart rather than one after a growing wait.
const healthyFor = 10 * time.Second

// runOnce runs one worker process until it exits or ctx ends, and says for
// how long it served (0: it never did).
func (s *Supervisor) runOnce(ctx context.Context, python, script, sock string) (servedFor time.Duration, err error) {
	// Pdeathsig is delivered when the thread that started the child exits;
	// holding this goroutine on its thread until the child is reaped keeps
	// the Go runtime from retiring that thread early.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	args := []string{script, "--socket", sock, "--exit-on-stdin-eof"}
	if s.opts.Repo != "" {
		args = append(args, "--repo", s.opts.Repo)
	}
	if s.opts.YAML != "" {
		args = append(args, "--feature-store-yaml", s.opts.YAML)
	}
	cmd := exec.Command(python, args...)
	cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1")
	cmd.SysProcAttr = childAttr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 0, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	pid := cmd.Process.Pid
	log := s.opts.Log.With("pid", pid)
	log.Info("starting the Python worker", "python", python, "socket", sock)
	s.set(func() { s.pid = pid })
	defer s.set(func() { s.pid, s.addr = 0, "" })

	var tail lastLines
	ready := make(chan string, 1)
	var pipes sync.WaitGroup
	pipes.Add(2)
	go func() {
		defer pipes.Done()
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), readyPrefix); ok {
				select {
				case ready <- a:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		defer pipes.Done()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			tail.add(sc.Text())
			log.Info("python worker", "line", sc.Text())
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	exited := make(chan error, 1)
	go func() {
		pipes.Wait() // Wait closes the pipes: read them to the end first
		exited <- cmd.Wait()
	}()

	var servedAt time.Time
	startTimer := time.NewTimer(s.opts.StartTimeout)
	defer startTimer.Stop()
	for {
		select {
		case a := <-ready:
			servedAt = time.Now()
			startTimer.Stop()
			log.Info("the Python worker serves", "addr", a)
			s.set(func() { s.addr, s.lastErr = a, nil })
		case err := <-exited:
			if err == nil {
				err = errors.New("exited with status 0")
			}
			if t := tail.String(); t != "" {
				err = fmt.Errorf("%w: %s", err, t)
			}
			if servedAt.IsZero() {
				return 0, err
			}
			return max(time.Since(servedAt), time.Nanosecond), err
		case <-startTimer.C:
			log.Error("the Python worker did not serve in time; killing it", "timeout", s.opts.StartTimeout)
			_ = cmd.Process.Kill()
		case <-ctx.Done():
			s.set(func() { s.addr = "" })
			_ = stdin.Close()
			_ = cmd.Process.Signal(stopSignal)
			select {
			case err := <-exited:
				log.Info("the Python worker stopped", "err", err)
			case <-time.After(s.opts.StopTimeout):
				log.Warn("the Python worker did not stop in time; killing it", "timeout", s.opts.StopTimeout)
				_ = cmd.Process.Kill()
				<-exited
			}
			return 0, ctx.Err()
		}
	}
}

// lastLines keeps the last few lines of the worker's stderr, to explain
// an exit.
type lastLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *lastLines) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) == 5 {
		l.lines = l.lines[1:]
	}
	l.lines = append(l.lines, s)
}

func (l *lastLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, " | ")
}

// privateDir makes the worker's directory, readable by this user only. A
// Unix socket path is limited to about 100 bytes: a long $TMPDIR falls
// back to /tmp.
func privateDir() (string, error) {
	dir, err := os.MkdirTemp("", "feastgo-worker-")
	if err == nil && len(dir)+len("/worker-999999.sock") > 100 {
		_ = os.RemoveAll(dir)
		dir, err = os.MkdirTemp("/tmp", "feastgo-worker-")
	}
	if err != nil {
		return "", err
	}
	return dir, os.Chmod(dir, 0o700)
}

// FindPython picks the interpreter that has Feast installed: the one the
// `feast` command on PATH runs (its #! line), else python3, else python on
// PATH. Whether that Python really has Feast shows when the worker starts.
func FindPython() (string, error) {
	if feast, err := exec.LookPath("feast"); err == nil {
		if py := shebangPython(feast); py != "" {
			return py, nil
		}
	}
	for _, name := range []string{"python3", "python"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no Python for the worker: no feast, python3 or python on PATH (set --odfv-worker-python)")
}

// shebangPython reads a console script's #! line: the absolute path of
// its interpreter, or the name after /usr/bin/env looked up on PATH; ""
// when it is not a Python.
func shebangPython(script string) string {
	f, err := os.Open(script)
	if err != nil {
		return ""
	}
	defer f.Close()
	line, err := bufio.NewReader(io.LimitReader(f, 512)).ReadString('\n')
	if err != nil && line == "" {
		return ""
	}
	fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "#!"))
	if !strings.HasPrefix(line, "#!") || len(fields) == 0 {
		return ""
	}
	py := fields[0]
	if filepath.Base(py) == "env" && len(fields) > 1 {
		p, err := exec.LookPath(fields[1])
		if err != nil {
			return ""
		}
		py = p
	}
	if !strings.HasPrefix(filepath.Base(py), "python") {
		return ""
	}
	if fi, err := os.Stat(py); err != nil || fi.IsDir() {
		return ""
	}
	return py
}
