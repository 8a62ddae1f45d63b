package offline_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc/codes"
)

// driverStatsProto is str(data_source) of the repo's driver_stats source,
// as Feast's client sends it (MessageToJson).
const driverStatsProto = `{
  "type": "BATCH_FILE",
  "timestampField": "event_timestamp",
  "createdTimestampColumn": "created",
  "fileOptions": {"uri": "data/driver_stats.parquet"},
  "dataSourceClassType": "feast.infra.offline_stores.file_source.FileSource",
  "name": "driver_stats_source"
}`

func pullParams(start, end any) map[string]any {
	return map[string]any{"data_source_name": "driver_stats_source", "join_key_columns": []string{"driver_id"},
		"feature_name_columns": []string{"conv_rate", "trips"}, "timestamp_field": "event_timestamp",
		"created_timestamp_column": "created", "start_date": start, "end_date": end}
}

func TestPullLatest(t *testing.T) {
	f := start(t)
	got, err := f.exchange(t, "pull_latest_from_table_or_query", pullParams("2025-01-01T00:00:00+00:00", "2025-03-02T12:00:00"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	var names []string
	for _, fl := range got.Schema().Fields() {
		names = append(names, fl.Name)
	}
	if !slices.Equal(names, []string{"driver_id", "conv_rate", "trips", "event_timestamp", "created"}) {
		t.Errorf("columns %v", names)
	}
	ids, conv, ts := column(t, got, "driver_id"), column(t, got, "conv_rate"), column(t, got, "event_timestamp")
	latest := map[int64]float64{}
	for i, id := range ids {
		latest[id.(int64)] = conv[i].(float64)
		if ts[i].(time.Time).After(time.Date(2025, 3, 2, 12, 0, 0, 0, time.UTC)) {
			t.Errorf("row %d after end_date (a naive end_date is UTC): %v", i, ts[i])
		}
	}
	// 1001 has two rows at 2025-03-02T00:00; the later created one wins.
	if latest[1001] != 0.21 || latest[1002] != 0.7 || len(ids) != len(latest) {
		t.Errorf("latest per driver %v (%d rows)", latest, len(ids))
	}
	if tt := got.Schema().Field(3).Type.(*arrow.TimestampType); tt.TimeZone != "UTC" {
		t.Errorf("event_timestamp type %s, want UTC", tt)
	}
}

func TestPullAll(t *testing.T) {
	f := start(t)
	got, err := f.exchange(t, "pull_all_from_table_or_query", pullParams("2025-03-01T00:00:00+00:00", "2025-03-02T00:00:00+00:00"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	ids, conv, ts := column(t, got, "driver_id"), column(t, got, "conv_rate"), column(t, got, "event_timestamp")
	var of1001 []float64
	for i, id := range ids {
		if id.(int64) == 1001 {
			of1001 = append(of1001, conv[i].(float64))
		}
		tm := ts[i].(time.Time)
		if tm.Before(time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)) || tm.After(time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("row %d outside the window: %v", i, tm)
		}
	}
	slices.Sort(of1001)
	if !slices.Equal(of1001, []float64{0.1, 0.2, 0.21}) {
		t.Errorf("rows of 1001 in the window (both ends inclusive): %v", of1001)
	}

	// Open dates (null) read the whole table.
	all, err := f.exchange(t, "pull_all_from_table_or_query", pullParams(nil, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer all.Release()
	if all.NumRows() <= got.NumRows() {
		t.Errorf("open window: %d rows, the 2-day window %d", all.NumRows(), got.NumRows())
	}
}

func TestColumnNamesAndTypes(t *testing.T) {
	f := start(t)
	got, err := f.exchange(t, "get_table_column_names_and_types_from_data_source", map[string]any{"data_source_proto": driverStatsProto}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	names, types := column(t, got, "name"), column(t, got, "type")
	pairs := map[any]any{}
	for i := range names {
		pairs[names[i]] = types[i]
	}
	want := map[any]any{"driver_id": "int64", "event_timestamp": "timestamp[us, tz=UTC]", "created": "timestamp[us, tz=UTC]",
		"conv_rate": "double", "acc_rate": "float", "trips": "int64", "label": "string"}
	if len(pairs) != len(want) {
		t.Errorf("columns %v", pairs)
	}
	for k, v := range want {
		if pairs[k] != v {
			t.Errorf("%s: type %v, want %v (pyarrow's name)", k, pairs[k], v)
		}
	}
}

func TestValidateDataSource(t *testing.T) {
	f := start(t)
	if err := f.put(t, "validate_data_source", map[string]any{"data_source_proto": driverStatsProto}, nil); err != nil {
		t.Fatal(err)
	}
	// A file that is not there is logged, not refused: Feast's
	// FileSource.validate only warns.
	missing := `{"type": "BATCH_FILE", "timestampField": "ts", "fileOptions": {"uri": "data/nope.parquet"}, "name": "nope"}`
	if err := f.put(t, "validate_data_source", map[string]any{"data_source_proto": missing}, nil); err != nil {
		t.Errorf("missing file: %v", err)
	}
	err := f.put(t, "validate_data_source", map[string]any{"data_source_proto": `{"type": 12345x}`}, nil)
	wantCode(t, err, codes.InvalidArgument, "data_source_proto")
	err = f.put(t, "validate_data_source", map[string]any{"data_source_proto": `{"type": "BATCH_SNOWFLAKE", "name": "s"}`}, nil)
	wantCode(t, err, codes.Unimplemented, "s")
}

// driverRow is one row with exactly driver_stats' columns.
func driverRow(t *testing.T, id int64, ts string, conv float64) arrow.RecordBatch {
	return record(map[string]arrow.Array{
		"driver_id": int64s(id), "event_timestamp": times(t, ts), "created": times(t, ts),
		"conv_rate": float64s(conv), "acc_rate": float32s(0.5), "trips": int64s(3), "label": strings1("x"),
	}, "driver_id", "event_timestamp", "created", "conv_rate", "acc_rate", "trips", "label")
}

func TestOfflineWriteBatch(t *testing.T) {
	f := start(t)
	params := map[string]any{"feature_view_names": []string{"driver_stats"}, "name_aliases": []any{nil}, "progress": nil}
	if err := f.put(t, "offline_write_batch", params, driverRow(t, 4242, "2025-04-01T00:00:00Z", 0.75)); err != nil {
		t.Fatal(err)
	}
	got, err := f.exchange(t, "pull_latest_from_table_or_query", pullParams("2025-03-31T00:00:00+00:00", "2025-04-02T00:00:00+00:00"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	ids, conv := column(t, got, "driver_id"), column(t, got, "conv_rate")
	if len(ids) != 1 || ids[0] != int64(4242) || conv[0] != 0.75 {
		t.Errorf("after the write: ids %v conv %v", ids, conv)
	}
	// The historical join sees the row too.
	frame := record(map[string]arrow.Array{"driver_id": int64s(4242), "event_timestamp": times(t, "2025-04-01T06:00:00Z")},
		"driver_id", "event_timestamp")
	hist, err := f.exchange(t, "get_historical_features", map[string]any{"feature_view_names": []string{"driver_stats"},
		"feature_refs": []string{"driver_stats:conv_rate"}, "project": project, "full_feature_names": false, "name_aliases": []any{nil}}, frame)
	if err != nil {
		t.Fatal(err)
	}
	defer hist.Release()
	if c := column(t, hist, "conv_rate"); len(c) != 1 || c[0] != 0.75 {
		t.Errorf("historical after the write: %v", c)
	}
}

// TestBadInput: every mistake is InvalidArgument (Unimplemented for what
// this server does not do) and names the field or column and the reason.
func TestBadInput(t *testing.T) {
	f := start(t)
	hist := func(extra map[string]any) map[string]any {
		p := map[string]any{"feature_view_names": []string{"driver_stats"}, "feature_refs": []string{"driver_stats:conv_rate"},
			"project": project, "full_feature_names": false, "name_aliases": []any{nil}}
		for k, v := range extra {
			p[k] = v
		}
		return p
	}
	frame := func() arrow.RecordBatch {
		return record(map[string]arrow.Array{"driver_id": int64s(1001), "event_timestamp": times(t, "2025-03-02T00:00:00Z")},
			"driver_id", "event_timestamp")
	}
	write := map[string]any{"feature_view_names": []string{"driver_stats"}, "name_aliases": []any{nil}, "progress": nil}
	cases := []struct {
		name  string
		call  func() error
		code  codes.Code
		parts []string
	}{
		{"no timestamp column", func() error {
			_, err := f.exchange(t, "get_historical_features", hist(nil), record(map[string]arrow.Array{"driver_id": int64s(1)}, "driver_id"))
			return err
		}, codes.InvalidArgument, []string{"event_timestamp"}},
		{"missing join key", func() error {
			_, err := f.exchange(t, "get_historical_features", hist(nil),
				record(map[string]arrow.Array{"event_timestamp": times(t, "2025-03-02T00:00:00Z")}, "event_timestamp"))
			return err
		}, codes.InvalidArgument, []string{"driver_id", "join key"}},
		{"unknown view", func() error {
			_, err := f.exchange(t, "get_historical_features", hist(map[string]any{"feature_refs": []string{"nope:conv_rate"}}), frame())
			return err
		}, codes.InvalidArgument, []string{"FeatureViewNotFoundException", "nope"}},
		{"unknown feature", func() error {
			_, err := f.exchange(t, "get_historical_features", hist(map[string]any{"feature_refs": []string{"driver_stats:nope"}}), frame())
			return err
		}, codes.InvalidArgument, []string{"nope"}},
		{"no entity frame", func() error {
			_, err := f.exchange(t, "get_historical_features", hist(nil), nil)
			return err
		}, codes.InvalidArgument, []string{"entity"}},
		{"date range: start after end", func() error {
			_, err := f.exchange(t, "get_historical_features", hist(map[string]any{"start_date": "2025-03-03T00:00:00+00:00", "end_date": "2025-03-01T00:00:00+00:00"}), nil)
			return err
		}, codes.InvalidArgument, []string{"start_date", "after"}},
		{"date range: unparseable", func() error {
			_, err := f.exchange(t, "get_historical_features", hist(map[string]any{"end_date": "tomorrow"}), nil)
			return err
		}, codes.InvalidArgument, []string{"end_date", "tomorrow"}},
		{"date range and an entity frame", func() error {
			_, err := f.exchange(t, "get_historical_features", hist(map[string]any{"start_date": "2025-03-01T00:00:00+00:00"}), frame())
			return err
		}, codes.InvalidArgument, []string{"start_date", "entity_df"}},
		{"date range and an entity_df_sql", func() error {
			_, err := f.exchange(t, "get_historical_features", hist(map[string]any{"end_date": "2025-03-01T00:00:00", "entity_df_sql": "SELECT 1"}), nil)
			return err
		}, codes.InvalidArgument, []string{"end_date", "entity_df"}},
		{"missing parameter", func() error {
			p := hist(nil)
			delete(p, "feature_refs")
			_, err := f.exchange(t, "get_historical_features", p, frame())
			return err
		}, codes.InvalidArgument, []string{"feature_refs", "mandatory"}},
		{"mistyped parameter", func() error {
			_, err := f.exchange(t, "get_historical_features", hist(map[string]any{"full_feature_names": "yes"}), frame())
			return err
		}, codes.InvalidArgument, []string{"full_feature_names"}},
		{"other project", func() error {
			_, err := f.exchange(t, "get_historical_features", hist(map[string]any{"project": "elsewhere"}), frame())
			return err
		}, codes.InvalidArgument, []string{"project", "elsewhere"}},
		{"aliases do not match", func() error {
			_, err := f.exchange(t, "get_historical_features", hist(map[string]any{"name_aliases": []any{nil, nil}}), frame())
			return err
		}, codes.InvalidArgument, []string{"name_aliases"}},
		{"unknown alias", func() error {
			_, err := f.exchange(t, "get_historical_features", hist(map[string]any{"name_aliases": []any{"ghost"}}), frame())
			return err
		}, codes.InvalidArgument, []string{"name_aliases"}},
		{"unknown api", func() error {
			_, err := f.exchange(t, "drop_everything", nil, nil)
			return err
		}, codes.InvalidArgument, []string{"drop_everything"}},
		{"write api over DoExchange", func() error {
			_, err := f.exchange(t, "offline_write_batch", write, nil)
			return err
		}, codes.InvalidArgument, []string{"DoPut"}},
		{"pull: unknown source", func() error {
			p := pullParams(nil, nil)
			p["data_source_name"] = "ghost"
			_, err := f.exchange(t, "pull_all_from_table_or_query", p, nil)
			return err
		}, codes.InvalidArgument, []string{"ghost", "DataSourceObjectNotFoundException"}},
		{"pull latest: null dates", func() error {
			_, err := f.exchange(t, "pull_latest_from_table_or_query", pullParams(nil, nil), nil)
			return err
		}, codes.InvalidArgument, []string{"start_date"}},
		{"pull: bad date", func() error {
			_, err := f.exchange(t, "pull_all_from_table_or_query", pullParams("yesterday", nil), nil)
			return err
		}, codes.InvalidArgument, []string{"start_date", "yesterday"}},
		{"pull: missing column", func() error {
			p := pullParams(nil, nil)
			p["feature_name_columns"] = []string{"nope"}
			_, err := f.exchange(t, "pull_all_from_table_or_query", p, nil)
			return err
		}, codes.InvalidArgument, []string{"nope"}},
		{"write: 0 rows", func() error {
			return f.put(t, "offline_write_batch", write, record(map[string]arrow.Array{"driver_id": int64s()}, "driver_id"))
		}, codes.InvalidArgument, []string{"0 rows"}},
		{"write: placeholder only", func() error {
			return f.put(t, "offline_write_batch", write, nil)
		}, codes.InvalidArgument, []string{"0 rows"}},
		{"write: unknown view", func() error {
			return f.put(t, "offline_write_batch", map[string]any{"feature_view_names": []string{"ghost"}, "name_aliases": []any{nil}, "progress": nil},
				driverRow(t, 1, "2025-04-01T00:00:00Z", 1))
		}, codes.InvalidArgument, []string{"ghost"}},
		{"write: two views", func() error {
			return f.put(t, "offline_write_batch", map[string]any{"feature_view_names": []string{"driver_stats", "driver_daily"}, "name_aliases": []any{nil, nil}, "progress": nil},
				driverRow(t, 1, "2025-04-01T00:00:00Z", 1))
		}, codes.InvalidArgument, []string{"feature_view_names", "one"}},
		{"write: missing column", func() error {
			return f.put(t, "offline_write_batch", write, record(map[string]arrow.Array{"driver_id": int64s(1), "event_timestamp": times(t, "2025-04-01T00:00:00Z")},
				"driver_id", "event_timestamp"))
		}, codes.InvalidArgument, []string{"conv_rate", "missing"}},
		{"write_logged_features: no logging_config", func() error {
			return f.put(t, "write_logged_features", map[string]any{"feature_service_name": "driver_service"}, driverRow(t, 1, "2025-04-01T00:00:00Z", 1))
		}, codes.InvalidArgument, []string{"logging_config"}},
		{"persist: unknown destination", func() error {
			return f.put(t, "persist", map[string]any{"retrieve_func": "get_historical_features", "data_source_name": "x", "allow_overwrite": false, "timeout": nil}, nil)
		}, codes.InvalidArgument, []string{"DataSourceObjectNotFoundException", "x"}},
		{"persist: a pull", func() error {
			p := pullParams(nil, nil)
			p["retrieve_func"], p["allow_overwrite"], p["timeout"] = "pull_all_from_table_or_query", true, nil
			return f.put(t, "persist", p, nil)
		}, codes.Unimplemented, []string{"persist", "pulled source"}},
		{"columns: not JSON", func() error {
			_, err := f.exchange(t, "get_table_column_names_and_types_from_data_source", map[string]any{"data_source_proto": "{"}, nil)
			return err
		}, codes.InvalidArgument, []string{"data_source_proto"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantCode(t, c.call(), c.code, c.parts...) })
	}
}

// TestLegacyPutGet: the flow of Feast clients before DoExchange (DoPut of
// the frame, GetFlightInfo, DoGet of its ticket) answers the same, and a
// flight is forgotten once fetched.
func TestLegacyPutGet(t *testing.T) {
	f := start(t)
	params := map[string]any{"feature_view_names": []string{"driver_stats"}, "feature_refs": []string{"driver_stats:conv_rate"},
		"project": project, "full_feature_names": true, "name_aliases": []any{nil}}
	frame := record(map[string]arrow.Array{"driver_id": int64s(1001, 1002), "event_timestamp": times(t, "2025-03-02T00:00:00Z", "2025-03-02T00:00:00Z")},
		"driver_id", "event_timestamp")
	if err := f.put(t, "get_historical_features", params, frame); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	desc := descriptor(t, "get_historical_features", params)
	info, err := f.client.GetFlightInfo(ctx, desc)
	if err != nil {
		t.Fatal(err)
	}
	if info.TotalRecords != -1 || len(info.Endpoint) != 1 {
		t.Fatalf("flight info %v", info)
	}
	s, err := f.client.DoGet(ctx, info.Endpoint[0].Ticket)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(s)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	if c := column(t, got, "driver_stats__conv_rate"); len(c) != 2 || c[0] != 0.21 || c[1] != 0.5 {
		t.Errorf("conv_rate %v", c)
	}
	_, err = f.client.GetFlightInfo(ctx, desc)
	wantCode(t, err, codes.NotFound, "Flight not found")
}

func TestListActions(t *testing.T) {
	f := start(t)
	s, err := f.client.ListActions(context.Background(), &flight.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		a, err := s.Recv()
		if err != nil {
			break
		}
		got = append(got, a.Type)
	}
	if !slices.Equal(got, []string{"offline_write_batch", "write_logged_features", "persist"}) {
		t.Errorf("actions %v", got)
	}
}
