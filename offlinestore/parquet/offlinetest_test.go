package parquet

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/offlinestore/offlinetest"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
)

// The shared offline suite over parquet files, written as pandas writes
// them (timestamps in microseconds, UTC), named relative to the repository
// as feature_store.yaml names them.
func TestOfflineSuite(t *testing.T) {
	repo := t.TempDir()
	var n atomic.Int64
	b := offlinetest.Backend{
		Engine: NewEngine(repo),
		Range:  offlinetest.RangeFile,
		Create: func(t *testing.T, tbl offlinetest.Table) *corepb.DataSource {
			name := fmt.Sprintf("data/t%d.parquet", n.Add(1))
			writeTable(t, filepath.Join(repo, name), tbl)
			return &corepb.DataSource{Name: "src", Type: corepb.DataSource_BATCH_FILE,
				Options: &corepb.DataSource_FileOptions_{FileOptions: &corepb.DataSource_FileOptions{Uri: name}}}
		},
	}
	offlinetest.Run(t, b)
	t.Run("Historical", func(t *testing.T) { offlinetest.RunHistorical(t, b) })
}

func writeTable(tb *testing.T, path string, tbl offlinetest.Table) {
	tb.Helper()
	fields := make([]arrow.Field, len(tbl.Columns))
	for i, c := range tbl.Columns {
		var typ arrow.DataType
		switch c.Type {
		case core.Int64:
			typ = arrow.PrimitiveTypes.Int64
		case core.Double:
			typ = arrow.PrimitiveTypes.Float64
		case core.String:
			typ = arrow.BinaryTypes.String
		case core.UnixTimestamp:
			typ = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
		default:
			tb.Fatalf("column %s: type %v", c.Name, c.Type)
		}
		fields[i] = arrow.Field{Name: c.Name, Type: typ, Nullable: true}
	}
	schema := arrow.NewSchema(fields, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for _, r := range tbl.Rows {
		for j, cell := range r {
			fb := b.Field(j)
			switch v := cell.(type) {
			case nil:
				fb.AppendNull()
			case int64:
				fb.(*array.Int64Builder).Append(v)
			case float64:
				fb.(*array.Float64Builder).Append(v)
			case string:
				fb.(*array.StringBuilder).Append(v)
			case time.Time:
				fb.(*array.TimestampBuilder).Append(arrow.Timestamp(v.UnixMicro()))
			default:
				tb.Fatalf("cell %T", cell)
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	writeBuilt(tb, path, schema, b, 3)
}
