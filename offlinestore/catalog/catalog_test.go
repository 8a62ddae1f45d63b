package catalog

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/feastgo/feastgo/config"
	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/offlinestore"
	"github.com/feastgo/feastgo/offlinestore/parquet"
	pgoffline "github.com/feastgo/feastgo/offlinestore/postgres"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
)

func fileSource(uri string) *corepb.DataSource {
	return &corepb.DataSource{Name: "files", Type: corepb.DataSource_BATCH_FILE,
		Options: &corepb.DataSource_FileOptions_{FileOptions: &corepb.DataSource_FileOptions{Uri: uri}}}
}

func TestRoutesEachSourceToItsEngine(t *testing.T) {
	c := Open(&config.RepoConfig{RepoDir: "/repo"})
	defer c.Close()
	ctx := context.Background()

	src, err := c.Source(ctx, fileSource("data/x.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := src.(*parquet.Source); !ok || src.Describe() != "/repo/data/x.parquet" {
		t.Errorf("relative FileSource: %T %s", src, src.Describe())
	}
	// A push source stands for its batch source, for reads and appends.
	push := &corepb.DataSource{Name: "push", Type: corepb.DataSource_PUSH_SOURCE, BatchSource: fileSource("file:///abs/y.parquet")}
	if src, err := c.Source(ctx, push); err != nil || src.Describe() != "/abs/y.parquet" {
		t.Errorf("push source: %v %v", src, err)
	}
	if app, err := c.Appender(ctx, push); err != nil || !strings.Contains(app.Describe(), "/abs/y.parquet") {
		t.Errorf("push source appender: %v %v", app, err)
	}

	// No offline_store postgres: a PostgreSQLSource is a 4xx saying so.
	pg := &corepb.DataSource{Name: "pg", DataSourceClassType: pgoffline.SourceClass,
		Options: &corepb.DataSource_CustomOptions{CustomOptions: &corepb.DataSource_CustomSourceOptions{Configuration: []byte(`{"table": "t"}`)}}}
	if _, err := c.Source(ctx, pg); core.KindOf(err) != core.KindInvalidArgument || !strings.Contains(err.Error(), "offline_store type postgres") {
		t.Errorf("postgres without config: %v", err)
	}
	if _, err := c.Appender(ctx, pg); core.KindOf(err) != core.KindInvalidArgument {
		t.Errorf("postgres append without config: %v", err)
	}

	for name, ds := range map[string]*corepb.DataSource{
		"s3":    fileSource("s3://bucket/x.parquet"),
		"delta": {Name: "d", Options: &corepb.DataSource_FileOptions_{FileOptions: &corepb.DataSource_FileOptions{Uri: "d", FileFormat: &corepb.FileFormat{Format: &corepb.FileFormat_DeltaFormat{DeltaFormat: &corepb.TableFormat_DeltaFormat{}}}}}},
		"bigquery": {Name: "bq", Type: corepb.DataSource_BATCH_BIGQUERY,
			DataSourceClassType: "feast.infra.offline_stores.bigquery_source.BigQuerySource"},
	} {
		if _, err := c.Source(ctx, ds); core.KindOf(err) != core.KindUnimplemented {
			t.Errorf("%s: read: %v", name, err)
		}
		if _, err := c.Appender(ctx, ds); core.KindOf(err) != core.KindUnimplemented {
			t.Errorf("%s: append: %v", name, err)
		}
	}
	if _, err := c.Source(ctx, nil); core.KindOf(err) != core.KindInvalidArgument {
		t.Errorf("no batch source: %v", err)
	}
	if _, err := c.Source(ctx, &corepb.DataSource{Name: "p", Type: corepb.DataSource_PUSH_SOURCE}); core.KindOf(err) != core.KindInvalidArgument {
		t.Errorf("push source without a batch source: %v", err)
	}
}

// closer records Close calls.
type closer struct {
	offlinestore.Engine
	closed int
}

func (c *closer) Close() error { c.closed++; return errors.New("boom") }

func TestCloseClosesEveryEngineAndRefusesAfterwards(t *testing.T) {
	a, b := &closer{Engine: parquet.NewEngine("/")}, &closer{Engine: pgoffline.NewEngine("")}
	c := New(a, b)
	if err := c.Close(); err == nil || a.closed != 1 || b.closed != 1 {
		t.Fatalf("close: %v, closed %d %d", err, a.closed, b.closed)
	}
	if _, err := c.Source(context.Background(), fileSource("/x.parquet")); !errors.Is(err, ErrClosed) || core.KindOf(err) != core.KindUnavailable {
		t.Errorf("read after close: %v", err)
	}
	if _, err := c.Appender(context.Background(), fileSource("/x.parquet")); !errors.Is(err, ErrClosed) {
		t.Errorf("append after close: %v", err)
	}
}
