package transformations_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/feastgo/feastgo/config"
	"github.com/feastgo/feastgo/internal/testrepo"
	"github.com/feastgo/feastgo/online"
	"github.com/feastgo/feastgo/onlinestore/sqlite"
	servingpb "github.com/feastgo/feastgo/protos/feast/serving"
	typespb "github.com/feastgo/feastgo/protos/feast/types"
	"github.com/feastgo/feastgo/registry"
	"github.com/feastgo/feastgo/server"
	"github.com/feastgo/feastgo/transformations"
)

var _ online.Transformer = (*transformations.Engine)(nil)

// goldenRepo is the repo state real Feast 0.67.0 produced for the sqlite
// conformance variant, with Feast's recorded answers beside it.
var goldenRepo = filepath.Join("..", "server", "testdata", "golden", "sqlite", "repo")

// openGoldenRepo loads the golden repo's configuration and registry and
// opens its SQLite online store (closed when the test ends).
func openGoldenRepo(t *testing.T) (*config.RepoConfig, *registry.Registry, *sqlite.Store) {
	t.Helper()
	cfg, err := config.Load(testrepo.Copy(t, goldenRepo), "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	src, err := registry.NewSource(ctx, cfg.Registry.Path, cfg.RepoDir)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Open(ctx, src, registry.Options{Project: cfg.Project})
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(cfg.OnlineStore.SQLite.Path, cfg.Project)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return cfg, reg, store
}

func newGoldenServer(t *testing.T, exec transformations.Execution, endpoint string) (http.Handler, *registry.Registry) {
	t.Helper()
	cfg, reg, store := openGoldenRepo(t)
	eng := transformations.New(transformations.Options{Execution: exec, Endpoint: endpoint, Project: cfg.Project})
	t.Cleanup(func() { eng.Close() })
	svc := &online.Service{Snapshot: reg.Current, Store: store, KeyVersion: cfg.EntityKeySerializationVersion, Transformer: eng}
	return (&server.HTTP{Online: svc, Registry: reg}).Handler(), reg
}

// TestGoldenODFVNative replays the conformance suite's ODFV requests on the
// native paths only (no Python anywhere) and compares the answers with
// Feast's recorded ones.
func TestGoldenODFVNative(t *testing.T) {
	h, _ := newGoldenServer(t, transformations.Native, "")
	replayGoldenODFV(t, h, nil)
}

// TestGoldenODFVWorker sends every ODFV to the Python worker.
func TestGoldenODFVWorker(t *testing.T) {
	addr := transformations.StartWorker(t, transformations.CopyRepo(t, goldenRepo))
	h, _ := newGoldenServer(t, transformations.Delegate, addr)
	replayGoldenODFV(t, h, nil)
}

// TestGoldenODFVFeastService sends every ODFV to Feast's own
// `feast serve_transformations`, which runs pandas mode only: the
// python-mode ODFV must fail with 501 and a message naming the worker.
func TestGoldenODFVFeastService(t *testing.T) {
	addr := transformations.StartFeastTransformations(t, transformations.CopyRepo(t, goldenRepo))
	h, _ := newGoldenServer(t, transformations.Delegate, addr)
	replayGoldenODFV(t, h, func(name string, req []byte) int {
		if strings.Contains(string(req), "pipeline_realtime_metrics") {
			return http.StatusNotImplemented
		}
		return 0
	})
}

// replayGoldenODFV replays every golden odfv_* case; expect, when set, may
// override the expected status of a case.
func replayGoldenODFV(t *testing.T, h http.Handler, expect func(name string, req []byte) int) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(goldenRepo, "..", "odfv_*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden ODFV answers found: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			var g struct {
				Request json.RawMessage `json:"request"`
				Status  int             `json:"status"`
				Body    json.RawMessage `json:"body"`
			}
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &g); err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodPost, "/get-online-features", bytes.NewReader(g.Request))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if expect != nil && g.Status == 200 {
				if st := expect(name, g.Request); st != 0 {
					if rec.Code != st {
						t.Fatalf("status %d, want %d: %s", rec.Code, st, rec.Body)
					}
					return
				}
			}
			if g.Status != 200 {
				if rec.Code < 400 || rec.Code >= 500 {
					t.Fatalf("Feast answers %d; we must answer 4xx, got %d %s", g.Status, rec.Code, rec.Body)
				}
				return
			}
			if rec.Code != 200 {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			if diff := diffOnline(g.Body, rec.Body.Bytes()); diff != "" {
				t.Fatalf("%s\n got %s\nwant %s", diff, rec.Body, g.Body)
			}
		})
	}
}

// TestGRPCRequestContext: on gRPC, request data for an ODFV may come in
// request_context instead of entities.
func TestGRPCRequestContext(t *testing.T) {
	cfg, reg, store := openGoldenRepo(t)
	svc := &online.Service{Snapshot: reg.Current, Store: store, KeyVersion: cfg.EntityKeySerializationVersion,
		Transformer: transformations.New(transformations.Options{Execution: transformations.Native})}
	ints := func(vs ...int64) *typespb.RepeatedValue {
		r := &typespb.RepeatedValue{}
		for _, v := range vs {
			r.Val = append(r.Val, &typespb.Value{Val: &typespb.Value_Int64Val{Int64Val: v}})
		}
		return r
	}
	resp, err := (&server.GRPC{Online: svc}).GetOnlineFeatures(context.Background(), &servingpb.GetOnlineFeaturesRequest{
		Kind:           &servingpb.GetOnlineFeaturesRequest_Features{Features: &servingpb.FeatureList{Val: []string{"pipeline_risk:risk_score"}}},
		Entities:       map[string]*typespb.RepeatedValue{"pipeline_id": ints(1, 2)},
		RequestContext: map[string]*typespb.RepeatedValue{"queue_depth": ints(3, 0)},
	})
	if err != nil {
		t.Fatal(err)
	}
	names := resp.GetMetadata().GetFeatureNames().GetVal()
	if len(names) != 2 || names[1] != "risk_score" {
		t.Fatalf("feature names %v", names)
	}
	// Feast's answer for the same request (golden odfv_pandas).
	want := []float64{0.48056941947516274, 0.3409342876502445}
	for i, v := range resp.GetResults()[1].GetValues() {
		if v.GetDoubleVal() != want[i] {
			t.Errorf("row %d: %v, want %v", i, v, want[i])
		}
	}
}
