package server

// Fuzz targets for every request decoder: the JSON bodies of every HTTP
// route and the gRPC requests. The property is the same everywhere: no
// panic, and whatever the input, an answer that is not an internal error
// (500 / gRPC Internal or Unknown). The stack is the golden SQLite repo
// (Feast's own registry and store) with native on-demand evaluation, so a
// 5xx can only be a defect of ours; the one 5xx allowed is 501, what this
// server answers for what it does not do (an ODFV outside the native
// subset with delegation off, offline pushes without an offline store).
//
// Run them with scripts/fuzz-short.sh; plain `go test` runs the seeds and
// the inputs once found (testdata/fuzz/<Target>/) as regression tests.

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/feastgo/feastgo/config"
	"github.com/feastgo/feastgo/ingest"
	"github.com/feastgo/feastgo/internal/feastjson"
	"github.com/feastgo/feastgo/internal/testrepo"
	"github.com/feastgo/feastgo/materialize"
	"github.com/feastgo/feastgo/offlinestore/catalog"
	"github.com/feastgo/feastgo/online"
	"github.com/feastgo/feastgo/onlinestore/sqlite"
	servingpb "github.com/feastgo/feastgo/protos/feast/serving"
	typespb "github.com/feastgo/feastgo/protos/feast/types"
	"github.com/feastgo/feastgo/registry"
	"github.com/feastgo/feastgo/transformations"
)

// discardLog keeps the many expected request errors out of the output.
var discardLog = slog.New(slog.DiscardHandler)

// fuzzServer is the stack every target runs against.
type fuzzServer struct {
	http    *HTTP
	handler http.Handler
	grpc    *GRPC
	write   *grpcFeatureServer
}

// newFuzzServer serves a private copy of the golden SQLite repo: reads,
// on-demand views (native), writes and materialization planning.
func newFuzzServer(tb testing.TB) *fuzzServer {
	tb.Helper()
	repo := testrepo.Copy(tb, filepath.Join("testdata", "golden", "sqlite", "repo"))
	cfg, err := config.Load(repo, "")
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	src, err := registry.NewSource(ctx, cfg.Registry.Path, cfg.RepoDir)
	if err != nil {
		tb.Fatal(err)
	}
	reg, err := registry.Open(ctx, src, registry.Options{Project: cfg.Project})
	if err != nil {
		tb.Fatal(err)
	}
	store, err := sqlite.Open(cfg.OnlineStore.SQLite.Path, cfg.Project)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = store.Close() })
	odfvs := transformations.New(transformations.Options{Execution: transformations.Native})
	kv := cfg.EntityKeySerializationVersion
	svc := &online.Service{Snapshot: reg.Current, Store: store, KeyVersion: kv, Transformer: odfvs}
	in := &ingest.Service{Snapshot: reg.Current, Store: store, KeyVersion: kv, Transformer: odfvs}
	eng := &materialize.Engine{Project: cfg.Project, Registry: reg.Source(), Store: store, Sources: catalog.Open(cfg), KeyVersion: kv}
	m := materialize.NewJobs(eng)
	tb.Cleanup(m.Close)
	h := &HTTP{Online: svc, Registry: reg, Ingest: in, Materialize: m, Log: discardLog}
	g := &GRPC{Online: svc, Ingest: in}
	return &fuzzServer{http: h, handler: h.Handler(), grpc: g, write: &grpcFeatureServer{g: g}}
}

// checkHTTP fails on an answer that is an internal error.
func checkHTTP(t *testing.T, code int, answer []byte, input ...any) {
	t.Helper()
	if code >= 500 && code != http.StatusNotImplemented {
		t.Fatalf("status %d for %q: %s", code, input, answer)
	}
}

// checkGRPC fails on an error that is an internal one.
func checkGRPC(t *testing.T, err error, in proto.Message) {
	t.Helper()
	switch status.Code(err) {
	case codes.Internal, codes.Unknown, codes.DataLoss:
		t.Fatalf("%v for %v", err, in)
	}
}

func serve(h http.Handler, method, target, contentType string, body []byte) (int, []byte) {
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

var onlineSeeds = []string{
	`{"features": ["pipeline_stats:avg_execution_time", "pipeline_stats:error_count"], "entities": {"pipeline_id": [1, 2, 999]}}`,
	`{"feature_service": "pipeline_overview", "entities": {"pipeline_id": [1]}, "full_feature_names": true}`,
	`{"features": ["pipeline_realtime_metrics:recent_avg_execution_time", "pipeline_realtime_metrics:max_recent_error_count"], "entities": {"pipeline_id": [1, 2], "execution_times": [[10.0, 20.0], []], "error_counts": [[1, 5], []]}}`,
	`{"features": ["pipeline_risk:risk_score"], "entities": {"pipeline_id": [1], "queue_depth": [3]}}`,
	`{"features": ["runner_stats:queue_wait_ms"], "entities": {"pipeline_id": [1], "runner_id": ["r1"]}}`,
	`{"features": ["pipeline_stats:error_count"], "entities": {"pipeline_id": ["abc"]}}`,
	`{"features": ["pipeline_stats:error_count"], "entities": {"pipeline_id": [99999999999999999999]}}`,
	`{"features": ["pipeline_stats:error_count"], "entities": {"pipeline_id": [[1], {"a": 1}, null, NaN, -Infinity, 1e400]}}`,
	`{"features": ["pipeline_stats:error_count"], "entities": {}, "include_feature_view_version_metadata": "yes"}`,
	`{"features": ["pipeline_stats@v2:error_count", "nope"], "entities": {"pipeline_id": [1]}}`,
	`{"entities": 5}`, `[]`, `{`, ``, `{"features": "x"}`, `{"features": ["a\u00e9\ud800"], "entities": {"\"": [true]}}`,
}

func FuzzGetOnlineFeatures(f *testing.F) {
	for _, s := range onlineSeeds {
		f.Add([]byte(s))
	}
	s := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		code, answer := s.http.onlineFeatures(context.Background(), onlinePath, nil, body, "application/json", nil, nil)
		checkHTTP(t, code, answer, body)
	})
}

const fuzzPushBody = `{"push_source_name": "pipeline_stats_push", "df": {"pipeline_id": [7001], "event_timestamp": ["2025-01-02 00:00:00+00:00"],
 "created": ["2025-01-02 00:00:00"], "avg_execution_time": [1.5], "success_rate": [0.5], "error_count": [3],
 "failure_probability": [0.25], "avg_memory_usage": [2.5], "cpu_utilization": [0.75], "last_status": ["ok"], "is_active": [true]}}`

var writeSeeds = []string{
	fuzzPushBody,
	`{"push_source_name": "pipeline_stats_push", "to": "online_and_offline", "df": {"pipeline_id": [1]}}`,
	`{"push_source_name": "nope", "df": {"a": [1]}, "allow_registry_cache": false}`,
	`{"feature_view_name": "pipeline_stats", "df": {"pipeline_id": [7002], "event_timestamp": [1735776000], "error_count": ["3"]}}`,
	`{"feature_view_name": "team_stats", "df": {"team_id": ["t"], "event_timestamp": ["soon"]}, "transform_on_write": 0}`,
	`{"feature_view_name": "pipeline_history", "df": {"pipeline_id": [1], "event_timestamp": ["2025-01-02"], "recent_execution_times": [[1, "x"]]}}`,
	`{"feature_view_name": "pipeline_stats", "df": {"pipeline_id": [[1]], "x": [{"a": 1}]}}`,
	`{"df": {}}`, `{"push_source_name": 1}`, `null`,
}

func FuzzPush(f *testing.F) {
	for _, s := range writeSeeds {
		f.Add([]byte(s))
	}
	s := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		code, answer := serve(s.handler, http.MethodPost, "/push", "application/json", body)
		checkHTTP(t, code, answer, body)
	})
}

func FuzzWriteToOnlineStore(f *testing.F) {
	for _, s := range writeSeeds {
		f.Add([]byte(s))
	}
	s := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		code, answer := serve(s.handler, http.MethodPost, "/write-to-online-store", "application/json", body)
		checkHTTP(t, code, answer, body)
	})
}

var onDemandSeeds = []struct{ view, body string }{
	{"pipeline_risk", `{"request_data": {"queue_depth": [3]}, "entities": {"pipeline_id": [1]}, "features": {"pipeline_stats__error_count": [0]}, "full_feature_names": true}`},
	{"pipeline_realtime_metrics", `{"request_data": {"execution_times": [[10.0, 20.0], []], "error_counts": [[1, 5], []]}, "entities": {"pipeline_id": [1, 2]}}`},
	{"pipeline_realtime_metrics", `{"request_data": {"execution_times": [[]], "error_counts": [[3, 9, 2]]}, "features": {"avg_execution_time": [98.25], "success_rate": [0.5]}}`},
	{"pipeline_risk", `{"entities": 99999999999999999999}`},
	{"pipeline_risk", `{"full_feature_names": 99999999999999999999}`},
	{"pipeline_risk", `{"request_data": {"queue_depth": ["x"]}, "features": {"error_count": [[1]]}}`},
	{"nope", `{"request_data": {"x": [1]}}`},
	{"pipeline_stats", `{}`},
	{"pipeline_risk", `{"request": {}}`},
}

func FuzzOnDemand(f *testing.F) {
	for _, s := range onDemandSeeds {
		f.Add(s.view, []byte(s.body))
	}
	s := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, view string, body []byte) {
		// The view is a path segment: the router decides what reaches the
		// handler.
		code, answer := serve(s.handler, http.MethodPost, "/on-demand/"+url.PathEscape(view), "application/json", body)
		checkHTTP(t, code, answer, view, body)
	})
}

var materializeSeeds = []struct {
	body, query string
	incremental bool
}{
	{`{"start_ts": "2025-01-01", "end_ts": "2025-01-02", "feature_views": ["team_stats"]}`, "", false},
	{`{"end_ts": "2025-01-02T00:00:00Z", "feature_views": []}`, "async=true", true},
	{`{"disable_event_timestamp": true, "feature_views": ["pipeline_risk"]}`, "force=1", false},
	{`{"start_ts": "2025-01-02", "end_ts": "2025-01-01", "version": "v2"}`, "", false},
	{`{"start_ts": 5, "end_ts": "soon", "feature_views": ["a", 3]}`, "async=maybe", false},
	{`{"feature_views": "team_stats"}`, "", true},
	{`{`, "", false},
}

// FuzzMaterialize runs everything /materialize and /materialize-incremental
// do with a request before materializing: the body, the query flags and
// the plan (views, versions, timestamps). Running the plan is not a
// decoder's work (and would write the store on every valid input).
func FuzzMaterialize(f *testing.F) {
	for _, s := range materializeSeeds {
		f.Add([]byte(s.body), s.query, s.incremental)
	}
	s := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, body []byte, query string, incremental bool) {
		req, err := feastjson.ParseMaterializeRequest(body, incremental)
		if err != nil {
			_ = feastjson.AppendValidationError(nil, body, err) // always a 422
			return
		}
		r := httptest.NewRequest(http.MethodPost, "/materialize", nil)
		r.URL.RawQuery = query
		if _, err := queryBool(r, "async"); err != nil {
			return
		}
		_, _, err = s.http.Materialize.Plan(context.Background(), jobRequest(req, incremental))
		if err != nil {
			code, answer := appendError(nil, err)
			checkHTTP(t, code, answer, body, query, incremental)
		}
	})
}

// grpcSeeds are valid and bad GetOnlineFeaturesRequests.
func grpcSeeds() []*servingpb.GetOnlineFeaturesRequest {
	i64 := func(vs ...int64) *typespb.RepeatedValue {
		out := &typespb.RepeatedValue{}
		for _, v := range vs {
			out.Val = append(out.Val, &typespb.Value{Val: &typespb.Value_Int64Val{Int64Val: v}})
		}
		return out
	}
	one := func(v *typespb.Value) *typespb.RepeatedValue { return &typespb.RepeatedValue{Val: []*typespb.Value{v}} }
	feats := func(refs ...string) *servingpb.GetOnlineFeaturesRequest_Features {
		return &servingpb.GetOnlineFeaturesRequest_Features{Features: &servingpb.FeatureList{Val: refs}}
	}
	return []*servingpb.GetOnlineFeaturesRequest{
		{Kind: feats("pipeline_stats:avg_execution_time", "pipeline_stats:error_count"), Entities: map[string]*typespb.RepeatedValue{"pipeline_id": i64(1, 2, 999)}},
		{Kind: &servingpb.GetOnlineFeaturesRequest_FeatureService{FeatureService: "pipeline_overview"}, Entities: map[string]*typespb.RepeatedValue{"pipeline_id": i64(1)}, FullFeatureNames: true},
		{Kind: feats("pipeline_realtime_metrics:max_recent_error_count"), Entities: map[string]*typespb.RepeatedValue{"pipeline_id": i64(1)},
			RequestContext: map[string]*typespb.RepeatedValue{
				"execution_times": one(&typespb.Value{Val: &typespb.Value_DoubleListVal{DoubleListVal: &typespb.DoubleList{Val: []float64{1, 2}}}}),
				"error_counts":    one(&typespb.Value{Val: &typespb.Value_Int64ListVal{Int64ListVal: &typespb.Int64List{Val: []int64{3}}}}),
			}},
		{Kind: feats("pipeline_risk:risk_score"), Entities: map[string]*typespb.RepeatedValue{"pipeline_id": i64(1), "queue_depth": i64(4)}},
		{Kind: feats("pipeline_stats:error_count"), Entities: map[string]*typespb.RepeatedValue{"pipeline_id": one(&typespb.Value{Val: &typespb.Value_BytesListVal{BytesListVal: &typespb.BytesList{Val: [][]byte{{1}}}}})}},
		{Kind: feats("pipeline_stats:error_count"), Entities: map[string]*typespb.RepeatedValue{"pipeline_id": one(&typespb.Value{Val: &typespb.Value_FloatVal{FloatVal: 1}}), "x": nil}},
		{Kind: feats("runner_stats:queue_wait_ms"), Entities: map[string]*typespb.RepeatedValue{"pipeline_id": i64(1), "runner_id": one(&typespb.Value{Val: &typespb.Value_StringVal{StringVal: "r1"}})}},
		{Kind: feats("nope:x", "pipeline_stats")},
		{},
	}
}

func FuzzGRPCGetOnlineFeatures(f *testing.F) {
	for _, m := range grpcSeeds() {
		b, _ := proto.Marshal(m)
		f.Add(b)
	}
	s := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		in := &servingpb.GetOnlineFeaturesRequest{}
		if proto.Unmarshal(b, in) != nil {
			return // grpc's own decoding, before our handler
		}
		_, err := s.grpc.GetOnlineFeatures(context.Background(), in)
		checkGRPC(t, err, in)
		_, err = s.write.GetOnlineFeatures(context.Background(), in)
		checkGRPC(t, err, in)
	})
}

// grpcWriteSeeds are valid and bad rows for Push and WriteToOnlineStore.
func grpcWriteSeeds() []*servingpb.WriteToOnlineStoreRequest {
	sv := func(s string) *typespb.Value { return &typespb.Value{Val: &typespb.Value_StringVal{StringVal: s}} }
	return []*servingpb.WriteToOnlineStoreRequest{
		{FeatureViewName: "pipeline_stats", Features: map[string]string{"pipeline_id": "7003", "event_timestamp": "2025-01-02 00:00:00+00:00", "error_count": "3", "last_status": "ok"}},
		{FeatureViewName: "pipeline_stats", TypedFeatures: map[string]*typespb.Value{
			"pipeline_id": {Val: &typespb.Value_Int64Val{Int64Val: 7004}}, "event_timestamp": {Val: &typespb.Value_UnixTimestampVal{UnixTimestampVal: 1735776000}},
			"cpu_utilization": {Val: &typespb.Value_DoubleVal{DoubleVal: 0.5}}, "is_active": {Val: &typespb.Value_BoolVal{BoolVal: true}},
		}, AllowRegistryCache: true},
		{FeatureViewName: "pipeline_history", TypedFeatures: map[string]*typespb.Value{
			"pipeline_id": sv("x"), "event_timestamp": sv("2025-01-02"),
			"recent_execution_times": {Val: &typespb.Value_Int32ListVal{Int32ListVal: &typespb.Int32List{Val: []int32{1}}}},
		}},
		{FeatureViewName: "team_stats", Features: map[string]string{"team_id": "t"}, TypedFeatures: map[string]*typespb.Value{"x": sv("y")}},
		{FeatureViewName: "nope", Features: map[string]string{"a": "b"}},
		{},
	}
}

func FuzzGRPCWrite(f *testing.F) {
	for _, m := range grpcWriteSeeds() {
		b, _ := proto.Marshal(m)
		f.Add(b, false)
		// PushRequest shares fields 1-3 (features, the name, the cache
		// flag): the same bytes are mostly a push to a source of that name.
		f.Add(b, true)
	}
	push, _ := proto.Marshal(&servingpb.PushRequest{StreamFeatureView: "pipeline_stats_push", To: "online",
		Features: map[string]string{"pipeline_id": "7005", "event_timestamp": "2025-01-02 00:00:00+00:00", "error_count": "x"}})
	f.Add(push, true)
	s := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, b []byte, isPush bool) {
		if isPush {
			in := &servingpb.PushRequest{}
			if proto.Unmarshal(b, in) != nil {
				return
			}
			_, err := s.write.Push(context.Background(), in)
			checkGRPC(t, err, in)
			return
		}
		in := &servingpb.WriteToOnlineStoreRequest{}
		if proto.Unmarshal(b, in) != nil {
			return
		}
		_, err := s.write.WriteToOnlineStore(context.Background(), in)
		checkGRPC(t, err, in)
	})
}
