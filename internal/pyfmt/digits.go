package pyfmt

import (
	"encoding/binary"
	"math/bits"
	"slices"
)

// Decimal digits two at a time from a table, written into the caller's
// buffer directly.

const digitPairs = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"

// put8 writes v < 10^8 as eight digits with one store.
func put8(b []byte, v uint32) {
	binary.LittleEndian.PutUint64(b, ascii8(v))
}

// ascii8 is v < 10^8 as eight ASCII digits in a little-endian word, the
// most significant in the lowest byte: the two halves of four digits, then
// their pairs, then single digits are split in parallel lanes (a multiply
// by 5243>>19 is /100 below 10^4, by 103>>10 is /10 below 100).
func ascii8(v uint32) uint64 {
	x := uint64(v/10000) | uint64(v%10000)<<32
	q := x * 5243 >> 19 & 0x0000007f_0000007f
	x = q | (x-q*100)<<16
	q = x * 103 >> 10 & 0x000f000f_000f000f
	x = q | (x-q*10)<<8
	return x | 0x30303030_30303030
}

// decimalLen is the number of decimal digits of q > 0.
func decimalLen(q uint64) int {
	n := (bits.Len64(q)*1233)>>12 + 1 // log10(2) ≈ 1233/4096
	if n < len(pow10u64) && q >= pow10u64[n] {
		n++
	} else if q < pow10u64[n-1] {
		n--
	}
	return n
}

// AppendInt appends Python's str(int) of v (the same digits as
// strconv.AppendInt(dst, v, 10)), writing them in place two at a time
// where strconv formats into a buffer and copies.
func AppendInt(dst []byte, v int64) []byte {
	u := uint64(v)
	if v < 0 {
		dst = append(dst, '-')
		u = -u
	}
	if u < 10 {
		return append(dst, byte('0'+u))
	}
	n := decimalLen(u)
	if n <= 8 {
		// All the digits with one store: put8's word, its leading
		// zeros shifted out.
		start := len(dst)
		dst = slices.Grow(dst, 8)
		binary.LittleEndian.PutUint64(dst[start:start+8], ascii8(uint32(u))>>(64-8*n))
		return dst[:start+n]
	}
	start := len(dst)
	dst = slices.Grow(dst, n)[:start+n]
	i := start + n
	for u >= 100 {
		r := u % 100 * 2
		u /= 100
		i -= 2
		dst[i], dst[i+1] = digitPairs[r], digitPairs[r+1]
	}
	if u >= 10 {
		dst[start], dst[start+1] = digitPairs[2*u], digitPairs[2*u+1]
	} else {
		dst[start] = byte('0' + u)
	}
	return dst
}

// AppendTwoDigits appends 0 <= v < 100 as two digits ("07"), the field
// width of dates and times.
func AppendTwoDigits(dst []byte, v int64) []byte {
	return append(dst, digitPairs[2*v], digitPairs[2*v+1])
}

// Bool is Python's str(bool): "True" or "False".
func Bool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}
