package server

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	servingpb "github.com/feastgo/feastgo/protos/feast/serving"
	typespb "github.com/feastgo/feastgo/protos/feast/types"
)

// A body that is not UTF-8 is refused as FastAPI refuses it (it decodes
// the body before parsing: 400 "There was an error parsing the body"),
// on every route that takes JSON. Before, a write stored the bytes as a
// string value, which no gRPC read could then return (a proto string must
// be UTF-8: the read failed Internal).
func TestBodyNotUTF8(t *testing.T) {
	s := newFuzzServer(t)
	bad := "ok\xff"
	for _, c := range []struct{ path, body string }{
		{"/write-to-online-store", `{"feature_view_name": "pipeline_stats", "df": {"pipeline_id": [7010], "event_timestamp": ["2025-01-02 00:00:00+00:00"], "created": [null], "avg_execution_time": [1.5], "success_rate": [0.5], "error_count": [3], "failure_probability": [0.25], "avg_memory_usage": [2.5], "cpu_utilization": [0.75], "is_active": [true], "last_status": ["` + bad + `"]}}`},
		{"/push", `{"push_source_name": "pipeline_stats_push", "df": {"pipeline_id": [7010], "event_timestamp": ["2025-01-02 00:00:00+00:00"], "created": [null], "avg_execution_time": [1.5], "success_rate": [0.5], "error_count": [3], "failure_probability": [0.25], "avg_memory_usage": [2.5], "cpu_utilization": [0.75], "is_active": [true], "last_status": ["` + bad + `"]}}`},
		{"/get-online-features", `{"features": ["pipeline_stats:last_status"], "entities": {"pipeline_id": [7010], "x": ["` + bad + `"]}}`},
		{"/materialize", `{"start_ts": "` + bad + `", "end_ts": "2025-01-01T00:00:00"}`},
	} {
		code, ans := serve(s.handler, http.MethodPost, c.path, "application/json", []byte(c.body))
		if code != http.StatusBadRequest || !bytes.Equal(ans, []byte(`{"detail":"There was an error parsing the body"}`)) {
			t.Errorf("%s: %d %s; want 400 and FastAPI's parse error", c.path, code, ans)
		}
	}
	if _, err := parseOnDemandRequest([]byte(`{"entities": {"pipeline_id": ["` + bad + `"]}}`)); err == nil {
		t.Error("on-demand request: accepted a body that is not UTF-8")
	}
	// Nothing was stored: the gRPC read answers (a null), not Internal.
	in := &servingpb.GetOnlineFeaturesRequest{Kind: &servingpb.GetOnlineFeaturesRequest_Features{Features: &servingpb.FeatureList{Val: []string{"pipeline_stats:last_status"}}},
		Entities: map[string]*typespb.RepeatedValue{"pipeline_id": {Val: []*typespb.Value{{Val: &typespb.Value_Int64Val{Int64Val: 7010}}}}}}
	if _, err := s.grpc.GetOnlineFeatures(context.Background(), in); err != nil {
		t.Errorf("gRPC read after the refused write: %v", err)
	}
}
