package historical_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/protobuf/proto"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/historical"
	"github.com/feastgo/feastgo/offlinestore/catalog"
	"github.com/feastgo/feastgo/offlinestore/parquet"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
	"github.com/feastgo/feastgo/registry"
	"github.com/feastgo/feastgo/transformations"
)

// The goldens are Feast 0.67.0's answers (offlinestore/testdata/historical,
// written by conformance/historical_goldens.py). Ours must equal Feast's
// duckdb store's answer, which is the contract's semantics (every entity
// row comes back once; the file store drops and merges rows, see the
// README there).
const goldenDir = "../offlinestore/testdata/historical"

type goldenCase struct {
	Name    string `json:"name"`
	Request struct {
		Features         []string `json:"features"`
		FeatureService   string   `json:"feature_service"`
		FullFeatureNames bool     `json:"full_feature_names"`
		EntityDF         struct {
			Columns []goldenColumn `json:"columns"`
		} `json:"entity_df"`
		// A range-mode case has no entity_df but dates (start may be null).
		StartDate *string `json:"start_date"`
		EndDate   *string `json:"end_date"`
	} `json:"request"`
	Answers map[string]struct {
		Result *struct {
			NumRows    int            `json:"num_rows"`
			Columns    []goldenColumn `json:"columns"`
			EntityRows [][]int        `json:"entity_rows"`
			Sorted     bool           `json:"sorted"`
		} `json:"result"`
		Error *struct {
			Class   string `json:"class"`
			Message string `json:"message"`
		} `json:"error"`
	} `json:"answers"`
}

type goldenColumn struct {
	Name   string            `json:"name"`
	Dtype  string            `json:"dtype"`
	Values []json.RawMessage `json:"values"`
}

func loadCases(t *testing.T) []goldenCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(goldenDir, "cases", "*.json"))
	if err != nil || len(files) < 20 {
		t.Fatalf("golden cases: %v (%d files)", err, len(files))
	}
	var out []goldenCase
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var c goldenCase
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, c)
	}
	return out
}

func goldenSnapshot(t *testing.T) *registry.Snapshot {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(goldenDir, "repo", "data", "registry.db"))
	if err != nil {
		t.Fatal(err)
	}
	var reg corepb.Registry
	if err := proto.Unmarshal(b, &reg); err != nil {
		t.Fatal(err)
	}
	snap, err := registry.Compile(&reg, "historical_conformance", false)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func goldenRetriever(batch int) *historical.Retriever {
	repo, _ := filepath.Abs(filepath.Join(goldenDir, "repo"))
	return &historical.Retriever{
		Catalog:     catalog.New(parquet.NewEngine(repo)),
		Transformer: transformations.New(transformations.Options{Execution: transformations.Native}),
		BatchSize:   batch,
	}
}

// TestGoldens runs every golden case through the parquet engine, with
// batches of 1, 4 and the default, and compares with Feast's duckdb
// answer cell by cell (and its error class for bad input).
func TestGoldens(t *testing.T) {
	snap := goldenSnapshot(t)
	for _, c := range loadCases(t) {
		for _, batch := range []int{0, 4, 1} {
			t.Run(fmt.Sprintf("%s/batch%d", c.Name, batch), func(t *testing.T) {
				if c.isRange() {
					// Range mode has no duckdb answer (Feast's duckdb
					// store takes no dates): the file store judges.
					runRangeGolden(t, snap, goldenRetriever(batch), c, "file")
					return
				}
				runGolden(t, snap, goldenRetriever(batch), c)
			})
		}
	}
}

func runGolden(t *testing.T, snap *registry.Snapshot, r *historical.Retriever, c goldenCase) {
	runGoldenJudge(t, snap, r, c, "duckdb")
}

// runGoldenJudge compares our answer with the judge store's answer of the
// case. A judge that returns an entity row more than once (Feast's
// postgres store on a full tie) is matched when our one row equals any of
// its rows.
func runGoldenJudge(t *testing.T, snap *registry.Snapshot, r *historical.Retriever, c goldenCase, judge string) {
	frame := goldenFrame(t, c.Request.EntityDF.Columns)
	defer frame.Release()
	req := &historical.Request{Features: c.Request.Features, FeatureService: c.Request.FeatureService,
		FullFeatureNames: c.Request.FullFeatureNames, Entities: frame}
	var got []arrow.RecordBatch
	err := r.Retrieve(context.Background(), snap, req, func(rec arrow.RecordBatch) error {
		rec.Retain()
		got = append(got, rec)
		return nil
	})
	defer func() {
		for _, g := range got {
			g.Release()
		}
	}()
	want, ok := c.Answers[judge]
	if !ok {
		t.Fatalf("the golden has no %s answer", judge)
	}
	if want.Error != nil {
		if err == nil {
			t.Fatalf("Feast raised %s: %s; we answered", want.Error.Class, want.Error.Message)
		}
		var ce *core.Error
		if !errorsAs(err, &ce) || ce.Kind != core.KindInvalidArgument && ce.Kind != core.KindNotFound {
			t.Fatalf("error %v: want an invalid-argument or not-found error (Feast: %s)", err, want.Error.Class)
		}
		// Our class may be the judge's or, where stores disagree, the file
		// store's (the postgres judge: any store's).
		accept := []string{judge, "file"}
		if judge == "postgres" {
			accept = append(accept, "duckdb")
		}
		if !anyStoreRaised(c, ce.Class, accept) {
			t.Errorf("error class %s (%v), Feast: %s %s, other stores %v", ce.Class, err, judge, want.Error.Class, errorClasses(c))
		}
		return
	}
	if core.KindOf(err) == core.KindUnimplemented && strings.Contains(err.Error(), "delegation is disabled") {
		// A UDF outside the native subset (here: NaN inputs) runs in the
		// server's Python worker; the conformance run covers it there.
		t.Skipf("needs the Python worker: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 {
		t.Fatal("no batch: the schema of a result must always be known")
	}
	rows := 0
	for _, g := range got {
		rows += int(g.NumRows())
	}
	if rows != int(frame.NumRows()) {
		t.Fatalf("%d rows for %d entity rows", rows, frame.NumRows())
	}
	compareRows(t, got, want.Result.Columns, want.Result.EntityRows, rows)
}

// compareRows checks each of our rows against the judge's rows of the
// same entity row: one of them must equal ours in every column.
func compareRows(t *testing.T, got []arrow.RecordBatch, cols []goldenColumn, entityRows [][]int, rows int) {
	t.Helper()
	names := map[string]bool{}
	for _, f := range got[0].Schema().Fields() {
		names[f.Name] = true
	}
	for _, col := range cols {
		if !names[col.Name] {
			t.Fatalf("column %s missing; ours: %v", col.Name, got[0].Schema())
		}
	}
	if len(names) != len(cols) {
		t.Errorf("%d columns, Feast %d: ours %v", len(names), len(cols), got[0].Schema())
	}
	candidates := make([][]int, rows)
	for j, ers := range entityRows {
		for _, er := range ers {
			candidates[er] = append(candidates[er], j)
		}
	}
	for er := 0; er < rows; er++ {
		if len(candidates[er]) == 0 {
			t.Errorf("entity row %d: Feast returned no row for it", er)
			continue
		}
		var first []string
		for k, j := range candidates[er] {
			var diffs []string
			for _, col := range cols {
				g := cellAt(got, col.Name, er)
				if !sameCell(col.Values[j], g, col.Dtype) {
					diffs = append(diffs, fmt.Sprintf("column %s (%s): ours %v, Feast %s", col.Name, col.Dtype, g, col.Values[j]))
				}
			}
			if len(diffs) == 0 {
				first = nil
				break
			}
			if k == 0 {
				first = diffs
			}
		}
		for _, d := range first {
			t.Errorf("entity row %d, %s", er, d)
		}
	}
}

// anyStoreRaised reports whether one of the named Feast stores raised
// class on this case.
func anyStoreRaised(c goldenCase, class string, stores []string) bool {
	for _, name := range stores {
		if a, ok := c.Answers[name]; ok && a.Error != nil && a.Error.Class == class {
			return true
		}
	}
	return false
}

func errorClasses(c goldenCase) map[string]string {
	out := map[string]string{}
	for name, a := range c.Answers {
		if a.Error != nil {
			out[name] = a.Error.Class
		}
	}
	return out
}

func errorsAs(err error, target **core.Error) bool {
	for err != nil {
		if e, ok := err.(*core.Error); ok {
			*target = e
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// cellAt is row i of the named column across the batches, as a Go value:
// nil, int64, float64, string, bool or time.Time.
func cellAt(recs []arrow.RecordBatch, name string, i int) any {
	for _, r := range recs {
		if i >= int(r.NumRows()) {
			i -= int(r.NumRows())
			continue
		}
		arr := r.Column(r.Schema().FieldIndices(name)[0])
		if arr.IsNull(i) {
			return nil
		}
		switch a := arr.(type) {
		case *array.Int64:
			return a.Value(i)
		case *array.Int32:
			return int64(a.Value(i))
		case *array.Float64:
			return a.Value(i)
		case *array.Float32:
			return float64(a.Value(i))
		case *array.String:
			return a.Value(i)
		case *array.Boolean:
			return a.Value(i)
		case *array.Timestamp:
			return a.Value(i).ToTime(a.DataType().(*arrow.TimestampType).Unit)
		}
		return fmt.Sprintf("unsupported %s", arr.DataType())
	}
	return "row out of range"
}

func sameCell(want json.RawMessage, got any, dtype string) bool {
	var w any
	if err := json.Unmarshal(want, &w); err != nil {
		return false
	}
	if m, ok := w.(map[string]any); ok {
		switch m["$"] {
		case "NaN":
			f, isF := got.(float64)
			return got == nil || (isF && math.IsNaN(f))
		case "NaT", "NA":
			return got == nil
		}
		return false
	}
	switch w := w.(type) {
	case nil:
		return got == nil
	case float64:
		switch g := got.(type) {
		case float64:
			if dtype == "float32" {
				return float32(g) == float32(w)
			}
			return g == w
		case int64:
			return float64(g) == w
		}
	case string:
		if strings.HasPrefix(dtype, "datetime64") {
			wt, err := time.Parse(time.RFC3339Nano, w)
			if err != nil && !strings.Contains(dtype, ",") {
				// A naive column (Feast's postgres store) holds the UTC wall clock.
				wt, err = time.Parse("2006-01-02T15:04:05.999999999", w)
			}
			gt, ok := got.(time.Time)
			return err == nil && ok && wt.Equal(gt)
		}
		return got == w
	case bool:
		return got == w
	}
	return false
}

// goldenFrame builds the Arrow entity frame of a request as pyarrow would
// from the pandas frame Feast was given.
func goldenFrame(t *testing.T, cols []goldenColumn) arrow.RecordBatch {
	t.Helper()
	mem := memory.DefaultAllocator
	var fields []arrow.Field
	var arrs []arrow.Array
	rows := 0
	for _, c := range cols {
		rows = len(c.Values)
		var b array.Builder
		var typ arrow.DataType
		switch {
		case c.Dtype == "int64":
			typ = arrow.PrimitiveTypes.Int64
		case c.Dtype == "float64":
			typ = arrow.PrimitiveTypes.Float64
		case strings.HasPrefix(c.Dtype, "datetime64"):
			tz := ""
			if i := strings.Index(c.Dtype, ", "); i > 0 {
				tz = strings.TrimSuffix(c.Dtype[i+2:], "]")
				if strings.HasPrefix(tz, "UTC") && len(tz) > 3 {
					tz = tz[3:]
				}
			}
			typ = &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: tz}
		case c.Dtype == "object" || c.Dtype == "object[datetime]":
			typ = arrow.BinaryTypes.String
		default:
			t.Fatalf("column %s: dtype %s", c.Name, c.Dtype)
		}
		b = array.NewBuilder(mem, typ)
		for _, raw := range c.Values {
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				t.Fatal(err)
			}
			if v == nil {
				b.AppendNull()
				continue
			}
			if m, ok := v.(map[string]any); ok {
				if m["$"] == "NaN" {
					b.(*array.Float64Builder).Append(math.NaN())
					continue
				}
				b.AppendNull()
				continue
			}
			switch b := b.(type) {
			case *array.Int64Builder:
				b.Append(int64(v.(float64)))
			case *array.Float64Builder:
				b.Append(v.(float64))
			case *array.StringBuilder:
				b.Append(v.(string))
			case *array.TimestampBuilder:
				s := v.(string)
				tm, err := time.Parse(time.RFC3339Nano, s)
				if err != nil {
					tm, err = time.Parse("2006-01-02T15:04:05.999999999", s)
				}
				if err != nil {
					t.Fatalf("column %s: %v", c.Name, err)
				}
				b.Append(arrow.Timestamp(tm.UnixNano()))
			}
		}
		arrs = append(arrs, b.NewArray())
		b.Release()
		fields = append(fields, arrow.Field{Name: c.Name, Type: typ, Nullable: true})
	}
	rec := array.NewRecordBatch(arrow.NewSchema(fields, nil), arrs, int64(rows))
	for _, a := range arrs {
		a.Release()
	}
	return rec
}

// TestODFVOutputsByName: on-demand outputs are typed by name, whatever
// order the request names them in (a python-mode UDF returns them in its
// schema's order).
func TestODFVOutputsByName(t *testing.T) {
	frame := goldenFrame(t, []goldenColumn{
		{Name: "driver_id", Dtype: "int64", Values: raws(`1001`, `1002`, `9999`)},
		{Name: "event_timestamp", Dtype: "datetime64[ns, UTC]", Values: raws(`"2025-03-02T00:00:00Z"`, `"2025-03-02T12:00:00Z"`, `"2025-03-02T00:00:00Z"`)},
		{Name: "val_to_add", Dtype: "int64", Values: raws(`1`, `2`, `3`)},
	})
	defer frame.Release()
	req := &historical.Request{Features: []string{"driver_conv_py:trips_label", "driver_conv_py:conv_plus_val"}, Entities: frame}
	var got []arrow.RecordBatch
	err := goldenRetriever(0).Retrieve(context.Background(), goldenSnapshot(t), req, func(rec arrow.RecordBatch) error {
		rec.Retain()
		got = append(got, rec)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer got[0].Release()
	for i, want := range []any{"t21", "t7", "none"} {
		if g := cellAt(got, "trips_label", i); g != want {
			t.Errorf("row %d trips_label %v, want %v", i, g, want)
		}
	}
	for i, want := range []any{1.21, 2.7, nil} {
		if g := cellAt(got, "conv_plus_val", i); g != want {
			t.Errorf("row %d conv_plus_val %v, want %v", i, g, want)
		}
	}
}

func raws(vals ...string) []json.RawMessage {
	out := make([]json.RawMessage, len(vals))
	for i, v := range vals {
		out[i] = json.RawMessage(v)
	}
	return out
}
