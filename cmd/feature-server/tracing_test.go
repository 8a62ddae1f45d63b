package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/feastgo/feastgo/internal/testenv"
	"github.com/feastgo/feastgo/internal/testlog"
	"github.com/feastgo/feastgo/internal/testrepo"
	servingpb "github.com/feastgo/feastgo/protos/feast/serving"
	typespb "github.com/feastgo/feastgo/protos/feast/types"
	"github.com/feastgo/feastgo/server"
)

// otelVars are the variables a test of tracing sets or clears, so that
// none of the environment the tests run in leaks into it.
var otelVars = []string{"OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT",
	"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
	"OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "OTEL_PROPAGATORS",
	"OTEL_BSP_SCHEDULE_DELAY"}

func clearOTel(t *testing.T) {
	for _, v := range otelVars {
		t.Setenv(v, "")
	}
}

// The caller's trace context of each request: W3C traceparent values.
const (
	httpTraceID  = "4bf92f3577b34da6a3ce929d0e0e4736"
	httpParent   = "00f067aa0ba902b7"
	grpcTraceID  = "5cf92f3577b34da6a3ce929d0e0e4737"
	grpcParent   = "11f067aa0ba902b8"
	pushTraceID  = "6df92f3577b34da6a3ce929d0e0e4738"
	pushParent   = "22f067aa0ba902b9"
	matTraceID   = "7ef92f3577b34da6a3ce929d0e0e4739"
	matParent    = "33f067aa0ba902ba"
	histTraceID  = "8ff92f3577b34da6a3ce929d0e0e473a"
	histParent   = "44f067aa0ba902bb"
	traceparentF = "00-%s-%s-01"
)

// TestServeTracingToJaeger serves with OTEL_* pointing at a real OTLP
// receiver (Jaeger v2, started by scripts/go-test.sh), over each OTLP
// protocol, sends requests carrying a caller's trace context over HTTP
// and gRPC metadata, stops the server (which flushes its spans) and reads
// the traces back from Jaeger's query API: each request's server span is
// the caller's child, with the store call as its own child.
func TestServeTracingToJaeger(t *testing.T) {
	otlpGRPC := testenv.Service(t, "FEASTGO_TEST_OTLP_GRPC")
	otlpHTTP := testenv.Service(t, "FEASTGO_TEST_OTLP_HTTP")
	query := testenv.Service(t, "FEASTGO_TEST_JAEGER_QUERY")
	for _, proto := range []string{"grpc", "http/protobuf"} {
		t.Run(strings.ReplaceAll(proto, "/", "_"), func(t *testing.T) {
			clearOTel(t)
			endpoint := otlpHTTP
			if proto == "grpc" {
				endpoint = otlpGRPC
			}
			service := fmt.Sprintf("feastgo-test-%s-%d", strings.ReplaceAll(proto, "/", "-"), time.Now().UnixNano())
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+endpoint)
			t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", proto)
			t.Setenv("OTEL_SERVICE_NAME", service)
			// Unique trace ids per run: Jaeger keeps what earlier runs sent.
			suffix := fmt.Sprintf("%016x", time.Now().UnixNano())
			ids := func(id string) string { return id[:16] + suffix }
			log := serveTraced(t, ids)

			if !strings.Contains(log, `"trace_id":"`+ids(httpTraceID)+`"`) {
				t.Errorf("no access log line with the trace id %s:\n%s", ids(httpTraceID), log)
			}
			for _, c := range []struct {
				trace, parent, name, child string
				tags                       map[string]string
				more                       []string // other children of the request's span
			}{
				{ids(httpTraceID), httpParent, "POST /get-online-features", "online_store.read",
					map[string]string{"http.response.status_code": "200", "feast.entity_rows": "2", "feast.features": "2", "http.route": "/get-online-features"}, nil},
				{ids(grpcTraceID), grpcParent, "feast.serving.ServingService/GetOnlineFeatures", "online_store.read",
					map[string]string{"rpc.system": "grpc", "rpc.grpc.status_code": "0"}, nil},
				{ids(pushTraceID), pushParent, "POST /push", "online_store.write",
					map[string]string{"http.response.status_code": "200"}, nil},
				{ids(matTraceID), matParent, "POST /materialize", "online_store.write",
					map[string]string{"http.response.status_code": "200"}, []string{"offline_store.pull"}},
				{ids(histTraceID), histParent, "POST /get-historical-features", "offline_store.historical",
					map[string]string{"http.response.status_code": "200"}, nil},
			} {
				spans := jaegerTrace(t, query, c.trace, c.child)
				srv := findSpan(spans, c.name)
				if srv == nil {
					t.Errorf("trace %s: no span %q in %v", c.trace, c.name, names(spans))
					continue
				}
				if p := srv.parent(); p != c.parent {
					t.Errorf("%s: parent span %q, want the caller's %s", c.name, p, c.parent)
				}
				if srv.process != service {
					t.Errorf("%s: service %q, want %q", c.name, srv.process, service)
				}
				for k, want := range c.tags {
					if got := srv.tag(k); got != want {
						t.Errorf("%s: %s = %q, want %q", c.name, k, got, want)
					}
				}
				store := findSpan(spans, c.child)
				if store == nil {
					t.Errorf("trace %s: no span %q in %v", c.trace, c.child, names(spans))
					continue
				}
				if store.parent() != srv.SpanID {
					t.Errorf("%s: parent %q, want the request's span %s", c.child, store.parent(), srv.SpanID)
				}
				for _, n := range c.more {
					if s := findSpan(spans, n); s == nil || s.parent() != srv.SpanID {
						t.Errorf("trace %s: no span %q under the request's span in %v", c.trace, n, names(spans))
					}
				}
				if strings.HasPrefix(c.child, "online_store.") && store.tag("db.system.name") != "sqlite" {
					t.Errorf("%s: db.system.name %q", c.child, store.tag("db.system.name"))
				}
				if c.child == "online_store.read" && (store.tag("feast.feature_views") != "1" || store.tag("feast.entity_keys") != "2") {
					t.Errorf("%s: views %q keys %q, want 1 and 2", c.child, store.tag("feast.feature_views"), store.tag("feast.entity_keys"))
				}
			}
		})
	}
}

// serveTraced serves a SQLite repo with parquet sources over HTTP and gRPC, sends a read over
// each (with the trace context ids gives), a push and a materialization,
// stops the server and returns its JSON log.
func serveTraced(t *testing.T, ids func(string) string) string {
	t.Helper()
	repo := materializeRepo(t)
	hp, gp := testenv.FreePort(t), testenv.FreePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr testlog.Buffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"--log-format", "json", "-c", repo, "serve", "-p", fmt.Sprint(hp), "--grpc-port", fmt.Sprint(gp)},
			io.Discard, &stderr)
	}()
	base := fmt.Sprintf("http://127.0.0.1:%d", hp)
	waitServing(t, base+"/health", done, &stderr)
	post := func(path, traceID, parent, body string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("traceparent", fmt.Sprintf(traceparentF, traceID, parent))
		req.Header.Set("tracestate", "vendor=x")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
		}
	}
	post("/get-online-features", ids(httpTraceID), httpParent,
		`{"features":["pipeline_stats:error_count","pipeline_stats:last_status"],"entities":{"pipeline_id":[1,999]}}`)
	post("/push", ids(pushTraceID), pushParent, `{"push_source_name": "pipeline_stats_push", "df": {"pipeline_id": [7401], "event_timestamp": ["2025-01-02 00:00:00+00:00"],
 "created": ["2025-01-02 00:00:00"], "avg_execution_time": [1.5], "success_rate": [0.5], "error_count": [3],
 "failure_probability": [0.25], "avg_memory_usage": [2.5], "cpu_utilization": [0.75], "last_status": ["ok"], "is_active": [true]}, "to": "online"}`)
	post("/get-historical-features", ids(histTraceID), histParent,
		`{"features": ["pipeline_stats:last_status"], "entities": {"pipeline_id": [7], "event_timestamp": ["2025-01-05T00:00:00Z"]}}`)
	post("/materialize", ids(matTraceID), matParent, `{"start_ts": "2025-01-01T00:00:00", "end_ts": "2025-01-08T00:00:00", "feature_views": ["team_stats"]}`)

	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", gp), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	gctx, gcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer gcancel()
	gctx = metadata.AppendToOutgoingContext(gctx, "traceparent", fmt.Sprintf(traceparentF, ids(grpcTraceID), grpcParent))
	_, err = servingpb.NewServingServiceClient(conn).GetOnlineFeatures(gctx, &servingpb.GetOnlineFeaturesRequest{
		Kind: &servingpb.GetOnlineFeaturesRequest_Features{Features: &servingpb.FeatureList{Val: []string{"pipeline_stats:error_count"}}},
		Entities: map[string]*typespb.RepeatedValue{"pipeline_id": {Val: []*typespb.Value{
			{Val: &typespb.Value_Int64Val{Int64Val: 1}}, {Val: &typespb.Value_Int64Val{Int64Val: 999}}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	http.DefaultClient.CloseIdleConnections()
	cancel() // SIGTERM's path: drain, then the spans are flushed
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v; log:\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not stop")
	}
	log := stderr.String()
	if !strings.Contains(log, `"msg":"tracing on"`) {
		t.Fatalf("no tracing on in the log:\n%s", log)
	}
	return log
}

// waitServing waits until url answers 200 (at most a minute: the start
// fills the SQLite store, slow under -race on a loaded machine), failing
// with the server's log when it does not or when the server stopped.
func waitServing(t *testing.T, url string, done <-chan error, log *testlog.Buffer) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-done:
			t.Fatalf("the server stopped: %v; log:\n%s", err, log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered 200 (last: %v); log:\n%s", url, err, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// jaegerSpan is a span as Jaeger's query API returns it.
type jaegerSpan struct {
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	References    []struct {
		RefType string `json:"refType"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	Tags []struct {
		Key   string `json:"key"`
		Value any    `json:"value"`
	} `json:"tags"`
	ProcessID string `json:"processID"`
	process   string
}

func (s *jaegerSpan) parent() string {
	for _, r := range s.References {
		if r.RefType == "CHILD_OF" {
			return r.SpanID
		}
	}
	return ""
}

func (s *jaegerSpan) tag(k string) string {
	for _, t := range s.Tags {
		if t.Key == k {
			return fmt.Sprint(t.Value)
		}
	}
	return ""
}

func findSpan(spans []*jaegerSpan, name string) *jaegerSpan {
	for _, s := range spans {
		if s.OperationName == name {
			return s
		}
	}
	return nil
}

func names(spans []*jaegerSpan) []string {
	var n []string
	for _, s := range spans {
		n = append(n, s.OperationName)
	}
	return n
}

// jaegerTrace reads trace id's spans from Jaeger's query API, waiting
// (at most a minute) until it holds one named want: Jaeger's own batching
// stores what it received a moment later.
func jaegerTrace(t *testing.T, query, id, want string) []*jaegerSpan {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	var last string
	for {
		resp, err := http.Get(query + "/api/traces/" + id)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = fmt.Sprintf("%d %s", resp.StatusCode, b)
			if resp.StatusCode == http.StatusOK {
				var out struct {
					Data []struct {
						Spans     []*jaegerSpan `json:"spans"`
						Processes map[string]struct {
							ServiceName string `json:"serviceName"`
						} `json:"processes"`
					} `json:"data"`
				}
				if err := json.Unmarshal(b, &out); err != nil {
					t.Fatalf("jaeger: %v in %s", err, b)
				}
				if len(out.Data) == 1 {
					for _, s := range out.Data[0].Spans {
						s.process = out.Data[0].Processes[s.ProcessID].ServiceName
					}
					if findSpan(out.Data[0].Spans, want) != nil {
						return out.Data[0].Spans
					}
				}
			}
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("jaeger holds no span %q of trace %s; last answer: %s", want, id, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestTracingOffByDefault: with no OTEL_* set, starting tracing changes
// nothing: no Tracing, the stores not wrapped, no gRPC options (so no
// exporter, no span and no goroutine of the SDK).
func TestTracingOffByDefault(t *testing.T) {
	for _, env := range []map[string]string{
		{},
		{"OTEL_SERVICE_NAME": "x", "OTEL_TRACES_SAMPLER": "always_on"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_SDK_DISABLED": "true"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_TRACES_EXPORTER": "none"},
	} {
		clearOTel(t)
		for k, v := range env {
			t.Setenv(k, v)
		}
		h := &server.HTTP{}
		var buf testlog.Buffer
		stop, err := startTracing(context.Background(), h, "sqlite", newLogger(&buf, "debug", "text"))
		if err != nil {
			t.Fatal(err)
		}
		stop()
		if h.Tracing != nil || h.Tracing.GRPCOptions() != nil || strings.Contains(buf.String(), "tracing on") {
			t.Errorf("%v: tracing started; log %s", env, buf.String())
		}
	}
}

// TestTracingBadProtocol: a protocol the exporters do not speak fails the
// start, naming the variable.
func TestTracingBadProtocol(t *testing.T) {
	clearOTel(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
	_, err := startTracing(context.Background(), &server.HTTP{}, "sqlite", newLogger(io.Discard, "info", "text"))
	if err == nil || !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_PROTOCOL") {
		t.Fatalf("got %v", err)
	}
}

// TestServeOfflineTracingToJaeger: serve_offline with OTEL_* set gives a
// Flight call (DoExchange, a stream) a server span, the child of the trace
// context in the call's metadata.
func TestServeOfflineTracingToJaeger(t *testing.T) {
	otlpGRPC := testenv.Service(t, "FEASTGO_TEST_OTLP_GRPC")
	query := testenv.Service(t, "FEASTGO_TEST_JAEGER_QUERY")
	clearOTel(t)
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://"+otlpGRPC)
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc")
	service := fmt.Sprintf("feastgo-test-offline-%d", time.Now().UnixNano())
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name="+service)
	traceID := fmt.Sprintf("9af92f3577b34da6%016x", time.Now().UnixNano())
	const parent = "55f067aa0ba902bc"

	repo := testrepo.Copy(t, filepath.Join("..", "..", "offlinestore", "testdata", "historical", "repo"))
	port := testenv.FreePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr testlog.Buffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"-c", repo, "serve_offline", "-p", fmt.Sprint(port)}, io.Discard, &stderr)
	}()
	c, err := flight.NewClientWithMiddleware(fmt.Sprintf("127.0.0.1:%d", port), nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mctx := metadata.AppendToOutgoingContext(context.Background(), "traceparent", fmt.Sprintf(traceparentF, traceID, parent))
	var got string
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err = trainingSetCtx(mctx, c)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // the server is starting
	}
	if err != nil || got != "conv_rate=[0.21]" {
		t.Fatalf("got %q, %v", got, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v\n%s", err, stderr.String())
	}
	const name = "arrow.flight.protocol.FlightService/DoExchange"
	s := findSpan(jaegerTrace(t, query, traceID, name), name)
	if s.parent() != parent || s.process != service || s.tag("rpc.grpc.status_code") != "0" {
		t.Errorf("span %+v: want the child of %s in service %s, status 0", s, parent, service)
	}
}
