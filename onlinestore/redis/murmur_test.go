package redis

import (
	"encoding/hex"
	"testing"
)

// Values from the contract (section 4.2), computed with Feast's mmh3.
func TestFieldNameMatchesFeast(t *testing.T) {
	if got := murmur3x86_32("foo"); got != 4138058784 {
		t.Errorf("mmh3(foo) = %d, want 4138058784", got)
	}
	for _, c := range []struct{ view, feature, hex string }{
		{"driver_hourly_stats", "conv_rate", "6160e3da"},
		{"driver_hourly_stats", "acc_rate", "fa5e58ad"},
		{"driver_hourly_stats", "avg_daily_trips", "18a5e5a3"},
	} {
		if got := hex.EncodeToString([]byte(FieldName(c.view, c.feature))); got != c.hex {
			t.Errorf("FieldName(%s, %s) = %s, want %s", c.view, c.feature, got, c.hex)
		}
	}
	// Every tail length, checked against Python's mmh3.hash(s, signed=False).
	for s, want := range map[string]uint32{"": 0, "a": 1009084850, "ab": 2613040991, "abc": 3017643002,
		"abcd": 1139631978, "abcde": 3902511862, "pipeline_stats:avg_execution_time": 2600427431} {
		if got := murmur3x86_32(s); got != want {
			t.Errorf("mmh3(%q) = %d, want %d", s, got, want)
		}
	}
}
