package transformations

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/registry"
)

// BenchmarkODFV measures the latency an ODFV adds to one online read: one
// entity, an ODFV over two source features and two request fields
// (testdata/benchrepo), evaluated natively, by the Python worker, by
// Feast's transformation server, and — for reference — what the ODFV adds
// to feast serve's own /get-online-features. Every sub-benchmark reports
// p50 and p99 per call in µs. The delegated and feast-serve parts need
// FEASTGO_INTEGRATION (they start Python).
//
//	go test ./transformations -run '^$' -bench ODFV -benchtime 2000x
func BenchmarkODFV(b *testing.B) {
	src, err := os.ReadFile(filepath.Join("testdata", "benchrepo", "features.py"))
	if err != nil {
		b.Fatal(err)
	}
	bodies := udfSources(string(src))
	features := []registry.Field{fld("avg_ms", core.Double), fld("errors", core.Int64)}
	request := []registry.Field{fld("times", core.DoubleList), fld("errs", core.Int64List)}
	pyCase := diffCase{mode: "python", body: bodies["bench_python"], features: features, request: request, rows: 1,
		outputs: []registry.Field{fld("recent_avg", core.Double), fld("max_err", core.Int64)}}
	pdCase := diffCase{mode: "pandas", body: bodies["bench_pandas"], features: features, request: request, rows: 1,
		outputs: []registry.Field{fld("score", core.Double)}}
	for _, c := range []*diffCase{&pyCase, &pdCase} {
		c.featData = [][]core.Value{f64(101.25), i64(1)}
		c.reqData = [][]any{{[]any{100.0, 120.5, 98.0}}, {[]any{0, 2, 1}}}
	}
	native := New(Options{Execution: Native})
	for _, c := range []diffCase{pyCase, pdCase} {
		b.Run("native-"+c.mode, func(b *testing.B) {
			odfv := c.compileB(b)
			in, _ := c.inputs()
			latency(b, func() error {
				_, err := native.Transform(context.Background(), odfv, c.outputs, in, 1, false)
				return err
			})
		})
	}

	b.Run("delegated", func(b *testing.B) {
		repo := PrepareBenchRepo(b)
		snap := loadSnapshot(b, repo)
		worker := New(Options{Execution: Delegate, Endpoint: StartWorker(b, repo), Project: snap.Project})
		feastSvc := New(Options{Execution: Delegate, Endpoint: StartFeastTransformations(b, repo), Project: snap.Project})
		defer worker.Close()
		defer feastSvc.Close()
		for _, tc := range []struct {
			name string
			eng  *Engine
			c    diffCase
			odfv string
		}{
			{"worker-python", worker, pyCase, "bench_python"},
			{"worker-pandas", worker, pdCase, "bench_pandas"},
			{"feast-transformation-server-pandas", feastSvc, pdCase, "bench_pandas"},
		} {
			b.Run(tc.name, func(b *testing.B) {
				odfv, ok := snap.ODFV(tc.odfv)
				if !ok {
					b.Fatalf("no ODFV %s in the bench repo", tc.odfv)
				}
				in, _ := tc.c.inputs()
				// The registry's source view is "stats", the case's "src".
				in["stats__avg_ms"], in["stats__errors"] = in["avg_ms"], in["errors"]
				latency(b, func() error {
					_, err := tc.eng.Transform(context.Background(), odfv, tc.c.outputs, in, 1, false)
					return err
				})
			})
		}
		url := StartFeastServe(b, repo)
		entities := `"entities": {"pipeline_id": [1], "times": [[100.0, 120.5, 98.0]], "errs": [[0, 2, 1]]}`
		for _, tc := range []struct{ name, features string }{
			{"feast-serve-plain-features", `["stats:avg_ms", "stats:errors"]`},
			{"feast-serve-python-odfv", `["stats:avg_ms", "stats:errors", "bench_python:recent_avg", "bench_python:max_err"]`},
			{"feast-serve-pandas-odfv", `["stats:avg_ms", "stats:errors", "bench_pandas:score"]`},
		} {
			b.Run(tc.name, func(b *testing.B) {
				body := []byte(`{"features": ` + tc.features + `, ` + entities + `}`)
				client := &http.Client{Timeout: 30 * time.Second}
				latency(b, func() error {
					resp, err := client.Post(url+"/get-online-features", "application/json", bytes.NewReader(body))
					if err != nil {
						return err
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						return &udfError{class: "HTTP", msg: resp.Status}
					}
					return nil
				})
			})
		}
	})
}

// latency runs fn b.N times and reports the p50 and p99 of one call.
func latency(b *testing.B, fn func() error) {
	b.Helper()
	if err := fn(); err != nil { // warm-up: compile, connect
		b.Fatal(err)
	}
	times := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		if err := fn(); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(times)
	at := func(q float64) float64 {
		return float64(times[min(len(times)-1, int(q*float64(len(times))))].Nanoseconds()) / 1e3
	}
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
}

var udfDef = regexp.MustCompile(`(?ms)^@on_demand_feature_view\(.*?^\)\ndef (\w+)\(.*?(?:\n\n\n|\z)`)

// udfSources cuts features.py into the source of each decorated UDF, as
// Feast stores it in body_text.
func udfSources(src string) map[string]string {
	out := map[string]string{}
	for _, m := range udfDef.FindAllStringSubmatchIndex(src, -1) {
		out[src[m[2]:m[3]]] = src[m[0]:m[1]]
	}
	return out
}

func (c *diffCase) compileB(b *testing.B) *registry.ODFV {
	snap, err := registry.Compile(regOf(c), "p", false)
	if err != nil {
		b.Fatal(err)
	}
	o, _ := snap.ODFV("o")
	return o
}

func loadSnapshot(b testing.TB, repo string) *registry.Snapshot {
	ctx := context.Background()
	srcReg, err := registry.NewSource(ctx, filepath.Join(repo, "data", "registry.db"), repo)
	if err != nil {
		b.Fatal(err)
	}
	reg, err := registry.Open(ctx, srcReg, registry.Options{Project: "odfv_bench"})
	if err != nil {
		b.Fatal(err)
	}
	return reg.Current()
}
