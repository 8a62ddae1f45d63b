// Command soak drives a running feature server for the soak test
// (scripts/soak.sh, make soak): it measures the highest request rate the
// server sustains for the mix below, then holds a fraction of it (default
// 50%) for the soak's duration, open loop (requests are sent on schedule
// whether or not earlier ones came back), while the registry file is
// rewritten every -registry-every with one changed field, so every refresh
// compiles and swaps in a new snapshot. It samples the server's resident
// memory (VmRSS of -pid) all along and prints one line of key=value figures
// at the end; it exits 1 if any request failed or was not sent on time.
//
// The mix, on the demo repo (feature_repo/): 95% POST /get-online-features
// (one to ten of the pipeline ids 1..10 the repo's data holds, four
// features of pipeline_stats and one of pipeline_history), 5% POST /push of ten rows to pipeline_stats_push
// (to=online, ids 100000..100999 overwritten again and again, so the
// online store does not grow without end).
//
//	soak -url http://127.0.0.1:6566 -pid PID -registry REPO/data/registry.db -duration 10m
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	corepb "github.com/feastgo/feastgo/protos/feast/core"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:6566", "the server's base URL")
	pid := flag.Int("pid", 0, "the server's process id, for its resident memory")
	regPath := flag.String("registry", "", "the registry file the server reads, rewritten every -registry-every (empty: not rewritten)")
	regEvery := flag.Duration("registry-every", 10*time.Second, "how often the registry file is rewritten")
	duration := flag.Duration("duration", 10*time.Minute, "how long the soak holds its rate")
	probe := flag.Duration("probe", 15*time.Second, "how long the maximum rate is measured")
	conns := flag.Int("conns", 16, "connections of the maximum-rate probe")
	fraction := flag.Float64("fraction", 0.5, "the share of the maximum rate the soak holds")
	flag.Parse()
	if *pid <= 0 {
		fmt.Fprintln(os.Stderr, "soak: -pid is required")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, config{url: *url, pid: *pid, registry: *regPath, regEvery: *regEvery, duration: *duration,
		probe: *probe, conns: *conns, fraction: *fraction}); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

type config struct {
	url                string
	pid                int
	registry           string
	regEvery, duration time.Duration
	probe              time.Duration
	conns              int
	fraction           float64
}

// tally counts one kind of request.
type tally struct {
	mu   sync.Mutex
	lat  []time.Duration
	errs map[string]int
}

func (t *tally) add(d time.Duration, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lat = append(t.lat, d)
	if err != nil {
		if t.errs == nil {
			t.errs = map[string]int{}
		}
		msg := err.Error()
		if len(msg) > 120 {
			msg = msg[:120]
		}
		t.errs[msg]++
	}
}

func (t *tally) summary(name string) (string, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	slices.Sort(t.lat)
	q := func(p float64) string {
		if len(t.lat) == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2fms", float64(t.lat[int(p*float64(len(t.lat)-1))].Microseconds())/1000)
	}
	n := 0
	var kinds []string
	for msg, c := range t.errs {
		n += c
		kinds = append(kinds, fmt.Sprintf("%dx %q", c, msg))
	}
	s := fmt.Sprintf("%s_requests=%d %s_errors=%d %s_p50=%s %s_p99=%s %s_max=%s", name, len(t.lat), name, n, name, q(.5), name, q(.99), name, q(1))
	if n > 0 {
		s += " " + name + "_error_kinds=[" + strings.Join(kinds, "; ") + "]"
	}
	return s, n
}

type driver struct {
	client      *http.Client
	url         string
	reads, push tally
	seq         atomic.Int64
}

// one sends one request of the mix and records it.
func (d *driver) one(ctx context.Context, r *rand.Rand) { d.oneAt(ctx, r, time.Now()) }

// oneAt is one with its latency counted from due, the time the open loop
// meant to send it: a request held up behind a stall (the server's, the
// machine's or the driver's own) shows its wait in the latencies rather
// than hiding it (no coordinated omission).
func (d *driver) oneAt(ctx context.Context, r *rand.Rand, due time.Time) {
	isPush := r.IntN(100) < 5
	var path string
	var body []byte
	if isPush {
		path, body = "/push", pushBody(d.seq.Add(1))
	} else {
		path, body = "/get-online-features", readBody(r)
	}
	err := d.post(ctx, path, body)
	if ctx.Err() != nil && err != nil {
		return // the soak is over: not the server's failure
	}
	if isPush {
		d.push.add(time.Since(due), err)
	} else {
		d.reads.add(time.Since(due), err)
	}
}

func (d *driver) post(ctx context.Context, path string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %d %s", path, resp.StatusCode, bytes.TrimSpace(b))
	}
	if path == "/get-online-features" && !bytes.Contains(b, []byte(`"PRESENT"`)) {
		return fmt.Errorf("%s: no value PRESENT in %.200s", path, b)
	}
	return nil
}

func readBody(r *rand.Rand) []byte {
	n := 1 + r.IntN(10)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = strconv.Itoa(1 + r.IntN(10))
	}
	return []byte(`{"features":["pipeline_stats:success_rate","pipeline_stats:error_count","pipeline_stats:last_status",` +
		`"pipeline_stats:is_active","pipeline_history:retry_count"],"entities":{"pipeline_id":[` + strings.Join(ids, ",") + `]}}`)
}

func pushBody(seq int64) []byte {
	const rows = 10
	ts := time.Now().UTC().Format(time.RFC3339Nano)
	ids := make([]string, rows)
	for i := range ids {
		ids[i] = strconv.FormatInt(100000+(seq*rows+int64(i))%1000, 10)
	}
	rep := func(v string) string { return "[" + strings.TrimSuffix(strings.Repeat(v+",", rows), ",") + "]" }
	return []byte(`{"push_source_name":"pipeline_stats_push","to":"online","df":{"pipeline_id":[` + strings.Join(ids, ",") + `],` +
		`"avg_execution_time":` + rep("120.5") + `,"success_rate":` + rep("0.9") + `,"error_count":` + rep("3") +
		`,"failure_probability":` + rep("0.05") + `,"avg_memory_usage":` + rep("512.5") + `,"cpu_utilization":` + rep("0.4") +
		`,"last_status":` + rep(`"ok"`) + `,"is_active":` + rep("true") + `,"event_timestamp":` + rep(`"`+ts+`"`) +
		`,"created":` + rep(`"`+ts+`"`) + `}}`)
}

// probeMax runs conns closed-loop clients for d and returns requests/s.
func (d *driver) probeMax(ctx context.Context, conns int, dur time.Duration) float64 {
	ctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	var n atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := range conns {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(i), 1))
			for ctx.Err() == nil {
				d.one(ctx, r)
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds()
}

func run(ctx context.Context, cfg config) error {
	tr := &http.Transport{MaxIdleConnsPerHost: 512, MaxConnsPerHost: 0, IdleConnTimeout: time.Minute}
	d := &driver{client: &http.Client{Transport: tr, Timeout: 10 * time.Second}, url: strings.TrimSuffix(cfg.url, "/")}
	defer tr.CloseIdleConnections()

	d.probeMax(ctx, cfg.conns, 3*time.Second) // warm-up
	maxRate := d.probeMax(ctx, cfg.conns, cfg.probe)
	if _, n := d.reads.summary("r"); n > 0 {
		s, _ := d.reads.summary("probe_read")
		return fmt.Errorf("the maximum-rate probe had failures: %s", s)
	}
	if _, n := d.push.summary("p"); n > 0 {
		s, _ := d.push.summary("probe_push")
		return fmt.Errorf("the maximum-rate probe had failures: %s", s)
	}
	rate := maxRate * cfg.fraction
	fmt.Fprintf(os.Stderr, "soak: maximum %.0f req/s at %d connections; holding %.0f req/s for %s\n", maxRate, cfg.conns, rate, cfg.duration)
	d.reads, d.push = tally{}, tally{}

	soakCtx, cancel := context.WithTimeout(ctx, cfg.duration)
	defer cancel()
	var bg sync.WaitGroup
	defer bg.Wait()

	// Resident memory, every second.
	var rssMu sync.Mutex
	var rss []int64
	bg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			if kb, err := vmRSS(cfg.pid); err == nil {
				rssMu.Lock()
				rss = append(rss, kb)
				rssMu.Unlock()
			}
			select {
			case <-soakCtx.Done():
				return
			case <-t.C:
			}
		}
	})

	// The registry, rewritten with one changed field.
	var rewrites atomic.Int64
	var regErr atomic.Pointer[error]
	if cfg.registry != "" {
		orig, err := os.ReadFile(cfg.registry)
		if err != nil {
			return err
		}
		bg.Go(func() {
			t := time.NewTicker(cfg.regEvery)
			defer t.Stop()
			defer func() { _ = writeAtomic(cfg.registry, orig) }()
			for i := 1; ; i++ {
				select {
				case <-soakCtx.Done():
					return
				case <-t.C:
				}
				if err := rewriteRegistry(cfg.registry, orig, i); err != nil {
					regErr.Store(&err)
					return
				}
				rewrites.Add(1)
			}
		})
	}

	// Open loop: every millisecond the requests due by then are queued,
	// each with its scheduled time, for a pool of workers. The queue holds
	// a second of requests: a short stall delays requests (their latency,
	// counted from the schedule, shows it) but loses none; a request that
	// finds a whole second queued ahead of it is counted late and not sent.
	const workers = 256
	jobs := make(chan time.Time, int(rate)+workers)
	var late atomic.Int64
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(i), 2))
			for due := range jobs {
				d.oneAt(soakCtx, r, due)
			}
		})
	}
	start := time.Now()
	var sent int64
	tick := time.NewTicker(time.Millisecond)
	for soakCtx.Err() == nil {
		<-tick.C
		due := int64(time.Since(start).Seconds() * rate)
		for ; sent < due; sent++ {
			at := start.Add(time.Duration(float64(sent) / rate * float64(time.Second)))
			select {
			case jobs <- at:
			default:
				late.Add(1)
			}
		}
	}
	tick.Stop()
	close(jobs)
	wg.Wait()
	cancel()
	bg.Wait()
	elapsed := time.Since(start)

	rs, readErrs := d.reads.summary("read")
	ps, pushErrs := d.push.summary("push")
	rssMu.Lock()
	defer rssMu.Unlock()
	if len(rss) < 3 {
		return errors.New("too few memory samples: is -pid the server's?")
	}
	// Start is taken 10% into the soak, once the server's pools and caches
	// are filled.
	at := func(f float64) int64 { return rss[min(len(rss)-1, int(f*float64(len(rss)-1)))] }
	fmt.Printf("max_rate=%.0f rate=%.0f achieved=%.0f duration=%s sent=%d late=%d registry_rewrites=%d %s %s rss_start_kb=%d rss_middle_kb=%d rss_end_kb=%d rss_max_kb=%d\n",
		maxRate, rate, float64(sent-late.Load())/elapsed.Seconds(), elapsed.Round(time.Second), sent, late.Load(), rewrites.Load(), rs, ps,
		at(0.1), at(0.5), at(1), slices.Max(rss))
	if p := regErr.Load(); p != nil {
		return fmt.Errorf("rewriting the registry: %w", *p)
	}
	if readErrs+pushErrs > 0 || late.Load() > 0 {
		return fmt.Errorf("%d read and %d push failures, %d requests not sent on time", readErrs, pushErrs, late.Load())
	}
	return nil
}

// rewriteRegistry writes the registry with its first feature view's
// description set to a new value: a changed file that compiles to the same
// views.
func rewriteRegistry(path string, orig []byte, i int) error {
	reg := &corepb.Registry{}
	if err := proto.Unmarshal(orig, reg); err != nil {
		return err
	}
	if len(reg.FeatureViews) == 0 {
		return errors.New("the registry has no feature views")
	}
	reg.FeatureViews[0].Spec.Description = fmt.Sprintf("soak rewrite %d", i)
	b, err := proto.Marshal(reg)
	if err != nil {
		return err
	}
	return writeAtomic(path, b)
}

func writeAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".soak-*.tmp")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// vmRSS is a process's resident memory in KiB, from /proc.
func vmRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, errors.New("no VmRSS")
}
