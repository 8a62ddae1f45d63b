package faults_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	corepb "github.com/feastgo/feastgo/protos/feast/core"
)

// seedSQLRegistry creates Feast's SQL registry tables and stores reg's
// objects in them, one row each, as feast apply with registry_type sql
// leaves them.
func seedSQLRegistry(t *testing.T, conn *pgx.Conn, reg *corepb.Registry) {
	t.Helper()
	ctx := context.Background()
	ddl, err := os.ReadFile(filepath.Join("..", "..", "registry", "sqlregistry", "testdata", "schema.sql"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, string(ddl)); err != nil {
		t.Fatal(err)
	}
	put := func(table, nameCol, protoCol, name, project string, m proto.Message) {
		t.Helper()
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		q := fmt.Sprintf("INSERT INTO %s (%s, project_id, last_updated_timestamp, %s) VALUES ($1, $2, 1, $3)", table, nameCol, protoCol)
		if _, err := conn.Exec(ctx, q, name, project, b); err != nil {
			t.Fatalf("%s %s: %v", table, name, err)
		}
	}
	for _, p := range reg.GetProjects() {
		put("projects", "project_name", "project_proto", p.GetSpec().GetName(), p.GetSpec().GetName(), p)
	}
	for _, e := range reg.GetEntities() {
		put("entities", "entity_name", "entity_proto", e.GetSpec().GetName(), e.GetSpec().GetProject(), e)
	}
	for _, d := range reg.GetDataSources() {
		put("data_sources", "data_source_name", "data_source_proto", d.GetName(), d.GetProject(), d)
	}
	for _, v := range reg.GetFeatureViews() {
		put("feature_views", "feature_view_name", "feature_view_proto", v.GetSpec().GetName(), v.GetSpec().GetProject(), v)
	}
	for _, v := range reg.GetOnDemandFeatureViews() {
		put("on_demand_feature_views", "feature_view_name", "feature_view_proto", v.GetSpec().GetName(), v.GetSpec().GetProject(), v)
	}
	for _, s := range reg.GetFeatureServices() {
		put("feature_services", "feature_service_name", "feature_service_proto", s.GetSpec().GetName(), s.GetSpec().GetProject(), s)
	}
}

// The SQL registry's database stopped while the server refreshes from it
// every second: the last good registry is served, /health/detail says
// degraded, the refresh-failing metric is 1; the database back, the
// server recovers without a restart.
func TestSQLRegistryDatabaseDownDuringRefresh(t *testing.T) {
	pg := startPostgres(t)
	repo := goldenRepo(t, "")
	b, err := os.ReadFile(filepath.Join(repo, "data", "registry.db"))
	if err != nil {
		t.Fatal(err)
	}
	var reg corepb.Registry
	if err := proto.Unmarshal(b, &reg); err != nil {
		t.Fatal(err)
	}
	if len(reg.GetProjects()) == 0 {
		t.Fatal("the golden registry has no projects row to store")
	}
	conn := pg.conn(t)
	seedSQLRegistry(t, conn, &reg)
	conn.Close(context.Background())
	yaml := fmt.Sprintf("project: pipeline_monitoring\nprovider: local\nregistry:\n  registry_type: sql\n"+
		"  path: postgresql+psycopg://feast:feast@127.0.0.1:%d/feast\n  cache_ttl_seconds: 1\n"+
		"online_store:\n  type: sqlite\n  path: data/online.db\noffline_store:\n  type: file\nentity_key_serialization_version: 3\n", pg.port)
	if err := os.WriteFile(filepath.Join(repo, "feature_store.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, repo, "--registry_ttl_sec", "1", "--no-materialize-if-empty")
	code, good, err := httpPost(http.DefaultClient, s.base+"/get-online-features", registryRead)
	if err != nil || code != http.StatusOK || !strings.Contains(good, `"PRESENT"`) {
		t.Fatalf("first read: %d %v %s", code, err, good)
	}
	pg.stop(t)
	registryFault(t, s, good, "connect")
	pg.start(t)
	registryRecovered(t, s, good)
}
