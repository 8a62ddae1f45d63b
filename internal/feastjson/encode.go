package feastjson

import (
	"encoding/base64"
	"math"
	"strconv"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/pyfmt"
)

// Printing JSON as Feast's Python server does: json.dumps with separators
// (",", ":"), ensure_ascii=False, Python float repr, and
// feast_server_utils' value conversion.

// AppendFloat appends f as Python's json.dumps prints it: repr(float),
// with non-finite values as the strings Feast's server sends ("NaN",
// "Infinity", "-Infinity").
func AppendFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Infinity"`...)
	}
	return pyfmt.AppendFloat(dst, f)
}

// appendFloat32 is AppendFloat of a Float32 feature's bits, read as
// Python reads them: the widened double.
func appendFloat32(dst []byte, b uint32) []byte {
	if b>>23&0xff == 0xff { // NaN or an infinity
		return AppendFloat(dst, float64(math.Float32frombits(b)))
	}
	return pyfmt.AppendWidened(dst, b)
}

// AppendString appends s as a JSON string the way Python's json.dumps
// does with ensure_ascii=False (pyfmt.AppendJSONStringUTF8).
func AppendString(dst []byte, s string) []byte { return pyfmt.AppendJSONStringUTF8(dst, s) }

// appendBase64 appends b as a JSON string of its standard base64.
func appendBase64(dst []byte, b []byte) []byte {
	dst = append(dst, '"')
	n := base64.StdEncoding.EncodedLen(len(b))
	dst = append(dst, make([]byte, n)...)
	base64.StdEncoding.Encode(dst[len(dst)-n:], b)
	return append(dst, '"')
}

// AppendValue appends a decoded value as Feast prints it: lists as
// arrays, bytes as base64, a type it does not print as null.
func AppendValue(dst []byte, v core.Value) []byte {
	switch v.Type {
	case core.Invalid, core.Null:
		return append(dst, "null"...)
	case core.String:
		return AppendString(dst, v.S)
	case core.Bytes:
		return appendBase64(dst, []byte(v.S))
	case core.Int32, core.Int64, core.UnixTimestamp:
		return strconv.AppendInt(dst, v.I, 10)
	case core.Double, core.Float:
		return AppendFloat(dst, v.F)
	case core.Bool:
		return appendBool(dst, v.I != 0)
	}
	if v.Type.IsList() {
		dst = append(dst, '[')
		for i, e := range v.List {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendValue(dst, e)
		}
		return append(dst, ']')
	}
	return append(dst, "null"...)
}

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, "true"...)
	}
	return append(dst, "false"...)
}

// AppendStringList appends ss as a JSON array of strings.
func AppendStringList(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, s)
	}
	return append(b, ']')
}
