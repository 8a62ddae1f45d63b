package core

import (
	"encoding/binary"
	"math"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/feastgo/feastgo/internal/pyconv"
)

// AppendValueProto appends v serialized as a feast.types.Value, byte for
// byte what Python's protobuf writes: the oneof field numbered like the
// value type, packed repeated scalars inside list wrappers, and nothing at
// all for a null. Callers map NaN to null first where Feast does.
func AppendValueProto(dst []byte, v Value) []byte {
	num := protowire.Number(v.Type)
	switch v.Type {
	case Invalid, Null:
		return dst
	case Bytes, String:
		dst = protowire.AppendTag(dst, num, protowire.BytesType)
		return protowire.AppendString(dst, v.S)
	case Int32:
		dst = protowire.AppendTag(dst, num, protowire.VarintType)
		return protowire.AppendVarint(dst, uint64(int64(int32(v.I))))
	case Int64, UnixTimestamp:
		dst = protowire.AppendTag(dst, num, protowire.VarintType)
		return protowire.AppendVarint(dst, uint64(v.I))
	case Bool:
		dst = protowire.AppendTag(dst, num, protowire.VarintType)
		return protowire.AppendVarint(dst, uint64(v.I&1))
	case Double:
		dst = protowire.AppendTag(dst, num, protowire.Fixed64Type)
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(v.F))
	case Float:
		dst = protowire.AppendTag(dst, num, protowire.Fixed32Type)
		return binary.LittleEndian.AppendUint32(dst, math.Float32bits(pyconv.Float32(v.F)))
	}
	if !v.Type.IsList() {
		return dst
	}
	// List wrapper message: field 1 holds the elements.
	var inner []byte
	switch v.Type.Elem() {
	case Bytes, String:
		for _, e := range v.List {
			inner = protowire.AppendTag(inner, 1, protowire.BytesType)
			inner = protowire.AppendString(inner, e.S)
		}
	default:
		if len(v.List) > 0 {
			var packed []byte
			for _, e := range v.List {
				switch v.Type.Elem() {
				case Int32:
					packed = protowire.AppendVarint(packed, uint64(int64(int32(e.I))))
				case Int64, UnixTimestamp:
					packed = protowire.AppendVarint(packed, uint64(e.I))
				case Bool:
					packed = protowire.AppendVarint(packed, uint64(e.I&1))
				case Double:
					packed = binary.LittleEndian.AppendUint64(packed, math.Float64bits(e.F))
				case Float:
					packed = binary.LittleEndian.AppendUint32(packed, math.Float32bits(pyconv.Float32(e.F)))
				}
			}
			inner = protowire.AppendTag(inner, 1, protowire.BytesType)
			inner = protowire.AppendBytes(inner, packed)
		}
	}
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	return protowire.AppendBytes(dst, inner)
}
