package onlinestore

import (
	"encoding/binary"
	"math"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/feastgo/feastgo/internal/pyfmt"
)

// ValueText is what Feast's SQL stores put in value_text (and value_num) for
// a serialized feast.types.Value (helpers.extract_text_and_num): the string
// itself for a string, Python's str() for int32, int64, double, float and
// bool values, and nothing (ok false) for every other type or a null.
// Feature filters and text search in Feast read these columns, so the text
// must be exactly Python's.
func ValueText(v []byte) (text string, num float64, ok bool) {
	var (
		last     protowire.Number
		lastType protowire.Type
		raw      []byte
		varint   uint64
	)
	// A protobuf oneof keeps the last field seen.
	for len(v) > 0 {
		n, typ, l := protowire.ConsumeTag(v)
		if l < 0 {
			return "", 0, false
		}
		v = v[l:]
		m := protowire.ConsumeFieldValue(n, typ, v)
		if m < 0 {
			return "", 0, false
		}
		last, lastType, raw = n, typ, v[:m]
		v = v[m:]
	}
	if lastType == protowire.VarintType {
		varint, _ = protowire.ConsumeVarint(raw)
	}
	switch {
	case last == 2 && lastType == protowire.BytesType: // string_val
		s, _ := protowire.ConsumeBytes(raw)
		return string(s), 0, true
	case last == 3 && lastType == protowire.VarintType: // int32_val
		i := int64(int32(varint))
		return strconv.FormatInt(i, 10), float64(i), true
	case last == 4 && lastType == protowire.VarintType: // int64_val
		i := int64(varint)
		return strconv.FormatInt(i, 10), float64(i), true
	case last == 5 && lastType == protowire.Fixed64Type: // double_val
		f := math.Float64frombits(binary.LittleEndian.Uint64(raw))
		return pyfmt.Float(f), f, true
	case last == 6 && lastType == protowire.Fixed32Type: // float_val, widened as Python reads it
		f := float64(math.Float32frombits(binary.LittleEndian.Uint32(raw)))
		return pyfmt.Float(f), f, true
	case last == 7 && lastType == protowire.VarintType: // bool_val
		if varint != 0 {
			return "True", 1, true
		}
		return "False", 0, true
	}
	return "", 0, false
}
