package parquet

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/arrowval"
	"github.com/feastgo/feastgo/offlinestore"
)

// historicalRange is Feast's file (dask) offline store without an entity
// frame (DaskOfflineStore.get_historical_features with entity_df=None):
// the frame is one row, event_timestamp = End, and every view is cross
// joined with the rows so far, then filtered by its ttl against End
// ([End - ttl, End], or at or before End with no ttl; a null event time
// stays) and deduplicated on every join key seen so far plus
// event_timestamp, the latest (event time, then created time, nulls
// first; a full tie to the row read last) winning. Start only bounds
// nothing here, as in Feast's file store.
//
// So the first view gives one row per distinct join key tuple, its
// latest row in the window; a later view's join keys that an earlier
// view already brought (the left side of pandas' merge keeps the name;
// the view's own copy comes back as "<key>__") do not split its rows:
// each row so far is paired with the view's latest row per value of its
// new join keys only (an entityless view, or one whose keys are all
// taken: its one latest row). A view whose source has no rows leaves
// nulls; one with rows but none in the window empties the answer.
func (e *Engine) historicalRange(ctx context.Context, q *offlinestore.HistoricalQuery, fn func(arrow.RecordBatch) error) error {
	end := nanosOf(tsOf(q.Range.End))
	taken := map[string]bool{q.EventTimeColumn: true}
	var views []*rangeView
	defer func() {
		for _, v := range views {
			v.release()
		}
	}()
	// rows[r*len(views)+v] is view v's winner for output row r (-1: null).
	rows := []int32{}
	nrows := 1
	for i := range q.Views {
		hv := &q.Views[i]
		path, err := e.path(hv.Source)
		if err != nil {
			return err
		}
		rv, err := readRangeView(ctx, New(path), hv, end)
		if err != nil {
			return err
		}
		views = append(views, rv)
		// Output names: pandas suffixes a right column whose name the
		// left side has.
		var group []int
		for k, kc := range hv.Keys {
			name := kc.Frame
			if taken[name] {
				name += "__"
			} else {
				group = append(group, k)
			}
			rv.names = append(rv.names, name)
		}
		for _, fc := range hv.Features {
			name := fc.Output
			if taken[name] {
				name += "__"
			}
			rv.names = append(rv.names, name)
		}
		for _, n := range rv.names {
			taken[n] = true
		}
		won := rv.winners(group)
		if rv.sourceRows == 0 {
			won = []int32{-1}
		}
		nv := len(views)
		next := make([]int32, 0, nrows*len(won)*nv)
		for r := 0; r < nrows; r++ {
			prev := rows[r*(nv-1) : (r+1)*(nv-1)]
			for _, w := range won {
				next = append(next, prev...)
				next = append(next, w)
			}
		}
		rows, nrows = next, nrows*len(won)
	}
	return emitRange(ctx, q, views, rows, nrows, fn)
}

func tsOf(t time.Time) core.Timestamp {
	return core.Timestamp{Seconds: t.Unix(), Nanos: int32(t.Nanosecond())}
}

// rangeView is one view's candidate rows (inside the window), as arrays:
// its key columns then its feature columns, with their event and created
// times.
type rangeView struct {
	cols       []arrow.Array
	ts, cr     []int64
	names      []string // output names of cols
	sourceRows int64
	nkeys      int
}

func (v *rangeView) release() {
	for _, c := range v.cols {
		if c != nil {
			c.Release()
		}
	}
}

// winners is the latest candidate per distinct value of the key columns
// group (all candidates form one group when it is empty), in the order
// the groups first appear.
func (v *rangeView) winners(group []int) []int32 {
	n := len(v.ts)
	var cells []func(int) string
	for _, k := range group {
		var slab []core.Value
		get, _, err := arrowval.Cells(v.cols[k], &slab)
		if err != nil {
			arr := v.cols[k]
			cells = append(cells, func(i int) string { return arr.ValueStr(i) })
			continue
		}
		cells = append(cells, func(i int) string {
			c := get(i)
			if c.IsNull() {
				return "\x00null"
			}
			return strconv.Itoa(int(c.Type)) + ":" + strconv.FormatInt(c.I, 10) + ":" +
				strconv.FormatUint(math.Float64bits(c.F), 16) + ":" + c.S
		})
	}
	index := map[string]int{}
	var best []int32
	var key strings.Builder
	for i := 0; i < n; i++ {
		key.Reset()
		for _, c := range cells {
			s := c(i)
			key.WriteString(strconv.Itoa(len(s)))
			key.WriteByte(':')
			key.WriteString(s)
		}
		g, ok := index[key.String()]
		if !ok {
			index[key.String()] = len(best)
			best = append(best, int32(i))
			continue
		}
		if b := best[g]; !v.later(int(b), i) {
			best[g] = int32(i)
		}
	}
	return best
}

// later reports whether candidate a sorts after b (so b loses to a):
// event time, then created time, nulls first; a full tie goes to the
// later row, b.
func (v *rangeView) later(a, b int) bool {
	if v.ts[a] != v.ts[b] {
		return v.ts[a] > v.ts[b]
	}
	if v.cr != nil && v.cr[a] != v.cr[b] {
		return v.cr[a] > v.cr[b]
	}
	return a > b
}

// readRangeView reads a view's candidate rows: event time at or before
// end and, with a ttl, at or after end - ttl; a null event time stays.
func readRangeView(ctx context.Context, src *Source, hv *offlinestore.HistoricalView, end int64) (*rangeView, error) {
	files, readers, err := src.open()
	if err != nil {
		return nil, err
	}
	defer closeReaders(readers)
	from := int64(math.MinInt64)
	if ttl := int64(hv.TTL); ttl > 0 {
		from = end - ttl
	}
	var names []string
	for _, k := range hv.Keys {
		names = append(names, k.Source)
	}
	for _, f := range hv.Features {
		names = append(names, f.Source)
	}
	read := append([]string{hv.TimestampColumn}, names...)
	if hv.CreatedColumn != "" {
		read = append(read, hv.CreatedColumn)
	}
	v := &rangeView{nkeys: len(hv.Keys)}
	if hv.CreatedColumn != "" {
		v.cr = []int64{}
	}
	chunks := make([][]arrow.Array, len(names))
	defer func() {
		for _, cs := range chunks {
			for _, c := range cs {
				c.Release()
			}
		}
	}()
	// pandas reads an integer column with a null as float64: so does
	// Feast's file store, whatever rows the window keeps.
	hadNull := make([]bool, len(names))
	var tsBuf, crBuf []core.Timestamp
	for fi, fr := range readers {
		for rg := 0; rg < fr.ParquetReader().NumRowGroups(); rg++ {
			err := readRowGroup(ctx, fr, files[fi], rg, read, func(rec arrow.RecordBatch) error {
				v.sourceRows += rec.NumRows()
				for c, name := range names {
					if column(rec, name).NullN() > 0 {
						hadNull[c] = true
					}
				}
				tsArr := column(rec, hv.TimestampColumn)
				var err error
				if tsBuf, err = arrowval.Times(tsArr, tsBuf); err != nil {
					return fmt.Errorf("parquet %s: timestamp column %q: %w", files[fi], hv.TimestampColumn, err)
				}
				var crArr arrow.Array
				if hv.CreatedColumn != "" {
					crArr = column(rec, hv.CreatedColumn)
					if crBuf, err = arrowval.Times(crArr, crBuf); err != nil {
						return fmt.Errorf("parquet %s: created timestamp column %q: %w", files[fi], hv.CreatedColumn, err)
					}
				}
				b := array.NewInt32Builder(memory.DefaultAllocator)
				defer b.Release()
				for i := range tsBuf {
					t := int64(noTime)
					if !tsArr.IsNull(i) {
						t = nanosOf(tsBuf[i])
						if t < from || t > end {
							continue
						}
					}
					b.Append(int32(i))
					v.ts = append(v.ts, t)
					if crArr != nil {
						c := int64(noTime)
						if !crArr.IsNull(i) {
							c = nanosOf(crBuf[i])
						}
						v.cr = append(v.cr, c)
					}
				}
				take := b.NewInt32Array()
				defer take.Release()
				for c, name := range names {
					out, err := compute.TakeArray(ctx, column(rec, name), take)
					if err != nil {
						return fmt.Errorf("parquet %s: column %q: %w", files[fi], name, err)
					}
					chunks[c] = append(chunks[c], out)
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
	}
	if v.cols, err = concatColumns(readers[0], files[0], names, chunks); err != nil {
		return nil, err
	}
	for c, col := range v.cols {
		if !hadNull[c] || !arrow.IsInteger(col.DataType().ID()) {
			continue
		}
		f, err := compute.CastToType(ctx, col, arrow.PrimitiveTypes.Float64)
		if err != nil {
			return nil, fmt.Errorf("parquet: column %q as float64: %w", names[c], err)
		}
		col.Release()
		v.cols[c] = f
	}
	return v, nil
}

// emitRange sends the rows: event_timestamp (End, for every row), then
// each view's columns.
func emitRange(ctx context.Context, q *offlinestore.HistoricalQuery, views []*rangeView, rows []int32, nrows int, fn func(arrow.RecordBatch) error) error {
	tsType := &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}
	fields := []arrow.Field{{Name: q.EventTimeColumn, Type: tsType, Nullable: true}}
	for _, v := range views {
		for c, name := range v.names {
			fields = append(fields, arrow.Field{Name: name, Type: v.cols[c].DataType(), Nullable: true})
		}
	}
	schema := arrow.NewSchema(fields, nil)
	end := arrow.Timestamp(q.Range.End.UnixNano())
	nv := len(views)
	size := q.Size()
	for start := 0; start == 0 || start < nrows; start += size {
		stop := min(nrows, start+size)
		var cols []arrow.Array
		release := func() {
			for _, c := range cols {
				c.Release()
			}
		}
		tb := array.NewTimestampBuilder(memory.DefaultAllocator, tsType)
		for r := start; r < stop; r++ {
			tb.Append(end)
		}
		cols = append(cols, tb.NewArray())
		tb.Release()
		for vi, v := range views {
			ib := array.NewInt32Builder(memory.DefaultAllocator)
			for r := start; r < stop; r++ {
				if w := rows[r*nv+vi]; w >= 0 {
					ib.Append(w)
				} else {
					ib.AppendNull()
				}
			}
			idx := ib.NewInt32Array()
			ib.Release()
			for _, c := range v.cols {
				out, err := compute.TakeArray(ctx, c, idx)
				if err != nil {
					idx.Release()
					release()
					return fmt.Errorf("parquet: gathering features: %w", err)
				}
				cols = append(cols, out)
			}
			idx.Release()
		}
		rec := array.NewRecordBatch(schema, cols, int64(stop-start))
		release()
		err := fn(rec)
		rec.Release()
		if err != nil {
			return err
		}
	}
	return nil
}
