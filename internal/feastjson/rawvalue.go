package feastjson

import (
	"encoding/binary"
	"math"
	"strconv"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/feastgo/feastgo/internal/pyconv"
	"github.com/feastgo/feastgo/internal/pyfmt"
)

// AppendRawValue prints serialized feast.types.Value bytes (as a store
// returns them) as Feast's server prints the value; the bytes are read by
// pbvalue.go. Malformed bytes are an error.
func AppendRawValue(dst []byte, b []byte) ([]byte, error) {
	// Fast paths for a Value holding one scalar field and nothing else
	// (what Feast writes for float, double and integer features); any
	// other shape takes the general decoder below.
	if len(b) > 1 {
		switch b[0] {
		case 0x35: // float_val (6), fixed32
			if len(b) == 5 {
				return appendFloat32(dst, binary.LittleEndian.Uint32(b[1:])), nil
			}
		case 0x29: // double_val (5), fixed64
			if len(b) == 9 {
				return AppendFloat(dst, math.Float64frombits(binary.LittleEndian.Uint64(b[1:]))), nil
			}
		case 0x20, 0x40: // int64_val (4), unix_timestamp_val (8), varint
			if v, n := protowire.ConsumeVarint(b[1:]); n == len(b)-1 {
				return pyfmt.AppendInt(dst, int64(v)), nil
			}
		case 0x18: // int32_val (3), varint
			if v, n := protowire.ConsumeVarint(b[1:]); n == len(b)-1 {
				return pyfmt.AppendInt(dst, int64(int32(v))), nil
			}
		}
	}
	num, typ, field, err := lastOneofField(b)
	if err != nil {
		return dst, err
	}
	if num == 0 {
		return append(dst, "null"...), nil
	}
	if want := valueWireType(num); typ != want {
		return dst, errBadValue
	}
	switch num {
	case fieldBytes:
		return appendBase64(dst, field), nil
	case fieldString, fieldJSON, fieldUUID, fieldTimeUUID, fieldDecimal:
		return AppendString(dst, string(field)), nil
	case fieldInt32:
		v, _ := protowire.ConsumeVarint(field)
		return strconv.AppendInt(dst, int64(int32(v)), 10), nil
	case fieldInt64, fieldUnixTimestamp:
		v, _ := protowire.ConsumeVarint(field)
		return strconv.AppendInt(dst, int64(v), 10), nil
	case fieldDouble:
		return AppendFloat(dst, math.Float64frombits(binary.LittleEndian.Uint64(field))), nil
	case fieldFloat:
		return appendFloat32(dst, binary.LittleEndian.Uint32(field)), nil
	case fieldBool:
		v, _ := protowire.ConsumeVarint(field)
		return appendBool(dst, v != 0), nil
	case fieldNull, fieldScalarMap: // scalar_map_val is unsupported by Feast's encoder
		return append(dst, "null"...), nil
	case fieldMap, fieldStruct:
		return appendRawMap(dst, field)
	case fieldZonedTimestamp:
		return appendZonedTimestamp(dst, field)
	}
	return appendRawList(dst, num, field)
}

// appendRawList prints the list and set fields of a Value (field is the
// list wrapper message); any other field is null.
func appendRawList(dst []byte, num protowire.Number, field []byte) ([]byte, error) {
	var elem protowire.Type
	var emit func(dst []byte, f []byte, v uint64) ([]byte, error)
	switch num {
	case fieldBytesList, fieldBytesSet:
		elem, emit = protowire.BytesType, func(dst []byte, f []byte, _ uint64) ([]byte, error) {
			return appendBase64(dst, f), nil
		}
	case fieldStringList, fieldStringSet, fieldJSONList, fieldUUIDList, fieldTimeUUIDList,
		fieldUUIDSet, fieldTimeUUIDSet, fieldDecimalList, fieldDecimalSet:
		elem, emit = protowire.BytesType, func(dst []byte, f []byte, _ uint64) ([]byte, error) {
			return AppendString(dst, string(f)), nil
		}
	case fieldInt32List, fieldInt32Set:
		elem, emit = protowire.VarintType, func(dst []byte, _ []byte, v uint64) ([]byte, error) {
			return strconv.AppendInt(dst, int64(int32(v)), 10), nil
		}
	case fieldInt64List, fieldTimestampList, fieldInt64Set, fieldTimestampSet:
		elem, emit = protowire.VarintType, func(dst []byte, _ []byte, v uint64) ([]byte, error) {
			return strconv.AppendInt(dst, int64(v), 10), nil
		}
	case fieldDoubleList, fieldDoubleSet:
		elem, emit = protowire.Fixed64Type, func(dst []byte, _ []byte, v uint64) ([]byte, error) {
			return AppendFloat(dst, math.Float64frombits(v)), nil
		}
	case fieldFloatList, fieldFloatSet:
		elem, emit = protowire.Fixed32Type, func(dst []byte, _ []byte, v uint64) ([]byte, error) {
			return appendFloat32(dst, uint32(v)), nil
		}
	case fieldBoolList, fieldBoolSet:
		elem, emit = protowire.VarintType, func(dst []byte, _ []byte, v uint64) ([]byte, error) {
			return appendBool(dst, v != 0), nil
		}
	case fieldMapList, fieldStructList:
		elem, emit = protowire.BytesType, func(dst []byte, f []byte, _ uint64) ([]byte, error) {
			return appendRawMap(dst, f)
		}
	case fieldList, fieldSet: // RepeatedValue
		elem, emit = protowire.BytesType, func(dst []byte, f []byte, _ uint64) ([]byte, error) {
			return AppendRawValue(dst, f)
		}
	default:
		return append(dst, "null"...), nil
	}
	dst = append(dst, '[')
	first := true
	err := eachRepeated(field, elem, func(f []byte, v uint64) error {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		var err error
		dst, err = emit(dst, f, v)
		return err
	})
	if err != nil {
		return dst, err
	}
	return append(dst, ']'), nil
}

// appendRawMap prints a feast.types.Map as a JSON object, in wire order.
func appendRawMap(dst []byte, msg []byte) ([]byte, error) {
	dst = append(dst, '{')
	first := true
	err := eachMapEntry(msg, func(key string, val []byte) error {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = AppendString(dst, key)
		dst = append(dst, ':')
		var err error
		dst, err = AppendRawValue(dst, val)
		return err
	})
	if err != nil {
		return dst, err
	}
	return append(dst, '}'), nil
}

// appendZonedTimestamp prints a ZonedTimestamp as Python's
// datetime.isoformat() in the stored zone (UTC for an unknown one).
func appendZonedTimestamp(dst []byte, msg []byte) ([]byte, error) {
	secs, zone, err := zonedTimestamp(msg)
	if err != nil {
		return dst, err
	}
	if secs == pyconv.NullTimestamp {
		return append(dst, "null"...), nil
	}
	loc := time.UTC
	if zone != "" && zone != "UTC" {
		if l, err := time.LoadLocation(zone); err == nil {
			loc = l
		}
	}
	dst = append(dst, '"')
	dst = time.Unix(secs, 0).In(loc).AppendFormat(dst, "2006-01-02T15:04:05-07:00")
	return append(dst, '"'), nil
}
