package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/feastgo/feastgo/ingest"
	"github.com/feastgo/feastgo/online"
	"github.com/feastgo/feastgo/onlinestore/sqlite"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
	servingpb "github.com/feastgo/feastgo/protos/feast/serving"
	typespb "github.com/feastgo/feastgo/protos/feast/types"
	"github.com/feastgo/feastgo/registry"
)

// writeStack serves the demo registry over an empty SQLite store.
func writeStack(t *testing.T) (*HTTP, *GRPC) {
	t.Helper()
	ctx := context.Background()
	reg, err := registry.Open(ctx, &registry.FileSource{Path: "../feature_repo/data/registry.db"}, registry.Options{Project: "pipeline_monitoring"})
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(filepath.Join(t.TempDir(), "online.db"), "pipeline_monitoring")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	svc := &online.Service{Snapshot: reg.Current, Store: store, KeyVersion: 3}
	in := &ingest.Service{Snapshot: reg.Current, Store: store, KeyVersion: 3}
	return &HTTP{Online: svc, Registry: reg, Ingest: in}, &GRPC{Online: svc, Ingest: in}
}

func post(t *testing.T, h http.Handler, path, body string) (int, string, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, rec.Header().Get("Content-Type"), string(b)
}

const pushBody = `{"push_source_name": "pipeline_stats_push", "df": {"pipeline_id": [7001], "event_timestamp": ["2025-01-02 00:00:00+00:00"],
 "created": ["2025-01-02 00:00:00"], "avg_execution_time": [1.5], "success_rate": [0.5], "error_count": [3],
 "failure_probability": [0.25], "avg_memory_usage": [2.5], "cpu_utilization": [0.75], "last_status": ["ok"], "is_active": [true]}}`

func TestPushAndWriteAnswerLikeFeast(t *testing.T) {
	hs, _ := writeStack(t)
	h := hs.Handler()
	read := func() string {
		_, _, b := post(t, h, "/get-online-features", `{"features": ["pipeline_stats:error_count", "pipeline_stats:last_status"], "entities": {"pipeline_id": [7001]}}`)
		return b
	}
	cases := []struct {
		name, path, body string
		status           int
		contentType      string
		bodyHas          string
	}{
		{"unknown push source", "/push", `{"push_source_name": "nope", "df": {"a": [1]}}`, 422, "application/json", `PushSourceNotFoundException`},
		{"unknown view", "/write-to-online-store", `{"feature_view_name": "nope", "df": {"a": [1]}}`, 404, "application/json", `Can't recognize feast object with a name nope`},
		{"bad to", "/push", strings.Replace(pushBody, `"df"`, `"to": "elsewhere", "df"`, 1), 400, "application/json", `elsewhere is not a supported push format`},
		{"missing df", "/push", `{"push_source_name": "pipeline_stats_push"}`, 422, "application/json", `"loc":["body","df"]`},
		{"df not an object", "/push", `{"push_source_name": "pipeline_stats_push", "df": [1]}`, 422, "application/json", `dict_type`},
		{"wrong column type", "/push", strings.Replace(pushBody, `"error_count": [3]`, `"error_count": ["many"]`, 1), 400, "application/json", `df.error_count[0]`},
		{"missing timestamp", "/push", strings.Replace(pushBody, `"event_timestamp"`, `"when"`, 1), 400, "application/json", `column event_timestamp is missing`},
		{"empty frame", "/push", `{"push_source_name": "pipeline_stats_push", "df": {}}`, 400, "application/json", `no columns`},
		{"scalar column", "/push", `{"push_source_name": "pipeline_stats_push", "df": {"pipeline_id": 1}}`, 400, "application/json", `must be a list`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, ct, body := post(t, h, c.path, c.body)
			if code != c.status || ct != c.contentType || !strings.Contains(body, c.bodyHas) {
				t.Fatalf("got %d %q %s; want %d %q containing %s", code, ct, body, c.status, c.contentType, c.bodyHas)
			}
			if r := read(); !strings.Contains(r, `"NOT_FOUND"`) {
				t.Fatalf("a refused write left data: %s", r)
			}
		})
	}
	code, ct, body := post(t, h, "/push", pushBody)
	if code != 200 || ct != "" || body != "" {
		t.Fatalf("push: %d %q %q, want 200 with no body", code, ct, body)
	}
	if r := read(); !strings.Contains(r, `"values":[3]`) || !strings.Contains(r, `"values":["ok"]`) {
		t.Fatalf("pushed values not read back: %s", r)
	}
	code, ct, body = post(t, h, "/write-to-online-store", `{"feature_view_name": "pipeline_stats", "df": {"pipeline_id": [7001],
		"event_timestamp": ["2025-01-03"], "created": [null], "avg_execution_time": [1], "success_rate": [1], "error_count": [9],
		"failure_probability": [0], "avg_memory_usage": [0], "cpu_utilization": [0], "last_status": ["late"], "is_active": [false]}}`)
	if code != 200 || ct != "application/json" || body != "null" {
		t.Fatalf("write-to-online-store: %d %q %q, want 200 null", code, ct, body)
	}
	if r := read(); !strings.Contains(r, `"values":[9]`) {
		t.Fatalf("written values not read back: %s", r)
	}
}

func TestGrpcFeatureServer(t *testing.T) {
	_, g := writeStack(t)
	f := &grpcFeatureServer{g: g}
	ctx := context.Background()
	_, err := f.Push(ctx, &servingpb.PushRequest{StreamFeatureView: "pipeline_stats_push", To: "online", Features: map[string]string{
		"pipeline_id": "8001", "event_timestamp": "2025-01-02 00:00:00", "created": "2025-01-02 00:00:00",
		"avg_execution_time": "1.5", "success_rate": "0.5", "error_count": "3", "failure_probability": "0.25",
		"avg_memory_usage": "2.5", "cpu_utilization": "0.75", "last_status": "ok", "is_active": "true"}})
	if err != nil {
		t.Fatalf("push of string features: %v", err)
	}
	_, err = f.WriteToOnlineStore(ctx, &servingpb.WriteToOnlineStoreRequest{FeatureViewName: "team_stats", TypedFeatures: map[string]*typespb.Value{
		"team_id":            {Val: &typespb.Value_StringVal{StringVal: "t9"}},
		"event_timestamp":    {Val: &typespb.Value_UnixTimestampVal{UnixTimestampVal: 1735776000}},
		"team_size":          {Val: &typespb.Value_Int64Val{Int64Val: 12}},
		"budget_utilization": {Val: &typespb.Value_DoubleVal{DoubleVal: 0.5}},
		"on_call":            {},
	}})
	if err != nil {
		t.Fatalf("write of typed features: %v", err)
	}
	resp, err := f.GetOnlineFeatures(ctx, &servingpb.GetOnlineFeaturesRequest{
		Kind:     &servingpb.GetOnlineFeaturesRequest_Features{Features: &servingpb.FeatureList{Val: []string{"pipeline_stats:error_count", "team_stats:team_size"}}},
		Entities: map[string]*typespb.RepeatedValue{"pipeline_id": {Val: []*typespb.Value{{Val: &typespb.Value_Int64Val{Int64Val: 8001}}}}, "team_id": {Val: []*typespb.Value{{Val: &typespb.Value_StringVal{StringVal: "t9"}}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, r := range resp.GetResults()[2:] {
		got = append(got, r.GetValues()[0].GetInt64Val())
		if ts := r.GetEventTimestamps()[0].GetSeconds(); ts != 1735776000 {
			t.Errorf("event time %d, want 1735776000", ts)
		}
	}
	if len(got) != 2 || got[0] != 3 || got[1] != 12 {
		t.Fatalf("read back %v, want [3 12]", got)
	}
	for name, call := range map[string]func() error{
		"both maps": func() error {
			_, err := f.Push(ctx, &servingpb.PushRequest{StreamFeatureView: "pipeline_stats_push", Features: map[string]string{"a": "1"},
				TypedFeatures: map[string]*typespb.Value{"b": {}}})
			return err
		},
		"unknown source": func() error {
			_, err := f.Push(ctx, &servingpb.PushRequest{StreamFeatureView: "nope", Features: map[string]string{"a": "1"}})
			return err
		},
		"bad value": func() error {
			_, err := f.WriteToOnlineStore(ctx, &servingpb.WriteToOnlineStoreRequest{FeatureViewName: "team_stats", Features: map[string]string{
				"team_id": "t1", "event_timestamp": "2025-01-01", "team_size": "big", "budget_utilization": "0.5", "on_call": "x"}})
			return err
		},
	} {
		if status.Code(call()) != codes.InvalidArgument {
			t.Errorf("%s: %v, want INVALID_ARGUMENT", name, call())
		}
	}
	if _, err := f.WriteToOnlineStore(ctx, &servingpb.WriteToOnlineStoreRequest{FeatureViewName: "nope", Features: map[string]string{"a": "1"}}); status.Code(err) != codes.NotFound {
		t.Errorf("unknown view: %v, want NOT_FOUND", err)
	}
}

// A view applied after the server loaded the registry is written with
// allow_registry_cache false (Feast refreshes first, and so do we), and is
// unknown with the cache allowed (explicitly or by default), until a
// refresh; gRPC's proto3 default is false.
func TestWriteWithoutRegistryCacheRefreshesFirst(t *testing.T) {
	full, err := os.ReadFile("../feature_repo/data/registry.db")
	if err != nil {
		t.Fatal(err)
	}
	reg := &corepb.Registry{}
	if err := proto.Unmarshal(full, reg); err != nil {
		t.Fatal(err)
	}
	var kept []*corepb.FeatureView
	for _, fv := range reg.GetFeatureViews() {
		if fv.GetSpec().GetName() != "pipeline_stats" {
			kept = append(kept, fv)
		}
	}
	reg.FeatureViews = kept
	without, err := proto.Marshal(reg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "registry.db")
	if err := os.WriteFile(path, without, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r, err := registry.Open(ctx, &registry.FileSource{Path: path}, registry.Options{Project: "pipeline_monitoring"})
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(filepath.Join(t.TempDir(), "online.db"), "pipeline_monitoring")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	svc := &online.Service{Snapshot: r.Current, Store: store, KeyVersion: 3}
	in := &ingest.Service{Snapshot: r.Current, Store: store, KeyVersion: 3, Refresh: r.Refresh}
	h := (&HTTP{Online: svc, Registry: r, Ingest: in}).Handler()

	// "feast apply" of pipeline_stats after the start.
	if err := os.WriteFile(path+".tmp", full, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
	write := `{"feature_view_name": "pipeline_stats", "df": {"pipeline_id": [7002],
		"event_timestamp": ["2025-01-03"], "created": [null], "avg_execution_time": [1], "success_rate": [1], "error_count": [9],
		"failure_probability": [0], "avg_memory_usage": [0], "cpu_utilization": [0], "last_status": ["late"], "is_active": [false]}`
	for _, cache := range []string{"", `, "allow_registry_cache": true`} {
		if code, _, body := post(t, h, "/write-to-online-store", write+cache+"}"); code != 404 {
			t.Fatalf("cache allowed (%q): %d %s, want the cached registry's 404", cache, code, body)
		}
		if code, _, body := post(t, h, "/push", strings.Replace(pushBody, `}}`, `}`+cache+`}`, 1)); code != 422 {
			t.Fatalf("push, cache allowed (%q): %d %s, want the cached registry's 422", cache, code, body)
		}
	}
	if code, _, body := post(t, h, "/write-to-online-store", write+`, "allow_registry_cache": false}`); code != 200 {
		t.Fatalf("write with allow_registry_cache false: %d %s, want 200", code, body)
	}
	_, _, got := post(t, h, "/get-online-features", `{"features": ["pipeline_stats:error_count"], "entities": {"pipeline_id": [7002]}}`)
	if !strings.Contains(got, `"values":[9]`) {
		t.Fatalf("the written row is not readable: %s", got)
	}

	// Push and gRPC, from a registry without the view again.
	if err := os.WriteFile(path, without, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, full, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, body := post(t, h, "/push", strings.Replace(pushBody, `}}`, `}, "allow_registry_cache": false}`, 1)); code != 200 {
		t.Fatalf("push with allow_registry_cache false: %d %s, want 200", code, body)
	}
	if err := os.WriteFile(path, without, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, full, 0o644); err != nil {
		t.Fatal(err)
	}
	f := &grpcFeatureServer{g: &GRPC{Online: svc, Ingest: in}}
	row := map[string]string{"pipeline_id": "8002", "event_timestamp": "2025-01-02 00:00:00", "created": "2025-01-02 00:00:00",
		"avg_execution_time": "1.5", "success_rate": "0.5", "error_count": "3", "failure_probability": "0.25",
		"avg_memory_usage": "2.5", "cpu_utilization": "0.75", "last_status": "ok", "is_active": "true"}
	if _, err := f.WriteToOnlineStore(ctx, &servingpb.WriteToOnlineStoreRequest{FeatureViewName: "pipeline_stats", Features: row, AllowRegistryCache: true}); status.Code(err) != codes.NotFound {
		t.Fatalf("gRPC write with the cache allowed: %v, want NOT_FOUND", err)
	}
	if _, err := f.WriteToOnlineStore(ctx, &servingpb.WriteToOnlineStoreRequest{FeatureViewName: "pipeline_stats", Features: row}); err != nil {
		t.Fatalf("gRPC write with allow_registry_cache unset (false): %v", err)
	}
}

// A write that asks for a fresh registry fails (503) when the registry
// cannot be fetched, rather than writing against a stale one.
func TestWriteWithoutRegistryCacheFailsOnUnreadableRegistry(t *testing.T) {
	hs, _ := writeStack(t)
	hs.Ingest.Refresh = func(context.Context) error { return errors.New("registry gone") }
	code, _, body := post(t, hs.Handler(), "/push", strings.Replace(pushBody, `}}`, `}, "allow_registry_cache": false}`, 1))
	if code != 503 || !strings.Contains(body, "could not be refreshed") {
		t.Fatalf("got %d %s, want 503 naming the failed refresh", code, body)
	}
}

// A raw HTTP client's objects reach the write path: a column mixing an
// object and a number is refused with a 400 naming it, as Arrow fails for
// Feast, and nothing is written.
func TestWriteObjectColumnRefusedNamingIt(t *testing.T) {
	hs, _ := writeStack(t)
	body := strings.Replace(pushBody, `"last_status": ["ok"]`, `"last_status": [{"a": 1}]`, 1)
	body = strings.Replace(body, `"pipeline_id": [7001]`, `"pipeline_id": [7001, 7002]`, 1)
	for _, k := range []string{"event_timestamp", "created", "avg_execution_time", "success_rate", "error_count",
		"failure_probability", "avg_memory_usage", "cpu_utilization", "is_active"} {
		i := strings.Index(body, `"`+k+`": [`) + len(k) + 5
		j := i + strings.IndexByte(body[i:], ']')
		body = body[:j] + ", " + body[i:j] + body[j:]
	}
	body = strings.Replace(body, `"last_status": [{"a": 1}]`, `"last_status": [{"a": 1}, 5]`, 1)
	code, _, out := post(t, hs.Handler(), "/push", body)
	if code != 400 || !strings.Contains(out, "df.last_status[1]") {
		t.Fatalf("%d %s, want 400 naming df.last_status[1]", code, out)
	}
}

// gRPC typed features take Feast's parse_typed: JSON, UUID and decimal
// values are strings, their lists and the sets lists (Feast writes them);
// map, struct and nested-list messages are refused naming the feature
// (Arrow cannot convert them for Feast).
func TestGrpcTypedFeaturesLikeParseTyped(t *testing.T) {
	f, err := rowFrame(nil, map[string]*typespb.Value{
		"j":  {Val: &typespb.Value_JsonVal{JsonVal: `{"a": 1}`}},
		"u":  {Val: &typespb.Value_UuidVal{UuidVal: "6f0c3c3e-4d1c-4b5e-9a0a-3f6f4a1b2c3d"}},
		"jl": {Val: &typespb.Value_JsonListVal{JsonListVal: &typespb.StringList{Val: []string{"[1]"}}}},
		"s":  {Val: &typespb.Value_Int64SetVal{Int64SetVal: &typespb.Int64Set{Val: []int64{3, 1}}}},
		"t":  {Val: &typespb.Value_UnixTimestampListVal{UnixTimestampListVal: &typespb.Int64List{Val: []int64{7}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range f.Columns {
		got[c.Name] = fmt.Sprintf("%s %v", c.Values[0].Type, c.Values[0].S)
		if c.Values[0].Type.IsList() {
			got[c.Name] = fmt.Sprintf("%s %d", c.Values[0].Type, len(c.Values[0].List))
		}
	}
	want := map[string]string{"j": `STRING {"a": 1}`, "u": "STRING 6f0c3c3e-4d1c-4b5e-9a0a-3f6f4a1b2c3d",
		"jl": "STRING_LIST 1", "s": "INT64_LIST 2", "t": "INT64_LIST 1"}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %q, want %q", k, got[k], w)
		}
	}
	_, err = rowFrame(nil, map[string]*typespb.Value{"m": {Val: &typespb.Value_MapVal{MapVal: &typespb.Map{}}}})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "typed_features.m") || !strings.Contains(err.Error(), "map_val") {
		t.Fatalf("map_val: %v, want InvalidArgument naming typed_features.m", err)
	}
}
