package offline

import (
	"math"
	"testing"
)

// TestArrowFloat: the float path segments pyarrow 26 writes (its cast of
// float64/float32 to string), recorded from pyarrow.compute.cast.
func TestArrowFloat(t *testing.T) {
	for _, tt := range []struct {
		f    float64
		bits int
		want string
	}{
		{1e7, 64, "10000000"}, {12345678, 64, "12345678"}, {1e9, 64, "1000000000"}, {-1e9, 64, "-1000000000"},
		{1234567890, 64, "1234567890"}, {1e10, 64, "1e+10"}, {12345678901, 64, "1.2345678901e+10"},
		{123456789012, 64, "1.23456789012e+11"}, {1e16, 64, "1e+16"}, {2.5e20, 64, "2.5e+20"}, {1e21, 64, "1e+21"},
		{0.1, 64, "0.1"}, {0.0001234, 64, "0.0001234"}, {0.00001, 64, "0.00001"}, {0.000001, 64, "0.000001"},
		{1.5e-6, 64, "0.0000015"}, {1e-7, 64, "1e-7"}, {1.2e-7, 64, "1.2e-7"}, {3e-300, 64, "3e-300"},
		{5e-324, 64, "5e-324"}, {1.7976931348623157e308, 64, "1.7976931348623157e+308"},
		{100, 64, "100"}, {1.5, 64, "1.5"}, {0, 64, "0"}, {negZero(), 64, "-0"},
		{nan(), 64, "nan"}, {inf(1), 64, "inf"}, {inf(-1), 64, "-inf"},
		{float64(float32(0.1)), 32, "0.1"}, {1e7, 32, "10000000"}, {float64(float32(1e-7)), 32, "1e-7"},
	} {
		if got := arrowFloat(tt.f, tt.bits); got != tt.want {
			t.Errorf("arrowFloat(%v, %d) = %q, want %q", tt.f, tt.bits, got, tt.want)
		}
	}
}

func TestSafeSegment(t *testing.T) {
	for v, ok := range map[string]bool{"a": true, "a/b c%é": true, "2025-01-01 00:00:00Z": true, "..a": true,
		"..": false, "a/../b": false, "/etc": false, `\x`: false, `a\..\b`: false} {
		if err := safeSegment(v); (err == nil) != ok {
			t.Errorf("safeSegment(%q) = %v", v, err)
		}
	}
}

func negZero() float64  { z := 0.0; return -z }
func nan() float64      { return math.NaN() }
func inf(s int) float64 { return math.Inf(s) }
