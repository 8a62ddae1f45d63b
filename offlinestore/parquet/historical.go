package parquet

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/arrowval"
	"github.com/feastgo/feastgo/offlinestore"
)

// Historical implements offlinestore.HistoricalEngine with an as-of join
// in Go over Arrow (chosen over DuckDB by measurement; see the README's
// offline benchmark). Each view is joined in two passes over its source,
// the views side by side:
//
//  1. the key, event time and created time columns: the rows inside the
//     frame's time window (widened by the ttl) are grouped by key, each
//     group sorted by (event time, created time, file order); every entity
//     row is then one hash lookup and one binary search (the last row of
//     its group at or before the entity time wins, Feast's rule: latest
//     event time, then latest created time, a full tie to the row read
//     last);
//  2. the feature columns, keeping only the rows some entity row won.
//
// Output batches are then gathered with Arrow's take kernel. Memory holds
// 16 bytes per source row in the window, the won rows' features (at most
// one per entity row), the frame, and one output batch.
func (e *Engine) Historical(ctx context.Context, q *offlinestore.HistoricalQuery, fn func(arrow.RecordBatch) error) error {
	if q.Range != nil {
		return e.historicalRange(ctx, q, fn)
	}
	frame := q.Entities
	if frame == nil {
		return core.Invalidf("entity_df: a SQL query as the entity frame needs a SQL offline store; parquet FileSources take a DataFrame")
	}
	times, err := frameTimes(frame, q.EventTimeColumn)
	if err != nil {
		return err
	}
	joins := make([]*asofView, len(q.Views))
	defer func() {
		for _, j := range joins {
			j.release()
		}
	}()
	if err := e.joinViews(ctx, q, times, joins); err != nil {
		return err
	}
	var fields []arrow.Field
	for i, v := range q.Views {
		for f, fc := range v.Features {
			fields = append(fields, arrow.Field{Name: fc.Output, Type: joins[i].values[f].DataType(), Nullable: true})
		}
	}
	schema := arrow.NewSchema(fields, nil)
	n := int(frame.NumRows())
	size := q.Size()
	for start := 0; start == 0 || start < n; start += size {
		end := min(n, start+size)
		rec, err := joinBatch(ctx, schema, joins, start, end)
		if err != nil {
			return err
		}
		err = fn(rec)
		rec.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// joinViews joins every view, two at a time (reading a parquet source is
// mostly one core's work); the first error cancels the others.
func (e *Engine) joinViews(ctx context.Context, q *offlinestore.HistoricalQuery, times []int64, joins []*asofView) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lo, hi := timeRange(times)
	errs := make([]error, len(q.Views))
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for i := range q.Views {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			v := &q.Views[i]
			path, err := e.path(v.Source)
			if err == nil {
				joins[i], err = joinAsof(ctx, New(path), v, q.Entities, times, lo, hi)
			}
			if err != nil {
				errs[i] = err
				cancel()
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return errors.Join(errs...)
}

// joinBatch gathers frame rows [start, end) of every view.
func joinBatch(ctx context.Context, schema *arrow.Schema, joins []*asofView, start, end int) (arrow.RecordBatch, error) {
	var cols []arrow.Array
	release := func() {
		for _, c := range cols {
			c.Release()
		}
	}
	for _, j := range joins {
		idx := j.indices(start, end)
		for _, vals := range j.values {
			out, err := compute.TakeArray(ctx, vals, idx)
			if err != nil {
				idx.Release()
				release()
				return nil, fmt.Errorf("parquet %s: gathering features: %w", j.path, err)
			}
			cols = append(cols, out)
		}
		idx.Release()
	}
	rec := array.NewRecordBatch(schema, cols, int64(end-start))
	release()
	return rec, nil
}

// Times are int64 nanoseconds since the epoch here: exact for every
// instant pandas can hold, saturated beyond.
const noTime = math.MinInt64

func nanosOf(t core.Timestamp) int64 {
	const maxSec = math.MaxInt64/1_000_000_000 - 1
	switch {
	case t.Seconds > maxSec:
		return math.MaxInt64
	case t.Seconds < -maxSec:
		return math.MinInt64 + 1
	}
	return t.Seconds*1e9 + int64(t.Nanos)
}

// frameTimes reads the frame's event time column; a null time is noTime
// (it matches nothing).
func frameTimes(frame arrow.RecordBatch, name string) ([]int64, error) {
	idx := frame.Schema().FieldIndices(name)
	if len(idx) == 0 {
		return nil, core.Invalidf("entity_df: no event timestamp column %q", name)
	}
	arr := frame.Column(idx[0])
	ts, err := arrowval.Times(arr, nil)
	if err != nil {
		return nil, core.Invalidf("entity_df: column %q: %v", name, err)
	}
	out := make([]int64, len(ts))
	for i, t := range ts {
		if arr.IsNull(i) {
			out[i] = noTime
			continue
		}
		out[i] = nanosOf(t)
	}
	return out, nil
}

// timeRange is the earliest and latest non-null time.
func timeRange(times []int64) (lo, hi int64) {
	lo, hi = math.MaxInt64, math.MinInt64
	for _, t := range times {
		if t == noTime {
			continue
		}
		lo, hi = min(lo, t), max(hi, t)
	}
	return lo, hi
}

// asofView is one view joined: for every frame row the index of its
// winning row in values, or -1.
type asofView struct {
	path string
	// won[i] indexes values for frame row i; -1 is no match.
	won []int32
	// values are the feature columns of the won rows.
	values []arrow.Array
}

func (j *asofView) release() {
	if j == nil {
		return
	}
	for _, v := range j.values {
		if v != nil {
			v.Release()
		}
	}
}

// indices is won[start:end] as a take index, null for no match.
func (j *asofView) indices(start, end int) *array.Int32 {
	b := array.NewInt32Builder(memory.DefaultAllocator)
	defer b.Release()
	b.Reserve(end - start)
	for _, w := range j.won[start:end] {
		if w < 0 {
			b.AppendNull()
			continue
		}
		b.Append(w)
	}
	return b.NewInt32Array()
}

// asofIndex is pass one's result: the source rows in the window grouped
// by key. Rows of group g are order[start[g]:start[g+1]] (global source
// row numbers), sorted by event time, then created time, then file
// order; ts holds their event times, aligned with order.
type asofIndex struct {
	ttl   int64 // nanoseconds; 0 = no bound
	start []int32
	order []int32
	ts    []int64
}

// winner is the row frame row i wins in group g at time t, or -1.
func (x *asofIndex) winner(g int32, t int64) int32 {
	if t == noTime || g < 0 {
		return -1
	}
	lo, hi := int(x.start[g]), int(x.start[g+1])
	ts := x.ts[lo:hi]
	// The last row at or before t.
	k, _ := slices.BinarySearchFunc(ts, t, func(a, b int64) int {
		if a <= b {
			return -1
		}
		return 1
	})
	if k == 0 || (x.ttl > 0 && ts[k-1] < t-x.ttl) {
		return -1
	}
	return x.order[lo+k-1]
}

// span is where a row group's rows start among a source's rows.
type rowGroupSpan struct {
	file, rowGroup int
	start, rows    int64
}

// joinAsof joins one view: pass one indexes the source rows whose event
// time lies in [lo - ttl, hi] and finds each frame row's winner; pass two
// reads the winners' features.
func joinAsof(ctx context.Context, src *Source, v *offlinestore.HistoricalView, frame arrow.RecordBatch, times []int64, lo, hi int64) (*asofView, error) {
	files, readers, err := src.open()
	if err != nil {
		return nil, err
	}
	defer closeReaders(readers)
	keys, err := newKeyIndex(readers[0], files[0], frame, v)
	if err != nil {
		return nil, err
	}
	idx, spans, err := indexSource(ctx, readers, files, v, keys, lo, hi)
	if err != nil {
		return nil, err
	}
	groups, err := keys.lookup(frame, v)
	if err != nil {
		return nil, err
	}
	won := make([]int32, len(times))
	for i, t := range times {
		won[i] = idx.winner(groups[i], t)
	}
	idx, groups = nil, nil
	j := &asofView{path: src.path, won: won}
	if j.values, err = readWinners(ctx, readers, files, v, spans, won); err != nil {
		return nil, err
	}
	return j, nil
}

// indexSource is pass one over the key and time columns.
func indexSource(ctx context.Context, readers []*pqarrow.FileReader, files []string, v *offlinestore.HistoricalView, keys *keyIndex, lo, hi int64) (*asofIndex, []rowGroupSpan, error) {
	x := &asofIndex{ttl: int64(v.TTL / time.Nanosecond)}
	from := int64(math.MinInt64 + 1)
	if x.ttl > 0 && lo != math.MaxInt64 {
		from = lo - x.ttl
	}
	var cols []string
	for _, k := range v.Keys {
		cols = append(cols, k.Source)
	}
	cols = append(cols, v.TimestampColumn)
	if v.CreatedColumn != "" {
		cols = append(cols, v.CreatedColumn)
	}
	var spans []rowGroupSpan
	var gids []int32
	var ts, created []int64
	var tsBuf, crBuf []core.Timestamp
	for fi, fr := range readers {
		for rg := 0; rg < fr.ParquetReader().NumRowGroups(); rg++ {
			sp := rowGroupSpan{file: fi, rowGroup: rg, start: int64(len(gids))}
			err := readRowGroup(ctx, fr, files[fi], rg, cols, func(rec arrow.RecordBatch) error {
				tsArr := column(rec, v.TimestampColumn)
				var err error
				if tsBuf, err = arrowval.Times(tsArr, tsBuf); err != nil {
					return fmt.Errorf("parquet %s: timestamp column %q: %w", files[fi], v.TimestampColumn, err)
				}
				var crArr arrow.Array
				if v.CreatedColumn != "" {
					crArr = column(rec, v.CreatedColumn)
					if crBuf, err = arrowval.Times(crArr, crBuf); err != nil {
						return fmt.Errorf("parquet %s: created timestamp column %q: %w", files[fi], v.CreatedColumn, err)
					}
				}
				base := len(gids)
				if gids, err = keys.add(rec, gids); err != nil {
					return fmt.Errorf("parquet %s: %w", files[fi], err)
				}
				for i := range tsBuf {
					t := nanosOf(tsBuf[i])
					if tsArr.IsNull(i) || t < from || t > hi {
						gids[base+i] = -1
					}
					ts = append(ts, t)
					if crArr != nil {
						c := int64(noTime)
						if !crArr.IsNull(i) {
							c = nanosOf(crBuf[i])
						}
						created = append(created, c)
					}
				}
				return nil
			})
			if err != nil {
				return nil, nil, err
			}
			sp.rows = int64(len(gids)) - sp.start
			spans = append(spans, sp)
		}
	}
	if len(gids) > math.MaxInt32 {
		return nil, nil, fmt.Errorf("parquet %s: %d rows: more than 2^31 rows in one source", files[0], len(gids))
	}
	x.group(keys.len(), gids, ts, created)
	return x, spans, nil
}

// group builds start, order and ts from each row's group (-1: left out),
// event and created time.
func (x *asofIndex) group(groups int, gids []int32, ts, created []int64) {
	x.start = make([]int32, groups+1)
	for _, g := range gids {
		if g >= 0 {
			x.start[g+1]++
		}
	}
	for g := 1; g <= groups; g++ {
		x.start[g] += x.start[g-1]
	}
	fill := slices.Clone(x.start[:groups])
	x.order = make([]int32, x.start[groups])
	for row, g := range gids {
		if g >= 0 {
			x.order[fill[g]] = int32(row)
			fill[g]++
		}
	}
	less := func(a, b int32) int {
		if ts[a] != ts[b] {
			if ts[a] < ts[b] {
				return -1
			}
			return 1
		}
		if created != nil && created[a] != created[b] {
			if created[a] < created[b] {
				return -1
			}
			return 1
		}
		return 0 // stable: file order
	}
	for g := 0; g < groups; g++ {
		rows := x.order[x.start[g]:x.start[g+1]]
		if !slices.IsSortedFunc(rows, less) {
			slices.SortStableFunc(rows, less)
		}
	}
	x.ts = make([]int64, len(x.order))
	for i, row := range x.order {
		x.ts[i] = ts[row]
	}
}

// readWinners is pass two: the feature columns of the won source rows,
// in source order, with won rewritten to index them.
func readWinners(ctx context.Context, readers []*pqarrow.FileReader, files []string, v *offlinestore.HistoricalView, spans []rowGroupSpan, won []int32) ([]arrow.Array, error) {
	// The won rows, ascending and distinct, and each one's place among
	// them (slot is dense over the source's rows: 4 bytes a row, for
	// no sort).
	var total int64
	if len(spans) > 0 {
		total = spans[len(spans)-1].start + spans[len(spans)-1].rows
	}
	slot := make([]int32, total)
	for _, w := range won {
		if w >= 0 {
			slot[w] = 1
		}
	}
	rows := make([]int32, 0, len(won))
	for r, m := range slot {
		if m != 0 {
			slot[r] = int32(len(rows))
			rows = append(rows, int32(r))
		}
	}
	for i, w := range won {
		if w >= 0 {
			won[i] = slot[w]
		}
	}
	slot = nil
	feat := make([]string, len(v.Features))
	for i, f := range v.Features {
		feat[i] = f.Source
	}
	chunks := make([][]arrow.Array, len(feat))
	defer func() {
		for _, cs := range chunks {
			for _, c := range cs {
				c.Release()
			}
		}
	}()
	next := 0
	for _, sp := range spans {
		end := sp.start + sp.rows
		if next >= len(rows) || int64(rows[next]) >= end {
			continue
		}
		first := sp.start
		err := readRowGroup(ctx, readers[sp.file], files[sp.file], sp.rowGroup, feat, func(rec arrow.RecordBatch) error {
			recEnd := first + rec.NumRows()
			b := array.NewInt32Builder(memory.DefaultAllocator)
			defer b.Release()
			for next < len(rows) && int64(rows[next]) < recEnd {
				b.Append(int32(int64(rows[next]) - first))
				next++
			}
			first = recEnd
			if b.Len() == 0 {
				return nil
			}
			take := b.NewInt32Array()
			defer take.Release()
			for f, name := range feat {
				out, err := compute.TakeArray(ctx, column(rec, name), take)
				if err != nil {
					return fmt.Errorf("parquet %s: column %q: %w", files[sp.file], name, err)
				}
				chunks[f] = append(chunks[f], out)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return concatColumns(readers[0], files[0], feat, chunks)
}

// concatColumns makes one array of each feature's chunks (an empty one of
// the file's type when the source has no rows).
func concatColumns(fr *pqarrow.FileReader, path string, names []string, chunks [][]arrow.Array) ([]arrow.Array, error) {
	out := make([]arrow.Array, len(names))
	for f, cs := range chunks {
		var err error
		switch len(cs) {
		case 0:
			schema, serr := fr.Schema()
			if serr != nil {
				return nil, fmt.Errorf("parquet %s: %w", path, serr)
			}
			idx := schema.FieldIndices(names[f])
			if len(idx) == 0 {
				return nil, fmt.Errorf("parquet %s: no column %q", path, names[f])
			}
			out[f] = array.MakeArrayOfNull(memory.DefaultAllocator, schema.Field(idx[0]).Type, 0)
		case 1:
			cs[0].Retain()
			out[f] = cs[0]
		default:
			out[f], err = array.Concatenate(cs, memory.DefaultAllocator)
		}
		if err != nil {
			for _, o := range out {
				if o != nil {
					o.Release()
				}
			}
			return nil, fmt.Errorf("parquet %s: column %q: %w", path, names[f], err)
		}
	}
	return out, nil
}
