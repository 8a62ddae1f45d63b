package online_test

import (
	"context"
	"errors"
	"testing"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/online"
	"github.com/feastgo/feastgo/registry"
)

// ODFVInputs is the one rule for what an on-demand view's UDF can read:
// every frame column by its name (a later one of the same name wins, as
// in Feast's response dict), each source feature also by its plain name
// when no column has it, and as <view>__<feature>.
func TestODFVInputs(t *testing.T) {
	col := func(name string, v int64) core.Column {
		return core.Column{Name: name, Typed: []core.Value{core.Int64Value(v)}}
	}
	frame := []core.Column{
		col("pipeline_id", 1),
		col("queue_depth", 2),
		col("stats__error_count", 3), // full-named source feature
		col("runs", 4),               // plain-named source feature
		col("runs", 5),               // a later column of the same name
		col("error_count", 6),        // a column that owns a plain name
	}
	sources := []online.ODFVSource{
		{View: "stats", Feature: "error_count", Column: "stats__error_count"},
		{View: "history", Feature: "runs", Column: "runs"},
		{View: "absent", Feature: "x", Column: "absent__x"}, // no such column
	}
	in := online.ODFVInputs(frame, sources)
	want := map[string]int64{
		"pipeline_id": 1, "queue_depth": 2,
		"stats__error_count": 3, "error_count": 6,
		"runs": 5, "history__runs": 5,
	}
	if len(in) != len(want) {
		t.Errorf("inputs %v, want the names of %v", names(in), want)
	}
	for n, v := range want {
		c := in[n]
		if c == nil || c.Typed[0].I != v {
			t.Errorf("%s = %v, want %d", n, c, v)
		}
	}
	if in["stats__error_count"] != &frame[2] {
		t.Error("inputs copy frame columns instead of pointing at them")
	}
}

func names(m map[string]*core.Column) []string {
	var out []string
	for n := range m {
		out = append(out, n)
	}
	return out
}

type countingTransformer struct{ calls []string }

func (c *countingTransformer) Transform(_ context.Context, odfv *registry.ODFV, outputs []registry.Field, _ map[string]*core.Column, rows int, fullNames bool) ([]core.Column, error) {
	c.calls = append(c.calls, odfv.Name)
	var out []core.Column
	for _, f := range outputs {
		name := f.Name
		if fullNames {
			name = odfv.Name + "__" + f.Name
		}
		out = append(out, core.Column{Name: name, Typed: make([]core.Value, rows)})
	}
	return out, nil
}

// EvaluateODFVs runs each view once, in order, and appends their outputs;
// without a transformer it refuses with 501, naming the view.
func TestEvaluateODFVs(t *testing.T) {
	a := &registry.ODFV{Name: "a"}
	b := &registry.ODFV{Name: "b"}
	views := []online.ODFVOutputs{
		{View: a, Features: []registry.Field{{Name: "x"}, {Name: "y"}}},
		{View: b, Features: []registry.Field{{Name: "z"}}},
	}
	tr := &countingTransformer{}
	cols, err := online.EvaluateODFVs(context.Background(), tr, views, nil, 2, true)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cols {
		got = append(got, c.Name)
	}
	if len(tr.calls) != 2 || len(got) != 3 || got[0] != "a__x" || got[1] != "a__y" || got[2] != "b__z" {
		t.Errorf("calls %v, columns %v", tr.calls, got)
	}
	_, err = online.EvaluateODFVs(context.Background(), nil, views, nil, 2, false)
	var ce *core.Error
	if !errors.As(err, &ce) || ce.Kind != core.KindUnimplemented {
		t.Fatalf("nil transformer: %v, want a KindUnimplemented error", err)
	}
}
