package core

import (
	"strconv"
	"time"
)

// Timestamp is an event time as Feast stores it: seconds and nanoseconds
// since the Unix epoch (a google.protobuf.Timestamp without the allocation).
type Timestamp struct {
	Seconds int64
	Nanos   int32
}

// Time converts the timestamp to a UTC time.Time.
func (t Timestamp) Time() time.Time { return time.Unix(t.Seconds, int64(t.Nanos)).UTC() }

// TimestampOf converts a time.Time.
func TimestampOf(t time.Time) Timestamp {
	return Timestamp{Seconds: t.Unix(), Nanos: int32(t.Nanosecond())}
}

// AppendRFC3339 appends the timestamp the way Feast's HTTP server prints it:
// UTC with a Z, and 0, 3, 6 or 9 fraction digits depending on precision.
func (t Timestamp) AppendRFC3339(dst []byte) []byte {
	if t.Seconds == 0 && t.Nanos == 0 {
		return append(dst, "1970-01-01T00:00:00Z"...)
	}
	dst = time.Unix(t.Seconds, 0).UTC().AppendFormat(dst, "2006-01-02T15:04:05")
	n := int64(t.Nanos)
	switch {
	case n == 0:
	case n%1_000_000 == 0:
		dst = appendFrac(dst, n/1_000_000, 3)
	case n%1_000 == 0:
		dst = appendFrac(dst, n/1_000, 6)
	default:
		dst = appendFrac(dst, n, 9)
	}
	return append(dst, 'Z')
}

func appendFrac(dst []byte, v int64, digits int) []byte {
	dst = append(dst, '.')
	s := strconv.FormatInt(v, 10)
	for i := len(s); i < digits; i++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}
