package server

import (
	"strings"
	"testing"
)

// An integer over 64 bits is valid JSON (Python's json reads it): it is an
// error only where the value would become an INT64, a column value, and
// then a 400 naming the column; a scalar field gets the type error
// pydantic gives for any number there, and a field the model ignores is
// ignored. It once made /on-demand panic (a location-less field error).
func TestOverLargeIntegers(t *testing.T) {
	hs, _ := writeStack(t)
	h := hs.Handler()
	const big = "99999999999999999999"
	cases := []struct {
		name, path, body string
		code             int
		want             string
	}{
		{"on-demand entities not an object", "/on-demand/pipeline_risk", `{"entities": ` + big + `}`, 400,
			`entities: must be an object of column names to lists of values`},
		{"on-demand flag", "/on-demand/pipeline_risk", `{"full_feature_names": ` + big + `}`, 400, `full_feature_names: must be a boolean`},
		{"on-demand request data not an object", "/on-demand/pipeline_risk", `{"request_data": [` + big + `]}`, 400,
			`request_data: must be an object of column names to lists of values`},
		{"on-demand request value", "/on-demand/pipeline_risk", `{"request_data": {"queue_depth": [` + big + `]}}`, 400,
			`request_data.queue_depth: integer ` + big + ` does not fit in 64 bits`},
		{"on-demand entity value", "/on-demand/pipeline_risk", `{"entities": {"pipeline_id": [[1, ` + big + `]]}}`, 400,
			`entities.pipeline_id: integer ` + big + ` does not fit in 64 bits`},
		{"on-demand column not a list", "/on-demand/pipeline_risk", `{"features": {"error_count": 3}}`, 400,
			`features.error_count: must be a list of values, one per row`},
		{"online entity value", "/get-online-features", `{"features": ["pipeline_stats:error_count"], "entities": {"pipeline_id": [` + big + `]}}`, 400,
			`entities.pipeline_id: integer ` + big + ` does not fit in 64 bits`},
		{"online flag", "/get-online-features", `{"features": ["pipeline_stats:error_count"], "entities": {"pipeline_id": [1]}, "full_feature_names": ` + big + `}`, 422,
			`"type":"bool_parsing","loc":["body","full_feature_names"],"msg":"Input should be a valid boolean, unable to interpret input","input":` + big},
		{"online feature service", "/get-online-features", `{"feature_service": ` + big + `, "entities": {"pipeline_id": [1]}}`, 422,
			`"type":"string_type","loc":["body","feature_service"]`},
		{"online ignored field", "/get-online-features", `{"features": ["pipeline_stats:error_count"], "entities": {"pipeline_id": [1]}, "extra": [` + big + `]}`, 200,
			`"error_count"`},
		{"push name", "/push", `{"push_source_name": ` + big + `, "df": {}}`, 422, `"type":"string_type","loc":["body","push_source_name"]`},
		{"push column", "/push", `{"push_source_name": "pipeline_stats_push", "df": {"pipeline_id": [` + big + `]}}`, 400,
			`df.pipeline_id: integer ` + big + ` does not fit in 64 bits`},
		{"write flag", "/write-to-online-store", `{"feature_view_name": "pipeline_stats", "df": {}, "transform_on_write": ` + big + `}`, 422,
			`"type":"bool_parsing","loc":["body","transform_on_write"]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, got := post(t, h, c.path, c.body)
			if code != c.code || !strings.Contains(got, c.want) {
				t.Errorf("got %d %s, want %d with %s", code, got, c.code, c.want)
			}
		})
	}
}

func TestMaterializeOverLargeInteger(t *testing.T) {
	hs, _ := materializeStack(t)
	code, _, got := post(t, hs.Handler(), "/materialize", `{"start_ts": 99999999999999999999, "end_ts": "2025-01-02"}`)
	if want := `"type":"string_type","loc":["body","start_ts"]`; code != 422 || !strings.Contains(got, want) {
		t.Errorf("got %d %s, want 422 with %s", code, got, want)
	}
}
