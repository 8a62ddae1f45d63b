package faults_test

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// redisYAML is the golden repo's feature_store.yaml on the Redis at addr
// (a connection string: "host:port" or "host:port,..." for a cluster).
func redisYAML(conn, redisType string) string {
	typ := ""
	if redisType != "" {
		typ = "  redis_type: " + redisType + "\n"
	}
	return "project: pipeline_monitoring\nprovider: local\nregistry: data/registry.db\n" +
		"online_store:\n  type: redis\n" + typ + "  connection_string: " + conn + "\n" +
		"offline_store:\n  type: file\nentity_key_serialization_version: 3\n"
}

// pushStats writes pipeline_stats rows for ids through the server's /push
// (to the online store), error_count = id*10.
func pushStats(t *testing.T, base string, ids []int) {
	t.Helper()
	ts := time.Now().UTC().Format("2006-01-02 15:04:05+00:00")
	col := func(f func(id int) string) string {
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = f(id)
		}
		return "[" + strings.Join(out, ",") + "]"
	}
	body := `{"push_source_name": "pipeline_stats_push", "to": "online", "df": {` +
		`"pipeline_id": ` + col(func(id int) string { return fmt.Sprint(id) }) +
		`, "event_timestamp": ` + col(func(int) string { return `"` + ts + `"` }) +
		`, "created": ` + col(func(int) string { return `"` + ts + `"` }) +
		`, "avg_execution_time": ` + col(func(int) string { return "1.5" }) +
		`, "success_rate": ` + col(func(int) string { return "0.5" }) +
		`, "error_count": ` + col(func(id int) string { return fmt.Sprint(id * 10) }) +
		`, "failure_probability": ` + col(func(int) string { return "0.25" }) +
		`, "avg_memory_usage": ` + col(func(int) string { return "2.5" }) +
		`, "cpu_utilization": ` + col(func(int) string { return "0.75" }) +
		`, "last_status": ` + col(func(int) string { return `"ok"` }) +
		`, "is_active": ` + col(func(int) string { return "true" }) + `}}`
	code, out, err := httpPost(http.DefaultClient, base+"/push", body)
	if err != nil || code != http.StatusOK {
		t.Fatalf("push: %d %s %v", code, out, err)
	}
}

// readBody reads error_count of ids.
func readBody(ids []int) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprint(id)
	}
	return `{"features":["pipeline_stats:error_count"],"entities":{"pipeline_id":[` + strings.Join(s, ",") + `]}}`
}

// wantValues says whether a 200 body carries error_count = id*10 for ids,
// each PRESENT.
func wantValues(body string, ids []int) bool {
	vals := make([]string, len(ids))
	for i, id := range ids {
		vals[i] = fmt.Sprint(id * 10)
	}
	return strings.Contains(body, `{"values":[`+strings.Join(vals, ",")+`],"statuses":["PRESENT"`) &&
		!strings.Contains(body, "NOT_FOUND")
}

// outcome is one request of a load run.
type outcome struct {
	start, end time.Time
	code       int // 0: a transport error
	ok         bool
	err        string
}

// load sends reads from n goroutines until stop is closed and returns
// every outcome, in order of end.
type load struct {
	mu   sync.Mutex
	outs []outcome
	stop chan struct{}
	wg   sync.WaitGroup
	// first503 is the end time (unix nanoseconds) of the first 503.
	first503 atomic.Int64
}

func startLoad(n int, url, body string, check func(code int, body string) bool) *load {
	l := &load{stop: make(chan struct{})}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	for range n {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				o := outcome{start: time.Now()}
				code, out, err := httpPost(client, url, body)
				o.end, o.code = time.Now(), code
				if err != nil {
					o.code, o.err = 0, err.Error()
				} else {
					o.ok = check(code, out)
					if !o.ok {
						o.err = fmt.Sprintf("%.300s", out)
					}
				}
				if code == http.StatusServiceUnavailable {
					l.first503.CompareAndSwap(0, o.end.UnixNano())
				}
				l.mu.Lock()
				l.outs = append(l.outs, o)
				l.mu.Unlock()
				if err != nil {
					time.Sleep(5 * time.Millisecond) // no busy loop on a refused port
				}
			}
		}()
	}
	return l
}

func (l *load) finish() []outcome {
	close(l.stop)
	l.wg.Wait()
	sort.Slice(l.outs, func(i, j int) bool { return l.outs[i].end.Before(l.outs[j].end) })
	return l.outs
}

// A test-owned Redis killed (SIGKILL) under load and restarted: while it
// is down every read answers 503 naming Redis, fast; the first 503 comes
// within 100 ms of the kill; nothing is served from the hot-entity cache
// (--online-cache-bytes), which is dropped when its invalidation stream
// goes; no 500, no transport error, no crash; every read answers 200 with
// the values again within 1 s of Redis's return (its AOF keeps the data).
func TestRedisKilledUnderLoad(t *testing.T) {
	port := backendPort(t, false)
	dir := t.TempDir()
	aof := []string{"--appendonly", "yes", "--appendfsync", "always"}
	rds := redisServer(t, port, dir, aof...)
	repo := goldenRepo(t, redisYAML(fmt.Sprintf("127.0.0.1:%d", port), ""))
	srv := startServer(t, repo, "--online-cache-bytes", "16777216")
	ids := []int{1, 2, 3, 4, 5}
	pushStats(t, srv.base, ids)
	body := readBody(ids)
	waitFor(t, 20*time.Second, "the cache's invalidation stream", func() bool {
		v, _ := srv.metric(t, "feature_server_online_cache_live")
		return v == 1
	})

	const readers = 8
	check := func(code int, out string) bool {
		switch code {
		case http.StatusOK:
			return wantValues(out, ids)
		case http.StatusServiceUnavailable:
			return strings.Contains(strings.ToLower(out), "redis")
		}
		return false
	}
	l := startLoad(readers, srv.base+"/get-online-features", body, check)
	time.Sleep(300 * time.Millisecond)
	if v, _ := srv.metric(t, "feature_server_online_cache_hits_total"); v == 0 {
		t.Fatal("no read was served from the cache before the kill: the test would not prove the cache is dropped")
	}
	killed := time.Now()
	rds.kill()
	waitFor(t, 10*time.Second, "a 503", func() bool { return l.first503.Load() != 0 })
	time.Sleep(500 * time.Millisecond) // down a while under load
	entities, _ := srv.metric(t, "feature_server_online_cache_entities")
	live, _ := srv.metric(t, "feature_server_online_cache_live")
	restarted := time.Now()
	redisServer(t, port, dir, aof...)
	back := time.Now() // Redis answers PING
	time.Sleep(1500 * time.Millisecond)
	outs := l.finish()

	first503 := time.Unix(0, l.first503.Load())
	t.Logf("%d requests; first 503 %v after the kill; Redis back %v after its restart", len(outs),
		first503.Sub(killed).Round(time.Millisecond), back.Sub(restarted).Round(time.Millisecond))
	if d := first503.Sub(killed); d > 100*time.Millisecond {
		t.Errorf("the first 503 came %v after the kill; the bound is 100 ms", d)
	}
	if entities != 0 || live != 0 {
		t.Errorf("during the outage the cache holds %v entities and live=%v; it must be dropped", entities, live)
	}
	var bad, down, down503, servedFromMemory int
	var slowest time.Duration
	var lastFailure time.Time
	for _, o := range outs {
		if !o.ok {
			if bad++; bad <= 5 {
				t.Errorf("request at +%v: %d %s", o.start.Sub(killed).Round(time.Millisecond), o.code, o.err)
			}
		}
		if o.code != http.StatusOK {
			lastFailure = o.end
		}
		if o.start.After(killed.Add(100*time.Millisecond)) && o.end.Before(restarted) {
			down++
			if o.code == http.StatusOK {
				servedFromMemory++
			}
			if o.code == http.StatusServiceUnavailable {
				down503++
				slowest = max(slowest, o.end.Sub(o.start))
			}
		}
	}
	t.Logf("%d requests sent and answered while Redis was down (%d answered 503, the slowest in %v); last failure %v after Redis's return",
		down, down503, slowest.Round(time.Millisecond), lastFailure.Sub(back).Round(time.Millisecond))
	if down == 0 {
		t.Error("no request was answered while Redis was down")
	}
	if servedFromMemory > 0 {
		t.Errorf("%d reads sent while Redis was down answered 200: served from a cache that should have been dropped", servedFromMemory)
	}
	if slowest > 2*time.Second {
		t.Errorf("a 503 took %v: reads of a dead Redis must fail fast", slowest)
	}
	if d := lastFailure.Sub(back); d > time.Second {
		t.Errorf("reads still failed %v after Redis was back; the bound is 1 s", d)
	}
	var after int
	for _, o := range outs {
		if o.start.After(back.Add(time.Second)) && o.code == http.StatusOK {
			after++
		}
	}
	if after == 0 {
		t.Error("no read answered 200 after Redis's return")
	}
	// The cache follows the new stream again and serves from memory.
	waitFor(t, 20*time.Second, "the cache to be live again", func() bool {
		v, _ := srv.metric(t, "feature_server_online_cache_live")
		return v == 1
	})
}
