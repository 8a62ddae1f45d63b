package feastjson

import (
	"slices"
	"strconv"
	"unsafe"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/pyfmt"
)

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

// AppendOnlineResponse appends the whole /get-online-features answer, as
// Feast's server prints it. An error is a stored value that is not a
// feast.types.Value.
func AppendOnlineResponse(dst []byte, r *core.OnlineResponse) ([]byte, error) {
	// Grow once to about the answer's size (some 40 bytes per cell) rather
	// than by doubling: a 100 x 50 answer is some 200 KB.
	est := 64
	for i := range r.Columns {
		est += 64 + len(r.Columns[i].Name) + 44*r.Columns[i].Len()
	}
	dst = slices.Grow(dst, est)
	dst = append(dst, `{"results":[`...)
	var err error
	var ts sharedTimestamps
	for ci := range r.Columns {
		if ci > 0 {
			dst = append(dst, ',')
		}
		if dst, err = appendColumn(dst, &r.Columns[ci], &ts); err != nil {
			return dst, err
		}
	}
	dst = append(dst, `],"metadata":{"feature_names":[`...)
	for ci := range r.Columns {
		if ci > 0 {
			dst = append(dst, ',')
		}
		dst = AppendString(dst, r.Columns[ci].Name)
	}
	dst = append(dst, ']')
	dst = appendViewMetadata(dst, r.ViewMetadata)
	return append(dst, "}}"...), nil
}

// sharedTimestamps is the event_timestamps member last printed from a
// column's TS slice, at dst[start:end]: the columns of one feature view
// share their slice, which is printed once and its text copied for the
// others.
type sharedTimestamps struct {
	of         []core.Timestamp
	start, end int
}

// appendColumn appends one result: values, statuses and event timestamps.
func appendColumn(dst []byte, c *core.Column, ts *sharedTimestamps) ([]byte, error) {
	var err error
	n := c.Len()
	dst = append(dst, `{"values":[`...)
	for i := 0; i < n; i++ {
		if i > 0 {
			dst = append(dst, ',')
		}
		if c.Raw != nil {
			if dst, err = AppendRawValue(dst, c.Raw[i]); err != nil {
				return dst, err
			}
		} else {
			dst = AppendValue(dst, c.Typed[i])
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
		dst = appendEventTimestamps(dst, c, n, ts)
	}
	return append(dst, '}'), nil
}

// appendEventTimestamps appends a column's event_timestamps member.
func appendEventTimestamps(dst []byte, c *core.Column, n int, ts *sharedTimestamps) []byte {
	switch {
	case c.TS != nil && len(c.TS) == len(ts.of) && unsafe.SliceData(c.TS) == unsafe.SliceData(ts.of):
		return append(dst, dst[ts.start:ts.end]...)
	case c.TS == nil:
		// Entity and request columns: the epoch in every row.
		dst = append(dst, `,"event_timestamps":[`...)
		for i := 0; i < n; i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `"1970-01-01T00:00:00Z"`...)
		}
		return append(dst, ']')
	}
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
	ts.of, ts.start, ts.end = c.TS, start, len(dst)
	return dst
}

// appendViewMetadata appends the feature_view_metadata member, when there
// is any.
func appendViewMetadata(dst []byte, views []core.ViewMetadata) []byte {
	if len(views) == 0 {
		return dst
	}
	dst = append(dst, `,"feature_view_metadata":[`...)
	for i, m := range views {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '{')
		sep := false
		if m.Name != "" {
			dst = append(dst, `"name":`...)
			dst = AppendString(dst, m.Name)
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
	return append(dst, ']')
}
