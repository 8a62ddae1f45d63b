package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/feastgo/feastgo/internal/testenv"
	"github.com/feastgo/feastgo/internal/testlog"
)

// feastMetricNames are the metrics of Feast 0.67's feast/metrics.py that
// this server exports with the same names, types and labels, so that
// dashboards built on Feast's feature server keep working.
var feastMetricNames = []string{
	"feast_feature_server_cpu_usage",
	"feast_feature_server_memory_usage",
	"feast_feature_server_request_total",
	"feast_feature_server_request_latency_seconds",
	"feast_online_features_request_total",
	"feast_online_features_entity_count",
	"feast_online_features_status_total",
	"feast_push_request_total",
	"feast_materialization_result_total",
	"feast_materialization_duration_seconds",
	"feast_feature_server_online_store_read_duration_seconds",
	"feast_feature_freshness_seconds",
	"feast_offline_store_request_total",
	"feast_offline_store_request_latency_seconds",
	"feast_offline_store_row_count",
	// Recorded only for on-demand views applied with track_metrics=True,
	// which the test repo has none of: see onlyWithTrackedODFVs.
	"feast_feature_server_transformation_duration_seconds",
	"feast_feature_server_write_transformation_duration_seconds",
}

// onlyWithTrackedODFVs are the names a scrape shows only once a tracked
// on-demand view ran (a labelled series without samples is not exposed,
// in Feast's prometheus_client as here).
var onlyWithTrackedODFVs = map[string]bool{
	"feast_feature_server_transformation_duration_seconds":       true,
	"feast_feature_server_write_transformation_duration_seconds": true,
}

// ourMetricNames are the server's own metrics beyond Feast's.
var ourMetricNames = []string{
	"feature_server_http_requests_total",
	"feature_server_http_request_duration_seconds",
	"feature_server_registry_age_seconds",
	"feature_server_registry_refresh_failing",
	"feature_server_plan_cache_entries",
	"feature_server_plan_cache_evictions_total",
	"feature_server_materialization_rows_written_total",
	"feature_server_materialization_views_done_total",
	"feature_server_materialization_jobs_running",
	"feature_store_reads_total",
	"feature_store_writes_total",
	"feature_store_read_latency_seconds",
	"feature_store_online_size_bytes",
}

// scrapeAfterOneOfEach serves a SQLite repo with metrics on, sends one
// request of each kind (online read, push, materialize, historical
// retrieval) and returns a scrape of /metrics.
func scrapeAfterOneOfEach(t *testing.T) string {
	t.Helper()
	repo := materializeRepo(t)
	hp, mp := testenv.FreePort(t), testenv.FreePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var logs testlog.Buffer
	go func() {
		done <- Run(ctx, []string{"-c", repo, "serve", "-p", fmt.Sprint(hp), "-m", "--metrics-port", fmt.Sprint(mp)}, io.Discard, &logs)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v\n%s", err, logs.String())
		}
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", hp)
	waitHTTP(t, http.DefaultClient, base+"/health")
	for _, c := range []struct{ path, body string }{
		{"/get-online-features", `{"features": ["pipeline_stats:last_status", "pipeline_stats:error_count"], "entities": {"pipeline_id": [7, 123456]}}`},
		{"/push", `{"push_source_name": "pipeline_stats_push", "df": {"pipeline_id": [7001], "event_timestamp": ["2025-01-02 00:00:00+00:00"],
 "created": ["2025-01-02 00:00:00"], "avg_execution_time": [1.5], "success_rate": [0.5], "error_count": [3],
 "failure_probability": [0.25], "avg_memory_usage": [2.5], "cpu_utilization": [0.75], "last_status": ["ok"], "is_active": [true]}, "to": "online"}`},
		{"/materialize", `{"start_ts": "2025-01-01T00:00:00", "end_ts": "2025-01-08T00:00:00", "feature_views": ["team_stats"]}`},
		{"/get-historical-features", `{"features": ["pipeline_stats:last_status"], "entities": {"pipeline_id": [7], "event_timestamp": ["2025-01-05T00:00:00Z"]}}`},
	} {
		resp, err := http.Post(base+c.path, "application/json", strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("POST %s: %d %s", c.path, resp.StatusCode, got)
		}
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", mp))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

// exposedNames are the metric families of a scrape (its # TYPE lines).
func exposedNames(scrape string) map[string]bool {
	out := map[string]bool{}
	for _, line := range strings.Split(scrape, "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			out[f[2]] = true
		}
	}
	return out
}

// After one request of each kind, every Feast metric (but those of
// tracked on-demand views) and every metric of our own is exposed, with
// Feast's labels on the samples a dashboard reads.
func TestMetricsExposedAfterOneRequestOfEachKind(t *testing.T) {
	scrape := scrapeAfterOneOfEach(t)
	names := exposedNames(scrape)
	for _, n := range append(append([]string{}, feastMetricNames...), ourMetricNames...) {
		if !names[n] && !onlyWithTrackedODFVs[n] {
			t.Errorf("metric %s not exposed", n)
		}
	}
	for _, want := range []string{
		`feast_feature_server_request_total{endpoint="/get-online-features",status="success"} 1`,
		`feast_feature_server_request_total{endpoint="/push",status="success"} 1`,
		`feast_feature_server_request_total{endpoint="/materialize",status="success"} 1`,
		`feast_feature_server_request_latency_seconds_count{endpoint="/get-online-features",feature_count="1-10",feature_view_count="1"} 1`,
		`feast_online_features_request_total 1`,
		`feast_online_features_entity_count_sum 2`,
		`feast_online_features_status_total{feature_view="pipeline_stats",status="present"} 2`,
		`feast_online_features_status_total{feature_view="pipeline_stats",status="not_found"} 2`,
		`feast_push_request_total{mode="online",push_source="pipeline_stats_push"} 1`,
		`feast_materialization_result_total{feature_view="team_stats",status="success"} 1`,
		`feast_offline_store_request_total{method="to_arrow",status="success"} 1`,
		`feast_offline_store_row_count_sum{method="to_arrow"} 1`,
		`feature_store_reads_total{status="success",storage_type="sqlite"} 1`,
		`feature_store_writes_total{status="success",storage_type="sqlite"}`,
		`feature_server_materialization_views_done_total{status="success"} 1`,
		`feature_server_materialization_jobs_running 0`,
		`feature_store_online_size_bytes{storage_type="sqlite"}`,
		`feast_feature_freshness_seconds{feature_view="team_stats",project=`,
	} {
		if !strings.Contains(scrape, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	if !regexp.MustCompile(`(?m)^feature_server_materialization_rows_written_total\{feature_view="team_stats"\} [1-9]`).MatchString(scrape) {
		t.Error("no rows written counted for team_stats")
	}
	if t.Failed() {
		t.Logf("scrape:\n%s", scrape)
	}
}

// metricRef finds metric names in a PromQL expression: identifiers of our
// and Feast's prefixes.
var metricRef = regexp.MustCompile(`\b(?:feast|feature_server|feature_store|process|go)_[a-zA-Z0-9_]+\b`)

// Every expression of the Grafana dashboard names only metrics the server
// exposes (a histogram's _bucket, _sum and _count series by its family).
func TestGrafanaDashboardUsesExposedMetrics(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "grafana", "feature-server.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	names := exposedNames(scrapeAfterOneOfEach(t))
	exprs := 0
	var missing []string
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			if tg.Expr == "" {
				continue
			}
			exprs++
			refs := metricRef.FindAllString(tg.Expr, -1)
			if len(refs) == 0 {
				t.Errorf("panel %q: expression %q names no metric", p.Title, tg.Expr)
			}
			for _, r := range refs {
				if !exposed(names, r) {
					missing = append(missing, fmt.Sprintf("panel %q: %s", p.Title, r))
				}
			}
		}
	}
	if exprs < 10 {
		t.Errorf("dashboard %q has %d expressions; want the dashboard of every metric group", dash.Title, exprs)
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("not exposed by the server: %s", m)
	}
}

func exposed(names map[string]bool, ref string) bool {
	if names[ref] || onlyWithTrackedODFVs[ref] {
		return true
	}
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(ref, suf); ok && (names[base] || onlyWithTrackedODFVs[base]) {
			return true
		}
	}
	return false
}
