package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/feastgo/feastgo/internal/testenv"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
	registrypb "github.com/feastgo/feastgo/protos/feast/registry"
	typespb "github.com/feastgo/feastgo/protos/feast/types"
)

func TestParseServeRegistryArgs(t *testing.T) {
	tests := []struct {
		args    []string
		port    int
		host    string
		wantErr string
	}{
		{nil, 6570, "::", ""},
		{[]string{"-p", "7000", "--host", "127.0.0.1"}, 7000, "127.0.0.1", ""},
		{[]string{"--port=7001", "--grpc", "--rest-port", "9"}, 7001, "::", ""},
		{[]string{"--rest-api"}, 0, "", "only the gRPC registry server"},
		{[]string{"--no-grpc"}, 0, "", "only the gRPC registry server"},
		{[]string{"--key", "k.pem"}, 0, "", "--key and --cert must be given together"},
		{[]string{"--client-ca", "ca.pem"}, 0, "", "--client-ca: needs --key and --cert"},
		{[]string{"extra"}, 0, "", "takes no arguments"},
		{[]string{"-p", "x"}, 0, "", "x"},
	}
	for _, tt := range tests {
		a, err := parseServeRegistryArgs(tt.args)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: err = %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil || a.port != tt.port || a.host != tt.host {
			t.Errorf("%q = %+v, %v; want port %d host %s", tt.args, a, err, tt.port, tt.host)
		}
	}
}

// As feast serve_registry, a registry file that is not there yet is
// created empty, and objects applied through the server land in it.
func TestServeRegistryCreatesAMissingRegistry(t *testing.T) {
	repo := t.TempDir()
	yaml := "project: p\nprovider: local\nregistry: data/registry.db\nonline_store:\n  type: sqlite\n  path: data/online.db\nentity_key_serialization_version: 3\n"
	if err := os.WriteFile(filepath.Join(repo, "feature_store.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	port := testenv.FreePort(t)
	startServerArgs(t, []string{"-c", repo, "serve_registry", "-h", "127.0.0.1", "-p", fmt.Sprint(port)})
	waitGRPCHealth(t, port)
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", port), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := registrypb.NewRegistryServerClient(conn)
	ctx := context.Background()
	reg, err := c.Proto(ctx, &emptypb.Empty{})
	if err != nil || len(reg.GetEntities()) != 0 {
		t.Fatalf("Proto of the new registry: %v, %v", reg, err)
	}
	_, err = c.ApplyEntity(ctx, &registrypb.ApplyEntityRequest{Project: "p", Commit: true,
		Entity: &corepb.Entity{Spec: &corepb.EntitySpecV2{Name: "driver", Project: "p", JoinKey: "driver_id", ValueType: typespb.ValueType_INT64}}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(repo, "data", "registry.db"))
	if err != nil {
		t.Fatal(err)
	}
	var stored corepb.Registry
	if err := proto.Unmarshal(b, &stored); err != nil || len(stored.GetEntities()) != 1 || stored.GetRegistrySchemaVersion() != "1" {
		t.Fatalf("the applied entity is not in the file: %v %v", &stored, err)
	}
}
