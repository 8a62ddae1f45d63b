package sqlregistry

import (
	"context"
	_ "embed"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/feastgo/feastgo/internal/testenv"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
	typespb "github.com/feastgo/feastgo/protos/feast/types"
	"github.com/feastgo/feastgo/registry"
)

//go:embed testdata/schema.sql
var schema string

// freshDB creates an empty schema with Feast's registry tables on the
// PostgreSQL scripts/go-test.sh starts and returns its SQLAlchemy URL.
func freshDB(t *testing.T) (string, *pgx.Conn) { return freshDBB(t) }

var timeZero = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func freshDBB(t testing.TB) (string, *pgx.Conn) {
	t.Helper()
	dsn := testenv.Service(t, "FEASTGO_TEST_POSTGRES")
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	// A schema of its own, found through search_path, stands in for a
	// database of its own (the test role may not create databases).
	name := fmt.Sprintf("reg_%d", time.Now().UnixNano())
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(dsn)
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	if _, err := conn.Exec(ctx, schema); err != nil {
		t.Fatal(err)
	}
	u.Scheme = "postgresql+psycopg"
	return u.String(), conn
}

func insert(t *testing.T, conn *pgx.Conn, table, idCol, protoCol, name, project string, m proto.Message) {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	q := fmt.Sprintf("INSERT INTO %s (%s, project_id, last_updated_timestamp, %s) VALUES ($1, $2, 1, $3)", table, idCol, protoCol)
	if table == "projects" {
		q = "INSERT INTO projects (project_id, project_name, last_updated_timestamp, project_proto) VALUES ($1, $2, 1, $3)"
		if _, err := conn.Exec(context.Background(), q, project, project, b); err != nil {
			t.Fatal(err)
		}
		return
	}
	if _, err := conn.Exec(context.Background(), q, name, project, b); err != nil {
		t.Fatal(err)
	}
}

func project(name string, updated time.Time) *corepb.Project {
	return &corepb.Project{Spec: &corepb.ProjectSpec{Name: name}, Meta: &corepb.ProjectMeta{LastUpdatedTimestamp: timestamppb.New(updated)}}
}

func view(name string) *corepb.FeatureView {
	return &corepb.FeatureView{
		Spec: &corepb.FeatureViewSpec{
			Name: name, Entities: []string{"driver"},
			EntityColumns: []*corepb.FeatureSpecV2{{Name: "driver_id", ValueType: typespb.ValueType_INT64}},
			Features:      []*corepb.FeatureSpecV2{{Name: "conv_rate", ValueType: typespb.ValueType_FLOAT}},
			Online:        true,
		},
		Meta: &corepb.FeatureViewMeta{},
	}
}

// seed fills a registry as `feast apply` leaves it for two projects. Feast
// stores objects without their project; proto() stamps it back.
func seed(t *testing.T, conn *pgx.Conn) {
	insert(t, conn, "projects", "", "", "", "p", project("p", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)))
	insert(t, conn, "projects", "", "", "", "q", project("q", time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)))
	insert(t, conn, "entities", "entity_name", "entity_proto", "driver", "p",
		&corepb.Entity{Spec: &corepb.EntitySpecV2{Name: "driver", JoinKey: "driver_id", ValueType: typespb.ValueType_INT64}})
	insert(t, conn, "feature_views", "feature_view_name", "feature_view_proto", "stats", "p", view("stats"))
	insert(t, conn, "feature_views", "feature_view_name", "feature_view_proto", "other", "q", view("other"))
	insert(t, conn, "feature_services", "feature_service_name", "feature_service_proto", "svc", "p",
		&corepb.FeatureService{Spec: &corepb.FeatureServiceSpec{Name: "svc", Features: []*corepb.FeatureViewProjection{{FeatureViewName: "stats"}}}})
	// A row of a project that has no projects row is not part of the registry.
	insert(t, conn, "feature_views", "feature_view_name", "feature_view_proto", "orphan", "gone", view("orphan"))
}

func TestFetchAssemblesEveryProject(t *testing.T) {
	path, conn := freshDB(t)
	seed(t, conn)
	ctx := context.Background()
	src, err := Open(ctx, Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	b, err := src.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reg := &corepb.Registry{}
	if err := proto.Unmarshal(b, reg); err != nil {
		t.Fatal(err)
	}
	if len(reg.Projects) != 2 || len(reg.FeatureViews) != 2 || len(reg.Entities) != 1 || len(reg.FeatureServices) != 1 {
		t.Fatalf("projects %d, views %d, entities %d, services %d", len(reg.Projects), len(reg.FeatureViews), len(reg.Entities), len(reg.FeatureServices))
	}
	for _, fv := range reg.FeatureViews {
		if want := map[string]string{"stats": "p", "other": "q"}[fv.Spec.Name]; fv.Spec.Project != want {
			t.Errorf("view %s has project %q, want %q", fv.Spec.Name, fv.Spec.Project, want)
		}
	}
	if got := reg.LastUpdated.AsTime(); !got.Equal(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("last_updated %v, want the latest project's", got)
	}

	// The registry package serves it like a file.
	r, err := registry.Open(ctx, src, registry.Options{Project: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Current().View("stats"); !ok {
		t.Fatal("view stats is not served")
	}
	if _, ok := r.Current().View("other"); ok {
		t.Fatal("a view of project q is served for project p")
	}
}

// TestUpdateRecordsMaterialization writes an interval as Feast's
// apply_materialization does: the view's row only, last_updated stamped,
// feast_metadata set; the other rows stay byte for byte.
func TestUpdateRecordsMaterialization(t *testing.T) {
	path, conn := freshDB(t)
	seed(t, conn)
	ctx := context.Background()
	src, err := Open(ctx, Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var otherBefore []byte
	if err := conn.QueryRow(ctx, "SELECT feature_view_proto FROM feature_views WHERE feature_view_name = 'other'").Scan(&otherBefore); err != nil {
		t.Fatal(err)
	}
	start, end := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	now := time.Date(2026, 3, 2, 1, 2, 3, 456789000, time.UTC)
	err = registry.Update(ctx, src, now, func(reg *corepb.Registry) error {
		return registry.RecordMaterialization(reg, "p", "stats", start, end, now)
	})
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	var rowUpdated int64
	if err := conn.QueryRow(ctx, "SELECT feature_view_proto, last_updated_timestamp FROM feature_views WHERE feature_view_name = 'stats' AND project_id = 'p'").Scan(&b, &rowUpdated); err != nil {
		t.Fatal(err)
	}
	fv := &corepb.FeatureView{}
	if err := proto.Unmarshal(b, fv); err != nil {
		t.Fatal(err)
	}
	iv := fv.GetMeta().GetMaterializationIntervals()
	if len(iv) != 1 || !iv[0].StartTime.AsTime().Equal(start) || !iv[0].EndTime.AsTime().Equal(end) {
		t.Fatalf("intervals %v", iv)
	}
	if fv.Meta.State != corepb.FeatureViewState_AVAILABLE_ONLINE || !fv.Meta.LastUpdatedTimestamp.AsTime().Equal(now) {
		t.Fatalf("meta %v", fv.Meta)
	}
	if rowUpdated != now.Unix() {
		t.Fatalf("row last_updated_timestamp %d, want %d", rowUpdated, now.Unix())
	}
	var otherAfter []byte
	if err := conn.QueryRow(ctx, "SELECT feature_view_proto FROM feature_views WHERE feature_view_name = 'other'").Scan(&otherAfter); err != nil {
		t.Fatal(err)
	}
	if string(otherAfter) != string(otherBefore) {
		t.Fatal("a view the change did not touch was rewritten")
	}
	var meta string
	if err := conn.QueryRow(ctx, "SELECT metadata_value FROM feast_metadata WHERE project_id = 'p' AND metadata_key = 'last_updated_timestamp'").Scan(&meta); err != nil {
		t.Fatal(err)
	}
	if meta != fmt.Sprint(now.Unix()) {
		t.Fatalf("feast_metadata last_updated_timestamp %q", meta)
	}
	// A view that does not exist is the change's error, and nothing is written.
	err = registry.Update(ctx, src, now, func(reg *corepb.Registry) error {
		return registry.RecordMaterialization(reg, "p", "missing", start, end, now)
	})
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("want the not-found error, got %v", err)
	}
}

// TestConcurrentUpdatesLoseNothing runs many interval writes at once from
// two sources (two servers): every interval is recorded.
func TestConcurrentUpdatesLoseNothing(t *testing.T) {
	path, conn := freshDB(t)
	seed(t, conn)
	ctx := context.Background()
	var srcs []*Source
	for range 2 {
		s, err := Open(ctx, Options{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		srcs = append(srcs, s)
	}
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Date(2026, 1, 1, i, 0, 0, 0, time.UTC)
			errs <- registry.Update(ctx, srcs[i%2], start, func(reg *corepb.Registry) error {
				return registry.RecordMaterialization(reg, "p", "stats", start, start.Add(time.Hour), start)
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var b []byte
	if err := conn.QueryRow(ctx, "SELECT feature_view_proto FROM feature_views WHERE feature_view_name = 'stats'").Scan(&b); err != nil {
		t.Fatal(err)
	}
	fv := &corepb.FeatureView{}
	_ = proto.Unmarshal(b, fv)
	if got := len(fv.GetMeta().GetMaterializationIntervals()); got != n {
		t.Fatalf("%d intervals recorded, want %d", got, n)
	}
}

// TestSchemaErrorsNameTheTable: a table missing, or a column renamed by a
// newer Feast, is an error naming the table (and the column).
func TestSchemaErrorsNameTheTable(t *testing.T) {
	for _, tc := range []struct {
		name, ddl string
		want      []string
	}{
		{"missing table", "DROP TABLE feature_services", []string{"table feature_services does not exist"}},
		{"newer column", "ALTER TABLE entities RENAME COLUMN entity_proto TO entity_proto_v2",
			[]string{"table entities does not have the columns", "entity_proto"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, conn := freshDB(t)
			if _, err := conn.Exec(context.Background(), tc.ddl); err != nil {
				t.Fatal(err)
			}
			src, err := Open(context.Background(), Options{Path: path})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			_, err = src.Fetch(context.Background())
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Fatalf("want an error containing %q, got %v", w, err)
				}
			}
		})
	}
}

// TestUpdateLocksOnlyItsProject: while an Update of project p holds its
// locks, project q's rows stay free (a `feast apply` of q does not wait),
// and p's are taken.
func TestUpdateLocksOnlyItsProject(t *testing.T) {
	path, conn := freshDB(t)
	seed(t, conn)
	ctx := context.Background()
	src, err := Open(ctx, Options{Path: path, Project: "p"})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	locked, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- registry.Update(ctx, src, time.Now(), func(*corepb.Registry) error {
			close(locked)
			<-release
			return nil
		})
	}()
	<-locked
	tryLock := func(project string) error {
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback(ctx) }()
		_, err = tx.Exec(ctx, "SELECT 1 FROM feature_views WHERE project_id = $1 FOR UPDATE NOWAIT", project)
		return err
	}
	errQ, errP := tryLock("q"), tryLock("p")
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if errQ != nil {
		t.Errorf("project q's rows are locked by an update of p: %v", errQ)
	}
	if errP == nil {
		t.Error("project p's rows were not locked by its update")
	}
}

func TestDSN(t *testing.T) {
	for in, want := range map[string]string{
		"postgresql+psycopg://u:p@h:5432/db":  "postgresql://u:p@h:5432/db",
		"postgresql://u@h/db?sslmode=disable": "postgresql://u@h/db?sslmode=disable",
		"postgres://h/db":                     "postgresql://h/db",
		"postgresql+psycopg2://h/db":          "postgresql://h/db",
	} {
		got, err := DSN(in)
		if err != nil || got != want {
			t.Errorf("%s: got %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"mysql://u:secret@h/db", "sqlite:///registry.db", "registry.db"} {
		_, err := DSN(in)
		if err == nil || !strings.Contains(err.Error(), "registry.path") {
			t.Errorf("%s: want a registry.path error, got %v", in, err)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: the error shows the password: %v", in, err)
		}
	}
}

func TestOpenDatabaseDown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := Open(ctx, Options{Path: "postgresql+psycopg://feast:secret@127.0.0.1:1/feast"})
	if err == nil || strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), "registry") {
		t.Fatalf("want a registry error without the password, got %v", err)
	}
}
