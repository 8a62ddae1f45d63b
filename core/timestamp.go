package core

import (
	"fmt"
	"strconv"
	"strings"
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

// Micros drops what a Python datetime cannot hold: Feast's timestamps go
// through datetime, which keeps microseconds (the nanoseconds are cut, not
// rounded).
func (t Timestamp) Micros() Timestamp {
	t.Nanos -= t.Nanos % 1000
	return t
}

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

// ParseTime parses the ISO 8601 forms pandas.to_datetime accepts for event
// timestamps: a date, or a date and time separated by "T" or a blank, with
// optional seconds, fraction (up to nanoseconds) and a "Z" or ±HH[:MM]
// offset. A time without offset is UTC, as in Feast.
func ParseTime(s string) (Timestamp, error) {
	in := strings.TrimSpace(s)
	bad := func() (Timestamp, error) {
		return Timestamp{}, fmt.Errorf("%s is not a timestamp (use ISO 8601, for example 2022-05-13 10:59:42+00:00)", strconv.Quote(s))
	}
	if len(in) < 8 {
		return bad()
	}
	var date string
	rest := ""
	switch {
	case len(in) >= 10 && in[4] == '-' && in[7] == '-':
		date, rest = in[:10], in[10:]
	case len(in) >= 8 && allDigits(in[:8]) && (len(in) == 8 || in[8] == 'T' || in[8] == ' '):
		date, rest = in[:4]+"-"+in[4:6]+"-"+in[6:8], in[8:]
	default:
		return bad()
	}
	d, err := time.Parse("2006-01-02", date)
	if err != nil {
		return bad()
	}
	loc := time.UTC
	var clock time.Duration
	var nanos int64
	if rest != "" {
		if rest[0] != 'T' && rest[0] != ' ' {
			return bad()
		}
		rest = strings.TrimLeft(rest[1:], " ")
		// Split off the zone.
		zone := ""
		if strings.HasSuffix(rest, "Z") || strings.HasSuffix(rest, "z") {
			zone, rest = "Z", rest[:len(rest)-1]
		} else if i := strings.LastIndexAny(rest, "+-"); i > 0 {
			zone, rest = rest[i:], rest[:i]
		} else if strings.HasSuffix(rest, " UTC") {
			zone, rest = "Z", strings.TrimSuffix(rest, " UTC")
		}
		rest = strings.TrimRight(rest, " ")
		parts := strings.Split(rest, ":")
		if len(parts) < 2 || len(parts) > 3 {
			return bad()
		}
		h, err1 := strconv.Atoi(parts[0])
		m, err2 := strconv.Atoi(parts[1])
		if err1 != nil || err2 != nil || len(parts[0]) != 2 || len(parts[1]) != 2 || h > 23 || m > 59 {
			return bad()
		}
		clock = time.Duration(h)*time.Hour + time.Duration(m)*time.Minute
		if len(parts) == 3 {
			sec, frac, _ := strings.Cut(parts[2], ".")
			sv, err := strconv.Atoi(sec)
			if err != nil || len(sec) != 2 || sv > 59 {
				return bad()
			}
			clock += time.Duration(sv) * time.Second
			if strings.Contains(parts[2], ".") {
				if frac == "" || len(frac) > 9 || !allDigits(frac) {
					return bad()
				}
				f, _ := strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
				nanos = f
			}
		}
		if zone != "" && zone != "Z" {
			sign := 1
			if zone[0] == '-' {
				sign = -1
			}
			z := strings.ReplaceAll(zone[1:], ":", "")
			if !allDigits(z) || (len(z) != 2 && len(z) != 4) {
				return bad()
			}
			zh, _ := strconv.Atoi(z[:2])
			zm := 0
			if len(z) == 4 {
				zm, _ = strconv.Atoi(z[2:])
			}
			if zh > 23 || zm > 59 {
				return bad()
			}
			loc = time.FixedZone("", sign*(zh*3600+zm*60))
		}
	}
	t := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc).Add(clock).Add(time.Duration(nanos))
	return TimestampOf(t), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
