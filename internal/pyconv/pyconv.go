// Package pyconv holds the rules by which Feast turns Python numbers into
// the integers of a Value: what int() of a float gives and when the result
// fits an INT64 field. Every converter of request, source and UDF values
// asks it, so that one float is a valid key in one place only if it is in
// all of them.
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
