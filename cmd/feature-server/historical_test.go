package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/feastgo/feastgo/internal/testrepo"
)

// TestGetHistoricalFeaturesCLI: the batch command reads a CSV entity file
// and writes the training set to parquet, the same rows as Feast's duckdb
// store gives (golden all_views: driver 1001 on 03-02 has conv_rate 0.21,
// driver 9999 nothing), and leaves no output behind when it fails.
func TestGetHistoricalFeaturesCLI(t *testing.T) {
	repo := testrepo.Copy(t, "../../offlinestore/testdata/historical/repo")
	dir := t.TempDir()
	entities := filepath.Join(dir, "entities.csv")
	csv := "driver_id,event_timestamp,label\n1001,2025-03-02T00:00:00Z,a\n9999,2025-03-02T00:00:00Z,b\n1002,2025-03-02T12:00:00+00:00,c\n"
	if err := os.WriteFile(entities, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "train.parquet")
	var stdout, stderr bytes.Buffer
	err := Run(context.Background(), []string{"-c", repo, "get-historical-features", "--entities", entities,
		"--features", "driver_stats:conv_rate,driver_stats:label", "--output", out}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "3 rows") {
		t.Errorf("stdout %q", stdout.String())
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tbl, err := pqarrow.ReadTable(context.Background(), f, nil, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	names := []string{}
	for _, fl := range tbl.Schema().Fields() {
		names = append(names, fl.Name)
	}
	if strings.Join(names, ",") != "driver_id,event_timestamp,label,conv_rate,label" {
		t.Fatalf("columns %v", names)
	}
	conv := tbl.Column(3).Data().Chunk(0).(*array.Float64)
	if conv.Value(0) != 0.21 || !conv.IsNull(1) || conv.Value(2) != 0.7 {
		t.Errorf("conv_rate %v", conv)
	}
	if ts := tbl.Schema().Field(1).Type.(*arrow.TimestampType); ts.TimeZone != "UTC" {
		t.Errorf("event_timestamp %s", ts)
	}

	// A failure: an unknown feature. The old output stays as it was, and
	// no temporary file is left.
	err = Run(context.Background(), []string{"-c", repo, "get-historical-features", "--entities", entities,
		"--features", "driver_stats:nope", "--output", out}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("unknown feature: %v", err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".train.parquet*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	for _, args := range [][]string{
		{"get-historical-features", "--features", "driver_stats:conv_rate", "--output", out},
		{"get-historical-features", "--entities", entities, "--output", out},
		{"get-historical-features", "--entities", entities, "--features", "driver_stats:conv_rate"},
		{"get-historical-features", "--entities", filepath.Join(dir, "missing.parquet"), "--features", "driver_stats:conv_rate", "--output", out},
	} {
		if err := Run(context.Background(), append([]string{"-c", repo}, args...), &stdout, &stderr); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// TestGetHistoricalFeaturesRangeCLI: --start-date/--end-date instead of
// --entities is Feast's range mode (over parquet the file store's answer,
// golden range_ttl_view: one row per driver as of the end date).
func TestGetHistoricalFeaturesRangeCLI(t *testing.T) {
	repo := testrepo.Copy(t, "../../offlinestore/testdata/historical/repo")
	dir := t.TempDir()
	out := filepath.Join(dir, "range.parquet")
	var stdout, stderr bytes.Buffer
	err := Run(context.Background(), []string{"-c", repo, "get-historical-features", "--start-date", "2025-03-01T00:00:00Z",
		"--end-date", "2025-03-03T00:00:00", "--features", "driver_stats:conv_rate,driver_stats:trips", "--output", out}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "3 rows") {
		t.Errorf("stdout %q", stdout.String())
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tbl, err := pqarrow.ReadTable(context.Background(), f, nil, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	var names []string
	for _, fl := range tbl.Schema().Fields() {
		names = append(names, fl.Name)
	}
	if strings.Join(names, ",") != "event_timestamp,driver_id,conv_rate,trips" {
		t.Fatalf("columns %v", names)
	}
	for _, args := range [][]string{
		{"--start-date", "2025-03-01", "--entities", "x.csv"},
		{"--end-date", "2025-03-01", "--entities", "x.csv"},
		{"--start-date", "soon"},
		{"--end-date", "2025-13-01"},
		{"--start-date", "2025-03-02", "--end-date", "2025-03-01"},
	} {
		err := Run(context.Background(), append([]string{"-c", repo, "get-historical-features", "--features", "driver_stats:conv_rate", "--output", out}, args...), &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("%v: %v, want an error naming %s", args, err, args[0])
		}
	}
}
