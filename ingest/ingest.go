package ingest

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/offlinestore"
	"github.com/feastgo/feastgo/online"
	"github.com/feastgo/feastgo/onlinestore"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
	"github.com/feastgo/feastgo/registry"
	"github.com/feastgo/feastgo/typemap"
)

// Mode says where a push goes (Feast's PushMode).
type Mode int

// Push modes, named as in requests.
const (
	ModeOnline Mode = iota
	ModeOffline
	ModeOnlineAndOffline
)

// ParseMode reads the "to" field of a push; "" means online.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "online", "":
		return ModeOnline, nil
	case "offline":
		return ModeOffline, nil
	case "online_and_offline":
		return ModeOnlineAndOffline, nil
	}
	return 0, core.Invalidf("%s is not a supported push format. Please specify one of these ['online', 'offline', 'online_and_offline'].", s)
}

// OfflineWriter resolves a view's batch source to the offline table that
// pushes with to=offline append to, as Feast's write_to_offline_store does;
// an offlinestore.Catalog is one.
type OfflineWriter interface {
	Appender(ctx context.Context, ds *corepb.DataSource) (offlinestore.Appender, error)
}

// Service writes request frames to the online (and offline) store.
type Service struct {
	Snapshot func() *registry.Snapshot
	Store    onlinestore.Writer
	// KeyVersion is entity_key_serialization_version.
	KeyVersion int
	// Transformer evaluates on-demand views written with transform on
	// write; nil answers such writes with 501.
	Transformer online.Transformer
	// Offline appends to batch sources; nil answers offline pushes with 501.
	Offline OfflineWriter
	// Now is the clock for on-demand rows (Feast stamps them with now).
	Now func() time.Time
	// Refresh reloads the registry (Feast's allow_cache=False); it returns
	// once Snapshot reflects a fetch begun after the call. Nil means the
	// registry never changes, and writes always use Snapshot.
	Refresh func(context.Context) error
}

// WriteOptions are the flags of a write request.
type WriteOptions struct {
	// Transform runs on-demand views with write_to_online_store
	// (transform_on_write).
	Transform bool
	// AllowRegistryCache false refreshes the registry before the write,
	// as Feast does for allow_registry_cache: false (what its remote
	// online store and the gRPC server's proto3 default send).
	AllowRegistryCache bool
}

// snapshot returns the registry to write against: the current one, or a
// freshly fetched one when the request does not allow the cache. A
// failed refresh fails the write, as in Feast; reads keep the last good
// snapshot meanwhile.
func (s *Service) snapshot(ctx context.Context, opts WriteOptions) (*registry.Snapshot, error) {
	if !opts.AllowRegistryCache && s.Refresh != nil {
		if err := s.Refresh(ctx); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			e := core.Errorf(core.KindUnavailable, "FeastRegistryUnavailable",
				"allow_registry_cache is false and the registry could not be refreshed")
			e.Err = err
			return nil, e
		}
	}
	return s.Snapshot(), nil
}

// Push writes a frame to every view fed by the push source, like
// FeatureStore.push. The whole frame is checked for every view before the
// first write.
func (s *Service) Push(ctx context.Context, source string, f *Frame, mode Mode, opts WriteOptions) error {
	snap, err := s.snapshot(ctx, opts)
	if err != nil {
		return err
	}
	_, views, _ := snap.PushSource(source)
	if len(views) == 0 {
		return core.Errorf(core.KindUnprocessable, "PushSourceNotFoundException", "Unable to find push source '%s'.", source)
	}
	if err := authorizePush(ctx, snap, views, mode); err != nil {
		return err
	}
	if err := f.Validate(); err != nil {
		return err
	}
	cols, err := typeFrame(f)
	if err != nil {
		return err
	}
	var batches []onlinestore.WriteBatch
	if mode != ModeOffline {
		if s.Store == nil {
			return core.Errorf(core.KindUnimplemented, "NotImplementedError", "the online store of this server does not accept writes")
		}
		for _, v := range views {
			b, skip, err := s.prepare(ctx, snap, v, cols, f.Strings, opts.Transform)
			if err != nil {
				return err
			}
			if !skip {
				batches = append(batches, b)
			}
		}
	}
	var appends []offlinestore.Commit
	if mode != ModeOnline {
		if s.Offline == nil {
			return core.Errorf(core.KindUnimplemented, "NotImplementedError", "offline pushes are not supported by this server")
		}
		rows := offlineRows(f)
		for _, v := range views {
			if v.BatchSource == nil {
				return core.Invalidf("Feature view '%s' has no batch_source.", v.Name)
			}
			table, err := s.Offline.Appender(ctx, v.BatchSource)
			if err != nil {
				return fmt.Errorf("view %s: %w", v.Name, err)
			}
			run, err := table.PrepareAppend(ctx, rows)
			if err != nil {
				return err
			}
			appends = append(appends, run)
		}
	}
	for _, b := range batches {
		if err := s.Store.Write(ctx, b); err != nil {
			return err
		}
	}
	for _, run := range appends {
		if err := run(ctx); err != nil {
			return err
		}
	}
	return nil
}

// offlineRows is the frame as an offline table takes it.
func offlineRows(f *Frame) offlinestore.Rows {
	cols := make([]offlinestore.Column, len(f.Columns))
	for i, c := range f.Columns {
		cols[i] = offlinestore.Column{Name: c.Name, Values: c.Values}
	}
	return offlinestore.Rows{Columns: cols, Strings: f.Strings}
}

// WriteToOnlineStore writes a frame to one view (feature view, on-demand
// view or stream view), like FeatureStore.write_to_online_store.
func (s *Service) WriteToOnlineStore(ctx context.Context, name string, f *Frame, opts WriteOptions) error {
	snap, err := s.snapshot(ctx, opts)
	if err != nil {
		return err
	}
	v, ok := snap.View(name)
	if ok && v.Kind == registry.KindLabelView {
		ok = false
	}
	if !ok {
		if o, isODFV := snap.ODFV(name); isODFV {
			v, ok = odfvView(o), true
		}
	}
	if !ok {
		return core.Errorf(core.KindNotFound, "FeastObjectNotFoundException", "Can't recognize feast object with a name %s", name)
	}
	if err := authorizeWrite(ctx, snap, name); err != nil {
		return err
	}
	if err := f.Validate(); err != nil {
		return err
	}
	if s.Store == nil {
		return core.Errorf(core.KindUnimplemented, "NotImplementedError", "the online store of this server does not accept writes")
	}
	cols, err := typeFrame(f)
	if err != nil {
		return err
	}
	b, skip, err := s.prepare(ctx, snap, v, cols, f.Strings, opts.Transform)
	if err != nil || skip {
		return err
	}
	return s.Store.Write(ctx, b)
}

// odfvView is an on-demand view (without write_to_online_store) seen as a
// view rows can be written to, as Feast allows.
func odfvView(o *registry.ODFV) *registry.View {
	return &registry.View{Name: o.Name, Kind: registry.KindOnDemandWritten, Entities: o.Entities,
		EntityColumns: o.EntityColumns, Features: o.Features, Online: true}
}

type typedFrame struct {
	cols   []*typedColumn
	byName map[string]*typedColumn
	rows   int
}

func typeFrame(f *Frame) (*typedFrame, error) {
	tf := &typedFrame{byName: make(map[string]*typedColumn, len(f.Columns)), rows: f.Rows()}
	for _, c := range f.Columns {
		tc, err := typeColumn(c)
		if err != nil {
			return nil, err
		}
		tf.cols = append(tf.cols, &tc)
		tf.byName[c.Name] = &tc
	}
	return tf, nil
}

// mapped applies a batch source's field_mapping (source column -> feature
// name) to every column, as Feast renames the Arrow table.
func (tf *typedFrame) mapped(mapping map[string]string) (map[string]*typedColumn, error) {
	if len(mapping) == 0 {
		return tf.byName, nil
	}
	out := make(map[string]*typedColumn, len(tf.cols))
	for _, c := range tf.cols {
		name := c.Name
		if m, ok := mapping[name]; ok {
			name = m
		}
		if _, dup := out[name]; dup {
			return nil, core.Invalidf("df: two columns are named %s after the batch source's field_mapping", name)
		}
		out[name] = c
	}
	return out, nil
}

// prepare converts the frame to one view's rows. skip is true when Feast
// writes nothing: every feature column is null.
func (s *Service) prepare(ctx context.Context, snap *registry.Snapshot, v *registry.View, tf *typedFrame, strs, transform bool) (onlinestore.WriteBatch, bool, error) {
	b := onlinestore.WriteBatch{View: v.StorageName()}
	cols, err := s.viewColumns(ctx, snap, v, tf, transform)
	if err != nil {
		return b, false, err
	}
	features, feats, skip, err := writtenFeatures(v, cols)
	if err != nil || skip {
		return b, skip, err
	}
	events, created, err := s.rowTimes(v, cols, tf.rows)
	if err != nil {
		return b, false, err
	}
	keyCols, keyVals, err := entityKeys(v, cols, tf.rows, strs)
	if err != nil {
		return b, false, err
	}
	featVals := make([][]core.Value, len(features))
	for i, f := range features {
		if feats[i] == nil {
			featVals[i] = make([]core.Value, tf.rows)
			continue
		}
		if featVals[i], err = convertColumn(feats[i], f.Type, strs, "feature "+f.Name+" of view "+v.Name); err != nil {
			return b, false, err
		}
	}
	b.Features = make([]string, len(features))
	for i, f := range features {
		b.Features[i] = f.Name
	}
	b.Rows, err = s.encodeRows(keyCols, keyVals, featVals, events, created)
	return b, false, err
}

// viewColumns returns the frame's columns as view v reads them: the
// transformation's output for an on-demand view written online (when
// transform is set), else the columns renamed by the batch source's
// field_mapping.
func (s *Service) viewColumns(ctx context.Context, snap *registry.Snapshot, v *registry.View, tf *typedFrame, transform bool) (map[string]*typedColumn, error) {
	if v.Kind == registry.KindOnDemandWritten {
		if o, ok := snap.ODFV(v.Name); ok && o.WriteToOnlineStore && transform {
			return s.transform(ctx, o, tf)
		}
		return tf.byName, nil
	}
	if v.BatchSource == nil {
		return nil, core.Invalidf("Feature view '%s' has no batch_source.", v.Name)
	}
	return tf.mapped(v.BatchSource.GetFieldMapping())
}

// writtenFeatures returns the fields written for v and the column of each
// (nil: an on-demand view's missing feature, written as null). All of a
// feature view's must be present. Feast also stores an on-demand view's
// join keys as features, because its schema is entity columns plus
// features (_convert_arrow_odfv_to_proto); so do we, for the same bytes.
// skip is true when every feature column is null: Feast then writes
// nothing ("Cannot write dataframe with empty feature columns").
func writtenFeatures(v *registry.View, cols map[string]*typedColumn) (features []registry.Field, feats []*typedColumn, skip bool, err error) {
	odfv := v.Kind == registry.KindOnDemandWritten
	features = v.Features
	if odfv {
		features = append([]registry.Field(nil), v.Features...)
		for _, ec := range v.EntityColumns {
			if _, ok := cols[ec.Name]; !ok || ec.Name == registry.DummyJoinKey {
				continue
			}
			if _, dup := v.Feature(ec.Name); !dup {
				features = append(features, ec)
			}
		}
	}
	feats = make([]*typedColumn, len(features))
	anyValue := false
	for i, f := range features {
		c, ok := cols[f.Name]
		if !ok {
			if odfv {
				continue
			}
			return nil, nil, false, core.Invalidf("df: column %s is missing (feature %s of view %s)", f.Name, f.Name, v.Name)
		}
		feats[i] = c
		if i < len(v.Features) {
			anyValue = anyValue || !c.allNull()
		}
	}
	return features, feats, len(v.Features) > 0 && !anyValue, nil
}

// rowTimes returns each row's event and created timestamps (created nil
// when the source has none): the batch source's columns, or now for an
// on-demand view, as Feast stamps its writes.
func (s *Service) rowTimes(v *registry.View, cols map[string]*typedColumn, rows int) (events, created []core.Timestamp, err error) {
	if v.Kind == registry.KindOnDemandWritten {
		now := core.TimestampOf(s.now()).Micros()
		events = make([]core.Timestamp, rows)
		for i := range events {
			events[i] = now
		}
		return events, events, nil
	}
	tsField := v.BatchSource.GetTimestampField()
	c, ok := cols[tsField]
	if !ok {
		return nil, nil, core.Invalidf("df: column %s is missing (the event timestamp of view %s)", tsField, v.Name)
	}
	if events, err = eventTimes(c, "event timestamp of view "+v.Name, false); err != nil {
		return nil, nil, err
	}
	if cc := v.BatchSource.GetCreatedTimestampColumn(); cc != "" {
		if c, ok := cols[cc]; ok {
			if created, err = eventTimes(c, "created timestamp of view "+v.Name, true); err != nil {
				return nil, nil, err
			}
		}
	}
	return events, created, nil
}

// entityKeys returns v's join keys sorted by name, as Feast serializes
// them, and each one's values (the dummy key of an entityless view is "").
func entityKeys(v *registry.View, cols map[string]*typedColumn, rows int, strs bool) ([]registry.Field, [][]core.Value, error) {
	keyCols := append([]registry.Field(nil), v.EntityColumns...)
	sort.Slice(keyCols, func(i, j int) bool { return keyCols[i].Name < keyCols[j].Name })
	keyVals := make([][]core.Value, len(keyCols))
	for i, k := range keyCols {
		c, ok := cols[k.Name]
		if !ok {
			if k.Name == registry.DummyJoinKey {
				keyVals[i] = make([]core.Value, rows)
				for r := range keyVals[i] {
					keyVals[i][r] = core.StringValue("")
				}
				continue
			}
			return nil, nil, core.Invalidf("df: column %s is missing (join key of view %s)", k.Name, v.Name)
		}
		vals, err := convertColumn(c, k.Type, strs, "join key "+k.Name+" of view "+v.Name)
		if err != nil {
			return nil, nil, err
		}
		for r, x := range vals {
			if x.IsNull() {
				return nil, nil, core.Invalidf("df.%s[%d]: join key values cannot be null (view %s)", k.Name, r, v.Name)
			}
		}
		keyVals[i] = vals
	}
	return keyCols, keyVals, nil
}

// encodeRows serializes each row's entity key and feature values into one
// buffer shared by the whole batch.
func (s *Service) encodeRows(keyCols []registry.Field, keyVals, featVals [][]core.Value, events, created []core.Timestamp) ([]onlinestore.WriteRow, error) {
	rows, nf := len(events), len(featVals)
	out := make([]onlinestore.WriteRow, rows)
	parts := make([]onlinestore.KeyPart, len(keyCols))
	for i, k := range keyCols {
		parts[i].Name = k.Name
	}
	var buf []byte
	type span struct{ start, end int }
	keySpans := make([]span, rows)
	valSpans := make([]span, rows*nf)
	for r := 0; r < rows; r++ {
		for i := range parts {
			parts[i].Value = keyVals[i][r]
		}
		start := len(buf)
		var err error
		if buf, err = onlinestore.AppendEntityKey(buf, parts, s.KeyVersion); err != nil {
			return nil, err
		}
		keySpans[r] = span{start, len(buf)}
		for j := range featVals {
			start := len(buf)
			buf = typemap.AppendValue(buf, featVals[j][r])
			valSpans[r*nf+j] = span{start, len(buf)}
		}
	}
	// Slices are taken once buf stops growing.
	values := make([][]byte, rows*nf)
	for r := range out {
		ks := keySpans[r]
		row := &out[r]
		row.Key = buf[ks.start:ks.end:ks.end]
		row.TS = events[r]
		if created != nil {
			row.Created = created[r]
		}
		row.Values = values[r*nf : (r+1)*nf : (r+1)*nf]
		for j := range row.Values {
			vs := valSpans[r*nf+j]
			row.Values[j] = buf[vs.start:vs.end:vs.end]
		}
	}
	return out, nil
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// transform runs an on-demand view's UDF over the frame (transform on
// write). Its outputs join the frame's columns; frame columns the UDF did
// not produce pass through, as in Feast.
func (s *Service) transform(ctx context.Context, o *registry.ODFV, tf *typedFrame) (map[string]*typedColumn, error) {
	if s.Transformer == nil {
		return nil, core.Errorf(core.KindUnimplemented, "NotImplementedError",
			"on-demand feature view %s is written with transform_on_write, which needs the transformation engine this server does not have yet; "+
				"send the computed features with transform_on_write: false", o.Name)
	}
	inputs := make(map[string]*core.Column, len(tf.cols))
	for _, c := range tf.cols {
		inputs[c.Name] = &core.Column{Name: c.Name, Typed: c.Values}
	}
	outs, err := s.Transformer.Transform(ctx, o, o.Features, inputs, tf.rows, false)
	if err != nil {
		return nil, err
	}
	cols := make(map[string]*typedColumn, len(tf.cols)+len(outs))
	for k, v := range tf.byName {
		cols[k] = v
	}
	for _, oc := range outs {
		vals := oc.Typed
		if vals == nil {
			return nil, fmt.Errorf("transformation of %s returned serialized values for %s; typed values are needed to write", o.Name, oc.Name)
		}
		tc, err := typeColumn(Column{Name: oc.Name, Values: vals})
		if err != nil {
			return nil, err
		}
		cols[oc.Name] = &tc
	}
	return cols, nil
}
