package offline_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/feastgo/feastgo/registry"
)

// goldenCase is one case file of offlinestore/testdata/historical/cases:
// a request and Feast's answers.
type goldenCase struct {
	Name    string `json:"name"`
	Request struct {
		Features         []string `json:"features"`
		FeatureService   string   `json:"feature_service"`
		FullFeatureNames bool     `json:"full_feature_names"`
		EntityDF         struct {
			Columns []goldenColumn `json:"columns"`
		} `json:"entity_df"`
		StartDate *string `json:"start_date"`
		EndDate   *string `json:"end_date"`
	} `json:"request"`
	Answers map[string]struct {
		Result *struct {
			Columns     []goldenColumn `json:"columns"`
			EntityRows  [][]int        `json:"entity_rows"`
			NumRows     int            `json:"num_rows"`
			MissingRows []int          `json:"missing_entity_rows"`
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

// frameOf builds the entity frame as pyarrow's Table.from_pandas would
// send it; ok is false for a dtype this test does not build (the Python
// conformance test covers those cases).
func frameOf(t *testing.T, cols []goldenColumn) (arrow.RecordBatch, bool) {
	t.Helper()
	m := map[string]arrow.Array{}
	var order []string
	for _, c := range cols {
		var a arrow.Array
		switch {
		case c.Dtype == "int64":
			b := array.NewInt64Builder(memory.DefaultAllocator)
			for _, v := range c.Values {
				var n int64
				mustJSON(t, v, &n)
				b.Append(n)
			}
			a = b.NewArray()
			b.Release()
		case c.Dtype == "float64":
			b := array.NewFloat64Builder(memory.DefaultAllocator)
			for _, v := range c.Values {
				var n *float64
				if json.Unmarshal(v, &n) != nil || n == nil {
					b.AppendNull()
					continue
				}
				b.Append(*n)
			}
			a = b.NewArray()
			b.Release()
		case c.Dtype == "object":
			b := array.NewStringBuilder(memory.DefaultAllocator)
			for _, v := range c.Values {
				var s *string
				if json.Unmarshal(v, &s) != nil {
					b.Release()
					return nil, false
				}
				if s == nil {
					b.AppendNull()
				} else {
					b.Append(*s)
				}
			}
			a = b.NewArray()
			b.Release()
		case c.Dtype == "datetime64[ns, UTC]":
			b := array.NewTimestampBuilder(memory.DefaultAllocator, &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"})
			for _, v := range c.Values {
				var s string
				mustJSON(t, v, &s)
				ts, err := time.Parse(time.RFC3339Nano, s)
				if err != nil {
					t.Fatal(err)
				}
				b.Append(arrow.Timestamp(ts.UnixNano()))
			}
			a = b.NewArray()
			b.Release()
		default:
			for _, a := range m {
				a.Release()
			}
			return nil, false
		}
		m[c.Name] = a
		order = append(order, c.Name)
	}
	return record(m, order...), true
}

func mustJSON(t *testing.T, b []byte, dst any) {
	t.Helper()
	if err := json.Unmarshal(b, dst); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
}

// clientParams are the parameters Feast's client sends for the request:
// refs, the views and their projections' aliases.
func clientParams(t *testing.T, snap *registry.Snapshot, c *goldenCase) (map[string]any, bool) {
	var views []string
	var aliases []any
	refs := c.Request.Features
	if c.Request.FeatureService != "" {
		svc, ok := snap.Service(c.Request.FeatureService)
		if !ok {
			return nil, false // Feast's client fails before it calls
		}
		refs = nil
		for _, p := range svc.Projections {
			if _, isODFV := snap.ODFV(p.ViewName); !isODFV {
				views = append(views, p.ViewName)
				if p.Alias != "" {
					aliases = append(aliases, p.Alias)
				} else {
					aliases = append(aliases, nil)
				}
			}
			for _, f := range p.Features {
				refs = append(refs, p.NameToUse()+":"+f.Name)
			}
		}
	} else {
		seen := map[string]bool{}
		for _, r := range refs {
			v, _, _ := strings.Cut(r, ":")
			if _, isODFV := snap.ODFV(v); !seen[v] && !isODFV {
				seen[v] = true
				views = append(views, v)
				aliases = append(aliases, nil)
			}
		}
	}
	return map[string]any{"feature_view_names": views, "feature_refs": refs, "project": project,
		"full_feature_names": c.Request.FullFeatureNames, "name_aliases": aliases}, true
}

// TestGoldenCasesOverFlight: get_historical_features over DoExchange
// answers every golden case Feast's duckdb store answers (the contract's
// semantics), cell for cell, and refuses with InvalidArgument what Feast
// refuses.
func TestGoldenCasesOverFlight(t *testing.T) {
	f := start(t)
	reg, err := registry.Open(context.Background(), &registry.FileSource{Path: filepath.Join(f.repo, "data", "registry.db")},
		registry.Options{Project: project})
	if err != nil {
		t.Fatal(err)
	}
	paths, _ := filepath.Glob(filepath.Join(goldenRepo, "cases", "*.json"))
	if len(paths) < 20 {
		t.Fatalf("found %d golden cases", len(paths))
	}
	ran := 0
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var c goldenCase
		mustJSON(t, b, &c)
		if c.Request.EntityDF.Columns == nil {
			continue // range mode: TestGoldenRangeOverFlight
		}
		t.Run(c.Name, func(t *testing.T) {
			frame, ok := frameOf(t, c.Request.EntityDF.Columns)
			if !ok {
				t.Skip("entity frame dtype built by the Python conformance test only")
			}
			params, ok := clientParams(t, reg.Current(), &c)
			if !ok {
				frame.Release()
				t.Skip("Feast's client refuses this request itself")
			}
			ran++
			got, err := f.exchange(t, "get_historical_features", params, frame)
			want := c.Answers["duckdb"]
			if want.Error != nil {
				st, _ := status.FromError(err)
				if st.Code() != codes.InvalidArgument {
					t.Fatalf("Feast raised %s (%s); we answered %v", want.Error.Class, want.Error.Message, err)
				}
				return
			}
			if st, _ := status.FromError(err); st.Code() == codes.Unimplemented && strings.Contains(st.Message(), "cannot be evaluated natively") {
				t.Skip("a Python UDF the native path leaves to the worker (the Python conformance test runs it)")
			}
			if err != nil {
				t.Fatal(err)
			}
			defer got.Release()
			compare(t, got, want.Result.Columns, want.Result.EntityRows, int(got.NumRows()))
		})
	}
	if ran < 15 {
		t.Errorf("only %d cases ran", ran)
	}
}

// compare checks our answer (in entity-frame order) against Feast's, whose
// row j answers entity rows rows[j].
func compare(t *testing.T, got arrow.Table, cols []goldenColumn, rows [][]int, n int) {
	t.Helper()
	var names []string
	for _, c := range cols {
		names = append(names, c.Name)
	}
	if int(got.NumCols()) != len(cols) {
		t.Errorf("columns: ours %s, Feast %v", got.Schema(), names)
	}
	for _, c := range cols {
		ours := column(t, got, c.Name)
		for j, raw := range c.Values {
			for _, i := range rows[j] {
				if i >= n {
					t.Fatalf("Feast's row %d answers entity row %d; we have %d rows", j, i, n)
				}
				if !same(t, raw, ours[i], c.Dtype) {
					t.Errorf("%s, entity row %d: ours %v, Feast %s", c.Name, i, ours[i], raw)
				}
			}
		}
	}
}

func same(t *testing.T, raw json.RawMessage, got any, dtype string) bool {
	var nan struct {
		D string `json:"$"`
	}
	if json.Unmarshal(raw, &nan) == nil && nan.D != "" {
		return got == nil || (isFloat(got) && math.IsNaN(got.(float64)))
	}
	if string(raw) == "null" {
		return got == nil
	}
	switch g := got.(type) {
	case time.Time:
		var s string
		mustJSON(t, raw, &s)
		w, err := time.Parse(time.RFC3339Nano, s)
		return err == nil && w.Equal(g)
	case int64:
		var w float64
		return json.Unmarshal(raw, &w) == nil && w == float64(g)
	case float64:
		var w float64
		if json.Unmarshal(raw, &w) != nil {
			return false
		}
		if dtype == "float32" {
			return float32(w) == float32(g)
		}
		return w == g
	case string:
		var w string
		return json.Unmarshal(raw, &w) == nil && w == g
	case bool:
		var w bool
		return json.Unmarshal(raw, &w) == nil && w == g
	}
	return false
}

func isFloat(v any) bool {
	_, ok := v.(float64)
	return ok
}
