package offline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/feastgo/feastgo/registry"
)

// isoformat writes a golden date as Python's datetime.isoformat() does,
// which is what Feast's remote client sends.
func isoformat(t *testing.T, s string) string {
	t.Helper()
	if tm, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return tm.Format("2006-01-02T15:04:05.999999-07:00")
	}
	if tm, err := time.Parse("2006-01-02T15:04:05.999999999", s); err == nil {
		return tm.Format("2006-01-02T15:04:05.999999") // naive
	}
	t.Fatalf("golden date %q", s)
	return ""
}

// TestGoldenRangeOverFlight: get_historical_features without an entity
// frame (start_date/end_date in the command, the "key" placeholder as the
// table, as Feast's remote client sends it) answers every range-mode
// golden case as Feast's file store does: the same columns in order,
// dtypes and rows; Feast's errors are InvalidArgument.
func TestGoldenRangeOverFlight(t *testing.T) {
	f := start(t)
	reg, err := registry.Open(context.Background(), &registry.FileSource{Path: filepath.Join(f.repo, "data", "registry.db")},
		registry.Options{Project: project})
	if err != nil {
		t.Fatal(err)
	}
	paths, _ := filepath.Glob(filepath.Join(goldenRepo, "cases", "*.json"))
	ran := 0
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var c goldenCase
		mustJSON(t, b, &c)
		if c.Request.EntityDF.Columns != nil || c.Request.EndDate == nil {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			params, ok := clientParams(t, reg.Current(), &c)
			if !ok {
				t.Skip("Feast's client refuses this request itself")
			}
			if c.Request.StartDate != nil {
				params["start_date"] = isoformat(t, *c.Request.StartDate)
			}
			params["end_date"] = isoformat(t, *c.Request.EndDate)
			ran++
			got, err := f.exchange(t, "get_historical_features", params, nil)
			want := c.Answers["file"]
			if want.Error != nil {
				if st, _ := status.FromError(err); st.Code() != codes.InvalidArgument {
					t.Fatalf("Feast raised %s (%s); we answered %v", want.Error.Class, want.Error.Message, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer got.Release()
			var names, wantNames []string
			for _, fl := range got.Schema().Fields() {
				names = append(names, fl.Name)
			}
			for _, col := range want.Result.Columns {
				wantNames = append(wantNames, col.Name)
			}
			if !slices.Equal(names, wantNames) {
				t.Fatalf("columns %v, Feast %v", names, wantNames)
			}
			for i, col := range want.Result.Columns {
				if d := dtypeOf(got, i); d != col.Dtype {
					t.Errorf("column %s: dtype %s, Feast %s", col.Name, d, col.Dtype)
				}
			}
			n := int(got.NumRows())
			cols := make([][]any, len(names))
			for i, name := range names {
				cols[i] = column(t, got, name)
			}
			var ours, theirs []string
			for j := 0; j < n; j++ {
				var cells []string
				for i := range names {
					cells = append(cells, canon(cols[i][j]))
				}
				ours = append(ours, strings.Join(cells, " | "))
			}
			for j := 0; j < want.Result.NumRows; j++ {
				var cells []string
				for _, col := range want.Result.Columns {
					cells = append(cells, canonRaw(t, col.Values[j], col.Dtype))
				}
				theirs = append(theirs, strings.Join(cells, " | "))
			}
			slices.Sort(ours)
			slices.Sort(theirs)
			if !slices.Equal(ours, theirs) {
				t.Errorf("rows\n  %s\nFeast:\n  %s", strings.Join(ours, "\n  "), strings.Join(theirs, "\n  "))
			}
		})
	}
	if ran < 10 {
		t.Errorf("only %d range cases ran", ran)
	}
}

// dtypeOf is the pandas dtype pyarrow gives column i.
func dtypeOf(tbl arrow.Table, i int) string {
	nulls := 0
	for _, c := range tbl.Column(i).Data().Chunks() {
		nulls += c.NullN()
	}
	typ := tbl.Schema().Field(i).Type
	switch typ.ID() {
	case arrow.INT64:
		if nulls > 0 {
			return "float64"
		}
		return "int64"
	case arrow.FLOAT64:
		return "float64"
	case arrow.FLOAT32:
		return "float32"
	case arrow.STRING:
		return "object"
	case arrow.BOOL:
		if nulls > 0 {
			return "object"
		}
		return "bool"
	case arrow.TIMESTAMP:
		tt := typ.(*arrow.TimestampType)
		if tt.TimeZone != "" {
			return fmt.Sprintf("datetime64[%s, %s]", tt.Unit, tt.TimeZone)
		}
		return fmt.Sprintf("datetime64[%s]", tt.Unit)
	}
	return typ.String()
}

func canon(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case float64:
		if math.IsNaN(v) {
			return "null"
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	case int64:
		return strconv.FormatFloat(float64(v), 'g', -1, 64)
	case time.Time:
		return "t" + strconv.FormatInt(v.UnixNano(), 10)
	case string:
		return strconv.Quote(v)
	}
	return fmt.Sprint(v)
}

func canonRaw(t *testing.T, raw json.RawMessage, dtype string) string {
	var w any
	mustJSON(t, raw, &w)
	switch w := w.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "null" // NaN, NaT, NA
	case float64:
		return strconv.FormatFloat(w, 'g', -1, 64)
	case string:
		if strings.HasPrefix(dtype, "datetime64") {
			tm, err := time.Parse(time.RFC3339Nano, w)
			if err != nil {
				tm, err = time.Parse("2006-01-02T15:04:05.999999999", w)
			}
			if err != nil {
				t.Fatal(err)
			}
			return "t" + strconv.FormatInt(tm.UnixNano(), 10)
		}
		return strconv.Quote(w)
	}
	return fmt.Sprint(w)
}
