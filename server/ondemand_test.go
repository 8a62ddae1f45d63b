package server_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
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
