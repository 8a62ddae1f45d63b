package transformations

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/registry"
)

// fixedWorker is a WorkerSource for a worker the test started.
type fixedWorker struct {
	addr  string
	calls atomic.Int32
}

func (w *fixedWorker) Endpoint(context.Context) (string, error) {
	w.calls.Add(1)
	return w.addr, nil
}

func (w *fixedWorker) Replacement(ctx context.Context, _ string) (string, error) {
	return w.Endpoint(ctx)
}

// With `feast serve_transformations` at the endpoint, pandas-mode ODFVs go
// there, and python-mode ones (which it cannot run) to the server's own
// worker, with the worker's answer; without a worker they stay a 501.
func TestFeastServerPythonModeGoesToTheWorker(t *testing.T) {
	repo := PrepareBenchRepo(t)
	snap := loadSnapshot(t, repo)
	feastAddr, workerAddr := StartFeastTransformations(t, repo), StartWorker(t, repo)
	w := &fixedWorker{addr: workerAddr}
	eng := New(Options{Execution: Delegate, Endpoint: feastAddr, Project: snap.Project, Worker: w})
	alone := New(Options{Execution: Delegate, Endpoint: feastAddr, Project: snap.Project})
	direct := New(Options{Execution: Delegate, Endpoint: workerAddr, Project: snap.Project})
	for _, e := range []*Engine{eng, alone, direct} {
		defer e.Close()
	}
	c := diffCase{features: []registry.Field{fld("avg_ms", core.Double), fld("errors", core.Int64)},
		request: []registry.Field{fld("times", core.DoubleList), fld("errs", core.Int64List)}, rows: 1,
		featData: [][]core.Value{f64(101.25), i64(1)}, reqData: [][]any{{[]any{100.0, 120.5, 98.0}}, {[]any{0, 2, 1}}}}
	in, _ := c.inputs()
	in["stats__avg_ms"], in["stats__errors"] = in["avg_ms"], in["errors"]

	py, _ := snap.ODFV("bench_python")
	pyOut := []registry.Field{fld("recent_avg", core.Double), fld("max_err", core.Int64)}
	got, err := eng.Transform(context.Background(), py, pyOut, in, 1, false)
	if err != nil {
		t.Fatalf("python mode with a worker: %v", err)
	}
	want, err := direct.Transform(context.Background(), py, pyOut, in, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	if describeCols(got) != describeCols(want) || w.calls.Load() == 0 {
		t.Fatalf("got %s (worker asked %d times), the worker alone %s", describeCols(got), w.calls.Load(), describeCols(want))
	}
	if _, err := alone.Transform(context.Background(), py, pyOut, in, 1, false); core.KindOf(err) != core.KindUnimplemented || !strings.Contains(err.Error(), "pandas mode only") {
		t.Fatalf("python mode without a worker: %v, want the 501", err)
	}

	calls := w.calls.Load()
	pd, _ := snap.ODFV("bench_pandas")
	if _, err := eng.Transform(context.Background(), pd, []registry.Field{fld("score", core.Double)}, in, 1, false); err != nil {
		t.Fatal(err)
	}
	if w.calls.Load() != calls {
		t.Fatal("a pandas-mode ODFV went to the worker though Feast's server answers")
	}
}
