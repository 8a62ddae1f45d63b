// Package historical is Feast's get_historical_features: training sets
// with each feature as it was at each entity row's time. It resolves the
// feature list against the registry (the same rules as an online read,
// online.Resolve), checks the entity frame (its event timestamp column,
// join keys and the request data of on-demand views), hands the
// point-in-time join to the offline engine that owns the sources
// (offlinestore.Catalog.Historical), and computes on-demand views over
// the joined batches with the online read's ODFV engine. Results stream
// as Arrow record batches in the entity frame's row order.
//
// It imports core, registry, online, offlinestore and internal helpers; it
// must not import an engine package, the stores or the transports (server,
// cmd), which call it.
package historical

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/arrowval"
	"github.com/feastgo/feastgo/offlinestore"
	"github.com/feastgo/feastgo/online"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
	"github.com/feastgo/feastgo/registry"
)

// Request is one get_historical_features call.
type Request struct {
	// Features are feature refs ("view:feature", "view@v2:feature"), or
	// FeatureService names a feature service (then Features is ignored).
	Features       []string
	FeatureService string
	// FullFeatureNames names output columns "<view>__<feature>".
	FullFeatureNames bool
	// Entities is the entity frame: join-key columns, an event timestamp
	// column (event_timestamp, or the frame's only timestamp column;
	// strings are parsed as pandas does), and any other columns, which
	// come back unchanged.
	Entities arrow.RecordBatch
	// EntitySQL is an entity frame given as a SQL query of the offline
	// store's database, with EventTimestampColumn naming its time column
	// (default event_timestamp).
	EntitySQL            string
	EventTimestampColumn string
	// StartDate and EndDate ask for Feast's range mode instead of an
	// entity frame (get_historical_features(entity_df=None, start_date=,
	// end_date=)): the rows come from the sources. A nil EndDate is now, a
	// nil StartDate EndDate minus the views' largest ttl (30 days when no
	// view has one). Either set with an entity frame is refused.
	StartDate, EndDate *time.Time
}

// RangeMode reports whether req asks for a date range rather than
// giving an entity frame.
func (req *Request) RangeMode() bool {
	return req.Entities == nil && req.EntitySQL == "" && (req.StartDate != nil || req.EndDate != nil)
}

// defaultRangeWindow is Feast's default_window_days of
// compute_non_entity_date_range.
const defaultRangeWindow = 30 * 24 * time.Hour

// Retriever answers historical requests.
type Retriever struct {
	Catalog offlinestore.Catalog
	// Transformer computes on-demand views; nil refuses them.
	Transformer online.Transformer
	// BatchSize is the largest number of rows per output batch.
	BatchSize int
}

// DefaultTimestampColumn is Feast's DEFAULT_ENTITY_DF_EVENT_TIMESTAMP_COL.
const DefaultTimestampColumn = "event_timestamp"

// Retrieve runs req against the registry snapshot and calls fn with the
// result in batches, in the entity frame's row order: the frame's columns
// (timestamps in UTC), then each view's features, then the requested
// on-demand features. fn is called at least once, with a 0-row batch for
// a 0-row frame, so the schema is always known. A batch is released once
// fn returns.
func (r *Retriever) Retrieve(ctx context.Context, snap *registry.Snapshot, req *Request, fn func(arrow.RecordBatch) error) error {
	res, err := online.Resolve(snap, req.Features, req.FeatureService, req.FullFeatureNames)
	if err != nil {
		return err
	}
	if err := authorize(ctx, snap, res); err != nil {
		return err
	}
	q := &offlinestore.HistoricalQuery{BatchSize: r.BatchSize, EntitySQL: req.EntitySQL}
	var frame arrow.RecordBatch
	hasFrame := req.Entities != nil || req.EntitySQL != ""
	if hasFrame && (req.StartDate != nil || req.EndDate != nil) {
		field := "start_date"
		if req.StartDate == nil {
			field = "end_date"
		}
		return core.Errorf(core.KindInvalidArgument, "ValueError",
			"%s: Cannot specify both entity_df and start_date/end_date. Use either entity_df for entity-based retrieval or start_date/end_date for timestamp range retrieval.", field)
	}
	if req.RangeMode() {
		if q.Range, err = rangeOf(req, res); err != nil {
			return err
		}
		if err := checkRangeODFVs(res); err != nil {
			return err
		}
		q.EventTimeColumn = DefaultTimestampColumn
	} else if req.Entities != nil {
		if frame, q.EventTimeColumn, err = PrepareFrame(req.Entities); err != nil {
			return err
		}
		defer frame.Release()
		if err := checkFrame(frame, res); err != nil {
			return err
		}
		q.Entities = frame
	} else if req.EntitySQL == "" {
		return core.Invalidf("entity_df: give an entity frame (entities) or a SQL query")
	} else {
		q.EventTimeColumn = req.EventTimestampColumn
		if q.EventTimeColumn == "" {
			q.EventTimeColumn = DefaultTimestampColumn
		}
	}
	nfeat := 0
	for _, v := range res.Views {
		hv, err := joinView(v)
		if err != nil {
			return err
		}
		if q.Range != nil {
			entityColumnOrder(&hv, v)
		}
		q.Views = append(q.Views, hv)
		nfeat += len(hv.Features)
	}
	a := &assembler{ctx: ctx, r: r, res: res, frame: frame, nfeat: nfeat, fullNames: req.FullFeatureNames, fn: fn}
	return r.Catalog.Historical(ctx, q, a.batch)
}

// rangeOf is Feast's compute_non_entity_date_range: end defaults to now,
// start to end minus the largest ttl of the views (30 days without one);
// a start after the end is refused.
func rangeOf(req *Request, res *online.Resolution) (*offlinestore.TimeRange, error) {
	end := time.Now().UTC()
	if req.EndDate != nil {
		end = req.EndDate.UTC()
	}
	var start time.Time
	if req.StartDate != nil {
		start = req.StartDate.UTC()
	} else {
		var ttl time.Duration
		for _, v := range res.Views {
			// Feast counts whole seconds (int(ttl.total_seconds())).
			ttl = max(ttl, v.View.TTL.Truncate(time.Second))
		}
		if ttl <= 0 {
			ttl = defaultRangeWindow
		}
		start = end.Add(-ttl)
	}
	if start.After(end) {
		return nil, core.Invalidf("start_date: %s is after end_date %s", start.Format(time.RFC3339Nano), end.Format(time.RFC3339Nano))
	}
	return &offlinestore.TimeRange{Start: start, End: end}, nil
}

// checkRangeODFVs refuses an on-demand view that needs request data in
// range mode: there is no entity frame to carry it (Feast's transform
// fails with KeyError on the missing column).
func checkRangeODFVs(res *online.Resolution) error {
	for _, o := range res.ODFVs {
		for _, src := range o.View.Sources {
			for _, f := range src.Request {
				return core.Errorf(core.KindInvalidArgument, "KeyError",
					"'%s': on-demand feature view %s needs request data %s, which a start_date/end_date retrieval (no entity_df) cannot carry", f.Name, o.View.Name, f.Name)
			}
		}
	}
	return nil
}

// joinView turns a resolved view into the join's terms: source columns
// are the feature names run backwards through the batch source's
// field_mapping.
func joinView(v online.ResolvedView) (offlinestore.HistoricalView, error) {
	ds := v.View.BatchSource
	hv := offlinestore.HistoricalView{Name: v.NameToUse, Source: ds, TTL: v.View.TTL}
	if ds == nil {
		return hv, core.Invalidf("feature view %s has no batch source to retrieve historical features from", v.View.Name)
	}
	col := SourceColumn(ds)
	for _, name := range v.FrameKeys {
		jk := v.JoinKeyOf[name]
		if jk == registry.DummyJoinKey {
			continue
		}
		hv.Keys = append(hv.Keys, offlinestore.KeyColumn{Frame: name, Source: col(jk)})
	}
	hv.TimestampColumn = col(ds.GetTimestampField())
	if hv.TimestampColumn == "" {
		return hv, core.Invalidf("feature view %s: its batch source %s has no timestamp_field", v.View.Name, ds.GetName())
	}
	if c := ds.GetCreatedTimestampColumn(); c != "" {
		hv.CreatedColumn = col(c)
	}
	for i, f := range v.Features {
		hv.Features = append(hv.Features, offlinestore.FeatureColumn{Source: col(f.Name), Output: v.OutNames[i]})
	}
	return hv, nil
}

// entityColumnOrder puts a view's keys in the order of its entity
// columns, the order Feast's range mode returns them in.
func entityColumnOrder(hv *offlinestore.HistoricalView, v online.ResolvedView) {
	rank := map[string]int{}
	for i, f := range v.View.EntityColumns {
		rank[f.Name] = i
	}
	slices.SortStableFunc(hv.Keys, func(a, b offlinestore.KeyColumn) int {
		return rank[v.JoinKeyOf[a.Frame]] - rank[v.JoinKeyOf[b.Frame]]
	})
}

// SourceColumn returns the mapping from a Feast name (feature, join key,
// timestamp) to the source column holding it: the data source's
// field_mapping (source column → Feast name) run backwards.
func SourceColumn(ds *corepb.DataSource) func(string) string {
	reverse := map[string]string{}
	for src, dst := range ds.GetFieldMapping() {
		reverse[dst] = src
	}
	return func(name string) string {
		if s, ok := reverse[name]; ok {
			return s
		}
		return name
	}
}

// checkFrame refuses a frame without a view's join key or an on-demand
// view's request data, naming the column.
func checkFrame(frame arrow.RecordBatch, res *online.Resolution) error {
	schema := frame.Schema()
	for _, v := range res.Views {
		for _, name := range v.FrameKeys {
			if v.JoinKeyOf[name] == registry.DummyJoinKey || schema.HasField(name) {
				continue
			}
			return core.Errorf(core.KindInvalidArgument, "KeyError",
				"entity_df has no column '%s', a join key of feature view %s (its columns: %s)", name, v.NameToUse, columnList(schema))
		}
	}
	for _, o := range res.ODFVs {
		for _, src := range o.View.Sources {
			for _, f := range src.Request {
				if !schema.HasField(f.Name) {
					return core.Errorf(core.KindInvalidArgument, "RequestDataNotFoundInEntityDfException",
						"Feature %s not found in the entity dataframe, but required by feature view %s", f.Name, o.View.Name)
				}
			}
		}
	}
	return nil
}

func columnList(s *arrow.Schema) string {
	names := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		names[i] = "'" + f.Name + "'"
	}
	return strings.Join(names, ", ")
}

// PrepareFrame finds the frame's event timestamp column as Feast's
// infer_event_timestamp_from_entity_df does (event_timestamp if present,
// else the only timestamp column) and returns the frame with every
// timestamp column in UTC (a naive timestamp is UTC) and the event column
// parsed when it holds strings.
func PrepareFrame(frame arrow.RecordBatch) (arrow.RecordBatch, string, error) {
	schema := frame.Schema()
	tsCol := ""
	if schema.HasField(DefaultTimestampColumn) {
		tsCol = DefaultTimestampColumn
	} else {
		var found []string
		for _, f := range schema.Fields() {
			if f.Type.ID() == arrow.TIMESTAMP {
				found = append(found, f.Name)
			}
		}
		if len(found) == 1 {
			tsCol = found[0]
		}
	}
	if tsCol == "" {
		return nil, "", core.Errorf(core.KindInvalidArgument, "EntityTimestampInferenceException",
			"Please provide an entity_df with a column named %s representing the time of events.", DefaultTimestampColumn)
	}
	cols := make([]arrow.Array, frame.NumCols())
	fields := make([]arrow.Field, frame.NumCols())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i, f := range schema.Fields() {
		arr := frame.Column(i)
		switch {
		case f.Type.ID() == arrow.TIMESTAMP:
			arr = inUTC(arr)
		case f.Name == tsCol:
			var err error
			if arr, err = parseTimes(arr, f.Name); err != nil {
				return nil, "", err
			}
		default:
			arr.Retain()
		}
		cols[i] = arr
		fields[i] = arrow.Field{Name: f.Name, Type: arr.DataType(), Nullable: true, Metadata: f.Metadata}
	}
	out := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, frame.NumRows())
	return out, tsCol, nil
}

// inUTC relabels a timestamp column as UTC: Arrow timestamps are instants
// since the epoch whatever their zone, so only the type changes; a naive
// column is read as UTC, as Feast's make_df_tzaware does.
func inUTC(arr arrow.Array) arrow.Array {
	tt := arr.DataType().(*arrow.TimestampType)
	if tt.TimeZone == "UTC" {
		arr.Retain()
		return arr
	}
	d := arr.Data()
	nd := array.NewData(&arrow.TimestampType{Unit: tt.Unit, TimeZone: "UTC"}, d.Len(), d.Buffers(), d.Children(), d.NullN(), d.Offset())
	defer nd.Release()
	return array.MakeFromData(nd)
}

// parseTimes parses a string column of times (RFC 3339 and the ISO forms
// pandas accepts; each cell may carry its own offset) into
// timestamp[us, UTC].
func parseTimes(arr arrow.Array, name string) (arrow.Array, error) {
	var get func(i int) string
	switch a := arr.(type) {
	case *array.String:
		get = a.Value
	case *array.LargeString:
		get = a.Value
	case *array.StringView:
		get = a.Value
	default:
		if arr.Len() == 0 || arr.NullN() == arr.Len() {
			break
		}
		return nil, core.Errorf(core.KindInvalidArgument, "TypeError",
			"entity_df: the event timestamp column %s is %s, not a timestamp", name, arr.DataType())
	}
	vals := make([]core.Value, arr.Len())
	for i := range vals {
		if arr.IsNull(i) {
			continue
		}
		t, err := core.ParseTime(get(i))
		if err != nil {
			return nil, core.Errorf(core.KindInvalidArgument, "DateParseError",
				"entity_df: column %s: Unknown datetime string format, unable to parse: %s, at position %d", name, get(i), i)
		}
		vals[i] = core.Value{Type: core.UnixTimestamp, I: t.Seconds*1_000_000 + int64(t.Nanos)/1000}
	}
	b := array.NewTimestampBuilder(memory.DefaultAllocator, &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"})
	defer b.Release()
	for _, v := range vals {
		if v.IsNull() {
			b.AppendNull()
			continue
		}
		b.Append(arrow.Timestamp(v.I))
	}
	return b.NewArray(), nil
}

// assembler puts each joined batch together: the frame's rows beside the
// engine's features, then the on-demand outputs.
type assembler struct {
	ctx       context.Context
	r         *Retriever
	res       *online.Resolution
	frame     arrow.RecordBatch // nil for an EntitySQL frame
	nfeat     int
	fullNames bool
	fn        func(arrow.RecordBatch) error
	offset    int64
}

func (a *assembler) batch(feat arrow.RecordBatch) error {
	n := feat.NumRows()
	var cols []arrow.Array
	var fields []arrow.Field
	if a.frame != nil {
		if a.offset+n > a.frame.NumRows() {
			return fmt.Errorf("historical: the engine returned %d rows for a frame of %d", a.offset+n, a.frame.NumRows())
		}
		part := a.frame.NewSlice(a.offset, a.offset+n)
		defer part.Release()
		cols = append(cols, part.Columns()...)
		fields = append(fields, part.Schema().Fields()...)
	}
	cols = append(cols, feat.Columns()...)
	fields = append(fields, feat.Schema().Fields()...)
	a.offset += n
	var extra []arrow.Array
	defer func() {
		for _, c := range extra {
			c.Release()
		}
	}()
	if len(a.res.ODFVs) > 0 {
		var err error
		var names []string
		if extra, names, err = a.onDemand(cols, fields, int(n)); err != nil {
			return err
		}
		for i, c := range extra {
			cols = append(cols, c)
			fields = append(fields, arrow.Field{Name: names[i], Type: c.DataType(), Nullable: true})
		}
	}
	rec := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, n)
	defer rec.Release()
	return a.fn(rec)
}

// onDemand evaluates the requested on-demand views over one joined batch:
// every column is visible to them by name, as the joined DataFrame is to
// Feast's transform.
func (a *assembler) onDemand(cols []arrow.Array, fields []arrow.Field, rows int) ([]arrow.Array, []string, error) {
	var slab []core.Value
	frameCols := make([]core.Column, len(cols))
	for i, c := range cols {
		cell, _, err := arrowval.Cells(c, &slab)
		if err != nil {
			return nil, nil, core.Invalidf("column %s: %v", fields[i].Name, err)
		}
		vals := make([]core.Value, rows)
		for r := range vals {
			vals[r] = cell(r)
		}
		frameCols[i] = core.Column{Name: fields[i].Name, Typed: vals}
	}
	inputs := online.ODFVInputs(frameCols, a.res.ODFVSources)
	out, err := online.EvaluateODFVs(a.ctx, a.r.Transformer, a.res.ODFVs, inputs, rows, a.fullNames)
	if err != nil {
		return nil, nil, err
	}
	// Outputs are named "<feature>" or "<odfv>__<feature>"; their
	// declared types make the Arrow columns.
	typeOf := map[string]core.ValueType{}
	for _, o := range a.res.ODFVs {
		for _, f := range o.Features {
			typeOf[f.Name] = f.Type
			typeOf[o.View.Name+"__"+f.Name] = f.Type
		}
	}
	arrs := make([]arrow.Array, 0, len(out))
	names := make([]string, 0, len(out))
	for _, c := range out {
		typ, ok := typeOf[c.Name]
		switch {
		case !ok:
			err = fmt.Errorf("not a feature of the requested on-demand views")
		case c.Typed == nil:
			err = fmt.Errorf("values of type %s have no column type in a training set", typ)
		}
		var arr arrow.Array
		if err == nil {
			arr, err = arrowval.Build(typ, c.Typed)
		}
		if err != nil {
			for _, x := range arrs {
				x.Release()
			}
			return nil, nil, core.Invalidf("on-demand feature %s: %v", c.Name, err)
		}
		arrs = append(arrs, arr)
		names = append(names, c.Name)
	}
	return arrs, names, nil
}
