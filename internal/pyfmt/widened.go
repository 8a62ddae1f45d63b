package pyfmt

import (
	"math"
	"math/big"
	"math/bits"
)

// AppendWidened appends float64(math.Float32frombits(b)) as Python's
// repr(float) prints it: what Feast's server sends for a Float32 feature,
// which Python reads as the widened double (e.g. 0.1f is
// 0.10000000149011612). It is AppendFloat of the widened value, faster.
//
// A widened float32 has only 24 significant bits, so its exact value fits
// 128-bit integer arithmetic. For a value in [1e-4, 2^24) with a
// fractional part (almost every real feature value), the shortest digits
// are found directly:
//
//   - The value is M·2^-s = N·10^-s with N = M·5^s, an integer below 2^110.
//   - Any decimal within h = 5^s/2^30 (half a double ulp, in units of
//     10^-s) of N parses back to the same double. M<<29 is even, so the
//     bounds are included (round half to even).
//   - With jA the largest j where 10^jA ≤ 2h, at most one multiple of
//     10^(jA+1) lies in that interval, and the multiple of 10^jA nearest
//     to N always does. The first of these that exists is the shortest
//     representation, and the nearest of the shortest ones.
//
// Everything else (zero, values of 2^24 and over, tiny values, powers of
// two with their narrower interval below) goes through AppendFloat. An exhaustive run
// over all 2^32 inputs (FEASTGO_EXHAUSTIVE_FLOAT32=1) compares the two.
func AppendWidened(dst []byte, b uint32) []byte {
	exp := b >> 23 & 0xff
	frac := b & (1<<23 - 1)
	// 0x38d1b718 is the smallest float32 that widens to a double ≥ 1e-4
	// (Python's positional range); exp < 150 means M·2^-s with s ≥ 1.
	if frac == 0 || exp >= 150 || b&0x7fffffff < 0x38d1b718 {
		return AppendFloat(dst, float64(math.Float32frombits(b)))
	}
	s := 150 - exp // value = M·2^-s, 1 ≤ s ≤ 36 here
	m := uint64(frac | 1<<23)
	var q uint64 // the digits
	var lvl int  // q·10^lvl is the chosen multiple, in units of 10^-s
	ja := f32JA[s]
	if ja < 0 {
		// 2h < 1: N itself (an integer below 2^53) is the only candidate.
		q, lvl = m*f32Pow5[s].lo, 0
	} else {
		// N = m·5^s, 128 bits.
		p := f32Pow5[s]
		nh, nl := bits.Mul64(m, p.lo)
		nh += m * p.hi
		var ok bool
		if q, lvl, ok = f32Shortest(nh, nl, ja, p); !ok {
			return AppendFloat(dst, float64(math.Float32frombits(b)))
		}
	}
	for q%10 == 0 {
		q /= 10
		lvl++
	}
	if b>>31 != 0 {
		dst = append(dst, '-')
	}
	// Digits of q, most significant first, in buf[i:]: eight at a time
	// with 32-bit arithmetic, then the leading zeros skipped.
	var buf [24]byte
	q0 := q
	i := len(buf) - 8
	put8(buf[i:], uint32(q%1e8))
	for q /= 1e8; q > 0; q /= 1e8 {
		i -= 8
		put8(buf[i:], uint32(q%1e8))
	}
	i = len(buf) - decimalLen(q0)
	digits := buf[i:]
	point := len(digits) + lvl - int(s) // digits before the decimal point
	switch {
	case point <= 0:
		dst = append(dst, '0', '.')
		for ; point < 0; point++ {
			dst = append(dst, '0')
		}
		return append(dst, digits...)
	case point >= len(digits):
		// An integral value (M with s or more trailing zero bits).
		dst = append(dst, digits...)
		for ; point > len(digits); point-- {
			dst = append(dst, '0')
		}
		return append(dst, '.', '0')
	}
	dst = append(dst, digits[:point]...)
	dst = append(dst, '.')
	return append(dst, digits[point:]...)
}

// f32Shortest finds the shortest digits of N = (nh, nl) in units of
// 10^-s (p is 5^s, h = 5^s/2^30 the half-interval): the one multiple of
// 10^(ja+1) within h of N if there is one, else the multiple of 10^ja
// nearest to N (always within h), the even one of two. It refuses digits
// that would not fit 64 bits, so that the caller falls back.
func f32Shortest(nh, nl uint64, ja int, p u128) (q uint64, lvl int, ok bool) {
	d := pow10u64[ja]
	if nh >= d {
		return 0, 0, false
	}
	q0, r0 := bits.Div64(nh, nl, d) // N = q0·10^ja + r0
	// One level up: N = (q0/10)·10^(ja+1) + r1. The multiple below is in
	// the interval when r1·2^30 ≤ 5^s, the one above when (10^(ja+1)-r1)
	// is; r1 < 10^19, so both products take 128 bits.
	q1 := q0 / 10
	r1h, r1l := bits.Mul64(q0%10, d)
	r1l, c := bits.Add64(r1l, r0, 0)
	r1h += c
	if r1h == 0 {
		if le128(r1l>>34, r1l<<30, p) {
			return q1, ja + 1, true
		}
		if u := 10*d - r1l; d < math.MaxUint64/10 && le128(u>>34, u<<30, p) {
			return q1 + 1, ja + 1, true
		}
	}
	switch {
	case 2*r0 < d:
		return q0, ja, true
	case 2*r0 > d:
		return q0 + 1, ja, true
	}
	// An exact tie: both neighbours are d/2 ≤ h away, so both parse back,
	// and repr takes the even one (round half to even). Ties are no rarity:
	// N is a multiple of 5^ja, so one in 2^ja is one at level ja.
	return q0 + q0&1, ja, true
}

type u128 struct{ hi, lo uint64 }

func le128(hi, lo uint64, p u128) bool {
	return hi < p.hi || (hi == p.hi && lo <= p.lo)
}

var (
	pow10u64 [20]uint64
	f32Pow5  [40]u128 // 5^s
	f32JA    [40]int  // largest j with 10^j ≤ 5^s/2^29 (2h), or -1
)

func init() {
	pow10u64[0] = 1
	for i := 1; i < len(pow10u64); i++ {
		pow10u64[i] = pow10u64[i-1] * 10
	}
	five := big.NewInt(1)
	for s := range f32Pow5 {
		lo := new(big.Int).And(five, new(big.Int).SetUint64(math.MaxUint64))
		f32Pow5[s] = u128{hi: new(big.Int).Rsh(five, 64).Uint64(), lo: lo.Uint64()}
		// Largest j with 10^j·2^29 ≤ 5^s.
		j := -1
		t := big.NewInt(1 << 29)
		for t.Cmp(five) <= 0 {
			j++
			t.Mul(t, big.NewInt(10))
		}
		f32JA[s] = j
		five.Mul(five, big.NewInt(5))
	}
}
