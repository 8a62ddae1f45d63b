package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/feastgo/feastgo/internal/testenv"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	servingpb "github.com/feastgo/feastgo/protos/feast/serving"
	"github.com/feastgo/feastgo/version"
)

// TestServeReportsVersions: GetFeastServingInfo answers the Feast release
// we are compatible with (conformance/test_grpc.py checks it against the
// installed Feast), our own version travels in a header, on both
// transports, and `version` prints both.
func TestServeReportsVersions(t *testing.T) {
	if version.Feast != "0.67.0" {
		t.Fatalf("version.Feast = %q; the judge is Feast 0.67.0", version.Feast)
	}
	hp, gp := testenv.FreePort(t), testenv.FreePort(t)
	startServer(t, "-p", fmt.Sprint(hp), "--grpc-port", fmt.Sprint(gp))
	base := fmt.Sprintf("http://127.0.0.1:%d", hp)
	waitHTTP(t, http.DefaultClient, base+"/health")

	resp, err := http.Get(base + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got, want := resp.Header.Get("Server"), "feature-server/"+version.Server+" feast/0.67.0"; got != want {
		t.Errorf("HTTP Server header %q, want %q", got, want)
	}

	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", gp), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var md metadata.MD
	info, err := servingpb.NewServingServiceClient(conn).GetFeastServingInfo(ctx, &servingpb.GetFeastServingInfoRequest{}, grpc.WaitForReady(true), grpc.Header(&md))
	if err != nil {
		t.Fatal(err)
	}
	if info.GetVersion() != "0.67.0" {
		t.Errorf("GetFeastServingInfo version %q, want the Feast version 0.67.0", info.GetVersion())
	}
	if got := md.Get("feature-server-version"); len(got) != 1 || got[0] != version.Server {
		t.Errorf("feature-server-version header %q, want %q", got, version.Server)
	}
	if got := md.Get("feast-version"); len(got) != 1 || got[0] != "0.67.0" {
		t.Errorf("feast-version header %q", got)
	}

	out, err := runCLI(t, "version")
	if err != nil || !strings.Contains(out, version.Server) || !strings.Contains(out, "Feast 0.67.0") {
		t.Errorf("version printed %q, %v", out, err)
	}
}
