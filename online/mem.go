package online

import (
	"sync"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/onlinestore"
)

// readMem is the working memory of one online read: key buffers, store
// requests, the store's answers and the response's column slabs. It is
// pooled, so a steady stream of reads allocates almost nothing per
// request; the response built in it owns it until Release.
type readMem struct {
	resp    core.OnlineResponse
	release func()

	cols    []core.Column
	keyCols []keyCol
	reqData []Column
	reads   []onlinestore.ReadRequest
	fan     []int
	fanout  [][]int
	keySets []keySet
	keyBuf  []byte
	keys    [][]byte
	parts   []onlinestore.KeyPart
	pcols   [][]core.Value
	seen    map[string]int
	raw     [][]byte
	st      []core.FieldStatus
	ts      []core.Timestamp
	store   onlinestore.Scratch
}

var readMemPool sync.Pool

func getReadMem() *readMem {
	if m, ok := readMemPool.Get().(*readMem); ok {
		return m
	}
	m := new(readMem)
	m.release = m.put
	return m
}

// maxPooledValues bounds what a pooled readMem keeps: the memory of a read
// of more values than this (a very large batch) goes to the garbage
// collector instead of staying in the pool.
const maxPooledValues = 1 << 16

// put drops references into request memory (entity values, plans) that
// would otherwise outlive the read and returns m to the pool.
func (m *readMem) put() {
	if cap(m.raw) > maxPooledValues || cap(m.store.Vals) > 2*maxPooledValues || cap(m.store.Bytes) > 16*maxPooledValues {
		return
	}
	m.cols = m.resp.Columns[:0]
	clear(m.cols[:cap(m.cols)])
	m.resp = core.OnlineResponse{}
	clear(m.keyCols[:cap(m.keyCols)])
	clear(m.reqData[:cap(m.reqData)])
	clear(m.reads[:cap(m.reads)])
	clear(m.keySets[:cap(m.keySets)])
	clear(m.pcols[:cap(m.pcols)])
	clear(m.parts[:cap(m.parts)])
	// raw and the store's Vals and Rows point only into pooled memory
	// (the store's reply bytes) and are overwritten or cleared by the next
	// read; clearing them here too would double the cost.
	readMemPool.Put(m)
}

// growLen returns s with length n, reusing its array when large enough.
// The elements are not cleared: callers overwrite every one.
func growLen[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// growCap returns s emptied, with room for n elements.
func growCap[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, 0, n)
	}
	return s[:0]
}
