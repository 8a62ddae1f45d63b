package ingest

import (
	"context"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/onlinestore"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
	"github.com/feastgo/feastgo/registry"
)

// recorder is a Writer that keeps what it was given.
type recorder struct{ batches []onlinestore.WriteBatch }

func (r *recorder) Write(_ context.Context, b onlinestore.WriteBatch) error {
	r.batches = append(r.batches, b)
	return nil
}

// demo returns a service over the demo repo's registry (written by feast apply).
func demo(t *testing.T) (*Service, *recorder) {
	b, err := os.ReadFile("../feature_repo/data/registry.db")
	if err != nil {
		t.Fatal(err)
	}
	reg := &corepb.Registry{}
	if err := proto.Unmarshal(b, reg); err != nil {
		t.Fatal(err)
	}
	snap, err := registry.Compile(reg, "pipeline_monitoring", false)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	return &Service{Snapshot: func() *registry.Snapshot { return snap }, Store: rec, KeyVersion: 3}, rec
}

func frame(t *testing.T, cols map[string]string, order ...string) *Frame {
	f := &Frame{}
	for _, n := range order {
		c := column(t, cols[n])
		c.Name = n
		f.Columns = append(f.Columns, c)
	}
	return f
}

func TestPushWritesEveryFeature(t *testing.T) {
	s, rec := demo(t)
	cols := map[string]string{
		"pipeline_id": `[1001, 1002]`, "event_timestamp": `["2025-01-02 03:04:05.123456789+00:00", "2025-01-02T05:04:05+02:00"]`,
		"created": `["2025-01-02 03:04:06", null]`, "avg_execution_time": `[1.5, 2]`, "success_rate": `[0.5, null]`,
		"error_count": `[3, 4]`, "failure_probability": `[0.1, 0.2]`, "avg_memory_usage": `[1, 2]`,
		"cpu_utilization": `[0.25, 0.5]`, "last_status": `["ok", "failed"]`, "is_active": `[true, false]`,
	}
	f := frame(t, cols, "pipeline_id", "event_timestamp", "created", "avg_execution_time", "success_rate", "error_count",
		"failure_probability", "avg_memory_usage", "cpu_utilization", "last_status", "is_active")
	if err := s.Push(context.Background(), "pipeline_stats_push", f, ModeOnline, WriteOptions{Transform: true, AllowRegistryCache: true}); err != nil {
		t.Fatal(err)
	}
	if len(rec.batches) != 1 || rec.batches[0].View != "pipeline_stats" || len(rec.batches[0].Rows) != 2 {
		t.Fatalf("batches: %+v", rec.batches)
	}
	r0, r1 := rec.batches[0].Rows[0], rec.batches[0].Rows[1]
	if got := hex.EncodeToString(r0.Key); got != "01000000020000000b000000706970656c696e655f69640400000008000000e903000000000000" {
		t.Errorf("key %s", got)
	}
	if r0.TS != (core.Timestamp{Seconds: 1735787045, Nanos: 123456000}) {
		t.Errorf("event time %+v (nanoseconds must be cut to microseconds)", r0.TS)
	}
	if r1.TS != (core.Timestamp{Seconds: 1735787045}) {
		t.Errorf("event time with offset %+v", r1.TS)
	}
	if r0.Created != (core.Timestamp{Seconds: 1735787046}) || r1.Created != (core.Timestamp{}) {
		t.Errorf("created %+v %+v", r0.Created, r1.Created)
	}
}

func TestBadFramesWriteNothing(t *testing.T) {
	good := map[string]string{
		"pipeline_id": `[1]`, "ts": `["2025-01-01"]`, "created": `["2025-01-01"]`, "exec_ms": `[5]`, "queue_wait_ms": `[6]`,
	}
	order := []string{"pipeline_id", "ts", "created", "exec_ms", "queue_wait_ms"}
	cases := []struct {
		name, col, value, want string
	}{
		{"missing join key", "pipeline_id", "", "column pipeline_id is missing"},
		{"missing timestamp", "ts", "", "column ts is missing"},
		{"missing feature", "queue_wait_ms", "", "column queue_wait_ms is missing"},
		{"bad timestamp", "ts", `["yesterday"]`, `"yesterday" is not a timestamp`},
		{"null timestamp", "ts", `[null]`, "event timestamp of view pipeline_latency is null"},
		{"wrong type", "exec_ms", `["fast"]`, `invalid literal for int() with base 10: "fast"`},
		{"null join key", "pipeline_id", `[null]`, "join key values cannot be null"},
		{"different lengths", "queue_wait_ms", `[1, 2]`, "same length"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, rec := demo(t)
			cols := map[string]string{}
			for k, v := range good {
				cols[k] = v
			}
			var ord []string
			for _, n := range order {
				if n == c.col && c.value == "" {
					continue
				}
				ord = append(ord, n)
			}
			if c.value != "" {
				cols[c.col] = c.value
			}
			err := s.WriteToOnlineStore(context.Background(), "pipeline_latency", frame(t, cols, ord...), WriteOptions{Transform: true, AllowRegistryCache: true})
			if err == nil || core.KindOf(err) != core.KindInvalidArgument || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want an invalid argument saying %q", err, c.want)
			}
			if len(rec.batches) != 0 {
				t.Fatalf("something was written: %+v", rec.batches)
			}
		})
	}
}

func TestFieldMappingAndUnknownNames(t *testing.T) {
	s, rec := demo(t)
	f := frame(t, map[string]string{"pipeline_id": `[1]`, "ts": `["2025-01-01"]`, "exec_ms": `[5]`, "q_wait_ms": `[6]`},
		"pipeline_id", "ts", "exec_ms", "q_wait_ms")
	if err := s.WriteToOnlineStore(context.Background(), "pipeline_latency", f, WriteOptions{Transform: true, AllowRegistryCache: true}); err != nil {
		t.Fatal(err)
	}
	b := rec.batches[0]
	if strings.Join(b.Features, ",") != "execution_ms,queue_wait_ms" || hex.EncodeToString(b.Rows[0].Values[1]) != "2006" {
		t.Fatalf("batch %+v", b)
	}
	err := s.WriteToOnlineStore(context.Background(), "nope", f, WriteOptions{Transform: true, AllowRegistryCache: true})
	if core.KindOf(err) != core.KindNotFound {
		t.Errorf("unknown view: %v", err)
	}
	err = s.Push(context.Background(), "nope", f, ModeOnline, WriteOptions{Transform: true, AllowRegistryCache: true})
	if core.KindOf(err) != core.KindUnprocessable {
		t.Errorf("unknown push source: %v", err)
	}
	err = s.Push(context.Background(), "pipeline_stats_push", f, ModeOffline, WriteOptions{Transform: true, AllowRegistryCache: true})
	if core.KindOf(err) != core.KindUnimplemented {
		t.Errorf("offline push without an offline writer: %v", err)
	}
}

func TestEntitylessAndAllNull(t *testing.T) {
	s, rec := demo(t)
	f := frame(t, map[string]string{"event_timestamp": `["2025-01-01"]`, "total_pipelines": `[7]`, "platform_load": `[0.5]`},
		"event_timestamp", "total_pipelines", "platform_load")
	if err := s.WriteToOnlineStore(context.Background(), "platform_stats", f, WriteOptions{Transform: true, AllowRegistryCache: true}); err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(rec.batches[0].Rows[0].Key); got != "01000000020000000a0000005f5f64756d6d795f69640200000000000000" {
		t.Errorf("entityless key %s", got)
	}
	f = frame(t, map[string]string{"event_timestamp": `["2025-01-01"]`, "total_pipelines": `[null]`, "platform_load": `[null]`},
		"event_timestamp", "total_pipelines", "platform_load")
	if err := s.WriteToOnlineStore(context.Background(), "platform_stats", f, WriteOptions{Transform: true, AllowRegistryCache: true}); err != nil || len(rec.batches) != 1 {
		t.Fatalf("all-null features must be skipped silently: %v, %d batches", err, len(rec.batches))
	}
	if err := s.WriteToOnlineStore(context.Background(), "platform_stats", &Frame{}, WriteOptions{Transform: true, AllowRegistryCache: true}); core.KindOf(err) != core.KindInvalidArgument {
		t.Errorf("empty frame: %v", err)
	}
}

func TestMixedColumnsAreRefused(t *testing.T) {
	for js, want := range map[string]string{`[1, "a"]`: "mixes integer and string", `[[1], 2]`: "mixes list and integer",
		`[true, 1]`: "mixes boolean and integer", `[[1], ["a"]]`: "mix integer and string"} {
		_, err := typeColumn(column(t, js))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", js, err, want)
		}
	}
}
