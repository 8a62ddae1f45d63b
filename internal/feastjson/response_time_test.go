package feastjson

import (
	"math/rand"
	"testing"

	"github.com/feastgo/feastgo/core"
)

// appendEventTime must print exactly what core.Timestamp.AppendRFC3339
// prints.
func TestAppendEventTimeMatchesCore(t *testing.T) {
	check := func(ts core.Timestamp) {
		t.Helper()
		if got, want := string(appendEventTime(nil, ts)), string(ts.AppendRFC3339(nil)); got != want {
			t.Fatalf("%+v: got %s, want %s", ts, got, want)
		}
	}
	for _, sec := range []int64{0, 1, 59, 86399, 86400, 951782400 /* 2000-02-29 */, 951868800, 4107542400 /* 2100-02-28 */, 4107628800,
		1704153600, 253402300799, 253402300800, -1, -86400, 68256000000} {
		for _, ns := range []int32{0, 1, 999, 1000, 123456000, 999999999, 500000000, 1000000, -1, 1e9} {
			check(core.Timestamp{Seconds: sec, Nanos: ns})
		}
	}
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 300000; i++ {
		ts := core.Timestamp{Seconds: r.Int63n(253402300800)}
		switch r.Intn(4) {
		case 1:
			ts.Nanos = int32(r.Intn(1000)) * 1e6
		case 2:
			ts.Nanos = int32(r.Intn(1e6)) * 1e3
		case 3:
			ts.Nanos = int32(r.Intn(1e9))
		}
		check(ts)
	}
}
