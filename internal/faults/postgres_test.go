package faults_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	_ "modernc.org/sqlite"

	"github.com/feastgo/feastgo/internal/testenv"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
	typespb "github.com/feastgo/feastgo/protos/feast/types"
)

// postgres is a PostgreSQL of the test's own, started by
// scripts/services.sh (initdb, database feast, user feast) in a directory
// of its own, so that the test can stop it without disturbing the
// services other tests use.
type postgres struct {
	port int
	dir  string // SERVICES_DIR
	dsn  string
}

func startPostgres(t *testing.T) *postgres {
	t.Helper()
	if _, err := exec.LookPath("pg_ctl"); err != nil {
		if matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl"); len(matches) == 0 {
			if testenv.Integration() {
				t.Fatal("PostgreSQL not installed (scripts/services.sh installs it)")
			}
			t.Skip("PostgreSQL not installed")
		}
	}
	// Not t.TempDir: the postgres user must be able to reach the data
	// directory, and t.TempDir's parents are private.
	dir, err := os.MkdirTemp("", "faults-pg")
	if err != nil {
		t.Fatal(err)
	}
	pg := &postgres{port: backendPort(t, false), dir: dir}
	pg.dsn = fmt.Sprintf("postgres://feast:feast@127.0.0.1:%d/feast?sslmode=disable", pg.port)
	t.Cleanup(func() {
		_ = pg.services("postgres-stop")
		os.RemoveAll(dir)
	})
	if err := pg.services("postgres-start"); err != nil {
		t.Fatal(err)
	}
	return pg
}

func (pg *postgres) services(cmd string) error {
	c := exec.Command("bash", "../../scripts/services.sh", cmd, fmt.Sprint(pg.port))
	c.Env = append(os.Environ(), "SERVICES_DIR="+pg.dir)
	if out, err := c.CombinedOutput(); err != nil {
		return fmt.Errorf("services.sh %s: %v\n%s", cmd, err, out)
	}
	return nil
}

// stop stops PostgreSQL at once (pg_ctl -m immediate: every connection
// cut, as in a crash), keeping its data for start.
func (pg *postgres) stop(t *testing.T) {
	t.Helper()
	ctl, err := exec.LookPath("pg_ctl")
	if err != nil {
		matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
		ctl = matches[len(matches)-1]
	}
	args := []string{ctl, "-D", filepath.Join(pg.dir, fmt.Sprintf("postgres-%d", pg.port), "data"), "-m", "immediate", "-w", "stop"}
	if os.Getuid() == 0 {
		args = append([]string{"runuser", "-u", "postgres", "--"}, args...)
	}
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("pg_ctl stop: %v\n%s", err, out)
	}
}

func (pg *postgres) start(t *testing.T) {
	t.Helper()
	if err := pg.services("postgres-start"); err != nil {
		t.Fatal(err)
	}
}

func (pg *postgres) conn(t *testing.T) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), pg.dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func (pg *postgres) count(t *testing.T, q string) int {
	t.Helper()
	c := pg.conn(t)
	var n int
	if err := c.QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// hold takes lock on fault_src in a transaction of its own and returns;
// the lock lasts until PostgreSQL stops.
func (pg *postgres) hold(t *testing.T, mode string) {
	t.Helper()
	c := pg.conn(t)
	ctx := context.Background()
	if _, err := c.Exec(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "LOCK TABLE fault_src IN "+mode+" MODE"); err != nil {
		t.Fatal(err)
	}
}

// waitBlocked waits until a statement like pattern waits on a lock: the
// server's work is then in PostgreSQL's hands, and stopping PostgreSQL
// stops it in the middle.
func (pg *postgres) waitBlocked(t *testing.T, pattern string, ch <-chan answer) <-chan answer {
	t.Helper()
	c := pg.conn(t)
	waitFor(t, 30*time.Second, "a statement like "+pattern+" to wait on the lock", func() bool {
		select {
		case a := <-ch:
			t.Fatalf("answered before PostgreSQL was stopped: %d %v %s", a.code, a.err, a.body)
		default:
		}
		var n int
		err := c.QueryRow(context.Background(), "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE $1", pattern).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n > 0
	})
	return ch
}

const faultRows = 20000

// pgRepo is a repository of one view, stats (score, count of entity id),
// whose batch source is the PostgreSQL table fault_src and which a push
// source, stats_push, feeds; the online store is SQLite.
func pgRepo(t *testing.T, pg *postgres) string {
	t.Helper()
	const project = "faults"
	src := &corepb.DataSource{Name: "stats_source", Project: project, Type: corepb.DataSource_CUSTOM_SOURCE, TimestampField: "event_timestamp",
		DataSourceClassType: "feast.infra.offline_stores.contrib.postgres_offline_store.postgres_source.PostgreSQLSource",
		Options: &corepb.DataSource_CustomOptions{CustomOptions: &corepb.DataSource_CustomSourceOptions{
			Configuration: []byte(`{"name": "stats_source", "table": "fault_src", "query": null}`)}}}
	push := &corepb.DataSource{Name: "stats_push", Project: project, Type: corepb.DataSource_PUSH_SOURCE, BatchSource: src}
	ft := func(name string, vt typespb.ValueType_Enum) *corepb.FeatureSpecV2 {
		return &corepb.FeatureSpecV2{Name: name, ValueType: vt}
	}
	reg := &corepb.Registry{
		Entities:    []*corepb.Entity{{Spec: &corepb.EntitySpecV2{Name: "thing", Project: project, JoinKey: "id", ValueType: typespb.ValueType_INT64}}},
		DataSources: []*corepb.DataSource{src, push},
		FeatureViews: []*corepb.FeatureView{{
			Spec: &corepb.FeatureViewSpec{
				Name: "stats", Project: project, Entities: []string{"thing"}, Online: true,
				Ttl:           durationpb.New(0),
				Features:      []*corepb.FeatureSpecV2{ft("score", typespb.ValueType_DOUBLE), ft("count", typespb.ValueType_INT64)},
				EntityColumns: []*corepb.FeatureSpecV2{ft("id", typespb.ValueType_INT64)},
				BatchSource:   src, StreamSource: push,
			},
			Meta: &corepb.FeatureViewMeta{},
		}},
		RegistrySchemaVersion: "1",
	}
	b, err := proto.Marshal(reg)
	if err != nil {
		t.Fatal(err)
	}
	repo := t.TempDir()
	if err := os.MkdirAll(filepath.Join(repo, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "data", "registry.db"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf("project: %s\nprovider: local\nregistry: data/registry.db\nonline_store:\n  type: sqlite\n  path: data/online.db\n"+
		"offline_store:\n  type: postgres\n  host: 127.0.0.1\n  port: %d\n  database: feast\n  user: feast\n  password: feast\n  sslmode: disable\n"+
		"entity_key_serialization_version: 3\n", project, pg.port)
	if err := os.WriteFile(filepath.Join(repo, "feature_store.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	c := pg.conn(t)
	_, err = c.Exec(context.Background(), `CREATE TABLE fault_src (id BIGINT, event_timestamp TIMESTAMPTZ, score DOUBLE PRECISION, count BIGINT);
		INSERT INTO fault_src SELECT g, timestamptz '2025-01-01 00:00:00+00' + g * interval '1 second', g * 0.5, g
		FROM generate_series(1, `+fmt.Sprint(faultRows)+`) g`)
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

// onlineRows counts the online rows of stats (one per entity and
// feature) and their distinct entities.
func onlineRows(t *testing.T, repo string) (rows, entities int) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(repo, "data", "online.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.QueryRow(`SELECT count(*), count(DISTINCT entity_key) FROM faults_stats`).Scan(&rows, &entities)
	if err != nil && !strings.Contains(err.Error(), "no such table") {
		t.Fatal(err)
	}
	return rows, entities
}

// answer is an HTTP exchange sent in the background.
type answer struct {
	code int
	body string
	err  error
}

func postAsync(url, body string) <-chan answer {
	ch := make(chan answer, 1)
	go func() {
		c := &http.Client{Timeout: 60 * time.Second}
		code, out, err := httpPost(c, url, body)
		ch <- answer{code, out, err}
	}()
	return ch
}

// wantUnavailable checks that a request cut by PostgreSQL's stop got a
// clear 503 naming PostgreSQL, within the client's timeout.
func wantUnavailable(t *testing.T, what string, ch <-chan answer) {
	t.Helper()
	a := <-ch
	if a.err != nil || a.code != http.StatusServiceUnavailable || !strings.Contains(strings.ToLower(a.body), "postgres") {
		t.Fatalf("%s while PostgreSQL stopped: %d %v %s, want a 503 naming PostgreSQL", what, a.code, a.err, a.body)
	}
	t.Logf("%s while PostgreSQL stopped: %d %s", what, a.code, a.body)
}

// PostgreSQL (the offline store: the views' source and the offline push
// target) stopped in the middle of a materialization and of offline
// pushes: each answers a clear 503 naming PostgreSQL; after PostgreSQL
// returns, the same request run again completes, and the rows are all
// there exactly once (counted in both stores). The server runs on
// throughout.
func TestPostgresStoppedDuringMaterializeAndPush(t *testing.T) {
	pg := startPostgres(t)
	repo := pgRepo(t, pg)
	s := startServer(t, repo, "--no-materialize-if-empty")

	t.Run("materialize", func(t *testing.T) {
		const body = `{"start_ts": "2025-01-01T00:00:00", "end_ts": "2025-01-08T00:00:00", "feature_views": ["stats"]}`
		pg.hold(t, "ACCESS EXCLUSIVE")
		ch := pg.waitBlocked(t, "%fault_src%", postAsync(s.base+"/materialize", body))
		pg.stop(t)
		wantUnavailable(t, "/materialize", ch)
		pg.start(t)
		code, out, err := httpPost(http.DefaultClient, s.base+"/materialize", body)
		if err != nil || code != http.StatusOK {
			t.Fatalf("/materialize again: %d %v %s", code, err, out)
		}
		if rows, ents := onlineRows(t, repo); rows != 2*faultRows || ents != faultRows {
			t.Fatalf("online store: %d rows of %d entities, want %d of %d", rows, ents, 2*faultRows, faultRows)
		}
		read := `{"features":["stats:count"],"entities":{"id":[1,20000]}}`
		if code, out, err := httpPost(http.DefaultClient, s.base+"/get-online-features", read); err != nil || code != http.StatusOK ||
			!strings.Contains(out, `"values":[1,20000]`) {
			t.Fatalf("read of the materialized rows: %d %v %s", code, err, out)
		}
	})

	for i, mode := range []string{"offline", "online_and_offline"} {
		t.Run("push to "+mode, func(t *testing.T) {
			const n = 100
			first := (i + 1) * 100000
			cols := map[string][]string{}
			for j := range n {
				id := first + j
				cols["id"] = append(cols["id"], fmt.Sprint(id))
				cols["event_timestamp"] = append(cols["event_timestamp"], `"2025-01-02 00:00:00+00:00"`)
				cols["score"] = append(cols["score"], fmt.Sprint(float64(id)/2))
				cols["count"] = append(cols["count"], fmt.Sprint(id))
			}
			var df []string
			for _, c := range []string{"id", "event_timestamp", "score", "count"} {
				df = append(df, fmt.Sprintf("%q: [%s]", c, strings.Join(cols[c], ",")))
			}
			body := `{"push_source_name": "stats_push", "to": "` + mode + `", "df": {` + strings.Join(df, ",") + `}}`
			before := pg.count(t, "SELECT count(*) FROM fault_src")
			onlineBefore, _ := onlineRows(t, repo)
			// EXCLUSIVE lets the push read the table's columns and
			// holds its INSERT.
			pg.hold(t, "EXCLUSIVE")
			ch := pg.waitBlocked(t, "INSERT INTO fault_src%", postAsync(s.base+"/push", body))
			pg.stop(t)
			wantUnavailable(t, "/push to "+mode, ch)
			pg.start(t)
			if got := pg.count(t, "SELECT count(*) FROM fault_src"); got != before {
				t.Fatalf("the cut push left %d rows in the offline table", got-before)
			}
			code, out, err := httpPost(http.DefaultClient, s.base+"/push", body)
			if err != nil || code != http.StatusOK {
				t.Fatalf("/push again: %d %v %s", code, err, out)
			}
			if got := pg.count(t, "SELECT count(*) FROM fault_src"); got != before+n {
				t.Errorf("offline table: %d rows, want %d (%d before and the push's %d once)", got, before+n, before, n)
			}
			if got := pg.count(t, fmt.Sprintf("SELECT count(DISTINCT id) FROM fault_src WHERE id >= %d AND id < %d", first, first+n)); got != n {
				t.Errorf("offline table: %d distinct pushed ids, want %d", got, n)
			}
			wantOnline := onlineBefore
			if mode == "online_and_offline" {
				wantOnline += 2 * n
			}
			if got, _ := onlineRows(t, repo); got != wantOnline {
				t.Errorf("online store: %d rows, want %d", got, wantOnline)
			}
		})
	}
}
