package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/feastgo/feastgo/historical"
	"github.com/feastgo/feastgo/offlinestore/catalog"
	"github.com/feastgo/feastgo/offlinestore/parquet"
	"github.com/feastgo/feastgo/registry"
	"github.com/feastgo/feastgo/server"
	"github.com/feastgo/feastgo/transformations"
)

// historicalServer serves the historical goldens' repo (Feast's answers
// there are checked by historical's TestGoldens; these tests check the
// transport).
func historicalServer(t *testing.T) http.Handler {
	t.Helper()
	repo, _ := filepath.Abs("../offlinestore/testdata/historical/repo")
	reg, err := registry.Open(context.Background(), &registry.FileSource{Path: filepath.Join(repo, "data", "registry.db")},
		registry.Options{Project: "historical_conformance"})
	if err != nil {
		t.Fatal(err)
	}
	h := &server.HTTP{Registry: reg, Historical: &historical.Retriever{
		Catalog:     catalog.New(parquet.NewEngine(repo)),
		Transformer: transformations.New(transformations.Options{Execution: transformations.Native}),
	}}
	return h.Handler()
}

const historicalBody = `{"features": ["driver_stats:conv_rate", "driver_stats:trips", "driver_stats:label"],
 "entities": {"driver_id": [1001, 1002, 9999],
              "event_timestamp": ["2025-03-02T00:00:00Z", "2025-03-02T12:00:00+00:00", "2025-03-02T00:00:00Z"],
              "y": [1.5, null, 3]}}`

func postHistorical(t *testing.T, h http.Handler, body, accept string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/get-historical-features", strings.NewReader(body))
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestHistoricalJSON: the training set comes back column-oriented, the
// frame's columns first (the label untouched, the time in UTC), then the
// features, a row with no match NOT_FOUND.
func TestHistoricalJSON(t *testing.T) {
	rec := postHistorical(t, historicalServer(t), historicalBody, "")
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("not JSON: %s", rec.Body)
	}
	var got struct {
		Metadata struct {
			FeatureNames []string `json:"feature_names"`
		} `json:"metadata"`
		Results []struct {
			Values   []any    `json:"values"`
			Statuses []string `json:"statuses"`
		} `json:"results"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := []string{"driver_id", "event_timestamp", "y", "conv_rate", "trips", "label"}
	if strings.Join(got.Metadata.FeatureNames, ",") != strings.Join(want, ",") {
		t.Fatalf("columns %v, want %v", got.Metadata.FeatureNames, want)
	}
	col := func(name string) []any {
		for i, n := range got.Metadata.FeatureNames {
			if n == name {
				return got.Results[i].Values
			}
		}
		return nil
	}
	// Feast (duckdb store, golden all_views): driver 1001 at 03-02 has
	// conv_rate 0.21 (the later created of a tie), 1002 at 03-02T12 0.7.
	if c := col("conv_rate"); c[0] != 0.21 || c[1] != 0.7 || c[2] != nil {
		t.Errorf("conv_rate %v", c)
	}
	if ts := col("event_timestamp"); ts[1] != "2025-03-02T12:00:00Z" {
		t.Errorf("event_timestamp %v", ts)
	}
	if y := col("y"); y[0] != 1.5 || y[1] != nil || y[2] != 3.0 {
		t.Errorf("label column y %v", y)
	}
	if s := got.Results[3].Statuses; s[0] != "PRESENT" || s[2] != "NOT_FOUND" {
		t.Errorf("statuses %v", s)
	}
}

// TestHistoricalArrow: with Accept: application/vnd.apache.arrow.stream
// the same rows come back as an Arrow IPC stream.
func TestHistoricalArrow(t *testing.T) {
	rec := postHistorical(t, historicalServer(t), historicalBody, "application/vnd.apache.arrow.stream")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/vnd.apache.arrow.stream" {
		t.Fatalf("%d %q %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	r, err := ipc.NewReader(bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	rows := 0
	for r.Next() {
		b := r.RecordBatch()
		conv := b.Column(b.Schema().FieldIndices("conv_rate")[0]).(*array.Float64)
		for i := 0; i < conv.Len(); i++ {
			want := []float64{0.21, 0.7}
			if rows+i < 2 && conv.Value(i) != want[rows+i] || rows+i == 2 && !conv.IsNull(i) {
				t.Errorf("row %d conv_rate %v", rows+i, conv.ValueStr(i))
			}
		}
		rows += int(b.NumRows())
	}
	if r.Err() != nil || rows != 3 {
		t.Fatalf("%d rows, %v", rows, r.Err())
	}
}

// TestHistoricalRange: start_date/end_date instead of entities is Feast's
// range mode; over parquet the file store's answer (golden
// range_ttl_view): one row per driver as of end_date.
func TestHistoricalRange(t *testing.T) {
	rec := postHistorical(t, historicalServer(t), `{"features": ["driver_stats:conv_rate", "driver_stats:trips"],
		"start_date": "2025-03-01T00:00:00Z", "end_date": "2025-03-03T00:00:00+00:00"}`, "")
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	var got struct {
		Metadata struct {
			FeatureNames []string `json:"feature_names"`
		} `json:"metadata"`
		Results []struct {
			Values []any `json:"values"`
		} `json:"results"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if want := "event_timestamp,driver_id,conv_rate,trips"; strings.Join(got.Metadata.FeatureNames, ",") != want {
		t.Fatalf("columns %v, want %s", got.Metadata.FeatureNames, want)
	}
	conv := map[float64]any{}
	for i, id := range got.Results[1].Values {
		conv[id.(float64)] = got.Results[2].Values[i]
		if ts := got.Results[0].Values[i]; ts != "2025-03-03T00:00:00Z" {
			t.Errorf("row %d event_timestamp %v, want the end date", i, ts)
		}
	}
	if len(conv) != 3 || conv[1002] != 0.7 || conv[1003] != 0.9 {
		t.Errorf("conv_rate per driver %v", conv)
	}
}

// TestHistoricalBadInput: every mistake is a 4xx naming the field.
func TestHistoricalBadInput(t *testing.T) {
	h := historicalServer(t)
	for _, c := range []struct{ name, body, want string }{
		{"not json", `{`, "request body"},
		{"no features", `{"entities": {"driver_id": [1], "event_timestamp": ["2025-03-02T00:00:00Z"]}}`, "features"},
		{"no entities", `{"features": ["driver_stats:conv_rate"]}`, "entities"},
		{"unknown field", `{"features": ["driver_stats:conv_rate"], "entity": {}}`, "entity: unknown field"},
		{"no timestamp", `{"features": ["driver_stats:conv_rate"], "entities": {"driver_id": [1]}}`, "event_timestamp"},
		{"bad timestamp", `{"features": ["driver_stats:conv_rate"], "entities": {"driver_id": [1], "event_timestamp": ["yesterday"]}}`, "yesterday"},
		{"ragged", `{"features": ["driver_stats:conv_rate"], "entities": {"driver_id": [1, 2], "event_timestamp": ["2025-03-02T00:00:00Z"]}}`, "entities.event_timestamp"},
		{"mixed types", `{"features": ["driver_stats:conv_rate"], "entities": {"driver_id": [1, "a"], "event_timestamp": ["2025-03-02T00:00:00Z", null]}}`, "entities.driver_id"},
		{"object value", `{"features": ["driver_stats:conv_rate"], "entities": {"driver_id": [{}], "event_timestamp": ["2025-03-02T00:00:00Z"]}}`, "entities.driver_id"},
		{"missing join key", `{"features": ["driver_stats:conv_rate"], "entities": {"customer_id": ["a"], "event_timestamp": ["2025-03-02T00:00:00Z"]}}`, "driver_id"},
		{"key of another type", `{"features": ["driver_stats:conv_rate"], "entities": {"driver_id": ["a"], "event_timestamp": ["2025-03-02T00:00:00Z"]}}`, "driver_id"},
		{"unknown view", `{"features": ["nope:conv_rate"], "entities": {"driver_id": [1], "event_timestamp": ["2025-03-02T00:00:00Z"]}}`, "nope"},
		{"unknown feature", `{"features": ["driver_stats:nope"], "entities": {"driver_id": [1], "event_timestamp": ["2025-03-02T00:00:00Z"]}}`, "nope"},
		{"request data missing", `{"features": ["driver_conv_py:conv_plus_val"], "entities": {"driver_id": [1], "event_timestamp": ["2025-03-02T00:00:00Z"]}}`, "val_to_add"},
		{"range and entities", `{"features": ["driver_stats:conv_rate"], "start_date": "2025-03-01T00:00:00Z", "entities": {"driver_id": [1], "event_timestamp": ["2025-03-02T00:00:00Z"]}}`, "start_date"},
		{"end date and entities", `{"features": ["driver_stats:conv_rate"], "end_date": "2025-03-01T00:00:00Z", "entities": {"driver_id": [1], "event_timestamp": ["2025-03-02T00:00:00Z"]}}`, "end_date"},
		{"range: bad start", `{"features": ["driver_stats:conv_rate"], "start_date": "last week", "end_date": "2025-03-01T00:00:00Z"}`, "start_date"},
		{"range: bad end", `{"features": ["driver_stats:conv_rate"], "end_date": 17}`, "end_date"},
		{"range: start after end", `{"features": ["driver_stats:conv_rate"], "start_date": "2025-03-02T00:00:00Z", "end_date": "2025-03-01T00:00:00Z"}`, "start_date"},
		{"range: both null", `{"features": ["driver_stats:conv_rate"], "start_date": null, "end_date": null}`, "entities"},
		{"range: request data", `{"features": ["driver_conv_py:conv_plus_val"], "end_date": "2025-03-01T00:00:00Z"}`, "val_to_add"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := postHistorical(t, h, c.body, "")
			if rec.Code < 400 || rec.Code >= 500 || !strings.Contains(rec.Body.String(), c.want) {
				t.Errorf("%d %s; want a 4xx naming %q", rec.Code, rec.Body, c.want)
			}
		})
	}
}
