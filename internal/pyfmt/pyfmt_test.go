package pyfmt

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// Expected strings are Python 3.11 repr() output.
func TestFloatMatchesPythonRepr(t *testing.T) {
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
		{math.NaN(), "nan"}, {math.Inf(1), "inf"}, {math.Inf(-1), "-inf"},
	}
	for _, c := range cases {
		if got := Float(c.f); got != c.want {
			t.Errorf("Float(%v) = %s, want %s", c.f, got, c.want)
		}
	}
}

// TestAppendFloatPositionalPath checks the positional fast path against
// the layout from strconv's shortest 'e' form (the reference the table
// above pins to Python) over random doubles, widened float32s and the
// neighbours of the notation boundaries.
func TestAppendFloatPositionalPath(t *testing.T) {
	check := func(f float64) {
		if math.IsNaN(f) || math.IsInf(f, 0) || f == 0 {
			return
		}
		if got, want := string(AppendFloat(nil, f)), string(layoutFromE(nil, f)); got != want {
			t.Fatalf("AppendFloat(%b) = %s, want %s", f, got, want)
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

// TestAppendWidened checks the widened-float32 printer against the general one
// (strconv's shortest digits, laid out as Python's repr) on edge cases
// and a random sample; FEASTGO_EXHAUSTIVE_FLOAT32=1 checks all 2^32 bit
// patterns (a few minutes).
func TestAppendWidened(t *testing.T) {
	check := func(b uint32) {
		t.Helper()
		got := AppendWidened(nil, b)
		want := AppendFloat(nil, float64(math.Float32frombits(b)))
		if string(got) != string(want) {
			t.Fatalf("AppendWidened(%#x = %v) = %s, want %s", b, math.Float32frombits(b), got, want)
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
					g = AppendWidened(g[:0], b)
					x = AppendFloat(x[:0], float64(math.Float32frombits(b)))
					if string(g) != string(x) && failed.CompareAndSwap(0, 1) {
						t.Errorf("AppendWidened(%#x) = %s, want %s", b, g, x)
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

func BenchmarkAppendWidened(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	in := make([]uint32, 1024)
	for i := range in {
		in[i] = math.Float32bits(rng.Float32() * 100)
	}
	buf := make([]byte, 0, 64)
	b.Run("fast", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			buf = AppendWidened(buf[:0], in[i&1023])
		}
	})
	b.Run("strconv", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			buf = AppendFloat(buf[:0], float64(math.Float32frombits(in[i&1023])))
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

func TestAppendInt(t *testing.T) {
	check := func(v int64) {
		t.Helper()
		if got, want := string(AppendInt([]byte("x"), v)), "x"+strconv.FormatInt(v, 10); got != want {
			t.Fatalf("AppendInt(%d) = %s, want %s", v, got, want)
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

func BenchmarkAppendInt(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	in := make([]int64, 1024)
	for i := range in {
		in[i] = rng.Int64N(1_000_000)
	}
	buf := make([]byte, 0, 64)
	b.Run("ours", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			buf = AppendInt(buf[:0], in[i&1023])
		}
	})
	b.Run("strconv", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			buf = strconv.AppendInt(buf[:0], in[i&1023], 10)
		}
	})
}

// layoutFromE is Python's repr of a finite, non-zero f laid out digit by
// digit from strconv's shortest 'e' form: the reference for the
// positional fast path.
func layoutFromE(dst []byte, f float64) []byte {
	var tmp [32]byte
	e := strconv.AppendFloat(tmp[:0], f, 'e', -1, 64)
	// e is [-]d[.ddd]e±XX
	mark := len(e) - 1
	for e[mark] != 'e' {
		mark--
	}
	exp := 0
	for _, c := range e[mark+2:] {
		exp = exp*10 + int(c-'0')
	}
	if e[mark+1] == '-' {
		exp = -exp
	}
	if exp < -4 || exp >= 16 {
		return append(dst, e...)
	}
	mant := e[:mark]
	if mant[0] == '-' {
		dst = append(dst, '-')
		mant = mant[1:]
	}
	// Digits without the decimal point.
	var digits [24]byte
	nd := 0
	for _, c := range mant {
		if c != '.' {
			digits[nd] = c
			nd++
		}
	}
	if exp < 0 {
		dst = append(dst, '0', '.')
		for i := -1; i > exp; i-- {
			dst = append(dst, '0')
		}
		return append(dst, digits[:nd]...)
	}
	if nd <= exp+1 {
		dst = append(dst, digits[:nd]...)
		for i := nd; i <= exp; i++ {
			dst = append(dst, '0')
		}
		return append(dst, '.', '0')
	}
	dst = append(dst, digits[:exp+1]...)
	dst = append(dst, '.')
	return append(dst, digits[exp+1:nd]...)
}

// Expected strings are str(numpy.float32(x)) from numpy 2.4.6 (the Feast
// 0.67 venv). numpy lays a float32 out positionally only for 1e-4 <= |x| <
// 1e6, where Python's float uses 1e16.
func TestFloat32MatchesNumpy(t *testing.T) {
	cases := []struct {
		bits uint32
		want string
	}{
		{0x3dcccccd, "0.1"}, {0x3f800000, "1.0"}, {0xc0200000, "-2.5"}, {0x00000000, "0.0"}, {0x80000000, "-0.0"},
		{0x38d1b717, "1e-04"}, {0x3727c5ac, "1e-05"}, {0x40533333, "3.3"}, {0x4b800000, "1.6777216e+07"},
		{0x5a0e1bca, "1e+16"}, {0x5a5529af, "1.5e+16"}, {0x47f12065, "123456.79"}, {0x7f7fffff, "3.4028235e+38"},
		{0x497423f0, "999999.0"}, {0x49742400, "1e+06"}, {0xc9800000, "-1.048576e+06"}, {0x38d1bc76, "0.00010001"},
		{0x3f800001, "1.0000001"}, {0x4640e6b6, "12345.678"}, {0x00000001, "1e-45"}, {0x389d4952, "7.5e-05"},
		{0x38d1b7a1, "0.000100001"}, {0x7fc00000, "nan"}, {0x7f800000, "inf"}, {0xff800000, "-inf"},
	}
	for _, c := range cases {
		if got := Float32(math.Float32frombits(c.bits)); got != c.want {
			t.Errorf("Float32(%#x = %v) = %s, want %s", c.bits, math.Float32frombits(c.bits), got, c.want)
		}
	}
}

// Outputs of Python 3.11's json.dumps(s).
func TestAppendJSONStringIsJSONDumps(t *testing.T) {
	for in, want := range map[string]string{
		"":                       `""`,
		"plain":                  `"plain"`,
		`q"b\\s`:                 `"q\"b\\\\s"`,
		"\n\r\t\b\f\x00\x1f\x7f": `"\n\r\t\b\f\u0000\u001f\u007f"`,
		"é ü ß":                  `"\u00e9 \u00fc \u00df"`,
		"€":                      `"\u20ac"`,
		"😀 𝄞":                    `"\ud83d\ude00 \ud834\udd1e"`,
		"\u2028":                 `"\u2028"`,
		"mixed é\b😀":             `"mixed \u00e9\b\ud83d\ude00"`,
	} {
		if got := string(AppendJSONString([]byte("x"), in)); got != "x"+want {
			t.Errorf("AppendJSONString(%q) = %s, want %s", in, got[1:], want)
		}
	}
}

// Outputs of Python 3.11's json.dumps(s, ensure_ascii=False).
func TestAppendJSONStringUTF8IsJSONDumps(t *testing.T) {
	for in, want := range map[string]string{
		"":                       `""`,
		"plain":                  `"plain"`,
		`q"b\\s`:                 `"q\"b\\\\s"`,
		"\n\r\t\b\f\x00\x1f\x7f": "\"\\n\\r\\t\\b\\f\\u0000\\u001f\x7f\"",
		"é ü ß €":                `"é ü ß €"`,
		"😀":                      `"😀"`,
		"\u2028":                 "\"\u2028\"",
		"bad \xff utf-8":         `"bad \ufffd utf-8"`,
	} {
		if got := string(AppendJSONStringUTF8([]byte("x"), in)); got != "x"+want {
			t.Errorf("AppendJSONStringUTF8(%q) = %s, want %s", in, got[1:], want)
		}
	}
}
