package sqlregistry

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	"github.com/feastgo/feastgo/internal/bench"
	"github.com/feastgo/feastgo/registry"
)

// BenchmarkOpenLargeRegistry loads and compiles a SQL registry of 1,000
// feature views with 10 features each (issue 14's size, bench.Registry):
// one op is a full snapshot load, as a refresh does.
func BenchmarkOpenLargeRegistry(b *testing.B) {
	path, conn := freshDBB(b)
	ctx := context.Background()
	seedLarge(b, conn, 1000, 10)
	src, err := Open(ctx, Options{Path: path})
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	b.ResetTimer()
	for b.Loop() {
		r, err := registry.Open(ctx, src, registry.Options{Project: "p"})
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := r.Current().View("fv_999"); !ok {
			b.Fatal("view fv_999 missing")
		}
	}
}

// seedLarge writes bench.Registry(p, views, features) into the tables as
// feast apply would: its project, entities and feature views, one row each.
func seedLarge(b *testing.B, conn *pgx.Conn, views, features int) {
	ctx := context.Background()
	reg := bench.Registry("p", views, features)
	pb, _ := proto.Marshal(project("p", timeZero))
	if _, err := conn.Exec(ctx, "INSERT INTO projects VALUES ('p', 'p', 1, $1)", pb); err != nil {
		b.Fatal(err)
	}
	for _, e := range reg.Entities {
		eb, _ := proto.Marshal(e)
		if _, err := conn.Exec(ctx, "INSERT INTO entities VALUES ($1, 'p', 1, $2)", e.Spec.Name, eb); err != nil {
			b.Fatal(err)
		}
	}
	rows := make([][]any, 0, len(reg.FeatureViews))
	for _, fv := range reg.FeatureViews {
		vb, _ := proto.Marshal(fv)
		rows = append(rows, []any{fv.Spec.Name, "p", int64(1), vb})
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"feature_views"}, []string{"feature_view_name", "project_id", "last_updated_timestamp", "feature_view_proto"}, pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
}
