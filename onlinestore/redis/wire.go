package redis

import (
	"errors"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/feastgo/feastgo/core"
)

// The bytes stored in a hash: serialized Values and event times.

// emptyValue is a serialized feast.types.Value with nothing set: null.
var emptyValue = []byte{}

func later(a, b core.Timestamp) bool {
	return a.Seconds > b.Seconds || (a.Seconds == b.Seconds && a.Nanos > b.Nanos)
}

// parseTimestamp decodes a google.protobuf.Timestamp and rounds it to the
// microsecond, as Feast does by going through a Python datetime.
func parseTimestamp(b []byte) (core.Timestamp, error) {
	var t core.Timestamp
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || typ != protowire.VarintType {
			return t, errors.New("malformed timestamp")
		}
		b = b[n:]
		v, m := protowire.ConsumeVarint(b)
		if m < 0 {
			return t, errors.New("malformed timestamp")
		}
		b = b[m:]
		switch num {
		case 1:
			t.Seconds = int64(v)
		case 2:
			t.Nanos = int32(v)
		}
	}
	if r := t.Nanos % 1000; r != 0 {
		t.Nanos -= r
		if r >= 500 {
			t.Nanos += 1000
		}
		if t.Nanos >= 1e9 {
			t.Seconds++
			t.Nanos -= 1e9
		}
	}
	return t, nil
}

// appendTimestamp encodes a google.protobuf.Timestamp.
func appendTimestamp(dst []byte, t core.Timestamp) []byte {
	if t.Seconds != 0 {
		dst = protowire.AppendTag(dst, 1, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(t.Seconds))
	}
	if t.Nanos != 0 {
		dst = protowire.AppendTag(dst, 2, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(t.Nanos))
	}
	return dst
}

func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
