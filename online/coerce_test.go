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
