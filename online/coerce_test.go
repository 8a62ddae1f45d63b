package online

import (
	"math"
	"testing"

	"github.com/feastgo/feastgo/core"
)

// A float entity value for an INT64 join key is int() of it when the
// result fits an int64, and a 4xx naming the column otherwise: 9.25e18
// used to pass a looser bound and wrap to MinInt64, a read of another key.
func TestCoerceFloatToIntJoinKey(t *testing.T) {
	for _, c := range []struct {
		f    float64
		want int64
		ok   bool
	}{
		{1001.0, 1001, true}, {-7.9, -7, true}, {9.21e18, 9210000000000000000, true},
		{9.25e18, 0, false}, {-9.3e18, 0, false}, {math.NaN(), 0, false}, {math.Inf(1), 0, false},
	} {
		got, err := coerce(core.DoubleValue(c.f), core.Int64, "driver_id")
		if c.ok != (err == nil) {
			t.Errorf("coerce(%v) error = %v, want ok=%v", c.f, err, c.ok)
			continue
		}
		if err != nil {
			if core.KindOf(err) != core.KindInvalidArgument {
				t.Errorf("coerce(%v): %v is not an invalid-argument error", c.f, err)
			}
			continue
		}
		if got.Type != core.Int64 || got.I != c.want {
			t.Errorf("coerce(%v) = %+v, want INT64 %d", c.f, got, c.want)
		}
	}
}

// A string entity value for an INT64 or FLOAT join key is Python's int()
// or float() of it (pyconv), as in Feast: "1__0" and "_1" used to be read
// as 10 and 1 (underscores dropped anywhere), "0x1p3" as 8 (a Go hex
// float), and "1_0.5" was refused.
func TestCoerceStringJoinKeyIsPythons(t *testing.T) {
	for _, c := range []struct {
		s    string
		to   core.ValueType
		want float64
		ok   bool
	}{
		{" 12 ", core.Int64, 12, true}, {"1_000", core.Int64, 1000, true}, {"-7", core.Int32, -7, true},
		{"1__0", core.Int64, 0, false}, {"_1", core.Int64, 0, false}, {"1_", core.Int64, 0, false},
		{"2147483648", core.Int32, 0, false},
		{"1_0.5", core.Float, 10.5, true}, {" .5 ", core.Float, 0.5, true},
		{"0x1p3", core.Float, 0, false}, {"1__0", core.Float, 0, false},
	} {
		got, err := coerce(core.StringValue(c.s), c.to, "k")
		if c.ok != (err == nil) {
			t.Errorf("coerce(%q, %s) = %+v, %v; want ok=%v", c.s, c.to, got, err, c.ok)
			continue
		}
		if err != nil {
			continue
		}
		n := got.F
		if c.to != core.Float {
			n = float64(got.I)
		}
		if got.Type != c.to || n != c.want {
			t.Errorf("coerce(%q, %s) = %+v, want %v", c.s, c.to, got, c.want)
		}
	}
}
