package feastjson

import (
	"errors"

	"google.golang.org/protobuf/encoding/protowire"
)

// The protobuf side of printing stored values: reading serialized
// feast.types.Value messages (and their list, map and timestamp payloads)
// field by field, without building messages. Nothing here knows JSON;
// rawvalue.go prints what these functions find.

var errBadValue = errors.New("malformed feast.types.Value bytes")

// The field numbers of feast.types.Value's oneof (protos/feast/types/Value.proto).
const (
	fieldBytes          protowire.Number = 1
	fieldString         protowire.Number = 2
	fieldInt32          protowire.Number = 3
	fieldInt64          protowire.Number = 4
	fieldDouble         protowire.Number = 5
	fieldFloat          protowire.Number = 6
	fieldBool           protowire.Number = 7
	fieldUnixTimestamp  protowire.Number = 8
	fieldBytesList      protowire.Number = 11
	fieldStringList     protowire.Number = 12
	fieldInt32List      protowire.Number = 13
	fieldInt64List      protowire.Number = 14
	fieldDoubleList     protowire.Number = 15
	fieldFloatList      protowire.Number = 16
	fieldBoolList       protowire.Number = 17
	fieldTimestampList  protowire.Number = 18
	fieldNull           protowire.Number = 19
	fieldMap            protowire.Number = 20
	fieldMapList        protowire.Number = 21
	fieldBytesSet       protowire.Number = 22
	fieldStringSet      protowire.Number = 23
	fieldInt32Set       protowire.Number = 24
	fieldInt64Set       protowire.Number = 25
	fieldDoubleSet      protowire.Number = 26
	fieldFloatSet       protowire.Number = 27
	fieldBoolSet        protowire.Number = 28
	fieldTimestampSet   protowire.Number = 29
	fieldJSON           protowire.Number = 32
	fieldJSONList       protowire.Number = 33
	fieldStruct         protowire.Number = 34
	fieldStructList     protowire.Number = 35
	fieldUUID           protowire.Number = 36
	fieldTimeUUID       protowire.Number = 37
	fieldUUIDList       protowire.Number = 38
	fieldTimeUUIDList   protowire.Number = 39
	fieldUUIDSet        protowire.Number = 40
	fieldTimeUUIDSet    protowire.Number = 41
	fieldList           protowire.Number = 42
	fieldSet            protowire.Number = 43
	fieldDecimal        protowire.Number = 44
	fieldDecimalList    protowire.Number = 45
	fieldDecimalSet     protowire.Number = 46
	fieldScalarMap      protowire.Number = 47
	fieldZonedTimestamp protowire.Number = 48
)

// valueWireType is the wire type of each Value oneof field.
func valueWireType(num protowire.Number) protowire.Type {
	switch num {
	case fieldInt32, fieldInt64, fieldBool, fieldUnixTimestamp, fieldNull:
		return protowire.VarintType
	case fieldDouble:
		return protowire.Fixed64Type
	case fieldFloat:
		return protowire.Fixed32Type
	}
	return protowire.BytesType
}

// lastOneofField returns the last field of a Value message (protobuf's
// "last one wins" rule for oneofs) and its payload: the raw varint/fixed
// bytes for scalars, the contents for length-delimited fields.
func lastOneofField(b []byte) (protowire.Number, protowire.Type, []byte, error) {
	var (
		num   protowire.Number
		typ   protowire.Type
		field []byte
	)
	for len(b) > 0 {
		n, t, l := protowire.ConsumeTag(b)
		if l < 0 {
			return 0, 0, nil, errBadValue
		}
		b = b[l:]
		var m int
		var payload []byte
		switch t {
		case protowire.VarintType:
			_, m = protowire.ConsumeVarint(b)
			payload = b[:max(m, 0)]
		case protowire.Fixed32Type:
			_, m = protowire.ConsumeFixed32(b)
			payload = b[:max(m, 0)]
		case protowire.Fixed64Type:
			_, m = protowire.ConsumeFixed64(b)
			payload = b[:max(m, 0)]
		case protowire.BytesType:
			payload, m = protowire.ConsumeBytes(b)
		default:
			m = protowire.ConsumeFieldValue(n, t, b)
		}
		if m < 0 {
			return 0, 0, nil, errBadValue
		}
		b = b[m:]
		num, typ, field = n, t, payload
	}
	return num, typ, field, nil
}

// eachRepeated calls fn with each field-1 element of a list wrapper message
// (Int64List, StringList, RepeatedValue, ...), in order, accepting packed
// and unpacked encodings: f is the payload of a length-delimited element,
// v the value of a varint or fixed one. elem is the elements' wire type.
// It stops at fn's first error and returns it.
func eachRepeated(msg []byte, elem protowire.Type, fn func(f []byte, v uint64) error) error {
	for len(msg) > 0 {
		n, t, l := protowire.ConsumeTag(msg)
		if l < 0 {
			return errBadValue
		}
		msg = msg[l:]
		if n != 1 {
			m := protowire.ConsumeFieldValue(n, t, msg)
			if m < 0 {
				return errBadValue
			}
			msg = msg[m:]
			continue
		}
		var m int
		var err error
		switch {
		case t == elem && t == protowire.VarintType:
			var v uint64
			if v, m = protowire.ConsumeVarint(msg); m >= 0 {
				err = fn(nil, v)
			}
		case t == elem && t == protowire.Fixed32Type:
			var v uint32
			if v, m = protowire.ConsumeFixed32(msg); m >= 0 {
				err = fn(nil, uint64(v))
			}
		case t == elem && t == protowire.Fixed64Type:
			var v uint64
			if v, m = protowire.ConsumeFixed64(msg); m >= 0 {
				err = fn(nil, v)
			}
		case t == protowire.BytesType:
			var p []byte
			if p, m = protowire.ConsumeBytes(msg); m >= 0 {
				if elem == protowire.BytesType {
					err = fn(p, 0)
				} else {
					err = eachPacked(p, elem, fn)
				}
			}
		default:
			return errBadValue
		}
		if m < 0 {
			return errBadValue
		}
		if err != nil {
			return err
		}
		msg = msg[m:]
	}
	return nil
}

// eachPacked calls fn with each scalar of a packed repeated field.
func eachPacked(p []byte, elem protowire.Type, fn func(f []byte, v uint64) error) error {
	for len(p) > 0 {
		var v uint64
		var k int
		switch elem {
		case protowire.VarintType:
			v, k = protowire.ConsumeVarint(p)
		case protowire.Fixed32Type:
			var v32 uint32
			v32, k = protowire.ConsumeFixed32(p)
			v = uint64(v32)
		case protowire.Fixed64Type:
			v, k = protowire.ConsumeFixed64(p)
		}
		if k < 0 {
			return errBadValue
		}
		if err := fn(nil, v); err != nil {
			return err
		}
		p = p[k:]
	}
	return nil
}

// eachMapEntry calls fn with the key and serialized Value of each entry of
// a feast.types.Map (map<string, Value> val = 1), in wire order. A missing
// key is "" and a missing value empty (a null Value).
func eachMapEntry(msg []byte, fn func(key string, val []byte) error) error {
	for len(msg) > 0 {
		n, t, l := protowire.ConsumeTag(msg)
		if l < 0 {
			return errBadValue
		}
		msg = msg[l:]
		if n != 1 || t != protowire.BytesType {
			m := protowire.ConsumeFieldValue(n, t, msg)
			if m < 0 {
				return errBadValue
			}
			msg = msg[m:]
			continue
		}
		entry, m := protowire.ConsumeBytes(msg)
		if m < 0 {
			return errBadValue
		}
		msg = msg[m:]
		key, val, err := mapEntry(entry)
		if err != nil {
			return err
		}
		if err := fn(key, val); err != nil {
			return err
		}
	}
	return nil
}

// mapEntry reads one map entry message: key = 1, value = 2.
func mapEntry(entry []byte) (key string, val []byte, err error) {
	for len(entry) > 0 {
		en, et, el := protowire.ConsumeTag(entry)
		if el < 0 {
			return "", nil, errBadValue
		}
		entry = entry[el:]
		if et == protowire.BytesType && (en == 1 || en == 2) {
			p, k := protowire.ConsumeBytes(entry)
			if k < 0 {
				return "", nil, errBadValue
			}
			if en == 1 {
				key = string(p)
			} else {
				val = p
			}
			entry = entry[k:]
			continue
		}
		k := protowire.ConsumeFieldValue(en, et, entry)
		if k < 0 {
			return "", nil, errBadValue
		}
		entry = entry[k:]
	}
	return key, val, nil
}

// zonedTimestamp reads ZonedTimestamp{unix_timestamp = 1, zone = 2}.
func zonedTimestamp(msg []byte) (secs int64, zone string, err error) {
	for len(msg) > 0 {
		n, t, l := protowire.ConsumeTag(msg)
		if l < 0 {
			return 0, "", errBadValue
		}
		msg = msg[l:]
		switch {
		case n == 1 && t == protowire.VarintType:
			v, m := protowire.ConsumeVarint(msg)
			if m < 0 {
				return 0, "", errBadValue
			}
			secs, msg = int64(v), msg[m:]
		case n == 2 && t == protowire.BytesType:
			p, m := protowire.ConsumeBytes(msg)
			if m < 0 {
				return 0, "", errBadValue
			}
			zone, msg = string(p), msg[m:]
		default:
			m := protowire.ConsumeFieldValue(n, t, msg)
			if m < 0 {
				return 0, "", errBadValue
			}
			msg = msg[m:]
		}
	}
	return secs, zone, nil
}
