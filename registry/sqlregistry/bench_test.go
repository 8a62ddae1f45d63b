package sqlregistry

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	corepb "github.com/feastgo/feastgo/protos/feast/core"
	typespb "github.com/feastgo/feastgo/protos/feast/types"
	"github.com/feastgo/feastgo/registry"
)

// BenchmarkOpenLargeRegistry loads and compiles a SQL registry of 1,000
// feature views with 10 features each (issue 14's size): one op is a full
// snapshot load, as a refresh does.
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

func seedLarge(b *testing.B, conn *pgx.Conn, views, features int) {
	ctx := context.Background()
	pb, _ := proto.Marshal(project("p", timeZero))
	if _, err := conn.Exec(ctx, "INSERT INTO projects VALUES ('p', 'p', 1, $1)", pb); err != nil {
		b.Fatal(err)
	}
	eb, _ := proto.Marshal(&corepb.Entity{Spec: &corepb.EntitySpecV2{Name: "driver", JoinKey: "driver_id", ValueType: typespb.ValueType_INT64}})
	if _, err := conn.Exec(ctx, "INSERT INTO entities VALUES ('driver', 'p', 1, $1)", eb); err != nil {
		b.Fatal(err)
	}
	rows := make([][]any, 0, views)
	for i := range views {
		fv := view(fmt.Sprintf("fv_%d", i))
		fv.Spec.Features = nil
		for f := range features {
			fv.Spec.Features = append(fv.Spec.Features, &corepb.FeatureSpecV2{Name: fmt.Sprintf("f_%d", f), ValueType: typespb.ValueType_DOUBLE})
		}
		fv.Spec.BatchSource = &corepb.DataSource{Name: fmt.Sprintf("src_%d", i), Type: corepb.DataSource_BATCH_FILE,
			Options:        &corepb.DataSource_FileOptions_{FileOptions: &corepb.DataSource_FileOptions{Uri: fmt.Sprintf("data/src_%d.parquet", i)}},
			TimestampField: "event_timestamp"}
		vb, _ := proto.Marshal(fv)
		rows = append(rows, []any{fv.Spec.Name, "p", int64(1), vb})
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"feature_views"}, []string{"feature_view_name", "project_id", "last_updated_timestamp", "feature_view_proto"}, pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
}
