// Package postgres is the PostgreSQL online store with Feast's layout
// (PostgreSQLOnlineStore): one table "<project>_<view>" per feature view in
// the configured schema, one row per (entity key, feature), upserted on
// (entity_key, feature_name). Rows written here are read by Feast and the
// other way round.
//
// Like every back end it imports only core, onlinestore and internal helpers
// (internal/layering checks it).
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/onlinestore"
)

// Options configure the store.
type Options struct {
	// DSN is a libpq connection string or URL (config.PostgresConfig.DSN()).
	DSN     string
	Project string
	// MaxConns bounds the pool (Feast's max_conn); 0 keeps pgx's default.
	MaxConns int32
	// MinConns is kept open (Feast's min_conn).
	MinConns int32
	// ValueNum creates new tables with the value_num column, as Feast does
	// with enable_openai_compatible_store.
	ValueNum bool
}

// Store is the PostgreSQL online store.
type Store struct {
	pool     *pgxpool.Pool
	project  string
	valueNum bool
	// tables caches, per table name, whether it exists and has value_num;
	// only positive answers are cached, so a table created later by
	// `feast apply` is seen.
	tables sync.Map // string -> tableInfo
}

type tableInfo struct{ hasValueNum bool }

var _ onlinestore.Store = (*Store)(nil)
var _ onlinestore.Writer = (*Store)(nil)
var _ onlinestore.Pinger = (*Store)(nil)

// New creates the pool; connections are opened lazily, so a PostgreSQL that
// is down at start shows up as Unavailable errors, not a failed start.
func New(ctx context.Context, o Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(o.DSN)
	if err != nil {
		return nil, fmt.Errorf("postgres online store: %w", err)
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	if o.MinConns > 0 && o.MinConns <= cfg.MaxConns {
		cfg.MinConns = o.MinConns
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres online store: %w", err)
	}
	return &Store{pool: pool, project: o.Project, valueNum: o.ValueNum}, nil
}

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Ping checks that a pooled connection answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return unavailable(err, "online store postgres is unreachable")
	}
	return nil
}

// TableName is Feast's table name for a view.
func (s *Store) TableName(view string) string { return s.project + "_" + view }

func quote(id string) string { return pgx.Identifier{id}.Sanitize() }

// unavailable keeps context errors recognisable (errors.Is) and marks the
// rest as a store that cannot serve now.
func unavailable(err error, msg string) error {
	return core.Unavailable(err, "%s", msg)
}

func isUndefinedTable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "42P01"
}

// Read answers all requests with one UNION ALL statement, like Feast's
// batched read; a view whose table does not exist reads as all-missing.
func (s *Store) Read(ctx context.Context, reqs []onlinestore.ReadRequest) error {
	var active []int
	for i := range reqs {
		r := &reqs[i]
		r.Rows = make([]onlinestore.Row, len(r.Keys))
		vals := make([][]byte, len(r.Keys)*len(r.Features))
		for j := range r.Rows {
			r.Rows[j].Values = vals[j*len(r.Features) : (j+1)*len(r.Features) : (j+1)*len(r.Features)]
		}
		if len(r.Keys) > 0 && len(r.Features) > 0 {
			active = append(active, i)
		}
	}
	if len(active) == 0 {
		return nil
	}
	err := s.readUnion(ctx, reqs, active)
	if err == nil || !isUndefinedTable(err) {
		return err
	}
	// Some table is missing: read view by view and let the missing ones
	// stay empty.
	for _, i := range active {
		if err := s.readUnion(ctx, reqs, []int{i}); err != nil && !isUndefinedTable(err) {
			return err
		}
	}
	return nil
}

func (s *Store) readUnion(ctx context.Context, reqs []onlinestore.ReadRequest, active []int) error {
	var q strings.Builder
	args := make([]any, 0, 2*len(active))
	for n, i := range active {
		if n > 0 {
			q.WriteString(" UNION ALL ")
		}
		fmt.Fprintf(&q, "SELECT %d AS fv_tag, entity_key, feature_name, value, event_ts FROM %s WHERE entity_key = ANY($%d) AND feature_name = ANY($%d)",
			n, quote(s.TableName(reqs[i].View)), len(args)+1, len(args)+2)
		args = append(args, reqs[i].Keys, reqs[i].Features)
	}
	rows, err := s.pool.Query(ctx, q.String(), args...)
	if err != nil {
		return s.readErr(err)
	}
	defer rows.Close()
	byKey := make([]map[string]int, len(active))
	featIdx := make([]map[string]int, len(active))
	for n, i := range active {
		r := &reqs[i]
		byKey[n] = make(map[string]int, len(r.Keys))
		for j, k := range r.Keys {
			byKey[n][string(k)] = j
		}
		featIdx[n] = make(map[string]int, len(r.Features))
		for j, f := range r.Features {
			featIdx[n][f] = j
		}
	}
	var (
		tag  int32
		key  []byte
		name string
		val  []byte
		ts   *time.Time
	)
	for rows.Next() {
		if err := rows.Scan(&tag, &key, &name, &val, &ts); err != nil {
			return s.readErr(err)
		}
		if tag < 0 || int(tag) >= len(active) {
			return fmt.Errorf("postgres online store: unexpected fv_tag %d", tag)
		}
		j, ok := byKey[tag][string(key)]
		if !ok {
			continue
		}
		row := &reqs[active[tag]].Rows[j]
		row.Found = true
		if ts != nil {
			row.TS = core.TimestampOf(*ts)
		}
		if f, ok := featIdx[tag][name]; ok {
			// Scan reuses nothing across rows for []byte, but copy to be
			// independent of driver buffers.
			row.Values[f] = append([]byte{}, val...)
		}
	}
	if err := rows.Err(); err != nil {
		return s.readErr(err)
	}
	return nil
}

func (s *Store) readErr(err error) error {
	if isUndefinedTable(err) {
		return err
	}
	return unavailable(err, "online store postgres read failed")
}

// EnsureTable creates a view's table and index as `feast apply` does, and
// records whether the table has the value_num column.
func (s *Store) EnsureTable(ctx context.Context, view string) (bool, error) {
	t := s.TableName(view)
	if info, ok := s.tables.Load(t); ok {
		return info.(tableInfo).hasValueNum, nil
	}
	valueNum := ""
	if s.valueNum {
		valueNum = "value_num DOUBLE PRECISION NULL, "
	}
	ddl := "CREATE TABLE IF NOT EXISTS " + quote(t) + " (entity_key BYTEA, feature_name TEXT, value BYTEA, value_text TEXT NULL, " +
		valueNum + "vector_value BYTEA NULL, event_ts TIMESTAMPTZ, created_ts TIMESTAMPTZ, PRIMARY KEY(entity_key, feature_name))"
	if _, err := s.pool.Exec(ctx, ddl); err != nil && !isDuplicateObject(err) {
		return false, err
	}
	if _, err := s.pool.Exec(ctx, "CREATE INDEX IF NOT EXISTS "+quote(t+"_ek")+" ON "+quote(t)+" (entity_key)"); err != nil && !isDuplicateObject(err) {
		return false, err
	}
	var has bool
	// Same lookup as Feast: the first schema of the search_path.
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1 AND column_name = 'value_num')`, t).Scan(&has)
	if err != nil {
		return false, err
	}
	s.tables.Store(t, tableInfo{hasValueNum: has})
	return has, nil
}

// isDuplicateObject tolerates two writers racing to create the same table:
// CREATE ... IF NOT EXISTS is not atomic in PostgreSQL.
func isDuplicateObject(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "23505" || pe.Code == "42P07" || pe.Code == "42710")
}

// Write upserts every feature of every row in one statement and one
// transaction: all rows are stored or none. Like Feast's SQL stores there
// is no event-time dedup (last write wins); within one batch the last row
// of an (entity, feature) pair wins, as with Feast's executemany.
func (s *Store) Write(ctx context.Context, b onlinestore.WriteBatch) error {
	if len(b.Rows) == 0 {
		return nil
	}
	hasNum, err := s.EnsureTable(ctx, b.View)
	if err != nil {
		return unavailable(err, "online store postgres write failed")
	}
	// Keep only the last row per entity key: one INSERT ... ON CONFLICT may
	// not touch the same row twice.
	last := make(map[string]int, len(b.Rows))
	for i, r := range b.Rows {
		last[string(r.Key)] = i
	}
	n := len(last) * len(b.Features)
	var (
		keys     = make([][]byte, 0, n)
		names    = make([]string, 0, n)
		values   = make([][]byte, 0, n)
		texts    = make([]*string, 0, n)
		nums     = make([]*float64, 0, n)
		events   = make([]time.Time, 0, n)
		createds = make([]*time.Time, 0, n)
	)
	for i, r := range b.Rows {
		if last[string(r.Key)] != i {
			continue
		}
		// Feast hands psycopg naive UTC datetimes; PostgreSQL reads them as
		// "timestamp" in the session's time zone. Sending the UTC wall clock
		// as timestamp does the same, so both write identical rows.
		ev := r.TS.Time()
		var cr *time.Time
		if r.Created != (core.Timestamp{}) {
			c := r.Created.Time()
			cr = &c
		}
		for j, f := range b.Features {
			v := r.Values[j]
			if v == nil {
				v = []byte{}
			}
			keys = append(keys, r.Key)
			names = append(names, f)
			values = append(values, v)
			if text, num, ok := onlinestore.ValueText(v); ok {
				texts = append(texts, &text)
				nums = append(nums, &num)
			} else {
				texts = append(texts, nil)
				nums = append(nums, nil)
			}
			events = append(events, ev)
			createds = append(createds, cr)
		}
	}
	t := quote(s.TableName(b.View))
	var q string
	args := []any{keys, names, values, texts, events, createds}
	if hasNum {
		q = "INSERT INTO " + t + " (entity_key, feature_name, value, value_text, value_num, vector_value, event_ts, created_ts)" +
			" SELECT k, f, v, vt, vn, NULL, e, c FROM unnest($1::bytea[], $2::text[], $3::bytea[], $4::text[], $7::float8[], $5::timestamp[], $6::timestamp[]) AS u(k, f, v, vt, vn, e, c)" +
			" ON CONFLICT (entity_key, feature_name) DO UPDATE SET value = EXCLUDED.value, value_text = EXCLUDED.value_text," +
			" value_num = EXCLUDED.value_num, vector_value = EXCLUDED.vector_value, event_ts = EXCLUDED.event_ts, created_ts = EXCLUDED.created_ts"
		args = append(args, nums)
	} else {
		q = "INSERT INTO " + t + " (entity_key, feature_name, value, value_text, vector_value, event_ts, created_ts)" +
			" SELECT k, f, v, vt, NULL, e, c FROM unnest($1::bytea[], $2::text[], $3::bytea[], $4::text[], $5::timestamp[], $6::timestamp[]) AS u(k, f, v, vt, e, c)" +
			" ON CONFLICT (entity_key, feature_name) DO UPDATE SET value = EXCLUDED.value, value_text = EXCLUDED.value_text," +
			" vector_value = EXCLUDED.vector_value, event_ts = EXCLUDED.event_ts, created_ts = EXCLUDED.created_ts"
	}
	if _, err := s.pool.Exec(ctx, q, args...); err != nil {
		if isUndefinedTable(err) {
			s.tables.Delete(s.TableName(b.View)) // dropped behind our back: recreate next time
		}
		return unavailable(err, "online store postgres write failed")
	}
	return nil
}
