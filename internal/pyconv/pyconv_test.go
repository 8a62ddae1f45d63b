package pyconv

import (
	"math"
	"testing"
)

func TestFloatToInt64(t *testing.T) {
	for _, c := range []struct {
		f    float64
		want int64
		ok   bool
	}{
		{0, 0, true}, {math.Copysign(0, -1), 0, true}, {3.9, 3, true}, {-3.9, -3, true},
		// The largest floats below 2^63 fit; 9.2e18 is not a bound.
		{9.21e18, 9210000000000000000, true},
		{math.Nextafter(1<<63, 0), 9223372036854774784, true},
		{-9223372036854775808.0, math.MinInt64, true},
		// 2^63 and beyond (9.25e18 used to wrap to MinInt64: a read of the wrong key).
		{1 << 63, 0, false}, {9.25e18, 0, false}, {-9.3e18, 0, false}, {1e300, 0, false},
		{math.NaN(), 0, false}, {math.Inf(1), 0, false}, {math.Inf(-1), 0, false},
	} {
		got, ok := FloatToInt64(c.f)
		if got != c.want || ok != c.ok {
			t.Errorf("FloatToInt64(%v) = %d, %v; want %d, %v", c.f, got, ok, c.want, c.ok)
		}
	}
}

func TestIntegralInt64(t *testing.T) {
	if _, ok := IntegralInt64(3.5); ok {
		t.Error("IntegralInt64(3.5) accepted a fraction")
	}
	if v, ok := IntegralInt64(-12); !ok || v != -12 {
		t.Errorf("IntegralInt64(-12) = %d, %v", v, ok)
	}
	if _, ok := IntegralInt64(9.25e18); ok {
		t.Error("IntegralInt64(9.25e18) accepted an out-of-range value")
	}
}
