// Package pyconv holds the rules by which Feast 0.67's
// python_values_to_proto_values turns Python and pandas values into the
// fields of a Value: what int() of a float or a str gives and when it fits
// an INT64 or INT32 field, what float() of a str gives, how a float is
// cast into a FLOAT field, that a NaN is a null, and the NaN and NaT
// sentinels Feast stores. Every converter of request, source and UDF
// values (online, ingest, materialize, transformations, the parquet
// appender) asks it, so that one value converts the same way in all of
// them; the tests check each rule against values Feast 0.67 produced
// (testdata/feast_rules.py).
//
// It imports nothing of the project; it must stay a leaf.
package pyconv

import "math"

// twoTo63 is 2^63, exactly representable as a float64: the first float
// that no longer fits an int64 (math.MaxInt64 itself is not a float64).
const twoTo63 = 1 << 63

// FloatToInt64 is Python's int(f) for a float whose integer part fits an
// int64 (numpy's int64 conversion and protobuf's int64 field both refuse
// the rest): it truncates toward zero, and reports false for NaN, the
// infinities and anything outside [-2^63, 2^63).
func FloatToInt64(f float64) (int64, bool) {
	t := math.Trunc(f) // NaN stays NaN and fails both comparisons below
	if !(t >= -twoTo63 && t < twoTo63) {
		return 0, false
	}
	return int64(t), true
}

// IntegralInt64 is FloatToInt64 for a float that must hold an integer
// exactly (a float column cast to an INT64 field: 3.0 is 3, 3.5 is an
// error).
func IntegralInt64(f float64) (int64, bool) {
	if f != math.Trunc(f) {
		return 0, false
	}
	return FloatToInt64(f)
}

// FitsInt32 reports whether an integer fits an INT32 field: Python's
// protobuf raises ValueError ("Value out of range") for the rest.
func FitsInt32(i int64) bool { return i >= math.MinInt32 && i <= math.MaxInt32 }

// Float32 is float(x) stored in a FLOAT field: the C cast protobuf applies,
// rounding to nearest even, ±inf beyond the float32 range, 0 below its
// smallest subnormal. (Go leaves out-of-range conversions
// implementation-defined, so the edge is spelled out.)
func Float32(f float64) float32 {
	if a := math.Abs(f); a > math.MaxFloat32 && !math.IsInf(f, 0) {
		// Half a float32 ULP (2^103) above the maximum rounds, to even, up
		// to inf; anything below it rounds down to the maximum.
		if a < math.MaxFloat32+math.Ldexp(1, 103) {
			return float32(math.Copysign(math.MaxFloat32, f))
		}
		return float32(math.Copysign(math.Inf(1), f))
	}
	return float32(f)
}

// Widen32 is Float32 widened back to a float64: how a FLOAT value is held
// in memory here.
func Widen32(f float64) float64 { return float64(Float32(f)) }

// NaN is the NaN Python and numpy produce (float("nan"), np.nan, and what
// Arrow hands pandas for a null float): 0x7ff8000000000000. Go's
// math.NaN() has another payload, which would change stored bytes.
var NaN = math.Float64frombits(0x7ff8000000000000)

// IsNull is pd.isnull for a float: a NaN is a missing value, converted to
// an empty Value (or NullTimestamp) for a scalar of any type.
func IsNull(f float64) bool { return f != f }

// NullTimestamp is Feast's null UNIX_TIMESTAMP, numpy's NaT cast to int64
// (type_map.NULL_TIMESTAMP_INT_VALUE): written for a null timestamp and
// read back as None.
const NullTimestamp int64 = math.MinInt64
