// Package pyfmt prints numbers exactly as Python (and numpy, for float32)
// print them: repr(float), str(numpy.float32), str(int). Feast's answers
// carry these strings (JSON bodies, str() of a value, error messages), so
// every package that prints a number the way Feast would calls this one.
//
// It imports nothing of the project; it must stay a leaf.
package pyfmt

import (
	"math"
	"strconv"
)

// Float is Python's repr(float) (also str(float) and numpy.float64's str):
// the shortest digits that read back to f, positional when the decimal
// exponent is in [-4, 16) and d.ddde±XX otherwise, an integral value with
// ".0", and "nan", "inf", "-inf".
func Float(f float64) string {
	var b [32]byte
	return string(AppendFloat(b[:0], f))
}

// Float32 is str(numpy.float32(f)): the shortest digits that read back to
// the float32, positional for 1e-4 <= |f| < 1e6 and d.ddde±XX otherwise.
func Float32(f float32) string {
	var b [32]byte
	return string(AppendFloat32(b[:0], f))
}

// AppendFloat appends Float(f) to dst.
func AppendFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "nan"...)
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	}
	if f == 0 {
		if math.Signbit(f) {
			return append(dst, "-0.0"...)
		}
		return append(dst, "0.0"...)
	}
	if a := math.Abs(f); a >= 1e-4 && a < 1e16 {
		// Positional notation (the usual case): strconv's shortest 'f'
		// form has the same digits, already laid out; only an integral
		// value needs Python's ".0".
		return appendPositional(dst, f, 64)
	}
	return appendExponent(dst, f, 64)
}

// AppendFloat32 appends Float32(f) to dst.
func AppendFloat32(dst []byte, f float32) []byte {
	w := float64(f)
	switch {
	case math.IsNaN(w), math.IsInf(w, 0), w == 0:
		return AppendFloat(dst, w)
	}
	// numpy's cut-off for float32 scalars is 1e6 (1e16 for float64),
	// compared with the value: float32(1e-4), a little below 1e-4, prints
	// "1e-04".
	if a := math.Abs(w); a >= 1e-4 && a < 1e6 {
		return appendPositional(dst, w, 32)
	}
	return appendExponent(dst, w, 32)
}

// appendPositional appends the shortest digits of f in positional
// notation, with ".0" on an integral value.
func appendPositional(dst []byte, f float64, bitSize int) []byte {
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'f', -1, bitSize)
	for _, c := range dst[start:] {
		if c == '.' {
			return dst
		}
	}
	return append(dst, '.', '0')
}

// appendExponent appends the shortest digits of f as d.ddde±XX, which is
// strconv's shortest 'e' form: at least two exponent digits, no ".0" on a
// one-digit mantissa, as Python.
func appendExponent(dst []byte, f float64, bitSize int) []byte {
	return strconv.AppendFloat(dst, f, 'e', -1, bitSize)
}
