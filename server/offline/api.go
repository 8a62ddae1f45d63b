package offline

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/historical"
	"github.com/feastgo/feastgo/internal/arrowval"
	"github.com/feastgo/feastgo/offlinestore"
	"github.com/feastgo/feastgo/permissions"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
	"github.com/feastgo/feastgo/registry"
)

// unknownAPI is the error of a command naming no API of Feast's server.
func unknownAPI(api string) error {
	return core.Errorf(core.KindInvalidArgument, "NotImplementedError", "api %q: not an API of Feast's offline server (read: %s, %s, %s, %s; write: %s, %s, %s, %s)",
		api, apiHistorical, apiPullLatest, apiPullAll, apiColumns, apiWriteBatch, apiWriteLogged, apiPersist, apiValidate)
}

// read runs a read API and hands its result to emit, batch by batch; emit
// is called at least once, so the schema is always sent.
func (s *Server) read(ctx context.Context, cmd *command, frame arrow.RecordBatch, emit func(arrow.RecordBatch) error) error {
	switch cmd.api {
	case apiHistorical:
		return s.historical(ctx, cmd, frame, emit)
	case apiPullLatest, apiPullAll:
		return s.pull(ctx, cmd, emit)
	case apiColumns:
		return s.columns(ctx, cmd, emit)
	case apiWriteBatch, apiWriteLogged, apiPersist, apiValidate:
		return core.Invalidf("api %s: a write API, sent with DoPut (it returns no table)", cmd.api)
	}
	return unknownAPI(cmd.api)
}

// write runs a write API (DoPut).
func (s *Server) write(ctx context.Context, cmd *command, frame arrow.RecordBatch) error {
	switch cmd.api {
	case apiWriteBatch:
		return s.writeBatch(ctx, cmd, frame)
	case apiValidate:
		return s.validate(ctx, cmd)
	case apiWriteLogged:
		return s.writeLogged(ctx, cmd, frame)
	case apiPersist:
		return s.persist(ctx, cmd, frame)
	}
	return unknownAPI(cmd.api)
}

// historical answers get_historical_features with the historical
// retriever. Feast's client sends the views' names, their projections'
// aliases (set when the refs come from a feature service) and the refs
// "<name to use>:<feature>".
func (s *Server) historical(ctx context.Context, cmd *command, frame arrow.RecordBatch, emit func(arrow.RecordBatch) error) error {
	if s.Historical == nil {
		return unimplemented(apiHistorical, "no offline store is configured")
	}
	views, err := cmd.strings("feature_view_names")
	if err != nil {
		return err
	}
	var aliases []*string
	if err := cmd.get("name_aliases", &aliases); err != nil {
		return err
	}
	if len(aliases) != len(views) {
		return core.Invalidf("parameter name_aliases: %d entries for %d feature_view_names", len(aliases), len(views))
	}
	refs, err := cmd.strings("feature_refs")
	if err != nil {
		return err
	}
	var project string
	if err := cmd.get("project", &project); err != nil {
		return err
	}
	req := &historical.Request{Features: refs, Entities: frame}
	if err := cmd.get("full_feature_names", &req.FullFeatureNames); err != nil {
		return err
	}
	snap := s.Snapshot()
	if project != snap.Project {
		return core.Errorf(core.KindNotFound, "FeatureViewNotFoundException",
			"parameter project: %q is not the project of this server (%q)", project, snap.Project)
	}
	if err := s.authorizeViews(ctx, views, permissions.ReadOffline); err != nil {
		return err
	}
	if frame == nil && cmd.has("entity_df_sql") {
		if err := cmd.get("entity_df_sql", &req.EntitySQL); err != nil {
			return err
		}
	}
	// Range mode (entity_df=None with start_date/end_date): Feast's
	// client sends the dates as isoformat() strings.
	if req.StartDate, err = cmd.date("start_date"); err != nil {
		return err
	}
	if req.EndDate, err = cmd.date("end_date"); err != nil {
		return err
	}
	if (frame != nil || req.EntitySQL != "") && (req.StartDate != nil || req.EndDate != nil) {
		field := "start_date"
		if req.StartDate == nil {
			field = "end_date"
		}
		return core.Errorf(core.KindInvalidArgument, "ValueError",
			"parameter %s: Cannot specify both entity_df and start_date/end_date. Use either entity_df for entity-based retrieval or start_date/end_date for timestamp range retrieval.", field)
	}
	if frame == nil && req.EntitySQL == "" && req.StartDate == nil && req.EndDate == nil {
		return core.Invalidf("entity_df: the call carries no entity frame (only the \"key\" placeholder), no entity_df_sql and no start_date/end_date")
	}
	if slices.ContainsFunc(aliases, func(a *string) bool { return a != nil }) {
		if req.FeatureService, err = serviceOf(snap, views, aliases, refs); err != nil {
			return err
		}
	}
	return s.Historical.Retrieve(ctx, snap, req, emit)
}

// serviceOf finds the feature service whose projections Feast's client
// sent (an alias exists only in a feature service): the one whose refs are
// exactly refs and whose projections carry the aliases.
func serviceOf(snap *registry.Snapshot, views []string, aliases []*string, refs []string) (string, error) {
	want := slices.Clone(refs)
	sort.Strings(want)
	var names []string
	for _, svc := range snapshotServices(snap) {
		var have []string
		byAlias := map[string]string{}
		for _, p := range svc.Projections {
			byAlias[p.Alias] = p.ViewName
			for _, f := range p.Features {
				have = append(have, p.NameToUse()+":"+f.Name)
			}
		}
		sort.Strings(have)
		ok := slices.Equal(have, want)
		for i, a := range aliases {
			if a != nil && byAlias[*a] != views[i] {
				ok = false
			}
		}
		if ok {
			names = append(names, svc.Name)
		}
	}
	if len(names) == 0 {
		return "", core.Errorf(core.KindInvalidArgument, "FeatureViewNotFoundException",
			"parameter name_aliases: no feature service has projections with these aliases and exactly the feature_refs %v", refs)
	}
	return names[0], nil
}

// snapshotServices lists the feature services of the snapshot in name
// order.
func snapshotServices(snap *registry.Snapshot) []*registry.Service {
	var out []*registry.Service
	for _, fs := range snap.Proto.GetFeatureServices() {
		if fs.GetSpec().GetProject() != snap.Project {
			continue
		}
		if svc, ok := snap.Service(fs.GetSpec().GetName()); ok {
			out = append(out, svc)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// pull answers pull_latest_from_table_or_query and
// pull_all_from_table_or_query: the registered data source's rows as the
// table holds them.
func (s *Server) pull(ctx context.Context, cmd *command, emit func(arrow.RecordBatch) error) error {
	latest := cmd.api == apiPullLatest
	name, q, err := cmd.pullQuery(latest)
	if err != nil {
		return err
	}
	ds, ok := s.Snapshot().DataSource(name)
	if !ok {
		return core.Errorf(core.KindNotFound, "DataSourceObjectNotFoundException",
			"Data source %s does not exist in project %s", name, s.Snapshot().Project)
	}
	if err := s.authorizeSource(ctx, ds, permissions.ReadOffline); err != nil {
		return err
	}
	tr, err := s.tableReader(ctx, ds, cmd.api)
	if err != nil {
		return err
	}
	if err := checkColumns(ctx, tr, ds, q); err != nil {
		return err
	}
	if latest {
		return tr.ReadLatest(ctx, q, emit)
	}
	return tr.ReadAll(ctx, q, emit)
}

func (s *Server) tableReader(ctx context.Context, ds *corepb.DataSource, api string) (offlinestore.TableReader, error) {
	if s.Catalog == nil {
		return nil, unimplemented(api, "no offline store is configured")
	}
	src, err := s.Catalog.Source(ctx, ds)
	if err != nil {
		return nil, err
	}
	tr, ok := src.(offlinestore.TableReader)
	if !ok {
		return nil, unimplemented(api, fmt.Sprintf("data source %s (%s) cannot be read as a table yet", ds.GetName(), src.Describe()))
	}
	return tr, nil
}

// checkColumns refuses a pull naming a column the table does not have,
// before anything is read.
func checkColumns(ctx context.Context, tr offlinestore.TableReader, ds *corepb.DataSource, q offlinestore.Query) error {
	cl, ok := tr.(offlinestore.ColumnLister)
	if !ok {
		return nil
	}
	cols, err := cl.ColumnTypes(ctx)
	if err != nil {
		return err
	}
	have := make(map[string]bool, len(cols))
	names := make([]string, len(cols))
	for i, c := range cols {
		have[c.Name], names[i] = true, c.Name
	}
	want := append(append([]string(nil), q.Columns...), q.TimestampColumn)
	if q.CreatedColumn != "" {
		want = append(want, q.CreatedColumn)
	}
	for i, c := range want {
		if have[c] {
			continue
		}
		param := "feature_name_columns"
		switch {
		case i < q.KeyColumns:
			param = "join_key_columns"
		case c == q.TimestampColumn && i >= len(q.Columns):
			param = "timestamp_field"
		case i > len(q.Columns):
			param = "created_timestamp_column"
		}
		return core.Invalidf("parameter %s: data source %s has no column %q (its columns: %v)", param, ds.GetName(), c, names)
	}
	return nil
}

// dataSource decodes the data_source_proto parameter: the DataSource proto
// as JSON (Feast's client sends str(data_source), MessageToJson).
func (c *command) dataSource() (*corepb.DataSource, error) {
	var js string
	if err := c.get("data_source_proto", &js); err != nil {
		return nil, err
	}
	ds := &corepb.DataSource{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal([]byte(js), ds); err != nil {
		return nil, core.Invalidf("parameter data_source_proto: not a DataSource in proto JSON: %v", err)
	}
	if ds.GetName() == "" && ds.GetType() == corepb.DataSource_INVALID {
		return nil, core.Invalidf("parameter data_source_proto: the DataSource has neither a name nor a type")
	}
	return ds, nil
}

// columns answers get_table_column_names_and_types_from_data_source: a
// table of string columns name and type, one row per source column.
func (s *Server) columns(ctx context.Context, cmd *command, emit func(arrow.RecordBatch) error) error {
	ds, err := cmd.dataSource()
	if err != nil {
		return err
	}
	if err := s.authorizeSource(ctx, ds, permissions.ReadOffline); err != nil {
		return err
	}
	if s.Catalog == nil {
		return unimplemented(apiColumns, "no offline store is configured")
	}
	src, err := s.Catalog.Source(ctx, ds)
	if err != nil {
		return err
	}
	cl, ok := src.(offlinestore.ColumnLister)
	if !ok {
		return unimplemented(apiColumns, fmt.Sprintf("data source %s (%s) cannot list its columns yet", ds.GetName(), src.Describe()))
	}
	cols, err := cl.ColumnTypes(ctx)
	if err != nil {
		return err
	}
	names := array.NewStringBuilder(memory.DefaultAllocator)
	types := array.NewStringBuilder(memory.DefaultAllocator)
	defer names.Release()
	defer types.Release()
	for _, c := range cols {
		names.Append(c.Name)
		types.Append(c.Type)
	}
	na, ta := names.NewArray(), types.NewArray()
	defer na.Release()
	defer ta.Release()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "type", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	rec := array.NewRecordBatch(schema, []arrow.Array{na, ta}, int64(len(cols)))
	defer rec.Release()
	return emit(rec)
}

// validate answers validate_data_source as Feast's FileSource.validate
// does: a source whose table cannot be read is logged, not refused; a
// source this server has no engine for is refused.
func (s *Server) validate(ctx context.Context, cmd *command) error {
	ds, err := cmd.dataSource()
	if err != nil {
		return err
	}
	if err := s.authorizeSource(ctx, ds, permissions.ReadOffline); err != nil {
		return err
	}
	if s.Catalog == nil {
		return unimplemented(apiValidate, "no offline store is configured")
	}
	src, err := s.Catalog.Source(ctx, ds)
	if err != nil {
		return err
	}
	if cl, ok := src.(offlinestore.ColumnLister); ok {
		if _, err := cl.ColumnTypes(ctx); err != nil && s.Log != nil {
			s.Log.Warn("validate_data_source: could not read the source", "source", ds.GetName(), "err", err)
		}
	}
	return nil
}

// writeBatch answers offline_write_batch: the rows are appended to the
// view's batch source, as the HTTP push path appends them.
func (s *Server) writeBatch(ctx context.Context, cmd *command, frame arrow.RecordBatch) error {
	views, err := cmd.strings("feature_view_names")
	if err != nil {
		return err
	}
	var aliases []*string
	if err := cmd.get("name_aliases", &aliases); err != nil {
		return err
	}
	if len(views) != 1 {
		return core.Invalidf("parameter feature_view_names: must have exactly one item, got %d", len(views))
	}
	if len(aliases) != 1 {
		return core.Invalidf("parameter name_aliases: must have exactly one item, got %d", len(aliases))
	}
	v, ok := s.Snapshot().View(views[0])
	if !ok {
		return core.Errorf(core.KindNotFound, "FeatureViewNotFoundException",
			"Feature view %s does not exist in project %s", views[0], s.Snapshot().Project)
	}
	if err := s.authorizeViews(ctx, views, permissions.WriteOffline); err != nil {
		return err
	}
	if frame == nil || frame.NumRows() == 0 {
		return core.Invalidf("table: the table to write to feature view %s has 0 rows", v.Name)
	}
	if v.BatchSource == nil {
		return core.Invalidf("feature view %s has no batch source to write to", v.Name)
	}
	if s.Catalog == nil {
		return unimplemented(apiWriteBatch, "no offline store is configured")
	}
	rows, err := frameRows(frame)
	if err != nil {
		return err
	}
	app, err := s.Catalog.Appender(ctx, v.BatchSource)
	if err != nil {
		return err
	}
	commit, err := app.PrepareAppend(ctx, rows)
	if err != nil {
		return err
	}
	return commit(ctx)
}

// frameRows converts an Arrow table to the rows an Appender takes.
func frameRows(frame arrow.RecordBatch) (offlinestore.Rows, error) {
	var slab []core.Value
	cols := make([]offlinestore.Column, frame.NumCols())
	for i, f := range frame.Schema().Fields() {
		vals := make([]core.Value, frame.NumRows())
		if f.Type.ID() == arrow.TIMESTAMP {
			// Appenders take times as ISO strings (the form pushes
			// bring); RFC 3339 with nanoseconds keeps every digit.
			at, err := arrowval.TimeReader(frame.Column(i))
			if err != nil {
				return offlinestore.Rows{}, core.Invalidf("table column %s: %v", f.Name, err)
			}
			for r := range vals {
				if ts, ok := at(r); ok {
					vals[r] = core.StringValue(time.Unix(ts.Seconds, int64(ts.Nanos)).UTC().Format(time.RFC3339Nano))
				}
			}
			cols[i] = offlinestore.Column{Name: f.Name, Values: vals}
			continue
		}
		cell, _, err := arrowval.Cells(frame.Column(i), &slab)
		if err != nil {
			return offlinestore.Rows{}, core.Invalidf("table column %s: %v", f.Name, err)
		}
		for r := range vals {
			vals[r] = cell(r)
		}
		cols[i] = offlinestore.Column{Name: f.Name, Values: vals}
	}
	return offlinestore.Rows{Columns: cols}, nil
}
