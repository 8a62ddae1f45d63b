package server

import (
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/feastgo/feastgo/core"
)

// Expected strings are Python 3.11 repr() output.
func TestAppendPyFloatMatchesPythonRepr(t *testing.T) {
	cases := []struct {
		f    float64
		want string
	}{
		{0.5, "0.5"}, {1.0, "1.0"}, {math.Copysign(0, -1), "-0.0"}, {0.0, "0.0"}, {1e+16, "1e+16"},
		{1.5e+16, "1.5e+16"}, {1e-05, "1e-05"}, {0.0001, "0.0001"}, {123456.789, "123456.789"},
		{1000000000000000.0, "1000000000000000.0"}, {0.30000000000000004, "0.30000000000000004"},
		{3e-310, "3e-310"}, {1.7976931348623157e+308, "1.7976931348623157e+308"}, {-2.5, "-2.5"},
		{100.0, "100.0"}, {1234567890123456.0, "1234567890123456.0"},
		{1.2345678901234568e+16, "1.2345678901234568e+16"},
		{float64(float32(0.7037263512611389)), "0.7037263512611389"},
		{float64(float32(0.1)), "0.10000000149011612"}, {float64(float32(3.3)), "3.299999952316284"},
		{float64(float32(1e-8)), "9.99999993922529e-09"}, {float64(float32(16777217.0)), "16777216.0"},
		{math.NaN(), `"NaN"`}, {math.Inf(1), `"Infinity"`}, {math.Inf(-1), `"-Infinity"`},
	}
	for _, c := range cases {
		if got := string(appendPyFloat(nil, c.f)); got != c.want {
			t.Errorf("appendPyFloat(%v) = %s, want %s", c.f, got, c.want)
		}
	}
}

// TestAppendPyFloatPositionalPath checks the positional fast path against
// the layout from strconv's shortest 'e' form (the reference the table
// above pins to Python) over random doubles, widened float32s and the
// neighbours of the notation boundaries.
func TestAppendPyFloatPositionalPath(t *testing.T) {
	check := func(f float64) {
		if math.IsNaN(f) || math.IsInf(f, 0) || f == 0 {
			return
		}
		if got, want := string(appendPyFloat(nil, f)), string(appendPyFloatE(nil, f)); got != want {
			t.Fatalf("appendPyFloat(%b) = %s, want %s", f, got, want)
		}
	}
	for _, b := range []float64{1e-4, 1e16, 1, 10, 0.1, 9007199254740992, 1e15} {
		for _, f := range []float64{b, math.Nextafter(b, 0), math.Nextafter(b, math.Inf(1))} {
			check(f)
			check(-f)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 300_000; i++ {
		check(math.Float64frombits(rng.Uint64()))
		check(float64(math.Float32frombits(rng.Uint32())))
		// Around the positional range, where the fast path applies.
		check(math.Ldexp(rng.Float64(), rng.IntN(70)-16))
		check(float64(float32(math.Ldexp(rng.Float64(), rng.IntN(70)-16))))
		check(float64(rng.Int64N(1 << 54)))
	}
}

func TestAppendRawValueJSON(t *testing.T) {
	cases := []struct {
		name, hex, want string
	}{
		{"empty is null", "", "null"},
		{"int64", "20e907", "1001"},
		{"float widened", "350000003f", "0.5"},
		{"double", "29000000000000e03f", "0.5"},
		{"string", "1203616263", `"abc"`},
		{"bool", "3801", "true"},
		{"unix ts", "4080b3be8e06", "1640995200"},
		{"int64 list packed", "72050a03010203", "[1,2,3]"},
		{"null_val", "980100", "null"},
		{"bytes base64", "0a03010203", `"AQID"`},
		{"string list", "62070a01610a026263", `["a","bc"]`},
		{"negative int32", "18ffffffffffffffffff01", "-1"},
		{"last oneof wins", "20011203616263", `"abc"`},
		{"map", "a2010d0a0b0a01611206120478797a7a", `{"a":"xyzz"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := hex.DecodeString(c.hex)
			if err != nil {
				t.Fatal(err)
			}
			got, err := appendRawValueJSON(nil, b)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Fatalf("got %s, want %s", got, c.want)
			}
		})
	}
}

func TestAppendRawValueJSONRejectsGarbage(t *testing.T) {
	for _, h := range []string{"20", "12ff", "72ff"} {
		b, _ := hex.DecodeString(h)
		if _, err := appendRawValueJSON(nil, b); err == nil {
			t.Errorf("%s: no error", h)
		}
	}
}

func TestAppendJSONStringLikePython(t *testing.T) {
	got := string(appendJSONString(nil, "a\"b\\c\n\x01é<>&\u2028"))
	want := `"a\"b\\c\n\u0001é<>&` + "\u2028" + `"`
	if got != want {
		t.Fatalf("got %s want %s", got, want)
	}
}

func TestTimestampFormat(t *testing.T) {
	cases := []struct {
		ts   core.Timestamp
		want string
	}{
		{core.Timestamp{}, "1970-01-01T00:00:00Z"},
		{core.Timestamp{Seconds: 1640995200}, "2022-01-01T00:00:00Z"},
		{core.Timestamp{Seconds: 1640995200, Nanos: 500_000_000}, "2022-01-01T00:00:00.500Z"},
		{core.Timestamp{Seconds: 1640995200, Nanos: 123_000}, "2022-01-01T00:00:00.000123Z"},
		{core.Timestamp{Seconds: 1640995200, Nanos: 7}, "2022-01-01T00:00:00.000000007Z"},
	}
	for _, c := range cases {
		if got := string(c.ts.AppendRFC3339(nil)); got != c.want {
			t.Errorf("%+v: got %s want %s", c.ts, got, c.want)
		}
	}
}

func FuzzAppendRawValueJSON(f *testing.F) {
	for _, h := range []string{"20e907", "72050a03010203", "a2010d0a0b0a01611206120478797a7a"} {
		b, _ := hex.DecodeString(h)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = appendRawValueJSON(nil, b) // must not panic
	})
}

// TestAppendPyFloat32 checks the float32 printer against the general one
// (strconv's shortest digits, laid out as Python's repr) on edge cases
// and a random sample; FEASTGO_EXHAUSTIVE_FLOAT32=1 checks all 2^32 bit
// patterns (a few minutes).
func TestAppendPyFloat32(t *testing.T) {
	check := func(b uint32) {
		t.Helper()
		got := appendPyFloat32(nil, b)
		want := appendPyFloat(nil, float64(math.Float32frombits(b)))
		if string(got) != string(want) {
			t.Fatalf("appendPyFloat32(%#x = %v) = %s, want %s", b, math.Float32frombits(b), got, want)
		}
	}
	for _, f := range []float32{0.1, 0.5, 1, 3, 1e-4, 9.9999e-5, 0.00010001, 100.25, 83.27367, 16777215, 16777216, 1e7, 1234567.875, 0.3, 2.5e-3, 1e-3, 99.99999} {
		check(math.Float32bits(f))
		check(math.Float32bits(-f))
	}
	for b := uint32(0x38d1b700); b < 0x38d1b730; b++ {
		check(b)
	}
	for e := uint32(0); e < 256; e++ { // every exponent, boundary fractions
		for _, fr := range []uint32{0, 1, 2, 0x400000, 0x7fffff, 0x7ffffe, 0x123456} {
			check(e<<23 | fr)
		}
	}
	if os.Getenv("FEASTGO_EXHAUSTIVE_FLOAT32") == "1" {
		var wg sync.WaitGroup
		var failed atomic.Uint32
		workers := uint64(runtime.GOMAXPROCS(0))
		for w := uint64(0); w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var g, x []byte
				for i := w; i < 1<<32; i += workers {
					b := uint32(i)
					g = appendPyFloat32(g[:0], b)
					x = appendPyFloat(x[:0], float64(math.Float32frombits(b)))
					if string(g) != string(x) && failed.CompareAndSwap(0, 1) {
						t.Errorf("appendPyFloat32(%#x) = %s, want %s", b, g, x)
					}
				}
			}()
		}
		wg.Wait()
		return
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2_000_000 {
		check(rng.Uint32())
	}
}

func BenchmarkPyFloat32(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	in := make([]uint32, 1024)
	for i := range in {
		in[i] = math.Float32bits(rng.Float32() * 100)
	}
	buf := make([]byte, 0, 64)
	b.Run("fast", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			buf = appendPyFloat32(buf[:0], in[i&1023])
		}
	})
	b.Run("strconv", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			buf = appendPyFloat(buf[:0], float64(math.Float32frombits(in[i&1023])))
		}
	})
}

// put8's lane arithmetic (a /100 and a /10 by multiplication) must hold for
// every value below 10^8; the random part covers the rest of the range.
func TestPut8(t *testing.T) {
	check := func(v uint32) {
		var b [8]byte
		put8(b[:], v)
		if want := fmt.Sprintf("%08d", v); string(b[:]) != want {
			t.Fatalf("put8(%d) = %q, want %q", v, b[:], want)
		}
	}
	for v := uint32(0); v < 200_000; v++ {
		check(v)
	}
	for v := uint32(1); v < 1e8; v *= 10 {
		check(v - 1)
		check(v)
		check(v*10 - 1)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 1_000_000 {
		check(rng.Uint32N(1e8))
	}
}

func TestAppendInt64(t *testing.T) {
	check := func(v int64) {
		t.Helper()
		if got, want := string(appendInt64([]byte("x"), v)), "x"+strconv.FormatInt(v, 10); got != want {
			t.Fatalf("appendInt64(%d) = %s, want %s", v, got, want)
		}
	}
	for _, v := range []int64{0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, -1, -10, -99, -100, math.MaxInt64, math.MinInt64, math.MinInt64 + 1} {
		check(v)
	}
	for p := int64(1); p > 0 && p < math.MaxInt64/10; p *= 10 {
		check(p - 1)
		check(p)
		check(p + 1)
		check(-p)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 1_000_000 {
		v := int64(rng.Uint64())
		check(v >> rng.IntN(64))
	}
}

func BenchmarkAppendInt64(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	in := make([]int64, 1024)
	for i := range in {
		in[i] = rng.Int64N(1_000_000)
	}
	buf := make([]byte, 0, 64)
	b.Run("ours", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			buf = appendInt64(buf[:0], in[i&1023])
		}
	})
	b.Run("strconv", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			buf = strconv.AppendInt(buf[:0], in[i&1023], 10)
		}
	})
}

func TestStatusJSON(t *testing.T) {
	for s := core.FieldStatus(-1); s <= core.StatusOutsideMaxAge+2; s++ {
		if got, want := statusJSON(s), `,"`+s.String()+`"`; got != want {
			t.Errorf("statusJSON(%d) = %s, want %s", s, got, want)
		}
	}
}
