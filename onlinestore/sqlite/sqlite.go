// Package sqlite is the SQLite online store with Feast's layout: one table
// "<project>_<view>" per feature view, one row per (entity key, feature),
// event_ts as integer epoch seconds. It uses the pure-Go modernc.org/sqlite
// driver so the server builds and runs with nothing but Go installed.
//
// The database is put in WAL mode, so reads never wait for a write. Writes
// go through one connection, queued in arrival order behind a lock that
// honours the request's context, and a large batch is written in bounded
// transactions so other writers interleave with it. Before each transaction
// and before a write is confirmed, the path is checked against the file the
// store opened (see file.go): a write into a deleted, replaced or read-only
// file is refused rather than acknowledged.
//
// Like every back end it imports only core, onlinestore and internal helpers
// (internal/layering checks it).
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/onlinestore"
)

const (
	// busyTimeoutMS is how long a statement waits for a lock held by
	// another process (Feast's sqlite3 connections wait 5 s as well).
	busyTimeoutMS = 5000
	// readConns is the size of the read pool. Every read connection is
	// opened by New and kept, so all of them refer to the file the writer
	// opened even if the path is later deleted or replaced.
	readConns = 8
	// writeChunkCells bounds one write transaction by its (row, feature)
	// cells: a large frame then holds the write lock for tens of
	// milliseconds at a time, and queued writers run between its chunks.
	writeChunkCells = 4096
	// cellsPerStatement is how many cells one INSERT carries (6 bound
	// variables each, under SQLITE_MAX_VARIABLE_NUMBER): one statement per
	// cell would cost a round through the driver for each.
	cellsPerStatement = 256
	// readChunkKeys bounds the entity keys of one SELECT: each key is a
	// bound variable, and SQLite refuses a statement with more than
	// SQLITE_MAX_VARIABLE_NUMBER (32,766) of them.
	readChunkKeys = 10000
	// fileCheckInterval is how often the watcher compares the path with
	// the file the store opened, so a deleted file is logged even when no
	// write comes.
	fileCheckInterval = time.Second
)

// Options configures New.
type Options struct {
	// Path is the database file; it is created if missing.
	Path string
	// Project prefixes the table names.
	Project string
	// Log receives file faults found by the watcher; nil is slog.Default().
	Log *slog.Logger
}

// Store is the SQLite online store.
type Store struct {
	path    string
	project string
	log     *slog.Logger
	// w is the single write connection, r the read pool (mode=ro).
	w, r *sql.DB
	// wlock is the writers' queue: a buffered channel of one slot, whose
	// blocked senders are served in arrival order.
	wlock chan struct{}
	file  *fileGuard
	stop  chan struct{}
	done  chan struct{}
	// stmts holds the prepared SELECT of each (table, keys) shape read so
	// far, up to maxCachedStmts of them: preparing (SQLite parsing the
	// statement) was 15% of a cached read's CPU. nstmts counts them.
	stmts  sync.Map // stmtKey → *sql.Stmt
	nstmts atomic.Int64
	// missing remembers, for missingTTL, the tables a read found absent
	// (a view not materialized yet), so that such reads do not prepare a
	// failing statement each time. tables counts our own table creations:
	// an entry made before the latest one is stale, so a write this store
	// acknowledged is never read as missing; a table another process
	// creates is seen within missingTTL.
	missing sync.Map // table → missingEntry
	tables  atomic.Uint64
}

type missingEntry struct {
	until  time.Time
	tables uint64
}

// missingTTL is how long a table found absent is taken as absent.
const missingTTL = time.Second

// stmtKey is the shape of a read: its table and its number of keys.
type stmtKey struct {
	table string
	keys  int
}

// maxCachedStmts bounds the prepared statements kept, so that clients
// sending every count of entities cannot grow them without limit; other
// shapes are prepared per read.
const maxCachedStmts = 512

var _ onlinestore.Store = (*Store)(nil)
var _ onlinestore.Writer = (*Store)(nil)
var _ onlinestore.Pinger = (*Store)(nil)

// Open opens (creating if needed) the database file at path.
func Open(path, project string) (*Store, error) {
	return New(Options{Path: path, Project: project})
}

// New opens the store: the write connection first (it creates the file and
// switches it to WAL mode unless the file is read-only), then every read
// connection, then the watcher. Close stops it.
func New(o Options) (*Store, error) {
	s := &Store{path: o.Path, project: o.Project, log: o.Log, wlock: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	if s.log == nil {
		s.log = slog.Default()
	}
	fail := func(err error) (*Store, error) {
		for _, db := range []*sql.DB{s.r, s.w} {
			if db != nil {
				_ = db.Close()
			}
		}
		return nil, fmt.Errorf("sqlite %s: %w", o.Path, err)
	}
	var err error
	s.w, err = sql.Open("sqlite", fmt.Sprintf("file:%s?_txlock=immediate&_pragma=busy_timeout(%d)", o.Path, busyTimeoutMS))
	if err != nil {
		return fail(err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	ctx := context.Background()
	if err := s.w.PingContext(ctx); err != nil {
		return fail(err)
	}
	if s.file, err = newFileGuard(o.Path); err != nil {
		return fail(err)
	}
	if s.file.check() == nil {
		var mode string
		if err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode); err != nil {
			return fail(fmt.Errorf("switching to WAL mode: %w", err))
		}
		if !strings.EqualFold(mode, "wal") {
			s.log.Warn("sqlite online store is not in WAL mode: reads may wait for writes", "path", o.Path, "journal_mode", mode)
		}
	}
	s.r, err = sql.Open("sqlite", fmt.Sprintf("file:%s?mode=ro&_pragma=busy_timeout(%d)", o.Path, busyTimeoutMS))
	if err != nil {
		return fail(err)
	}
	s.r.SetMaxOpenConns(readConns)
	s.r.SetMaxIdleConns(readConns)
	conns := make([]*sql.Conn, 0, readConns)
	for range readConns {
		c, err := s.r.Conn(ctx)
		if err == nil {
			err = c.PingContext(ctx)
		}
		if err != nil {
			for _, c := range conns {
				_ = c.Close()
			}
			return fail(err)
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		_ = c.Close() // back to the pool, kept idle
	}
	go s.watch()
	return s, nil
}

// Close stops the watcher and closes the database: the read connections
// first, so that the writer, closing last, checkpoints the WAL into the file.
func (s *Store) Close() error {
	select {
	case <-s.stop:
		return nil
	default:
	}
	close(s.stop)
	<-s.done
	s.stmts.Range(func(_, v any) bool {
		_ = v.(*sql.Stmt).Close()
		return true
	})
	return errors.Join(s.r.Close(), s.w.Close())
}

// watch logs each change of the file's state (deleted, replaced, read-only,
// back to normal) within fileCheckInterval, until Close.
func (s *Store) watch() {
	defer close(s.done)
	t := time.NewTicker(fileCheckInterval)
	defer t.Stop()
	var last error
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		err := s.file.check()
		switch {
		case err != nil && (last == nil || err.Error() != last.Error()):
			s.log.Error("sqlite online store: writes are refused", "path", s.path, "err", err)
		case err == nil && last != nil:
			s.log.Info("sqlite online store: the file is writable again; writes are accepted", "path", s.path)
		}
		last = err
	}
}

// TableName is Feast's table name for a view.
func (s *Store) TableName(view string) string { return s.project + "_" + view }

func quote(id string) string { return `"` + strings.ReplaceAll(id, `"`, `""`) + `"` }

func readFailed(err error) error { return core.Unavailable(err, "online store sqlite read failed") }

// Ping runs a trivial query on the read pool: it fails once the store is
// closed or the file cannot be read. A file deleted or made read-only
// after the start still serves reads (only writes are refused), so it
// does not fail Ping.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return readFailed(err)
	}
	return nil
}

// HasRows reports whether the table of view exists and holds a row: the
// server fills, at start-up, the views whose table is missing or empty.
func (s *Store) HasRows(ctx context.Context, view string) (bool, error) {
	table := s.TableName(view)
	var n int
	err := s.r.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", table).Scan(&n)
	if err != nil {
		return false, readFailed(err)
	}
	if n == 0 {
		return false, nil
	}
	var one int
	err = s.r.QueryRowContext(ctx, "SELECT 1 FROM "+quote(table)+" LIMIT 1").Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, readFailed(err)
	}
	return true, nil
}

// Read runs one SELECT per view (per readChunkKeys keys of a view, in one
// read transaction so the chunks see the same data). A view whose table
// does not exist reads as all-missing, like a view never materialized.
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
	for j, k := range r.Keys {
		byKey[string(k)] = j
	}
	featIdx := make(map[string]int, len(r.Features))
	for j, f := range r.Features {
		featIdx[f] = j
	}
	var tx *sql.Tx
	if len(r.Keys) > readChunkKeys {
		var err error
		if tx, err = s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true}); err != nil {
			return readFailed(err)
		}
		defer func() { _ = tx.Rollback() }() // a read transaction has nothing to commit
	}
	for start := 0; start < len(r.Keys); start += readChunkKeys {
		keys := r.Keys[start:min(start+readChunkKeys, len(r.Keys))]
		found, err := s.readChunk(ctx, tx, r, keys, byKey, featIdx)
		if err != nil {
			return err
		}
		if !found {
			return nil // no table: every key is missing
		}
	}
	return nil
}

// selectStmt is the prepared SELECT of n keys of table, from the cache
// (cached true: the caller must not close it) or prepared now.
func (s *Store) selectStmt(ctx context.Context, table string, n int) (st *sql.Stmt, cached bool, err error) {
	k := stmtKey{table, n}
	if v, ok := s.stmts.Load(k); ok {
		return v.(*sql.Stmt), true, nil
	}
	st, err = s.r.PrepareContext(ctx, "SELECT entity_key, feature_name, value, event_ts FROM "+quote(table)+
		" WHERE entity_key IN (?"+strings.Repeat(",?", n-1)+") ORDER BY entity_key")
	if err != nil {
		return nil, false, err
	}
	if s.nstmts.Add(1) > maxCachedStmts {
		s.nstmts.Add(-1)
		return st, false, nil
	}
	if v, loaded := s.stmts.LoadOrStore(k, st); loaded {
		s.nstmts.Add(-1)
		_ = st.Close()
		return v.(*sql.Stmt), true, nil
	}
	return st, true, nil
}

// readChunk reads the rows of keys into r; found is false when the view has
// no table.
func (s *Store) readChunk(ctx context.Context, tx *sql.Tx, r *onlinestore.ReadRequest, keys [][]byte, byKey, featIdx map[string]int) (found bool, err error) {
	table := s.TableName(r.View)
	gen := s.tables.Load()
	if v, ok := s.missing.Load(table); ok {
		if e := v.(missingEntry); e.tables == gen && time.Now().Before(e.until) {
			if err := ctx.Err(); err != nil {
				return false, readFailed(err) // as the query would have failed
			}
			return false, nil
		}
	}
	args := make([]any, len(keys))
	for j, k := range keys {
		args[j] = k
	}
	st, cached, err := s.selectStmt(ctx, table, len(keys))
	if err == nil {
		if !cached {
			defer st.Close()
		}
		if tx != nil {
			st = tx.StmtContext(ctx, st) // closed with the transaction
		}
	}
	var rows *sql.Rows
	if err == nil {
		rows, err = st.QueryContext(ctx, args...)
	}
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			s.missing.Store(table, missingEntry{until: time.Now().Add(missingTTL), tables: gen})
			return false, nil
		}
		return false, readFailed(err)
	}
	defer rows.Close()
	for rows.Next() {
		var key, val []byte
		var name string
		var ts sql.NullInt64
		if err := rows.Scan(&key, &name, &val, &ts); err != nil {
			return false, readFailed(err)
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
		return false, readFailed(err)
	}
	return true, nil
}

// insertColumns are the values of one cell in upsertSQL.
const insertColumns = 6

// upsertSQL is an upsert of n cells: rows of one statement are applied in
// order, so a later cell for the same key and feature wins, as in Feast.
func upsertSQL(table string, n int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + table + " (entity_key, feature_name, value, value_text, event_ts, created_ts) VALUES (?, ?, ?, ?, ?, ?)")
	b.WriteString(strings.Repeat(", (?, ?, ?, ?, ?, ?)", n-1))
	b.WriteString(" ON CONFLICT(entity_key, feature_name) DO UPDATE SET value = excluded.value, value_text = excluded.value_text," +
		" event_ts = excluded.event_ts, created_ts = excluded.created_ts")
	return b.String()
}

// execer is what ensureTable needs of a *sql.DB or a *sql.Tx.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// EnsureTable creates a view's table as `feast apply` does.
func (s *Store) EnsureTable(ctx context.Context, view string) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.unlock()
	if err := s.file.check(); err != nil {
		return writeFailed(err)
	}
	if err := s.ensureTable(ctx, s.w, view); err != nil {
		return err
	}
	s.tableCreated(view)
	return nil
}

// tableCreated is called once view's table is committed: reads stop taking
// it as missing.
func (s *Store) tableCreated(view string) {
	s.tables.Add(1)
	s.missing.Delete(s.TableName(view))
}

func (s *Store) ensureTable(ctx context.Context, db execer, view string) error {
	t := s.TableName(view)
	_, err := db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+quote(t)+
		" (entity_key BLOB, feature_name TEXT, value BLOB, value_text TEXT, vector_value BLOB, event_ts timestamp, created_ts timestamp, PRIMARY KEY(entity_key, feature_name))")
	if err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, "CREATE INDEX IF NOT EXISTS "+quote(t+"_ek")+" ON "+quote(t)+" (entity_key)")
	return err
}

// lock takes the writers' queue, waiting in arrival order until ctx ends.
func (s *Store) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return core.Unavailable(err, "online store sqlite write not started")
	}
	select {
	case s.wlock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return core.Unavailable(ctx.Err(), "online store sqlite write not started: waited for earlier writes")
	}
}

func (s *Store) unlock() { <-s.wlock }

// writeFailed is the error of a failed write; a write the file refuses
// (SQLITE_READONLY) says so in words.
func writeFailed(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_READONLY {
		err = fmt.Errorf("%w (%v)", ErrReadOnly, err)
	}
	return core.Unavailable(err, "online store sqlite write failed")
}

// Write upserts every feature of every row (Feast's SQLite store keeps no
// timestamp dedup: last write wins), in transactions of at most
// writeChunkCells cells each; between two of them other writers run. It
// returns nil only once every row is committed to the file the path names.
// On error some chunks may be stored; writes are idempotent, so a retry of
// the whole batch is safe.
func (s *Store) Write(ctx context.Context, b onlinestore.WriteBatch) error {
	if len(b.Rows) == 0 {
		return nil
	}
	perChunk := max(1, writeChunkCells/max(1, len(b.Features)))
	for start := 0; start < len(b.Rows); start += perChunk {
		if err := s.writeChunk(ctx, b, b.Rows[start:min(start+perChunk, len(b.Rows))], start == 0); err != nil {
			return err
		}
	}
	return nil
}

// writeChunk writes rows in one transaction, creating the table first when
// first is set. The file is checked before the transaction and after its
// commit: a commit into a file the path no longer names is not confirmed.
func (s *Store) writeChunk(ctx context.Context, b onlinestore.WriteBatch, rows []onlinestore.WriteRow, first bool) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.unlock()
	if err := s.file.check(); err != nil {
		return writeFailed(err)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return writeFailed(err)
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit
	if first {
		if err := s.ensureTable(ctx, tx, b.View); err != nil {
			return writeFailed(err)
		}
	}
	table := quote(s.TableName(b.View))
	stmts := map[int]*sql.Stmt{} // by cells per statement: the full size and the remainder
	defer func() {
		for _, st := range stmts {
			_ = st.Close()
		}
	}()
	args := make([]any, 0, cellsPerStatement*insertColumns)
	flush := func() error {
		n := len(args) / insertColumns
		if n == 0 {
			return nil
		}
		st, ok := stmts[n]
		if !ok {
			var err error
			if st, err = tx.PrepareContext(ctx, upsertSQL(table, n)); err != nil {
				return err
			}
			stmts[n] = st
		}
		_, err := st.ExecContext(ctx, args...)
		args = args[:0]
		return err
	}
	for _, r := range rows {
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
			args = append(args, r.Key, f, r.Values[j], text, r.TS.Seconds, created)
			if len(args) == cap(args) {
				if err := flush(); err != nil {
					return writeFailed(err)
				}
			}
		}
	}
	if err := flush(); err != nil {
		return writeFailed(err)
	}
	if err := tx.Commit(); err != nil {
		return writeFailed(err)
	}
	if first {
		s.tableCreated(b.View)
	}
	if err := s.file.check(); err != nil && !errors.Is(err, ErrReadOnly) {
		return writeFailed(fmt.Errorf("rows committed into a file no longer at the path, not confirmed: %w", err))
	}
	return nil
}
