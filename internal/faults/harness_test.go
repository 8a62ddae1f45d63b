package faults_test

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/feastgo/feastgo/internal/testlog"

	"github.com/feastgo/feastgo/internal/testenv"
	"github.com/feastgo/feastgo/internal/testrepo"
)

// The tests run the real server binary, built once per test binary (with
// -race when the tests are), as a process of its own: a crash is its exit,
// seen by the test, not the end of the test binary.
var (
	buildOnce sync.Once
	binPath   string
	errBuild  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

func serverBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "faults-bin")
		if err != nil {
			errBuild = err
			return
		}
		binPath = filepath.Join(dir, "feature-server")
		args := []string{"build", "-o", binPath}
		if raceBuild {
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, "../../cmd/feature-server")...).CombinedOutput()
		if err != nil {
			errBuild = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if errBuild != nil {
		t.Fatal(errBuild)
	}
	return binPath
}

// proc is a process the test started; it is killed when the test ends if
// still running.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *testlog.Buffer
	done chan struct{}
	err  error // the exit, once done is closed
}

func startProc(t *testing.T, name string, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{name: name, cmd: cmd, log: &testlog.Buffer{}, done: make(chan struct{})}
	if cmd.Stdout == nil {
		cmd.Stdout = p.log
	}
	if cmd.Stderr == nil {
		cmd.Stderr = p.log
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.kill)
	return p
}

// kill ends the process with SIGKILL (the fault) and waits for it.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// server is the feature server binary running `serve`.
type server struct {
	*proc
	base    string // http://127.0.0.1:port
	metrics string // the metrics port's /metrics URL
	// signalled: the test sent SIGTERM itself and checks the exit.
	signalled bool
}

// startServer runs `feature-server -c repo serve` with metrics on and the
// extra args, waits until it answers /health/live, and at the end of the
// test stops it with SIGTERM, failing the test if it crashed before, did
// not exit 0 within 15 s, or reported a data race or a panic.
func startServer(t *testing.T, repo string, args ...string) *server {
	t.Helper()
	port, mport := testenv.FreePort(t), testenv.FreePort(t)
	all := append([]string{"-c", repo, "serve", "-h", "127.0.0.1", "-p", fmt.Sprint(port),
		"-m", "--metrics-port", fmt.Sprint(mport), "--no-access-log"}, args...)
	cmd := exec.Command(serverBinary(t), all...)
	cmd.Env = append(os.Environ(), "GORACE=halt_on_error=1")
	s := &server{proc: startProc(t, "feature-server", cmd), base: fmt.Sprintf("http://127.0.0.1:%d", port),
		metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", mport)}
	t.Cleanup(func() { s.stop(t) })
	started := time.Now()
	defer func() { t.Logf("the server answered in %v", time.Since(started).Round(time.Millisecond)) }()
	waitFor(t, 30*time.Second, "the server to answer /health/live", func() bool {
		if s.exited() {
			t.Fatalf("the server exited at start: %v\n%s", s.err, s.log.String())
		}
		resp, err := http.Get(s.base + "/health/live")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	})
	return s
}

// stop sends SIGTERM and checks the exit.
func (s *server) stop(t *testing.T) {
	if s.signalled {
		return
	}
	if s.exited() {
		t.Errorf("the server had exited before the end of the test (a crash): %v\n%s", s.err, s.log.String())
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	sent := time.Now()
	defer func() { t.Logf("the server exited %v after SIGTERM", time.Since(sent).Round(time.Millisecond)) }()
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		s.kill()
		t.Errorf("the server did not exit within 15 s of SIGTERM\n%s", s.log.String())
		return
	}
	if s.err != nil {
		t.Errorf("the server exited with %v after SIGTERM\n%s", s.err, s.log.String())
	}
	s.checkLog(t)
}

func (s *server) checkLog(t *testing.T) {
	log := s.log.String()
	for _, bad := range []string{"DATA RACE", "panic:", "goroutine "} {
		if strings.Contains(log, bad) {
			t.Errorf("the server's log has %q:\n%s", bad, log)
			return
		}
	}
}

// metric reads one sample of the server's /metrics: the line that starts
// with name (a metric name with its labels, as exported).
func (s *server) metric(t *testing.T, name string) (float64, bool) {
	t.Helper()
	resp, err := http.Get(s.metrics)
	if err != nil {
		t.Fatalf("scraping metrics: %v", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
			return v, true
		}
	}
	return 0, false
}

// httpGet and httpPost answer the status and the body; err is a transport
// error.
func httpGet(c *http.Client, url string) (int, string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func httpPost(c *http.Client, url, body string) (int, string, error) {
	resp, err := c.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// waitFor polls cond every 10 ms for at most d (a bound for a loaded
// machine, not a timing assertion).
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// goldenRepo copies the golden repo (the demo's registry; SQLite online
// data) into a temporary directory and writes yaml as its
// feature_store.yaml when yaml is not empty.
func goldenRepo(t *testing.T, yaml string) string {
	t.Helper()
	repo := filepath.Join(t.TempDir(), "repo")
	if err := testrepo.CopyTree(filepath.Join("..", "..", "server", "testdata", "golden", "sqlite", "repo"), repo); err != nil {
		t.Fatal(err)
	}
	if yaml != "" {
		if err := os.WriteFile(filepath.Join(repo, "feature_store.yaml"), []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return repo
}

// backendPort is a port for a back end the test starts, stops and starts
// again on the same port: below Linux's ephemeral range (32768+), so that
// no client socket of another process takes it while the back end is
// down, and free now (with bus, its cluster bus port +10000 too).
func backendPort(t *testing.T, bus bool) int {
	t.Helper()
	free := func(p int) bool {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err == nil {
			l.Close()
		}
		return err == nil
	}
	for range 200 {
		p := 10000 + rand.IntN(12700) // with +10000, still below 32768
		if free(p) && (!bus || free(p+10000)) {
			return p
		}
	}
	t.Fatal("no free port below the ephemeral range")
	return 0
}

// redisServer runs a redis-server of the test's own on port, with
// extra args, and waits until it answers.
func redisServer(t *testing.T, port int, dir string, extra ...string) *proc {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if testenv.Integration() {
			t.Fatal("redis-server not installed (scripts/services.sh installs it)")
		}
		t.Skip("redis-server not installed")
	}
	args := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--dir", dir}, extra...)
	p := startProc(t, fmt.Sprintf("redis-server :%d", port), exec.Command(bin, args...))
	waitFor(t, 20*time.Second, fmt.Sprintf("redis-server on %d to answer", port), func() bool {
		if p.exited() {
			t.Fatalf("redis-server on %d exited: %v\n%s", port, p.err, p.log.String())
		}
		return redisPing(fmt.Sprintf("127.0.0.1:%d", port))
	})
	return p
}

// redisPing sends PING and wants +PONG (a server loading its AOF answers
// -LOADING).
func redisPing(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}
