// Package sqlite is the SQLite online store with Feast's layout: one table
// "<project>_<view>" per feature view, one row per (entity key, feature),
// event_ts as integer epoch seconds. It uses the pure-Go modernc.org/sqlite
// driver so the server builds and runs with nothing but Go installed.
package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/onlinestore"
)

// Store is the SQLite online store.
type Store struct {
	db      *sql.DB
	project string
}

var _ onlinestore.Store = (*Store)(nil)
var _ onlinestore.Writer = (*Store)(nil)

// Open opens (creating if needed) the database file at path.
func Open(path, project string) (*Store, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	return &Store{db: db, project: project}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// TableName is Feast's table name for a view.
func (s *Store) TableName(view string) string { return s.project + "_" + view }

func quote(id string) string { return `"` + strings.ReplaceAll(id, `"`, `""`) + `"` }

// Read runs one SELECT per view. A view whose table does not exist reads
// as all-missing, like a view that was never materialized.
func (s *Store) Read(ctx context.Context, reqs []onlinestore.ReadRequest) error {
	for i := range reqs {
		if err := s.readOne(ctx, &reqs[i]); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) readOne(ctx context.Context, r *onlinestore.ReadRequest) error {
	r.Rows = make([]onlinestore.Row, len(r.Keys))
	vals := make([][]byte, len(r.Keys)*len(r.Features))
	for j := range r.Rows {
		r.Rows[j].Values = vals[j*len(r.Features) : (j+1)*len(r.Features) : (j+1)*len(r.Features)]
	}
	if len(r.Keys) == 0 {
		return nil
	}
	byKey := make(map[string]int, len(r.Keys))
	args := make([]any, len(r.Keys))
	for j, k := range r.Keys {
		byKey[string(k)] = j
		args[j] = k
	}
	featIdx := make(map[string]int, len(r.Features))
	for j, f := range r.Features {
		featIdx[f] = j
	}
	q := "SELECT entity_key, feature_name, value, event_ts FROM " + quote(s.TableName(r.View)) +
		" WHERE entity_key IN (?" + strings.Repeat(",?", len(r.Keys)-1) + ") ORDER BY entity_key"
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return nil
		}
		return core.Unavailable(err, "online store sqlite read failed")
	}
	defer rows.Close()
	for rows.Next() {
		var key, val []byte
		var name string
		var ts sql.NullInt64
		if err := rows.Scan(&key, &name, &val, &ts); err != nil {
			return core.Unavailable(err, "online store sqlite read failed")
		}
		j, ok := byKey[string(key)]
		if !ok {
			continue
		}
		row := &r.Rows[j]
		row.Found = true
		if ts.Valid {
			row.TS = core.Timestamp{Seconds: ts.Int64}
		}
		if f, ok := featIdx[name]; ok {
			if val == nil {
				val = []byte{}
			}
			row.Values[f] = val
		}
	}
	if err := rows.Err(); err != nil {
		return core.Unavailable(err, "online store sqlite read failed")
	}
	return nil
}

// EnsureTable creates a view's table as `feast apply` does.
func (s *Store) EnsureTable(ctx context.Context, view string) error {
	t := s.TableName(view)
	_, err := s.db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+quote(t)+
		" (entity_key BLOB, feature_name TEXT, value BLOB, value_text TEXT, vector_value BLOB, event_ts timestamp, created_ts timestamp, PRIMARY KEY(entity_key, feature_name))")
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, "CREATE INDEX IF NOT EXISTS "+quote(t+"_ek")+" ON "+quote(t)+" (entity_key)")
	return err
}

// Write upserts every feature of every row in one transaction (Feast's
// SQLite store keeps no timestamp dedup: last write wins).
func (s *Store) Write(ctx context.Context, b onlinestore.WriteBatch) error {
	if len(b.Rows) == 0 {
		return nil
	}
	if err := s.EnsureTable(ctx, b.View); err != nil {
		return core.Unavailable(err, "online store sqlite write failed")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return core.Unavailable(err, "online store sqlite write failed")
	}
	defer func() { _ = tx.Rollback() }()
	stmt, err := tx.PrepareContext(ctx, "INSERT INTO "+quote(s.TableName(b.View))+
		" (entity_key, feature_name, value, value_text, event_ts, created_ts) VALUES (?, ?, ?, ?, ?, ?)"+
		" ON CONFLICT(entity_key, feature_name) DO UPDATE SET value = excluded.value, value_text = excluded.value_text,"+
		" event_ts = excluded.event_ts, created_ts = excluded.created_ts")
	if err != nil {
		return core.Unavailable(err, "online store sqlite write failed")
	}
	defer stmt.Close()
	for _, r := range b.Rows {
		var created any
		if r.Created != (core.Timestamp{}) {
			created = r.Created.Seconds
		}
		for j, f := range b.Features {
			// Feast fills value_text for string, number and bool values
			// (helpers.extract_text_and_num); its filters read it.
			var text any
			if txt, _, ok := onlinestore.ValueText(r.Values[j]); ok {
				text = txt
			}
			if _, err := stmt.ExecContext(ctx, r.Key, f, r.Values[j], text, r.TS.Seconds, created); err != nil {
				return core.Unavailable(err, "online store sqlite write failed")
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return core.Unavailable(err, "online store sqlite write failed")
	}
	return nil
}
