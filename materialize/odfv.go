package materialize

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/historical"
	"github.com/feastgo/feastgo/ingest"
	"github.com/feastgo/feastgo/internal/arrowval"
	"github.com/feastgo/feastgo/offlinestore"
	"github.com/feastgo/feastgo/registry"
)

// On-demand feature views with write_to_online_store are materialized as
// Feast's _materialize_odfv does: the latest row per entity key of every
// source view in the window makes an entity frame (join keys and the
// row's event time, duplicates dropped), the point-in-time join of the
// source views' projected features over that frame gives the UDF its
// input, and the frame is written to the ODFV as write_to_online_store
// writes it (transformed, stamped with the write time). Feast records no
// interval and changes no state for these views, and neither do we.

// odfvWindow is the window of an on-demand view: incremental runs start
// at end − the longest ttl of its source views (52 weeks when none has
// one), whatever was materialized before, as materialize_incremental does.
func odfvWindow(snap *registry.Snapshot, o *registry.ODFV, req Request) [][2]time.Time {
	switch {
	case req.Replay:
		return nil // nothing recorded to replay
	case req.Incremental:
		var ttl time.Duration
		for _, v := range odfvSourceViews(snap, o) {
			ttl = max(ttl, v.TTL)
		}
		if ttl <= 0 {
			ttl = 52 * 7 * 24 * time.Hour
		}
		return [][2]time.Time{{req.End.Add(-ttl), req.End}}
	}
	return [][2]time.Time{{req.Start, req.End}}
}

// odfvSourceViews lists the distinct feature views an ODFV reads, in its
// source order; a source missing from the registry is left out here and
// refused by odfvFrame.
func odfvSourceViews(snap *registry.Snapshot, o *registry.ODFV) []*registry.View {
	var out []*registry.View
	seen := map[string]bool{}
	for _, s := range o.Sources {
		if s.Projection == nil || seen[s.Projection.ViewName] {
			continue
		}
		seen[s.Projection.ViewName] = true
		if v, ok := snap.View(s.Projection.ViewName); ok {
			out = append(out, v)
		}
	}
	return out
}

// runODFV materializes one on-demand view over its window.
func (e *Engine) runODFV(ctx context.Context, t Task) (rows int64, err error) {
	o, w := t.ODFV, t.Windows[0]
	if e.Progress != nil {
		// No window: Feast names an on-demand view without one.
		e.Progress.ViewStarted(o.Name, time.Time{}, time.Time{})
		defer func() { e.Progress.ViewDone(o.Name, rows, err) }()
	}
	if e.Transformer == nil {
		return 0, core.Errorf(core.KindUnimplemented, "NotImplementedError",
			"on-demand feature view %s: materializing it needs the transformation engine, which this engine was not given", o.Name)
	}
	frame, release, err := e.odfvFrame(ctx, t.snap, o, w[0], w[1])
	if err != nil || frame == nil {
		return 0, err
	}
	defer release()
	snap := t.snap
	svc := &ingest.Service{Snapshot: func() *registry.Snapshot { return snap }, Store: e.Store,
		KeyVersion: e.KeyVersion, Transformer: e.Transformer, Now: e.Now}
	if err := svc.WriteToOnlineStore(ctx, o.Name, frame, ingest.WriteOptions{Transform: true, AllowRegistryCache: true}); err != nil {
		return 0, fmt.Errorf("on-demand feature view %s: %w", o.Name, err)
	}
	rows = int64(frame.Rows())
	if e.Progress != nil {
		e.Progress.RowsWritten(o.Name, rows, rows)
	}
	return rows, nil
}

// odfvFrame builds the UDF's input: the join of the source views over the
// entity frame of their latest rows. It returns nil (and logs why, as
// Feast prints a warning) when Feast skips the view: no source views, no
// join keys, not exactly one timestamp column name among the sources, or
// no rows in the window. release frees the Arrow memory the frame's
// values point into.
func (e *Engine) odfvFrame(ctx context.Context, snap *registry.Snapshot, o *registry.ODFV, start, end time.Time) (*ingest.Frame, func(), error) {
	var refs []string
	for _, s := range o.Sources {
		if p := s.Projection; p != nil {
			if _, ok := snap.View(p.ViewName); !ok {
				return nil, nil, core.Errorf(core.KindNotFound, "FeatureViewNotFoundException",
					"Feature view %s does not exist in project %s", p.ViewName, snap.Project)
			}
			for _, f := range p.Features {
				refs = append(refs, p.ViewName+":"+f.Name)
			}
		}
	}
	views := odfvSourceViews(snap, o)
	if len(views) == 0 {
		e.log().Warn("on-demand feature view materialization: no source feature views found", "view", o.Name)
		return nil, nil, nil
	}
	keys := map[string]core.ValueType{}
	tsFields := map[string]bool{}
	for _, v := range views {
		for _, k := range v.EntityColumns {
			if _, seen := keys[k.Name]; !seen && k.Name != registry.DummyJoinKey {
				keys[k.Name] = k.Type
			}
		}
		if v.BatchSource != nil {
			tsFields[v.BatchSource.GetTimestampField()] = true
		}
	}
	switch {
	case len(keys) == 0:
		e.log().Warn("on-demand feature view materialization: no join keys found in source views; skipping", "view", o.Name)
		return nil, nil, nil
	case len(tsFields) > 1:
		e.log().Warn("on-demand feature view materialization: its sources have several timestamp columns, which Feast does not support; skipping", "view", o.Name)
		return nil, nil, nil
	case len(tsFields) == 0:
		e.log().Warn("on-demand feature view materialization: no batch sources with timestamp columns; skipping", "view", o.Name)
		return nil, nil, nil
	}
	ents, err := e.latestKeys(ctx, views, keys, start, end)
	if err != nil {
		return nil, nil, err
	}
	defer ents.Release()
	if ents.NumRows() == 0 {
		e.log().Info("no source data found for the on-demand feature view in the window; skipping", "view", o.Name)
		return nil, nil, nil
	}
	r := &historical.Retriever{Catalog: e.Sources, Transformer: e.Transformer, BatchSize: e.batchSize()}
	var recs []arrow.RecordBatch
	release := func() {
		for _, rec := range recs {
			rec.Release()
		}
	}
	frame := &ingest.Frame{}
	err = r.Retrieve(ctx, snap, &historical.Request{Features: refs, Entities: ents}, func(rec arrow.RecordBatch) error {
		rec.Retain() // the frame's strings point into it
		recs = append(recs, rec)
		return appendFrame(frame, rec)
	})
	if err != nil {
		release()
		return nil, nil, fmt.Errorf("on-demand feature view %s: joining its sources: %w", o.Name, err)
	}
	if frame.Rows() == 0 {
		release()
		return nil, nil, nil
	}
	return frame, release, nil
}

// appendFrame adds a joined batch's rows to the frame, column by name.
func appendFrame(f *ingest.Frame, rec arrow.RecordBatch) error {
	if len(f.Columns) == 0 {
		for _, fd := range rec.Schema().Fields() {
			f.Columns = append(f.Columns, ingest.Column{Name: fd.Name})
		}
	}
	var slab []core.Value
	for i := range f.Columns {
		cell, _, err := arrowval.Cells(rec.Column(i), &slab)
		if err != nil {
			return fmt.Errorf("column %s: %w", f.Columns[i].Name, err)
		}
		c := &f.Columns[i]
		for r := 0; r < int(rec.NumRows()); r++ {
			c.Values = append(c.Values, cell(r))
		}
	}
	return nil
}

// latestKeys is Feast's entity frame for an ODFV: for every source view,
// the join keys and event time of its latest row per key in the window
// (pull_latest_from_table_or_query), one after the other, distinct rows
// only, the time column named event_timestamp. A key column a view lacks
// is null in its rows.
func (e *Engine) latestKeys(ctx context.Context, views []*registry.View, keyTypes map[string]core.ValueType, start, end time.Time) (arrow.RecordBatch, error) {
	names := make([]string, 0, len(keyTypes))
	for k := range keyTypes {
		names = append(names, k)
	}
	sort.Strings(names)
	cols := make([][]core.Value, len(names))
	var times []core.Timestamp
	seen := map[string]bool{}
	var dedup []byte
	for _, v := range views {
		if v.BatchSource == nil {
			continue
		}
		_, q, err := newViewCodec(v, e.KeyVersion)
		if err != nil {
			return nil, err
		}
		pos := make([]int, len(names)) // names[i] is column pos[i] of the pull, or -1
		for i, n := range names {
			pos[i] = -1
			for j, k := range nonDummyKeys(v) {
				if k.Name == n {
					pos[i] = j
				}
			}
		}
		q.Columns = q.Columns[:q.KeyColumns]
		q.Start, q.End, q.BatchSize = core.TimestampOf(start), core.TimestampOf(end), e.batchSize()
		src, err := e.Sources.Source(ctx, v.BatchSource)
		if err != nil {
			return nil, fmt.Errorf("feature view %s: %w", v.Name, err)
		}
		err = src.PullLatest(ctx, q, func(b *offlinestore.Batch) error {
			row := make([]core.Value, len(names))
			for i := 0; i < b.Rows; i++ {
				cells := b.Row(i)
				for j, p := range pos {
					row[j] = core.Value{}
					if p < 0 {
						continue
					}
					val, err := convert(cells[p], keyTypes[names[j]])
					if err != nil {
						return fmt.Errorf("feature view %s: join key %s: %w", v.Name, names[j], err)
					}
					row[j] = val
				}
				dedup = dedup[:0]
				for _, x := range row {
					dedup = core.AppendValueProto(dedup, x)
					dedup = append(dedup, 0xff)
				}
				dedup = fmt.Appendf(dedup, "%d.%d", b.TS[i].Seconds, b.TS[i].Nanos)
				if seen[string(dedup)] {
					continue
				}
				seen[string(dedup)] = true
				for j, x := range row {
					cols[j] = append(cols[j], cloneValue(x))
				}
				times = append(times, b.TS[i])
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("feature view %s: %w", v.Name, err)
		}
	}
	return entityBatch(names, keyTypes, cols, times)
}

func nonDummyKeys(v *registry.View) []registry.Field {
	var out []registry.Field
	for _, k := range v.EntityColumns {
		if k.Name != registry.DummyJoinKey {
			out = append(out, k)
		}
	}
	return out
}

// cloneValue copies a key value out of a reused pull batch.
func cloneValue(v core.Value) core.Value {
	v.S = strings.Clone(v.S)
	return v
}

// entityBatch assembles the entity frame: key columns, then
// event_timestamp in nanoseconds (the pulled times exactly, so the join
// finds the very row they came from).
func entityBatch(names []string, types map[string]core.ValueType, cols [][]core.Value, times []core.Timestamp) (arrow.RecordBatch, error) {
	arrs := make([]arrow.Array, 0, len(names)+1)
	fields := make([]arrow.Field, 0, len(names)+1)
	defer func() {
		for _, a := range arrs {
			a.Release()
		}
	}()
	for i, n := range names {
		a, err := arrowval.Build(types[n], cols[i])
		if err != nil {
			return nil, fmt.Errorf("join key %s: %w", n, err)
		}
		arrs = append(arrs, a)
		fields = append(fields, arrow.Field{Name: n, Type: a.DataType(), Nullable: true})
	}
	tt := &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}
	b := array.NewTimestampBuilder(memory.DefaultAllocator, tt)
	defer b.Release()
	for _, t := range times {
		b.Append(arrow.Timestamp(t.Seconds*1_000_000_000 + int64(t.Nanos)))
	}
	arrs = append(arrs, b.NewArray())
	fields = append(fields, arrow.Field{Name: historical.DefaultTimestampColumn, Type: tt, Nullable: true})
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), arrs, int64(len(times))), nil
}

func (e *Engine) batchSize() int {
	if e.BatchSize > 0 {
		return e.BatchSize
	}
	return DefaultBatchSize
}
