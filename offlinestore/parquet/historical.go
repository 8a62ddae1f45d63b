package parquet

import (
	"context"
	"fmt"
	"math"
	"slices"
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
// offline benchmark). For every view it reads the source's key, time and
// feature columns once, keeps the rows inside the frame's time window
// (widened by the ttl), and groups them by key with each group sorted by
// (event time, created time, file order). Each entity row is then one
// hash lookup and one binary search: the last row of its group at or
// before the entity time wins, which is Feast's rule (latest event time,
// then latest created time, a full tie to the row read last). Feature
// values are gathered with Arrow's take kernel, batch by batch.
//
// Memory holds the sources' rows in the window (their feature columns and
// 16 bytes a row of index), one output batch, and the frame itself.
func (e *Engine) Historical(ctx context.Context, q *offlinestore.HistoricalQuery, fn func(arrow.RecordBatch) error) error {
	frame := q.Entities
	if frame == nil {
		return core.Invalidf("entity_df: a SQL query as the entity frame needs a SQL offline store; parquet FileSources take a DataFrame")
	}
	times, err := frameTimes(frame, q.EventTimeColumn)
	if err != nil {
		return err
	}
	lo, hi := timeRange(times)
	joins := make([]*asofView, len(q.Views))
	defer func() {
		for _, j := range joins {
			j.release()
		}
	}()
	var fields []arrow.Field
	for i := range q.Views {
		v := &q.Views[i]
		path, err := e.path(v.Source)
		if err != nil {
			return err
		}
		if joins[i], err = buildAsof(ctx, New(path), v, frame, lo, hi); err != nil {
			return err
		}
		for f, fc := range v.Features {
			fields = append(fields, arrow.Field{Name: fc.Output, Type: joins[i].values[f].DataType(), Nullable: true})
		}
	}
	schema := arrow.NewSchema(fields, nil)
	n := int(frame.NumRows())
	size := q.Size()
	for start := 0; start == 0 || start < n; start += size {
		end := min(n, start+size)
		rec, err := joinBatch(ctx, schema, joins, times, start, end)
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

// joinBatch joins frame rows [start, end) against every view.
func joinBatch(ctx context.Context, schema *arrow.Schema, joins []*asofView, times []int64, start, end int) (arrow.RecordBatch, error) {
	var cols []arrow.Array
	release := func() {
		for _, c := range cols {
			c.Release()
		}
	}
	for _, j := range joins {
		idx := j.match(times, start, end)
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

// asofView is one view's source rows, indexed for the as-of join.
type asofView struct {
	path string
	ttl  int64 // nanoseconds; 0 = no bound
	keys *keyIndex
	// Rows of group g are order[start[g]:start[g+1]] (global source row
	// numbers), sorted by event time, then created time, then file
	// order; ts holds their event times, aligned with order.
	start []int32
	order []int32
	ts    []int64
	// values are the feature columns, one array over all source rows.
	values []arrow.Array
	// frame holds each frame row's group, -1 for a key with no rows.
	frame []int32
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

// match returns, for frame rows [start, end), the source row that wins,
// or null.
func (j *asofView) match(times []int64, start, end int) *array.Int32 {
	b := array.NewInt32Builder(memory.DefaultAllocator)
	defer b.Release()
	b.Reserve(end - start)
	for i := start; i < end; i++ {
		t := times[i]
		g := j.frame[i]
		if t == noTime || g < 0 {
			b.AppendNull()
			continue
		}
		lo, hi := int(j.start[g]), int(j.start[g+1])
		ts := j.ts[lo:hi]
		// The last row at or before t.
		k, _ := slices.BinarySearchFunc(ts, t, func(a, b int64) int {
			if a <= b {
				return -1
			}
			return 1
		})
		if k == 0 || (j.ttl > 0 && ts[k-1] < t-j.ttl) {
			b.AppendNull()
			continue
		}
		b.Append(j.order[lo+k-1])
	}
	return b.NewInt32Array()
}

// buildAsof reads the source rows of v whose event time lies in
// [lo - ttl, hi] and indexes them.
func buildAsof(ctx context.Context, src *Source, v *offlinestore.HistoricalView, frame arrow.RecordBatch, lo, hi int64) (*asofView, error) {
	files, err := src.files()
	if err != nil {
		return nil, err
	}
	readers, err := openReaders(files)
	if err != nil {
		return nil, err
	}
	defer closeReaders(readers)
	j := &asofView{path: src.path, ttl: int64(v.TTL / time.Nanosecond)}
	from := int64(math.MinInt64 + 1)
	if j.ttl > 0 && lo != math.MaxInt64 {
		from = lo - j.ttl
	}
	keyCols := make([]string, len(v.Keys))
	for i, k := range v.Keys {
		keyCols[i] = k.Source
	}
	if j.keys, err = newKeyIndex(readers[0], files[0], frame, v); err != nil {
		return nil, err
	}
	feat := make([]string, len(v.Features))
	for i, f := range v.Features {
		feat[i] = f.Source
	}
	cols := append(append([]string(nil), keyCols...), v.TimestampColumn)
	if v.CreatedColumn != "" {
		cols = append(cols, v.CreatedColumn)
	}
	cols = append(cols, feat...)

	chunks := make([][]arrow.Array, len(feat))
	defer func() {
		for _, cs := range chunks {
			for _, c := range cs {
				c.Release()
			}
		}
	}()
	var gids []int32
	var ts, created []int64
	var tsBuf, crBuf []core.Timestamp
	for fi, fr := range readers {
		for rg := 0; rg < fr.ParquetReader().NumRowGroups(); rg++ {
			err := readRowGroup(ctx, fr, files[fi], rg, cols, func(rec arrow.RecordBatch) error {
				for f, name := range feat {
					c := column(rec, name)
					c.Retain()
					chunks[f] = append(chunks[f], c)
				}
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
				if gids, err = j.keys.add(rec, gids); err != nil {
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
				return nil, err
			}
		}
	}
	if len(gids) > math.MaxInt32 {
		return nil, fmt.Errorf("parquet %s: %d rows: more than 2^31 rows in one source", src.path, len(gids))
	}
	j.group(gids, ts, created)
	if j.frame, err = j.keys.lookup(frame, v); err != nil {
		return nil, err
	}
	if j.values, err = concatColumns(readers[0], files[0], feat, chunks); err != nil {
		return nil, err
	}
	return j, nil
}

// group builds start, order and ts from each row's group (-1: left out),
// event and created time.
func (j *asofView) group(gids []int32, ts, created []int64) {
	groups := j.keys.len()
	j.start = make([]int32, groups+1)
	for _, g := range gids {
		if g >= 0 {
			j.start[g+1]++
		}
	}
	for g := 1; g <= groups; g++ {
		j.start[g] += j.start[g-1]
	}
	fill := slices.Clone(j.start[:groups])
	j.order = make([]int32, j.start[groups])
	for row, g := range gids {
		if g >= 0 {
			j.order[fill[g]] = int32(row)
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
		rows := j.order[j.start[g]:j.start[g+1]]
		if !slices.IsSortedFunc(rows, less) {
			slices.SortStableFunc(rows, less)
		}
	}
	j.ts = make([]int64, len(j.order))
	for i, row := range j.order {
		j.ts[i] = ts[row]
	}
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
