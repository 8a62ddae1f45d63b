package server

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/pyfmt"
)

// The JSON writers below produce exactly what Feast's Python server sends:
// json.dumps with separators (",", ":"), ensure_ascii=False, Python float
// repr, and feast_server_utils' value conversion. They decode stored Value
// bytes straight into JSON without building protobuf messages.

var errBadValue = errors.New("malformed feast.types.Value bytes")

// appendJSONFloat appends f as Python's json.dumps prints it: repr(float),
// with non-finite values as the strings Feast's server sends ("NaN",
// "Infinity", "-Infinity").
func appendJSONFloat(dst []byte, f float64) []byte {
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

// appendJSONFloat32 is appendJSONFloat of a Float32 feature's bits, read as
// Python reads them: the widened double.
func appendJSONFloat32(dst []byte, b uint32) []byte {
	if b>>23&0xff == 0xff { // NaN or an infinity
		return appendJSONFloat(dst, float64(math.Float32frombits(b)))
	}
	return pyfmt.AppendWidened(dst, b)
}

// appendJSONString appends s as a JSON string the way Python's json.dumps
// does with ensure_ascii=False.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			if c < utf8.RuneSelf {
				i++
				continue
			}
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, s[start:i]...)
				dst = append(dst, `\ufffd`...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		default:
			dst = append(dst, `\u00`...)
			dst = append(dst, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func appendBase64(dst []byte, b []byte) []byte {
	dst = append(dst, '"')
	n := base64.StdEncoding.EncodedLen(len(b))
	dst = append(dst, make([]byte, n)...)
	base64.StdEncoding.Encode(dst[len(dst)-n:], b)
	return append(dst, '"')
}

// appendTypedValueJSON appends a decoded core.Value.
func appendTypedValueJSON(dst []byte, v core.Value) []byte {
	switch v.Type {
	case core.Invalid, core.Null:
		return append(dst, "null"...)
	case core.String:
		return appendJSONString(dst, v.S)
	case core.Bytes:
		return appendBase64(dst, []byte(v.S))
	case core.Int32, core.Int64, core.UnixTimestamp:
		return strconv.AppendInt(dst, v.I, 10)
	case core.Double, core.Float:
		return appendJSONFloat(dst, v.F)
	case core.Bool:
		if v.I != 0 {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	}
	if v.Type.IsList() {
		dst = append(dst, '[')
		for i, e := range v.List {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendTypedValueJSON(dst, e)
		}
		return append(dst, ']')
	}
	return append(dst, "null"...)
}

// appendRawValueJSON decodes serialized feast.types.Value bytes into JSON.
func appendRawValueJSON(dst []byte, b []byte) ([]byte, error) {
	// Fast paths for a Value holding one scalar field and nothing else
	// (what Feast writes for float, double and integer features); any
	// other shape takes the general decoder below.
	if len(b) > 1 {
		switch b[0] {
		case 0x35: // float_val (6), fixed32
			if len(b) == 5 {
				return appendJSONFloat32(dst, binary.LittleEndian.Uint32(b[1:])), nil
			}
		case 0x29: // double_val (5), fixed64
			if len(b) == 9 {
				return appendJSONFloat(dst, math.Float64frombits(binary.LittleEndian.Uint64(b[1:]))), nil
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
	case 1: // bytes_val
		return appendBase64(dst, field), nil
	case 2, 32, 36, 37, 44: // string, json, uuid, time_uuid, decimal
		return appendJSONString(dst, string(field)), nil
	case 3: // int32_val
		v, _ := protowire.ConsumeVarint(field)
		return strconv.AppendInt(dst, int64(int32(v)), 10), nil
	case 4, 8: // int64_val, unix_timestamp_val
		v, _ := protowire.ConsumeVarint(field)
		return strconv.AppendInt(dst, int64(v), 10), nil
	case 5:
		return appendJSONFloat(dst, math.Float64frombits(binary.LittleEndian.Uint64(field))), nil
	case 6:
		return appendJSONFloat32(dst, binary.LittleEndian.Uint32(field)), nil
	case 7:
		v, _ := protowire.ConsumeVarint(field)
		if v != 0 {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case 19, 47: // null_val; scalar_map_val is unsupported by Feast's encoder
		return append(dst, "null"...), nil
	case 11, 22: // bytes list / set
		return appendRepeated(dst, field, protowire.BytesType, func(dst []byte, f []byte, _ uint64) ([]byte, error) {
			return appendBase64(dst, f), nil
		})
	case 12, 23, 33, 38, 39, 40, 41, 45, 46: // string-valued lists and sets
		return appendRepeated(dst, field, protowire.BytesType, func(dst []byte, f []byte, _ uint64) ([]byte, error) {
			return appendJSONString(dst, string(f)), nil
		})
	case 13, 24:
		return appendRepeated(dst, field, protowire.VarintType, func(dst []byte, _ []byte, v uint64) ([]byte, error) {
			return strconv.AppendInt(dst, int64(int32(v)), 10), nil
		})
	case 14, 18, 25, 29:
		return appendRepeated(dst, field, protowire.VarintType, func(dst []byte, _ []byte, v uint64) ([]byte, error) {
			return strconv.AppendInt(dst, int64(v), 10), nil
		})
	case 15, 26:
		return appendRepeated(dst, field, protowire.Fixed64Type, func(dst []byte, _ []byte, v uint64) ([]byte, error) {
			return appendJSONFloat(dst, math.Float64frombits(v)), nil
		})
	case 16, 27:
		return appendRepeated(dst, field, protowire.Fixed32Type, func(dst []byte, _ []byte, v uint64) ([]byte, error) {
			return appendJSONFloat32(dst, uint32(v)), nil
		})
	case 17, 28:
		return appendRepeated(dst, field, protowire.VarintType, func(dst []byte, _ []byte, v uint64) ([]byte, error) {
			if v != 0 {
				return append(dst, "true"...), nil
			}
			return append(dst, "false"...), nil
		})
	case 20, 34: // map_val, struct_val
		return appendMapJSON(dst, field)
	case 21, 35: // map_list_val, struct_list_val
		return appendRepeated(dst, field, protowire.BytesType, func(dst []byte, f []byte, _ uint64) ([]byte, error) {
			return appendMapJSON(dst, f)
		})
	case 42, 43: // list_val, set_val: RepeatedValue
		return appendRepeated(dst, field, protowire.BytesType, func(dst []byte, f []byte, _ uint64) ([]byte, error) {
			return appendRawValueJSON(dst, f)
		})
	case 48:
		return appendZonedTimestamp(dst, field)
	}
	return append(dst, "null"...), nil
}

// valueWireType is the wire type of each Value oneof field.
func valueWireType(num protowire.Number) protowire.Type {
	switch num {
	case 3, 4, 7, 8, 19:
		return protowire.VarintType
	case 5:
		return protowire.Fixed64Type
	case 6:
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

// appendRepeated writes the field-1 elements of a list wrapper message as a
// JSON array, accepting packed and unpacked encodings.
func appendRepeated(dst []byte, msg []byte, elem protowire.Type, emit func([]byte, []byte, uint64) ([]byte, error)) ([]byte, error) {
	dst = append(dst, '[')
	first := true
	var err error
	put := func(f []byte, v uint64) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		if err == nil {
			dst, err = emit(dst, f, v)
		}
	}
	for len(msg) > 0 && err == nil {
		n, t, l := protowire.ConsumeTag(msg)
		if l < 0 {
			return dst, errBadValue
		}
		msg = msg[l:]
		if n != 1 {
			m := protowire.ConsumeFieldValue(n, t, msg)
			if m < 0 {
				return dst, errBadValue
			}
			msg = msg[m:]
			continue
		}
		switch {
		case t == elem && t == protowire.VarintType:
			v, m := protowire.ConsumeVarint(msg)
			if m < 0 {
				return dst, errBadValue
			}
			put(nil, v)
			msg = msg[m:]
		case t == elem && t == protowire.Fixed32Type:
			v, m := protowire.ConsumeFixed32(msg)
			if m < 0 {
				return dst, errBadValue
			}
			put(nil, uint64(v))
			msg = msg[m:]
		case t == elem && t == protowire.Fixed64Type:
			v, m := protowire.ConsumeFixed64(msg)
			if m < 0 {
				return dst, errBadValue
			}
			put(nil, v)
			msg = msg[m:]
		case t == protowire.BytesType:
			p, m := protowire.ConsumeBytes(msg)
			if m < 0 {
				return dst, errBadValue
			}
			msg = msg[m:]
			if elem == protowire.BytesType {
				put(p, 0)
				continue
			}
			for len(p) > 0 { // packed scalars
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
					return dst, errBadValue
				}
				put(nil, v)
				p = p[k:]
			}
		default:
			return dst, errBadValue
		}
	}
	if err != nil {
		return dst, err
	}
	return append(dst, ']'), nil
}

// appendMapJSON writes a feast.types.Map (map<string, Value> val = 1).
func appendMapJSON(dst []byte, msg []byte) ([]byte, error) {
	dst = append(dst, '{')
	first := true
	for len(msg) > 0 {
		n, t, l := protowire.ConsumeTag(msg)
		if l < 0 {
			return dst, errBadValue
		}
		msg = msg[l:]
		if n != 1 || t != protowire.BytesType {
			m := protowire.ConsumeFieldValue(n, t, msg)
			if m < 0 {
				return dst, errBadValue
			}
			msg = msg[m:]
			continue
		}
		entry, m := protowire.ConsumeBytes(msg)
		if m < 0 {
			return dst, errBadValue
		}
		msg = msg[m:]
		var key string
		var val []byte
		for len(entry) > 0 {
			en, et, el := protowire.ConsumeTag(entry)
			if el < 0 {
				return dst, errBadValue
			}
			entry = entry[el:]
			if et == protowire.BytesType && (en == 1 || en == 2) {
				p, k := protowire.ConsumeBytes(entry)
				if k < 0 {
					return dst, errBadValue
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
				return dst, errBadValue
			}
			entry = entry[k:]
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendJSONString(dst, key)
		dst = append(dst, ':')
		var err error
		if dst, err = appendRawValueJSON(dst, val); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

// nullTimestamp is Feast's NaT sentinel for timestamps.
const nullTimestamp = math.MinInt64

// appendZonedTimestamp writes ZonedTimestamp{unix_timestamp=1, zone=2} as
// Python's datetime.isoformat() in the stored zone.
func appendZonedTimestamp(dst []byte, msg []byte) ([]byte, error) {
	var secs int64
	var zone string
	for len(msg) > 0 {
		n, t, l := protowire.ConsumeTag(msg)
		if l < 0 {
			return dst, errBadValue
		}
		msg = msg[l:]
		switch {
		case n == 1 && t == protowire.VarintType:
			v, m := protowire.ConsumeVarint(msg)
			if m < 0 {
				return dst, errBadValue
			}
			secs, msg = int64(v), msg[m:]
		case n == 2 && t == protowire.BytesType:
			p, m := protowire.ConsumeBytes(msg)
			if m < 0 {
				return dst, errBadValue
			}
			zone, msg = string(p), msg[m:]
		default:
			m := protowire.ConsumeFieldValue(n, t, msg)
			if m < 0 {
				return dst, errBadValue
			}
			msg = msg[m:]
		}
	}
	if secs == nullTimestamp {
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

// appendEventTime appends t exactly as core.Timestamp.AppendRFC3339 does
// (UTC, a Z, 0, 3, 6 or 9 fraction digits by precision), without going
// through time.Time formatting and its allocation for the fraction: an
// answer has one per row and view. Years outside 1970..9999 and
// out-of-range nanoseconds take core's path.
func appendEventTime(dst []byte, t core.Timestamp) []byte {
	if t.Seconds < 0 || t.Seconds > 253402300799 || t.Nanos < 0 || t.Nanos >= 1e9 {
		return t.AppendRFC3339(dst)
	}
	// Civil date from days since the epoch (H. Hinnant's algorithm).
	days, secs := t.Seconds/86400, t.Seconds%86400
	z := days + 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if mp >= 10 {
		m = mp - 9
	}
	y := yoe + era*400
	if m <= 2 {
		y++
	}
	pair := pyfmt.AppendTwoDigits
	dst = pair(pair(dst, y/100), y%100)
	dst = pair(append(dst, '-'), m)
	dst = pair(append(dst, '-'), d)
	dst = pair(append(dst, 'T'), secs/3600)
	dst = pair(append(dst, ':'), secs/60%60)
	dst = pair(append(dst, ':'), secs%60)
	switch n := int64(t.Nanos); {
	case n == 0:
	case n%1_000_000 == 0:
		dst = appendDigits(append(dst, '.'), n/1_000_000, 3)
	case n%1_000 == 0:
		n /= 1_000
		dst = pair(pair(pair(append(dst, '.'), n/10_000), n/100%100), n%100)
	default:
		dst = appendDigits(append(dst, '.'), n, 9)
	}
	return append(dst, 'Z')
}

// appendDigits appends v (0 <= v < 10^width) zero-padded to width digits.
func appendDigits(dst []byte, v int64, width int) []byte {
	var b [9]byte
	for i := width - 1; i >= 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return append(dst, b[:width]...)
}

// appendOnlineResponse writes the whole /get-online-features answer.
// statusJSONs are the statuses as JSON array elements after the first:
// a comma and the quoted name.
var statusJSONs = func() (q [core.StatusOutsideMaxAge + 1]string) {
	for i := range q {
		q[i] = `,"` + core.FieldStatus(i).String() + `"`
	}
	return q
}()

func statusJSON(s core.FieldStatus) string {
	if s >= 0 && int(s) < len(statusJSONs) {
		return statusJSONs[s]
	}
	return `,"` + s.String() + `"`
}

func appendOnlineResponse(dst []byte, r *core.OnlineResponse) ([]byte, error) {
	// Grow once to about the answer's size (some 40 bytes per cell) rather
	// than by doubling: a 100 x 50 answer is some 200 KB.
	est := 64
	for i := range r.Columns {
		est += 64 + len(r.Columns[i].Name) + 44*r.Columns[i].Len()
	}
	dst = slices.Grow(dst, est)
	dst = append(dst, `{"results":[`...)
	var err error
	var tsOf []core.Timestamp // the TS slice printed at dst[tsStart:tsEnd]
	var tsStart, tsEnd int
	for ci := range r.Columns {
		c := &r.Columns[ci]
		if ci > 0 {
			dst = append(dst, ',')
		}
		n := c.Len()
		dst = append(dst, `{"values":[`...)
		for i := 0; i < n; i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			if c.Raw != nil {
				if dst, err = appendRawValueJSON(dst, c.Raw[i]); err != nil {
					return dst, err
				}
			} else {
				dst = appendTypedValueJSON(dst, c.Typed[i])
			}
		}
		dst = append(dst, `],"statuses":[`...)
		for i := 0; i < n; i++ {
			q := statusJSON(c.StatusAt(i))
			if i == 0 {
				q = q[1:]
			}
			dst = append(dst, q...)
		}
		dst = append(dst, ']')
		if n > 0 {
			// The columns of one feature view share their TS slice:
			// print it once and copy the text for the others.
			switch {
			case c.TS != nil && len(c.TS) == len(tsOf) && unsafe.SliceData(c.TS) == unsafe.SliceData(tsOf):
				dst = append(dst, dst[tsStart:tsEnd]...)
			case c.TS == nil:
				// Entity and request columns: the epoch in every row.
				dst = append(dst, `,"event_timestamps":[`...)
				for i := 0; i < n; i++ {
					if i > 0 {
						dst = append(dst, ',')
					}
					dst = append(dst, `"1970-01-01T00:00:00Z"`...)
				}
				dst = append(dst, ']')
			default:
				start := len(dst)
				dst = append(dst, `,"event_timestamps":[`...)
				for i := 0; i < n; i++ {
					if i > 0 {
						dst = append(dst, ',')
					}
					dst = append(dst, '"')
					dst = appendEventTime(dst, c.TSAt(i))
					dst = append(dst, '"')
				}
				dst = append(dst, ']')
				if c.TS != nil {
					tsOf, tsStart, tsEnd = c.TS, start, len(dst)
				}
			}
		}
		dst = append(dst, '}')
	}
	dst = append(dst, `],"metadata":{"feature_names":[`...)
	for ci := range r.Columns {
		if ci > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, r.Columns[ci].Name)
	}
	dst = append(dst, ']')
	if len(r.ViewMetadata) > 0 {
		dst = append(dst, `,"feature_view_metadata":[`...)
		for i, m := range r.ViewMetadata {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, '{')
			sep := false
			if m.Name != "" {
				dst = append(dst, `"name":`...)
				dst = appendJSONString(dst, m.Name)
				sep = true
			}
			if m.Version != 0 {
				if sep {
					dst = append(dst, ',')
				}
				dst = append(dst, `"version":`...)
				dst = strconv.AppendInt(dst, int64(m.Version), 10)
			}
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	return append(dst, "}}"...), nil
}
