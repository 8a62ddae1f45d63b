package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/feastgo/feastgo/internal/testenv"
	"github.com/feastgo/feastgo/internal/testrepo"
	"github.com/feastgo/feastgo/onlinestore/storetest"
	servingpb "github.com/feastgo/feastgo/protos/feast/serving"
	typespb "github.com/feastgo/feastgo/protos/feast/types"
)

// goldenRepo is a copy of the committed golden SQLite repo (TestMain), so
// that serving it changes nothing under testdata.
var goldenRepo string

func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "feature-server-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	goldenRepo = filepath.Join(tmp, "repo")
	err = testrepo.CopyTree(filepath.Join("..", "..", "server", "testdata", "golden", "sqlite", "repo"), goldenRepo)
	code := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, "copying the golden repo:", err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(tmp)
	os.Exit(code)
}

// startServer runs the program as `feature-server -c REPO serve ...` and
// stops it when the test ends, checking that it shut down cleanly.
func startServer(t *testing.T, args ...string) {
	t.Helper()
	startServerArgs(t, append([]string{"-c", goldenRepo, "serve"}, args...))
}

// startServerArgs runs the program with the whole command line args.
func startServerArgs(t *testing.T, args []string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var stderr bytes.Buffer
	go func() { done <- Run(ctx, args, io.Discard, &stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v; log:\n%s", err, stderr.String())
			}
		case <-time.After(15 * time.Second):
			t.Error("Run did not stop within 15s of cancellation")
		}
	})
}

func waitHTTP(t *testing.T, client *http.Client, url string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never became healthy", url)
}

func TestServeHTTPAndGRPCAgree(t *testing.T) {
	hp, gp := testenv.FreePort(t), testenv.FreePort(t)
	startServer(t, "-h", "127.0.0.1", "-p", fmt.Sprint(hp), "--grpc-port", fmt.Sprint(gp), "--registry_ttl_sec", "1", "--workers", "4")
	base := fmt.Sprintf("http://127.0.0.1:%d", hp)
	waitHTTP(t, http.DefaultClient, base+"/health")

	resp, err := http.Post(base+"/get-online-features", "application/json",
		strings.NewReader(`{"features":["pipeline_stats:error_count","pipeline_stats:last_status"],"entities":{"pipeline_id":[1,999]}}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"feature_names":["pipeline_id","error_count","last_status"]`) {
		t.Fatalf("HTTP answer %d %s", resp.StatusCode, body)
	}

	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", gp), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hc, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || hc.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health: %v %v", hc, err)
	}
	cli := servingpb.NewServingServiceClient(conn)
	out, err := cli.GetOnlineFeatures(ctx, &servingpb.GetOnlineFeaturesRequest{
		Kind: &servingpb.GetOnlineFeaturesRequest_Features{Features: &servingpb.FeatureList{Val: []string{"pipeline_stats:error_count", "pipeline_stats:last_status"}}},
		Entities: map[string]*typespb.RepeatedValue{"pipeline_id": {Val: []*typespb.Value{
			{Val: &typespb.Value_Int64Val{Int64Val: 1}}, {Val: &typespb.Value_Int64Val{Int64Val: 999}}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	names := out.GetMetadata().GetFeatureNames().GetVal()
	if strings.Join(names, ",") != "pipeline_id,error_count,last_status" {
		t.Fatalf("gRPC columns %v", names)
	}
	ec := out.GetResults()[1]
	if ec.GetValues()[0].GetInt64Val() != 7 || ec.GetStatuses()[0] != servingpb.FieldStatus_PRESENT ||
		ec.GetStatuses()[1] != servingpb.FieldStatus_NOT_FOUND || ec.GetEventTimestamps()[0].GetSeconds() == 0 {
		t.Fatalf("gRPC error_count column %v", ec)
	}
	if !strings.Contains(string(body), `{"values":[7,null],"statuses":["PRESENT","NOT_FOUND"]`) {
		t.Fatalf("HTTP and gRPC disagree: HTTP %s", body)
	}

	// Client mistakes are InvalidArgument / NotFound, never Internal.
	_, err = cli.GetOnlineFeatures(ctx, &servingpb.GetOnlineFeaturesRequest{
		Kind:     &servingpb.GetOnlineFeaturesRequest_Features{Features: &servingpb.FeatureList{Val: []string{"nope:x"}}},
		Entities: map[string]*typespb.RepeatedValue{"pipeline_id": {Val: []*typespb.Value{{Val: &typespb.Value_Int64Val{Int64Val: 1}}}}},
	})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("unknown view: got %v, want NotFound", err)
	}
	_, err = cli.GetOnlineFeatures(ctx, &servingpb.GetOnlineFeaturesRequest{
		Kind:     &servingpb.GetOnlineFeaturesRequest_Features{Features: &servingpb.FeatureList{Val: []string{"pipeline_stats:error_count"}}},
		Entities: map[string]*typespb.RepeatedValue{"pipeline_id": {Val: []*typespb.Value{{Val: &typespb.Value_StringVal{StringVal: "abc"}}}}},
	})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "pipeline_id") {
		t.Fatalf("bad key: got %v, want InvalidArgument naming pipeline_id", err)
	}
	info, err := cli.GetFeastServingInfo(ctx, &servingpb.GetFeastServingInfoRequest{})
	if err != nil || info.GetVersion() == "" {
		t.Fatalf("serving info: %v %v", info, err)
	}
}

func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeSelfSigned(t, dir)
	hp := testenv.FreePort(t)
	startServer(t, "-p", fmt.Sprint(hp), "--key", keyFile, "--cert", certFile)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // self-signed test cert
	waitHTTP(t, client, fmt.Sprintf("https://127.0.0.1:%d/health", hp))
}

func TestRunRejectsBadArguments(t *testing.T) {
	cases := map[string][]string{
		"no command":       {"-c", goldenRepo},
		"unknown command":  {"-c", goldenRepo, "frobnicate"},
		"key without cert": {"-c", goldenRepo, "serve", "--key", "k.pem"},
		"grpc type":        {"-c", goldenRepo, "serve", "--type", "grpc"},
		"missing repo":     {"-c", filepath.Join(t.TempDir(), "nope"), "serve"},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			if err := Run(context.Background(), args, io.Discard, io.Discard); err == nil {
				t.Fatal("Run accepted bad arguments")
			}
		})
	}
}

func writeSelfSigned(t *testing.T, dir string) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestServeMetrics(t *testing.T) {
	hp, mp := testenv.FreePort(t), testenv.FreePort(t)
	startServer(t, "-p", fmt.Sprint(hp), "-m", "--metrics-port", fmt.Sprint(mp))
	base := fmt.Sprintf("http://127.0.0.1:%d", hp)
	waitHTTP(t, http.DefaultClient, base+"/health")
	resp, err := http.Post(base+"/get-online-features", "application/json",
		strings.NewReader(`{"features":["nope:x"],"entities":{"pipeline_id":[1]}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", mp))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`feature_server_http_requests_total{code="404",path="/get-online-features"} 1`,
		`feature_server_registry_refresh_failing 0`,
		`feature_server_http_request_duration_seconds_bucket{path="/get-online-features"`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// --plan-cache-size bounds the plans kept, and /metrics shows the cache's
// size and evictions.
func TestServePlanCacheSize(t *testing.T) {
	hp, mp := testenv.FreePort(t), testenv.FreePort(t)
	startServer(t, "-p", fmt.Sprint(hp), "-m", "--metrics-port", fmt.Sprint(mp), "--plan-cache-size", "1")
	base := fmt.Sprintf("http://127.0.0.1:%d", hp)
	waitHTTP(t, http.DefaultClient, base+"/health")
	for _, f := range []string{"pipeline_stats:error_count", "pipeline_stats:last_status"} {
		resp, err := http.Post(base+"/get-online-features", "application/json",
			strings.NewReader(`{"features":["`+f+`"],"entities":{"pipeline_id":[1]}}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", f, resp.StatusCode)
		}
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", mp))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"\nfeature_server_plan_cache_entries 1\n", "\nfeature_server_plan_cache_evictions_total 1\n"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", strings.TrimSpace(want))
		}
	}
	if err := Run(context.Background(), []string{"-c", goldenRepo, "serve", "--plan-cache-size", "0"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "--plan-cache-size 0: must be at least 1") {
		t.Errorf("--plan-cache-size 0: %v", err)
	}
}

// /health asks the online store: 200 while Redis answers, 503 (empty body,
// as Feast answers a registry failure) when it does not.
func TestServeHealthPingsStore(t *testing.T) {
	live := testenv.Service(t, "FEASTGO_TEST_REDIS")
	for _, c := range []struct {
		addr string
		want int
	}{{live, http.StatusOK}, {storetest.DeadAddr(t), http.StatusServiceUnavailable}} {
		repo := filepath.Join(t.TempDir(), "repo")
		if err := testrepo.CopyTree(goldenRepo, repo); err != nil {
			t.Fatal(err)
		}
		yaml := "project: pipeline_monitoring\nprovider: local\nregistry: data/registry.db\n" +
			"online_store:\n  type: redis\n  connection_string: " + c.addr + "\n" +
			"offline_store:\n  type: file\nentity_key_serialization_version: 3\n"
		if err := os.WriteFile(filepath.Join(repo, "feature_store.yaml"), []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		hp := testenv.FreePort(t)
		startServerArgs(t, []string{"-c", repo, "serve", "-p", fmt.Sprint(hp), "--no-materialize-if-empty"})
		url := fmt.Sprintf("http://127.0.0.1:%d/health", hp)
		var code int
		var body []byte
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			resp, err := http.Get(url)
			if err != nil {
				continue // not listening yet
			}
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			code = resp.StatusCode
			break
		}
		if code != c.want || len(body) != 0 {
			t.Errorf("redis at %s: /health %d %q, want %d and no body", c.addr, code, body, c.want)
		}
		// The container healthcheck follows the detailed health.
		var out, errOut bytes.Buffer
		err := Run(context.Background(), []string{"healthcheck", "-u", fmt.Sprintf("http://127.0.0.1:%d/health/detail", hp)}, &out, &errOut)
		if (err == nil) != (c.want == http.StatusOK) {
			t.Errorf("redis at %s: healthcheck returned %v (stdout %q), want success %v", c.addr, err, out.String(), c.want == http.StatusOK)
		}
		if err != nil && !strings.Contains(err.Error(), "online_store") {
			t.Errorf("healthcheck error %q does not carry the failing check", err)
		}
	}
	// Nothing listening: a failure naming the connection, within the timeout.
	err := Run(context.Background(), []string{"healthcheck", "-t", "500ms", "-u", fmt.Sprintf("http://127.0.0.1:%d/health", testenv.FreePort(t))}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "unhealthy") {
		t.Errorf("healthcheck of a closed port: %v", err)
	}
	for _, bad := range [][]string{{"healthcheck", "-u", "localhost:6566"}, {"healthcheck", "-t", "0s"}, {"healthcheck", "extra"}} {
		if err := Run(context.Background(), bad, io.Discard, io.Discard); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
