package materialize

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	goredis "github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/testenv"
	redisstore "github.com/feastgo/feastgo/onlinestore/redis"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
	typespb "github.com/feastgo/feastgo/protos/feast/types"
	"github.com/feastgo/feastgo/registry"
)

// syntheticRepo writes a repo with one feature view "stats" over n
// entities, two rows each (the later one must win), and returns its dir.
func syntheticRepo(t *testing.T, project string, n int) string {
	t.Helper()
	dir := t.TempDir()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "score", Type: arrow.PrimitiveTypes.Float64},
		{Name: "label", Type: arrow.BinaryTypes.String},
		{Name: "count", Type: arrow.PrimitiveTypes.Int64},
		{Name: "event_timestamp", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for round := range 2 {
		for i := range n {
			b.Field(0).(*array.Int64Builder).Append(int64(i))
			b.Field(1).(*array.Float64Builder).Append(float64(i) + float64(round)/2)
			b.Field(2).(*array.StringBuilder).Append(fmt.Sprintf("label-%d-%d", i, round))
			b.Field(3).(*array.Int64Builder).Append(int64(i * round))
			ts := winStart.Add(time.Duration(round)*time.Hour + time.Duration(i%1000)*time.Millisecond)
			b.Field(4).(*array.TimestampBuilder).Append(arrow.Timestamp(ts.UnixMicro()))
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	tbl := array.NewTableFromRecords(schema, []arrow.RecordBatch{rec})
	defer tbl.Release()
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "data", "stats.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if err := pqarrow.WriteTable(tbl, f, 4096, pq.NewWriterProperties(), pqarrow.DefaultWriterProps()); err != nil {
		t.Fatal(err)
	}
	f.Close()

	ds := &corepb.DataSource{Name: "stats_source", Type: corepb.DataSource_BATCH_FILE, TimestampField: "event_timestamp",
		Options: &corepb.DataSource_FileOptions_{FileOptions: &corepb.DataSource_FileOptions{Uri: "data/stats.parquet"}}}
	writeRepo(t, dir, project, ds, "")
	return dir
}

// writeRepo writes a registry with one feature view "stats" (id INT64 →
// score DOUBLE, label STRING, count INT64) over ds, and a feature_store.yaml
// with extra appended.
func writeRepo(t *testing.T, dir, project string, ds *corepb.DataSource, extra string) {
	t.Helper()
	ft := func(name string, vt typespb.ValueType_Enum) *corepb.FeatureSpecV2 {
		return &corepb.FeatureSpecV2{Name: name, ValueType: vt}
	}
	reg := &corepb.Registry{
		Entities: []*corepb.Entity{{Spec: &corepb.EntitySpecV2{Name: "thing", Project: project, JoinKey: "id", ValueType: typespb.ValueType_INT64}}},
		FeatureViews: []*corepb.FeatureView{{
			Spec: &corepb.FeatureViewSpec{
				Name: "stats", Project: project, Entities: []string{"thing"}, Online: true,
				Ttl:           durationpb.New(24 * time.Hour),
				Features:      []*corepb.FeatureSpecV2{ft("score", typespb.ValueType_DOUBLE), ft("label", typespb.ValueType_STRING), ft("count", typespb.ValueType_INT64)},
				EntityColumns: []*corepb.FeatureSpecV2{ft("id", typespb.ValueType_INT64)},
				BatchSource:   ds,
			},
			Meta: &corepb.FeatureViewMeta{},
		}},
		RegistrySchemaVersion: "1",
	}
	out, err := proto.Marshal(reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data", "registry.db"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	yaml := "project: " + project + "\nregistry: data/registry.db\nprovider: local\nonline_store:\n  type: sqlite\nentity_key_serialization_version: 3\n" + extra
	if err := os.WriteFile(filepath.Join(dir, "feature_store.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
}

func redisEngine(t *testing.T, addr, project string, n int) (*Engine, *redisstore.Store) {
	t.Helper()
	repo := syntheticRepo(t, project, n)
	s, err := redisstore.New(redisstore.Options{Addrs: []string{addr}, Project: project, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	e := newTestEngine(t, repo, s)
	e.BatchSize, e.Writers = 500, 4
	return e, s
}

// redisDump returns every hash of a project, the project suffix cut off the
// key, so two projects holding the same rows compare equal.
func redisDump(t *testing.T, addr, project string) map[string]map[string]string {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	defer c.Close()
	ctx := context.Background()
	out := map[string]map[string]string{}
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, "*"+project, 5000).Result()
		if err != nil {
			t.Fatal(err)
		}
		pipe := c.Pipeline()
		cmds := make([]*goredis.MapStringStringCmd, len(keys))
		for i, k := range keys {
			cmds[i] = pipe.HGetAll(ctx, k)
		}
		if _, err := pipe.Exec(ctx); err != nil && len(keys) > 0 {
			t.Fatal(err)
		}
		for i, k := range keys {
			out[strings.TrimSuffix(k, project)] = cmds[i].Val()
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	t.Cleanup(func() {
		var keys []string
		for k := range out {
			keys = append(keys, k+project)
		}
		sort.Strings(keys)
		for len(keys) > 0 {
			n := min(len(keys), 1000)
			c := goredis.NewClient(&goredis.Options{Addr: addr})
			c.Del(context.Background(), keys[:n]...)
			c.Close()
			keys = keys[n:]
		}
	})
	return out
}

func sameDump(t *testing.T, want, got map[string]map[string]string) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("%d hashes, want %d", len(got), len(want))
	}
	for k, w := range want {
		g := got[k]
		if len(g) != len(w) {
			t.Fatalf("hash %x: %d fields, want %d", k, len(g), len(w))
		}
		for f, v := range w {
			if g[f] != v {
				t.Fatalf("hash %x field %x: %x, want %x", k, f, g[f], v)
			}
		}
	}
}

// Cancelled half-way, then run again: Redis holds exactly what one clean
// run leaves (rows already written are skipped by the _ts dedup).
func TestRedisCancelAndRerun(t *testing.T) {
	addr := testenv.Service(t, "FEASTGO_TEST_REDIS")
	const n = 20_000
	stamp := time.Now().UnixNano()
	cleanProject, project := fmt.Sprintf("mat_clean_%d", stamp), fmt.Sprintf("mat_crash_%d", stamp)

	clean, _ := redisEngine(t, addr, cleanProject, n)
	res, err := clean.Materialize(context.Background(), Request{Start: winStart, End: winEnd})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != n || res.Values != 3*n {
		t.Fatalf("clean run: %+v", res)
	}
	want := redisDump(t, addr, cleanProject)

	e, _ := redisEngine(t, addr, project, n)
	ctx, cancel := context.WithCancel(context.Background())
	e.Progress = cancelAfter{rows: n / 4, cancel: cancel}
	_, err = e.Materialize(ctx, Request{Start: winStart, End: winEnd})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	if got := len(redisDump(t, addr, project)); got == 0 || got >= n {
		t.Fatalf("the cancelled run wrote %d of %d keys: not half-way", got, n)
	}
	if iv := viewOf(t, e, "stats").MaterializationIntervals; len(iv) != 0 {
		t.Fatalf("a cancelled run recorded %v", iv)
	}
	e.Progress = nil
	if _, err := e.Materialize(context.Background(), Request{Start: winStart, End: winEnd}); err != nil {
		t.Fatal(err)
	}
	sameDump(t, want, redisDump(t, addr, project))
	// And a third run changes nothing.
	if _, err := e.Materialize(context.Background(), Request{Start: winStart, End: winEnd}); err != nil {
		t.Fatal(err)
	}
	sameDump(t, want, redisDump(t, addr, project))
}

// Redis going away mid-run: a clear unavailable error, nothing recorded.
func TestRedisGoesAway(t *testing.T) {
	addr := testenv.Service(t, "FEASTGO_TEST_REDIS")
	px := newProxy(t, addr)
	project := fmt.Sprintf("mat_away_%d", time.Now().UnixNano())
	e, _ := redisEngine(t, px.addr(), project, 20_000)
	e.Progress = killAfter{rows: 2000, px: px}
	_, err := e.Materialize(context.Background(), Request{Start: winStart, End: winEnd})
	if err == nil || core.KindOf(err) != core.KindUnavailable || !strings.Contains(err.Error(), "feature view stats") {
		t.Fatalf("want an unavailable error naming the view, got %v (kind %v)", err, core.KindOf(err))
	}
	if iv := viewOf(t, e, "stats").MaterializationIntervals; len(iv) != 0 {
		t.Fatalf("recorded %v after a failed run", iv)
	}
	redisDump(t, addr, project) // cleanup
}

func viewOf(t *testing.T, e *Engine, name string) *registry.View {
	t.Helper()
	snap, err := e.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	v, ok := snap.View(name)
	if !ok {
		t.Fatalf("no view %s", name)
	}
	return v
}

type cancelAfter struct {
	rows   int64
	cancel context.CancelFunc
}

func (c cancelAfter) ViewStarted(string, time.Time, time.Time) {}
func (c cancelAfter) ViewDone(string, int64, error)            {}
func (c cancelAfter) RowsWritten(_ string, done, _ int64) {
	if done >= c.rows {
		c.cancel()
	}
}

type killAfter struct {
	rows int64
	px   *proxy
}

func (k killAfter) ViewStarted(string, time.Time, time.Time) {}
func (k killAfter) ViewDone(string, int64, error)            {}
func (k killAfter) RowsWritten(_ string, done, _ int64) {
	if done >= k.rows {
		k.px.kill()
	}
}

// proxy forwards TCP to Redis until kill, which drops every connection and
// refuses new ones: Redis "going away" without touching the shared server.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	dead   bool
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	t.Cleanup(p.kill)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			if p.dead {
				p.mu.Unlock()
				c.Close()
				up.Close()
				continue
			}
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dead = true
	_ = p.ln.Close()
	for _, c := range p.conns {
		_ = c.Close()
	}
}
