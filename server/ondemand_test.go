package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	servingpb "github.com/feastgo/feastgo/protos/feast/serving"
	typespb "github.com/feastgo/feastgo/protos/feast/types"
	"github.com/feastgo/feastgo/server"
)

// TestOnDemandEndpoint exercises POST /on-demand/{feature_view} on the
// repo state Feast produced for the conformance suite. Expected numbers
// come from Feast's recorded answers (testdata/golden/sqlite/odfv_*.json)
// or follow from the UDF in feature_repo/features.py.
func TestOnDemandEndpoint(t *testing.T) {
	h := newGoldenServer(t, filepath.Join("testdata", "golden", "sqlite", "repo")).Handler()
	tests := []struct {
		name, view, body string
		status           int
		want             map[string]string // column -> JSON values
		wantErr          string
	}{
		{
			name: "request data and stored features", view: "pipeline_realtime_metrics",
			body:   `{"request_data": {"execution_times": [[10.0, 20.0], []], "error_counts": [[1, 5], []]}, "entities": {"pipeline_id": [1, 2]}}`,
			status: 200,
			want: map[string]string{
				"pipeline_id": `[1,2]`, "recent_avg_execution_time": `[15.0,492.156]`, "max_recent_error_count": `[5,0]`,
				"success_rate_pt": `[0.5692999958992004,0.535099983215332]`, "success_rate": `[0.5692999958992004,0.535099983215332]`,
			},
		},
		{
			name: "given features, no store read", view: "pipeline_realtime_metrics",
			body:   `{"request_data": {"execution_times": [[]], "error_counts": [[3, 9, 2]]}, "features": {"avg_execution_time": [98.25], "success_rate": [0.5], "failure_probability": [0.25]}}`,
			status: 200,
			want: map[string]string{
				"recent_avg_execution_time": `[98.25]`, "max_recent_error_count": `[9]`, "success_rate_pt": `[0.5]`,
				"failure_probability_pt": `[0.25]`, "avg_execution_time": `[98.25]`, "error_count": `[null]`,
			},
		},
		{
			name: "given features override the store, full names", view: "pipeline_risk",
			body:   `{"request_data": {"queue_depth": [3]}, "entities": {"pipeline_id": [1]}, "features": {"pipeline_stats__error_count": [0]}, "full_feature_names": true}`,
			status: 200,
			want:   map[string]string{"pipeline_id": `[1]`, "pipeline_stats__error_count": `[0]`},
		},
		{
			name: "missing request data", view: "pipeline_risk", body: `{"entities": {"pipeline_id": [1]}}`,
			status: 404, wantErr: "RequestDataNotFoundInEntityRowsException",
		},
		{name: "unknown view", view: "nope", body: `{"request_data": {"x": [1]}}`, status: 404, wantErr: "FeatureViewNotFoundException"},
		{name: "unknown field", view: "pipeline_risk", body: `{"request": {}}`, status: 400, wantErr: "unknown field"},
		{name: "ragged columns", view: "pipeline_risk", body: `{"request_data": {"queue_depth": [1, 2]}, "features": {"error_count": [1]}}`, status: 400, wantErr: "one value per row"},
		{name: "wrong feature type", view: "pipeline_risk", body: `{"request_data": {"queue_depth": [1]}, "features": {"error_count": ["x"]}}`, status: 400, wantErr: "cannot be a INT64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/on-demand/"+tc.view, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if tc.wantErr != "" {
				if !strings.Contains(rec.Body.String(), tc.wantErr) {
					t.Fatalf("body %s, want %q", rec.Body, tc.wantErr)
				}
				checkFeastErrorShape(t, rec.Body.Bytes())
				return
			}
			var got onlineJSON
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("%v: %s", err, rec.Body)
			}
			cols := map[string]string{}
			for i, n := range got.Metadata.FeatureNames {
				b, _ := json.Marshal(got.Results[i].Values)
				cols[n] = string(b)
			}
			for n, want := range tc.want {
				if cols[n] != want {
					t.Errorf("%s = %s, want %s (all: %v)", n, cols[n], want, cols)
				}
			}
		})
	}
}

// Request data of the wrong kind for a python-mode view is the caller's
// mistake: 400 (gRPC InvalidArgument) naming the column, before the UDF
// runs (it used to fail inside it: 500). Values of the right kind are not
// converted: integers for an Array(Float64) still work.
func TestPythonODFVRequestDataTypes(t *testing.T) {
	hs := newGoldenServer(t, filepath.Join("testdata", "golden", "sqlite", "repo"))
	h := hs.Handler()
	const refs = `"features": ["pipeline_realtime_metrics:recent_avg_execution_time", "pipeline_realtime_metrics:max_recent_error_count"]`
	tests := []struct {
		name, entities string
		status         int
		want           string
	}{
		{"string for Array(Int64)", `"pipeline_id": [1], "execution_times": [[1.0]], "error_counts": ["abc"]`, 400,
			`entities.error_counts: row 0 is \\\"abc\\\", not a INT64_LIST (request source run_request declares INT64_LIST)`},
		{"string element", `"pipeline_id": [1, 2], "execution_times": [[1.0], []], "error_counts": [[1], [2, "x"]]`, 400,
			`entities.error_counts: row 1 element 1 is \\\"x\\\", not a INT64`},
		{"fraction for Int64", `"pipeline_id": [1], "execution_times": [[1.0]], "error_counts": [[1.5]]`, 400,
			`entities.error_counts: row 0 element 0 is 1.5, not a INT64`},
		{"number for Array(Float64)", `"pipeline_id": [1], "execution_times": [7], "error_counts": [[1]]`, 400,
			`entities.execution_times: row 0 is 7, not a DOUBLE_LIST`},
		{"integers for Array(Float64)", `"pipeline_id": [1], "execution_times": [[10, 20]], "error_counts": [[1, 5]]`, 200,
			`"recent_avg_execution_time"`},
		{"null rows", `"pipeline_id": [1], "execution_times": [[1.0]], "error_counts": [null]`, 200, `"max_recent_error_count"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/get-online-features", strings.NewReader(`{`+refs+`, "entities": {`+tc.entities+`}}`))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.want) {
				t.Fatalf("got %d %s, want %d with %s", rec.Code, rec.Body, tc.status, tc.want)
			}
		})
	}
	t.Run("grpc request_context", func(t *testing.T) {
		g := &server.GRPC{Online: hs.Online}
		_, err := g.GetOnlineFeatures(context.Background(), &servingpb.GetOnlineFeaturesRequest{
			Kind:     &servingpb.GetOnlineFeaturesRequest_Features{Features: &servingpb.FeatureList{Val: []string{"pipeline_realtime_metrics:max_recent_error_count"}}},
			Entities: map[string]*typespb.RepeatedValue{"pipeline_id": {Val: []*typespb.Value{{Val: &typespb.Value_Int64Val{Int64Val: 1}}}}},
			RequestContext: map[string]*typespb.RepeatedValue{
				"execution_times": {Val: []*typespb.Value{{Val: &typespb.Value_DoubleListVal{DoubleListVal: &typespb.DoubleList{Val: []float64{1}}}}}},
				"error_counts":    {Val: []*typespb.Value{{Val: &typespb.Value_StringVal{StringVal: "abc"}}}},
			},
		})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "request_context.error_counts: row 0") {
			t.Fatalf("got %v, want InvalidArgument naming request_context.error_counts", err)
		}
	})
}
