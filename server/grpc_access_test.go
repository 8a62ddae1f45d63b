package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/feastgo/feastgo/internal/testlog"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	servingpb "github.com/feastgo/feastgo/protos/feast/serving"
)

// Every gRPC call but health gets a request id (the caller's x-request-id
// when valid, else a generated one) in its response headers and its access
// line; health probes log nothing.
func TestGRPCRequestIDAndAccessLog(t *testing.T) {
	h, _ := permissionsHTTP(t)
	var logs testlog.Buffer
	conn, req := servingConn(t, h, AccessGRPCOptions(slog.New(slog.NewJSONHandler(&logs, nil)), true)...)
	c := servingpb.NewServingServiceClient(conn)
	call := func(id string, r *servingpb.GetOnlineFeaturesRequest) string {
		t.Helper()
		ctx := context.Background()
		if id != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "x-request-id", id)
		}
		var hdr, trl metadata.MD
		_, _ = c.GetOnlineFeatures(ctx, r, grpc.Header(&hdr), grpc.Trailer(&trl))
		got := hdr.Get("x-request-id")
		if len(got) == 0 {
			got = trl.Get("x-request-id")
		}
		if len(got) != 1 {
			t.Fatalf("response headers %v: no single x-request-id", hdr)
		}
		return got[0]
	}
	if got := call("caller-id-1", req); got != "caller-id-1" {
		t.Errorf("the caller's id came back as %q", got)
	}
	generated := call("", req)
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(generated) {
		t.Errorf("generated id %q", generated)
	}
	long := strings.Repeat("x", 129)
	if got := call(long, req); got == long || len(got) != 32 {
		t.Errorf("an id over 128 characters was kept: %q", got)
	}
	bad := &servingpb.GetOnlineFeaturesRequest{} // no features: InvalidArgument
	failed := call("caller-id-2", bad)
	if _, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d access lines, want 4 (health logs none):\n%s", len(lines), logs.String())
	}
	byID := map[string]map[string]any{}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		byID[m["request_id"].(string)] = m
	}
	ok, fail := byID["caller-id-1"], byID[failed]
	if ok == nil || ok["msg"] != "rpc" || ok["method"] != "feast.serving.ServingService/GetOnlineFeatures" || ok["code"] != "OK" ||
		ok["remote_addr"] == nil || ok["duration_ms"] == nil {
		t.Errorf("access line of a served call: %v", ok)
	}
	if fail == nil || fail["code"] != "InvalidArgument" {
		t.Errorf("access line of a refused call: %v", fail)
	}
	if byID[generated] == nil {
		t.Errorf("no access line with the generated id %s", generated)
	}
}
