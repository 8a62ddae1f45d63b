package pyconv

import (
	"math"
	"testing"
)

// The tables below are what Feast 0.67.0's python_values_to_proto_values
// made of each input, printed by testdata/feast_rules.py (run it with the
// Feast venv's python to check them again).

func TestInt64OfFloatIsFeasts(t *testing.T) {
	for _, c := range []struct {
		f    float64
		want int64
		ok   bool // Feast wrote int64_val (else it raised)
	}{
		{math.Float64frombits(0x0000000000000000), 0, true},
		{math.Float64frombits(0x8000000000000000), 0, true},
		{math.Float64frombits(0x400f333333333333), 3, true},
		{math.Float64frombits(0xc00f333333333333), -3, true},
		{math.Float64frombits(0x43dff41f8d035640), 9210000000000000000, true},
		{math.Float64frombits(0x43dfffffffffffff), 9223372036854774784, true},
		{math.Float64frombits(0xc3e0000000000000), -9223372036854775808, true},
		{math.Float64frombits(0x43e0000000000000), 0, false},
		{math.Float64frombits(0x43e00bd33fb98ba0), 0, false},
		{math.Float64frombits(0xc3e02207973f6440), 0, false},
		{math.Float64frombits(0x7e37e43c8800759c), 0, false},
		{math.Float64frombits(0x7ff0000000000000), 0, false},
		{math.Float64frombits(0xfff0000000000000), 0, false},
	} {
		got, ok := FloatToInt64(c.f)
		if got != c.want || ok != c.ok {
			t.Errorf("FloatToInt64(%v) = %d, %v; Feast: %d, %v", c.f, got, ok, c.want, c.ok)
		}
	}
}

func TestInt32RangeIsFeasts(t *testing.T) {
	for _, c := range []struct {
		i  int64
		ok bool
	}{
		{0, true}, {2147483647, true}, {2147483648, false}, {-2147483648, true},
		{-2147483649, false}, {1099511627776, false},
	} {
		if got := FitsInt32(c.i); got != c.ok {
			t.Errorf("FitsInt32(%d) = %v; Feast: %v", c.i, got, c.ok)
		}
	}
}

func TestFloat32IsFeasts(t *testing.T) {
	for _, c := range []struct {
		f    float64
		bits uint32 // the float_val Feast stored
	}{
		{math.Float64frombits(0x3fb999999999999a), 0x3dcccccd},
		{math.Float64frombits(0x3fd5555555555555), 0x3eaaaaab},
		{math.Float64frombits(0x47efffffe0000000), 0x7f7fffff}, // MaxFloat32
		{math.Float64frombits(0x47efffffe8000000), 0x7f7fffff}, // a quarter ULP above: down to the max
		{math.Float64frombits(0x47effffff0000000), 0x7f800000}, // half a ULP above: to even, inf
		{math.Float64frombits(0x47f0000000000000), 0x7f800000},
		{math.Float64frombits(0x48078287f49c4a1d), 0x7f800000}, // 1e39
		{math.Float64frombits(0xc8078287f49c4a1d), 0xff800000}, // -1e39
		{math.Float64frombits(0x366244ce242c5561), 0x00000000}, // 1e-46
		{math.Float64frombits(0x369ff868bf4d956a), 0x00000001}, // 1.4e-45
		{math.Float64frombits(0x8000000000000000), 0x80000000},
		{math.Float64frombits(0x7ff0000000000000), 0x7f800000},
	} {
		if got := math.Float32bits(Float32(c.f)); got != c.bits {
			t.Errorf("Float32(%v) = %#08x; Feast: %#08x", c.f, got, c.bits)
		}
		if got := Widen32(c.f); got != float64(math.Float32frombits(c.bits)) {
			t.Errorf("Widen32(%v) = %v", c.f, got)
		}
	}
}

// Feast makes an empty Value of a NaN for DOUBLE, FLOAT, INT64, INT32 and
// STRING, NULL_TIMESTAMP_INT_VALUE (-2^63) for UNIX_TIMESTAMP, and stores
// float("nan")'s bits for a NaN inside a DOUBLE_LIST.
func TestNullsAreFeasts(t *testing.T) {
	if !IsNull(math.NaN()) || !IsNull(NaN) || IsNull(math.Inf(1)) || IsNull(0) {
		t.Error("IsNull is not pd.isnull of a float")
	}
	if NullTimestamp != -9223372036854775808 {
		t.Errorf("NullTimestamp = %d", NullTimestamp)
	}
	if math.Float64bits(NaN) != 0x7ff8000000000000 {
		t.Errorf("NaN's bits are %#x", math.Float64bits(NaN))
	}
}

func TestParseIntIsFeasts(t *testing.T) {
	for _, c := range []struct {
		s    string
		want int64
		ok   bool // Feast wrote int64_val (else ValueError)
	}{
		{" 12 ", 12, true},
		{"+7", 7, true},
		{"-0", 0, true},
		{"1_000", 1000, true},
		{"1__0", 0, false},
		{"_1", 0, false},
		{"1_", 0, false},
		{"+-1", 0, false},
		{"0x10", 0, false},
		{"", 0, false},
		{" ", 0, false},
		{"1.0", 0, false},
		{"9223372036854775807", 9223372036854775807, true},
		{"9223372036854775808", 0, false},
		{"-9223372036854775808", -9223372036854775808, true},
		{"-9223372036854775809", 0, false},
		{"\t42\n", 42, true},
		// Feast takes "٣" (ARABIC-INDIC DIGIT THREE) as 3; we refuse
		// non-ASCII digits, a deliberate difference.
		{"٣", 0, false},
	} {
		got, err := ParseInt(c.s)
		if got != c.want || (err == nil) != c.ok {
			t.Errorf("ParseInt(%q) = %d, %v; Feast: %d, %v", c.s, got, err, c.want, c.ok)
		}
	}
	if _, err := ParseInt("9223372036854775808"); err != ErrRange {
		t.Errorf("ParseInt(2^63): %v, want ErrRange", err)
	}
	if _, err := ParseInt("1__0"); err != ErrSyntax {
		t.Errorf("ParseInt(1__0): %v, want ErrSyntax", err)
	}
}

func TestParseFloatIsFeasts(t *testing.T) {
	for _, c := range []struct {
		s    string
		want float64
		ok   bool // float(s) succeeded
	}{
		{" 1.5 ", math.Float64frombits(0x3ff8000000000000), true},
		{"1_0.5", math.Float64frombits(0x4025000000000000), true},
		{"1e5", math.Float64frombits(0x40f86a0000000000), true},
		{"1E+5", math.Float64frombits(0x40f86a0000000000), true},
		{".5", math.Float64frombits(0x3fe0000000000000), true},
		{"5.", math.Float64frombits(0x4014000000000000), true},
		{"+.5e-1", math.Float64frombits(0x3fa999999999999a), true},
		{"inf", math.Float64frombits(0x7ff0000000000000), true},
		{"-Infinity", math.Float64frombits(0xfff0000000000000), true},
		{"+INF", math.Float64frombits(0x7ff0000000000000), true},
		{"1e400", math.Float64frombits(0x7ff0000000000000), true},
		{"-1e400", math.Float64frombits(0xfff0000000000000), true},
		{"1e-400", math.Float64frombits(0x0000000000000000), true},
		{"0x1p3", 0, false},
		{"1_", 0, false},
		{"_1", 0, false},
		{"e5", 0, false},
		{"1e", 0, false},
		{".", 0, false},
		{"", 0, false},
		{"1__0", 0, false},
		{"1_0e1_0", math.Float64frombits(0x42374876e8000000), true},
		{"nan", math.Float64frombits(0x7ff8000000000000), true},
		{"1.5f", 0, false},
		// Feast takes "١.٥" as 1.5; non-ASCII digits are refused here.
		{"١.٥", 0, false},
	} {
		got, ok := ParseFloat(c.s)
		if ok != c.ok || math.Float64bits(got) != math.Float64bits(c.want) {
			t.Errorf("ParseFloat(%q) = %v (%#x), %v; Feast: %v, %v", c.s, got, math.Float64bits(got), ok, c.want, c.ok)
		}
	}
}
