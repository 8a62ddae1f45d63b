package parquet

import (
	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/offlinestore"
)

// Pass one for integer join keys, the common case, avoids a hash map: at a
// million keys every map lookup is a cache miss, and growing the map and the
// winner list cost as much again. Instead candidate rows are collected in
// chunks, in file order; each full chunk is sorted by key with an LSD radix
// sort (skipped when the keys already come in order, as they often do) and
// reduced to one winner per key: a sorted run.
//
// Runs are kept on a stack, oldest first, and merged like merge sort's
// runs: two neighbours are merged (keeping one winner per key) once the
// newer is at least half the size of the older, so sizes halve down the
// stack, the stack holds at most about twice the distinct keys, and each
// winner is merged O(log(keys/chunk)) times. A run whose keys all exceed
// those of the run before it is appended to that run without copying, so a
// file sorted by key is never merged at all.
//
// A key's winner is the last of its rows whose (event time, created time)
// is greatest, as offlinestore.Newer folded over the rows in file order
// gives: the radix sort is stable, only neighbouring runs are merged and
// the older one's rows always come first, so every tie is decided as that
// fold decides it.

// cand is a candidate winner: a row with its key, times and ordinal (its
// position counting rows across all row groups of all files, in order).
// Times are stored split so that the struct is 40 bytes, not 48.
type cand struct {
	key                  int64
	tsSec, createdSec    int64
	ord                  int64
	tsNanos, createdNano int32
}

func (c *cand) ts() core.Timestamp { return core.Timestamp{Seconds: c.tsSec, Nanos: c.tsNanos} }

func (c *cand) created() core.Timestamp {
	return core.Timestamp{Seconds: c.createdSec, Nanos: c.createdNano}
}

// beats is offlinestore.Newer for candidates: whether c wins over best, a
// row read before it.
func (c *cand) beats(best *cand) bool {
	return offlinestore.Newer(c.ts(), c.created(), best.ts(), best.created())
}

// chunkRows is how many candidates are sorted at a time: 10 MB of them.
// (A variable so that tests can make merges happen with few rows.)
var chunkRows = 256 * 1024

// intIndex keeps the winning row of every integer key.
type intIndex struct {
	pend []cand // candidates not in a run yet, in file order
	tmp  []cand // radix sort scratch
	// pendSorted is whether pend's keys are non-decreasing.
	pendSorted bool
	runs       []run // oldest first
	// hint is how many rows there are in all, to size the first chunk.
	hint int
}

// run is a list of winners with strictly increasing keys, kept in
// segments (each segment's keys above those of the one before).
type run struct {
	segs [][]cand
	n    int
}

func (r *run) last() int64 {
	s := r.segs[len(r.segs)-1]
	return s[len(s)-1].key
}

// add records a candidate row; rows must come in file order.
func (x *intIndex) add(c cand) {
	if n := len(x.pend); n == 0 {
		x.pendSorted = true
		if cap(x.pend) == 0 {
			x.pend = make([]cand, 0, min(chunkRows, max(x.hint, 1024)))
		}
	} else if c.key < x.pend[n-1].key {
		x.pendSorted = false
	}
	x.pend = append(x.pend, c)
	if len(x.pend) == chunkRows {
		x.flush()
	}
}

// flush turns pend into a run.
func (x *intIndex) flush() {
	if len(x.pend) == 0 {
		return
	}
	if !x.pendSorted {
		if cap(x.tmp) < len(x.pend) {
			x.tmp = make([]cand, len(x.pend))
		}
		sorted, other := radixSortCands(x.pend, x.tmp[:len(x.pend)])
		x.pend, x.tmp = sorted, other
	}
	seg := reduce(x.pend)
	if len(seg) < cap(x.pend)/2 {
		// Mostly duplicates: keep a copy the size of what is left and
		// the buffer for the next chunk.
		seg = append([]cand(nil), seg...)
		x.pend = x.pend[:0]
	} else {
		x.pend = nil
	}
	x.pendSorted = true
	if k := len(x.runs); k > 0 && seg[0].key > x.runs[k-1].last() {
		x.runs[k-1].segs = append(x.runs[k-1].segs, seg)
		x.runs[k-1].n += len(seg)
	} else {
		x.runs = append(x.runs, run{segs: [][]cand{seg}, n: len(seg)})
	}
	for k := len(x.runs); k >= 2 && x.runs[k-2].n <= 2*x.runs[k-1].n; k = len(x.runs) {
		x.mergeTop()
	}
}

// mergeTop merges the two newest runs.
func (x *intIndex) mergeTop() {
	k := len(x.runs)
	older, newer := &x.runs[k-2], &x.runs[k-1]
	out := merge(make([]cand, 0, older.n+newer.n), older.segs, newer.segs)
	x.runs[k-2] = run{segs: [][]cand{out}, n: len(out)}
	x.runs = x.runs[:k-1]
}

// ords flushes and returns the ordinals of the winners (in key order),
// appended to dst. The index is empty afterwards.
func (x *intIndex) ords(dst []int64) []int64 {
	x.flush()
	for len(x.runs) > 1 {
		x.mergeTop()
	}
	for _, r := range x.runs {
		for _, seg := range r.segs {
			for i := range seg {
				dst = append(dst, seg[i].ord)
			}
		}
	}
	*x = intIndex{}
	return dst
}

// size is how many candidates and winners the index holds.
func (x *intIndex) size() int {
	n := len(x.pend)
	for _, r := range x.runs {
		n += r.n
	}
	return n
}

// reduce keeps, of every run of equal keys in a sorted list, the winner, in
// place.
func reduce(a []cand) []cand {
	w := 0
	for i := 0; i < len(a); {
		best := i
		j := i + 1
		for ; j < len(a) && a[j].key == a[i].key; j++ {
			if a[j].beats(&a[best]) {
				best = j
			}
		}
		a[w] = a[best]
		w++
		i = j
	}
	return a[:w]
}

// merge appends to dst the union of two runs (given as their segments),
// b's rows read after a's: a key in both keeps the winner.
func merge(dst []cand, a, b [][]cand) []cand {
	var x, y []cand
	for {
		for len(x) == 0 && len(a) > 0 {
			x, a = a[0], a[1:]
		}
		for len(y) == 0 && len(b) > 0 {
			y, b = b[0], b[1:]
		}
		if len(x) == 0 || len(y) == 0 {
			break
		}
		// Merge until one segment runs out.
		i, j := 0, 0
		for i < len(x) && j < len(y) {
			switch {
			case x[i].key < y[j].key:
				dst = append(dst, x[i])
				i++
			case x[i].key > y[j].key:
				dst = append(dst, y[j])
				j++
			default:
				if y[j].beats(&x[i]) {
					dst = append(dst, y[j])
				} else {
					dst = append(dst, x[i])
				}
				i++
				j++
			}
		}
		x, y = x[i:], y[j:]
	}
	dst = append(dst, x...)
	for _, s := range a {
		dst = append(dst, s...)
	}
	dst = append(dst, y...)
	for _, s := range b {
		dst = append(dst, s...)
	}
	return dst
}

// radixSortCands sorts a by key, stably, using tmp (as long as a) as
// scratch. It returns the sorted list and the other buffer: one pass per
// byte of the key that is not the same in all of them.
func radixSortCands(a, tmp []cand) (sorted, other []cand) {
	if len(a) < 2 {
		return a, tmp
	}
	const flip = 1 << 63 // signed order as unsigned
	first := uint64(a[0].key) ^ flip
	var diff uint64
	for i := range a {
		diff |= (uint64(a[i].key) ^ flip) ^ first
	}
	var counts [8][256]int
	var shifts []uint
	for b := uint(0); b < 64; b += 8 {
		if diff>>b&0xff != 0 {
			shifts = append(shifts, b)
		}
	}
	for i := range a {
		k := uint64(a[i].key) ^ flip
		for p, s := range shifts {
			counts[p][byte(k>>s)]++
		}
	}
	src, dst := a, tmp
	for p, s := range shifts {
		var off [256]int
		sum := 0
		for j, c := range counts[p] {
			off[j] = sum
			sum += c
		}
		for i := range src {
			d := byte((uint64(src[i].key) ^ flip) >> s)
			dst[off[d]] = src[i]
			off[d]++
		}
		src, dst = dst, src
	}
	return src, dst
}

// sortOrds sorts row ordinals (all >= 0) in place: a check when they are
// in order already, else an LSD radix sort over the bytes that differ.
func sortOrds(a []int64) {
	sorted := true
	var diff uint64
	for i := 1; i < len(a); i++ {
		if a[i] < a[i-1] {
			sorted = false
		}
		diff |= uint64(a[i] ^ a[0])
	}
	if sorted {
		return
	}
	tmp := make([]int64, len(a))
	src, dst := a, tmp
	for s := uint(0); s < 64; s += 8 {
		if diff>>s&0xff == 0 {
			continue
		}
		var off [256]int
		for _, v := range src {
			off[byte(uint64(v)>>s)]++
		}
		sum := 0
		for j, c := range off {
			off[j] = sum
			sum += c
		}
		for _, v := range src {
			d := byte(uint64(v) >> s)
			dst[off[d]] = v
			off[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &a[0] {
		copy(a, src)
	}
}
