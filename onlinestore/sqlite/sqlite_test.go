package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feastgo/feastgo/internal/testlog"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/onlinestore"
	"github.com/feastgo/feastgo/onlinestore/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (onlinestore.Store, onlinestore.Writer) {
		s, err := Open(filepath.Join(t.TempDir(), "online.db"), "proj")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s, s
	})
}

func openTest(t *testing.T, path string) (*Store, *testlog.Buffer) {
	t.Helper()
	logs := &testlog.Buffer{}
	s, err := New(Options{Path: path, Project: "proj", Log: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, logs
}

func int64Val(i int64) []byte { return core.AppendValueProto([]byte{}, core.Int64Value(i)) }

// batch is rows first..first+n-1 of view v with features a and b holding
// the entity id and tag.
func batch(first, n int, tag int64) onlinestore.WriteBatch {
	rows := make([]onlinestore.WriteRow, n)
	for i := range rows {
		id := int64(first + i)
		rows[i] = onlinestore.WriteRow{Key: storetest.Key(id), TS: core.Timestamp{Seconds: 1_700_000_000},
			Values: [][]byte{int64Val(id), int64Val(tag)}}
	}
	return onlinestore.WriteBatch{View: "v", Features: []string{"a", "b"}, Rows: rows}
}

func keys(first, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = storetest.Key(int64(first + i))
	}
	return out
}

// checkRows reads keys first..first+n-1 and requires each found with
// feature b == tag.
func checkRows(t *testing.T, s *Store, first, n int, tag int64) {
	t.Helper()
	reqs := []onlinestore.ReadRequest{{View: "v", Features: []string{"a", "b"}, Keys: keys(first, n)}}
	if err := s.Read(context.Background(), reqs); err != nil {
		t.Fatalf("Read of %d keys: %v", n, err)
	}
	for i, r := range reqs[0].Rows {
		id := int64(first + i)
		if !r.Found || !bytes.Equal(r.Values[0], int64Val(id)) || !bytes.Equal(r.Values[1], int64Val(tag)) {
			t.Fatalf("key %d: found=%v values=%x, want a=%d b=%d", id, r.Found, r.Values, id, tag)
		}
	}
}

func TestWALMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "online.db")
	s, _ := openTest(t, path)
	var mode string
	if err := s.w.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode %q (%v), want wal", mode, err)
	}
	if err := s.Write(context.Background(), batch(0, 10, 1)); err != nil {
		t.Fatal(err)
	}
	// Another process holds the write lock (as `feast materialize` does):
	// reads go on.
	other, err := sql.Open("sqlite", "file:"+path+"?_txlock=exclusive")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tx, err := other.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.Exec(`INSERT INTO "proj_v" (entity_key, feature_name) VALUES (x'00', 'a')`); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	reqs := []onlinestore.ReadRequest{{View: "v", Features: []string{"a", "b"}, Keys: keys(0, 10)}}
	if err := s.Read(ctx, reqs); err != nil {
		t.Fatalf("read while another connection holds the write lock: %v", err)
	}
}

// TestConcurrentWritersDuringLargeWrite: small writes issued while a large
// one runs are queued behind one of its chunks, not behind all of it, and
// none fails with "database is locked"; reads go on; every row is there.
func TestConcurrentWritersDuringLargeWrite(t *testing.T) {
	s, _ := openTest(t, filepath.Join(t.TempDir(), "online.db"))
	ctx := context.Background()
	big := 4 * writeChunkCells / 2 // four transactions of two-feature rows
	var bigErr error
	bigDone := make(chan struct{}) // closed when the large write returned bigErr
	go func() {
		defer close(bigDone)
		bigErr = s.Write(ctx, batch(0, big, 1))
	}()

	// Wait for the large write's first chunk to be readable: the write is
	// not one transaction.
	deadline := time.Now().Add(time.Minute)
	for {
		reqs := []onlinestore.ReadRequest{{View: "v", Features: []string{"a"}, Keys: keys(0, 1)}}
		if err := s.Read(ctx, reqs); err != nil {
			t.Fatalf("read during the large write: %v", err)
		}
		if reqs[0].Rows[0].Found {
			break
		}
		select {
		case <-bigDone:
			t.Fatalf("the large write ended (err %v) before any of its rows was readable: it holds the write lock for the whole frame", bigErr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("no row of the large write readable after a minute")
		}
		time.Sleep(time.Millisecond)
	}

	const writers, each = 4, 3
	var wg sync.WaitGroup
	var beforeBig atomic.Int64
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				first := big + (w*each+i)*10
				if err := s.Write(ctx, batch(first, 10, 2)); err != nil {
					errs <- err
					continue
				}
				select {
				case <-bigDone:
				default:
					beforeBig.Add(1)
				}
			}
		}()
	}
	stopReads := make(chan struct{})
	var readers sync.WaitGroup
	for range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stopReads:
					return
				default:
				}
				reqs := []onlinestore.ReadRequest{{View: "v", Features: []string{"a", "b"}, Keys: keys(0, 10)}}
				if err := s.Read(ctx, reqs); err != nil {
					errs <- fmt.Errorf("read: %w", err)
					return
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}
	wg.Wait()
	close(stopReads)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent with the large write: %v", err)
	}
	<-bigDone
	if bigErr != nil {
		t.Fatalf("large write: %v", bigErr)
	}
	if beforeBig.Load() == 0 {
		t.Error("no small write finished before the large write: writers did not interleave")
	}
	checkRows(t, s, 0, big, 1)
	checkRows(t, s, big, writers*each*10, 2)
}

// TestQueuedWriterHonoursDeadline: a writer waiting for the queue gives up
// at its context's deadline, with a deadline error (503), not after a
// busy timeout with "database is locked".
func TestQueuedWriterHonoursDeadline(t *testing.T) {
	s, _ := openTest(t, filepath.Join(t.TempDir(), "online.db"))
	if err := s.lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Write(ctx, batch(0, 1, 1))
	if !errors.Is(err, context.DeadlineExceeded) || core.KindOf(err) != core.KindUnavailable {
		t.Fatalf("queued write past its deadline: %v, want an Unavailable error wrapping context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("queued write gave up after %v", d)
	}
	s.unlock()
	if err := s.Write(context.Background(), batch(0, 1, 1)); err != nil {
		t.Fatalf("write once the queue is free: %v", err)
	}
}

// TestReadManyEntities: one read of more keys than SQLite takes bound
// variables in one statement.
func TestReadManyEntities(t *testing.T) {
	s, _ := openTest(t, filepath.Join(t.TempDir(), "online.db"))
	const n, every = 40_000, 97
	b := batch(0, n, 7)
	var stored []onlinestore.WriteRow
	for i := 0; i < n; i += every {
		stored = append(stored, b.Rows[i])
	}
	b.Rows = append(stored, b.Rows[n-1])
	if err := s.Write(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	reqs := []onlinestore.ReadRequest{{View: "v", Features: []string{"b", "a"}, Keys: keys(0, n)}}
	if err := s.Read(context.Background(), reqs); err != nil {
		t.Fatalf("Read of %d keys: %v", n, err)
	}
	if len(reqs[0].Rows) != n {
		t.Fatalf("%d rows for %d keys", len(reqs[0].Rows), n)
	}
	for i, r := range reqs[0].Rows {
		want := i%every == 0 || i == n-1
		if r.Found != want {
			t.Fatalf("key %d: found=%v, want %v", i, r.Found, want)
		}
		if want && (!bytes.Equal(r.Values[0], int64Val(7)) || !bytes.Equal(r.Values[1], int64Val(int64(i)))) {
			t.Fatalf("key %d: values %x", i, r.Values)
		}
	}
}

func wantFault(t *testing.T, what string, err, fault error) {
	t.Helper()
	if !errors.Is(err, fault) || core.KindOf(err) != core.KindUnavailable {
		t.Fatalf("%s: %v, want an Unavailable error wrapping %q", what, err, fault)
	}
}

func waitLog(t *testing.T, logs *testlog.Buffer, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * fileCheckInterval)
	for !strings.Contains(logs.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q; logs:\n%s", want, logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestReadOnlyFile: with the file made read-only, reads are served and
// writes refused with ErrReadOnly (also after a restart on the read-only
// file); once writable again, writes are accepted.
func TestReadOnlyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "online.db")
	s, logs := openTest(t, path)
	ctx := context.Background()
	if err := s.Write(ctx, batch(0, 100, 1)); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o444); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 25 {
				reqs := []onlinestore.ReadRequest{{View: "v", Features: []string{"a", "b"}, Keys: keys(0, 100)}}
				if err := s.Read(ctx, reqs); err != nil {
					errs <- fmt.Errorf("read: %w", err)
				} else if !reqs[0].Rows[99].Found {
					errs <- errors.New("read: a written row is missing")
				}
				errs <- s.Write(ctx, batch(1000, 5, 2))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err == nil || strings.HasPrefix(err.Error(), "read") {
			t.Fatalf("on a read-only file: read failed or write succeeded: %v", err)
		}
		wantFault(t, "write to a read-only file", err, ErrReadOnly)
	}
	waitLog(t, logs, "read-only")

	// A restart on the read-only file serves reads and refuses writes.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, _ := openTest(t, path)
	checkRows(t, s2, 0, 100, 1)
	wantFault(t, "write after a restart on a read-only file", s2.Write(ctx, batch(0, 1, 3)), ErrReadOnly)

	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s2.Write(ctx, batch(0, 1, 3)); err != nil {
		t.Fatalf("write once the file is writable again: %v", err)
	}
	checkRows(t, s2, 0, 1, 3)
}

// TestDeletedFileWritesRefused: with the file deleted (or replaced) while
// serving, no write is acknowledged into the unlinked file, the fault is
// logged, and reads go on from the open file.
func TestDeletedFileWritesRefused(t *testing.T) {
	for _, how := range []string{"deleted", "replaced"} {
		t.Run(how, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "online.db")
			s, logs := openTest(t, path)
			ctx := context.Background()
			if err := s.Write(ctx, batch(0, 100, 1)); err != nil {
				t.Fatal(err)
			}
			switch how {
			case "deleted":
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
			case "replaced":
				other := filepath.Join(dir, "other.db")
				o, err := Open(other, "proj")
				if err != nil {
					t.Fatal(err)
				}
				if err := o.Close(); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(other, path); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 20 {
				wantFault(t, fmt.Sprint("write ", i, " after the file was ", how), s.Write(ctx, batch(1000+i, 1, 2)), ErrFileGone)
			}
			wantFault(t, "EnsureTable after the file was "+how, s.EnsureTable(ctx, "w"), ErrFileGone)
			waitLog(t, logs, "deleted or replaced")
			checkRows(t, s, 0, 100, 1)
		})
	}
}

// Ping answers while the store is open, and also once the file is gone
// (reads go on from the open file); after Close it fails as unavailable.
func TestPing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "online.db")
	s, err := Open(path, "p")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(context.Background()); err != nil {
		t.Errorf("Ping after the file was deleted: %v (reads are still served)", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	storetest.CheckPingFails(t, "closed", s)
}

// HasRows tells a missing table and an empty one from a table with rows,
// for views whose names need quoting too.
func TestHasRows(t *testing.T) {
	s, _ := openTest(t, filepath.Join(t.TempDir(), "online.db"))
	ctx := context.Background()
	for _, view := range []string{"v", `odd "view" name`} {
		if ok, err := s.HasRows(ctx, view); ok || err != nil {
			t.Fatalf("%s: no table: %v %v", view, ok, err)
		}
		if err := s.EnsureTable(ctx, view); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.HasRows(ctx, view); ok || err != nil {
			t.Fatalf("%s: empty table: %v %v", view, ok, err)
		}
		b := batch(0, 1, 1)
		b.View = view
		if err := s.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.HasRows(ctx, view); !ok || err != nil {
			t.Fatalf("%s: one row: %v %v", view, ok, err)
		}
	}
	if ok, err := s.HasRows(ctx, "other"); ok || err != nil {
		t.Fatalf("another view: %v %v", ok, err)
	}
}

// A view whose table is missing reads as all-missing; the absence is
// remembered (for at most a second), yet a write this store acknowledged
// is read at once, and a table another process creates is seen within the
// second.
func TestMissingTableRemembered(t *testing.T) {
	path := filepath.Join(t.TempDir(), "online.db")
	s, _ := openTest(t, path)
	ctx := context.Background()
	read := func(view string) bool {
		t.Helper()
		reqs := []onlinestore.ReadRequest{{View: view, Features: []string{"a", "b"}, Keys: keys(0, 1)}}
		if err := s.Read(ctx, reqs); err != nil {
			t.Fatal(err)
		}
		return reqs[0].Rows[0].Found
	}
	for range 2 { // the second read is answered from the remembered absence
		if read("v") {
			t.Fatal("a missing table read as found")
		}
	}
	// Our own write: read at once.
	if err := s.Write(ctx, batch(0, 1, 7)); err != nil {
		t.Fatal(err)
	}
	if !read("v") {
		t.Fatal("an acknowledged write was read as missing")
	}

	// Another process creates a table: seen within missingTTL.
	if read("w") {
		t.Fatal("w found before it exists")
	}
	other, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for _, q := range []string{
		`CREATE TABLE proj_w (entity_key BLOB, feature_name TEXT, value BLOB, value_text TEXT, vector_value BLOB, event_ts timestamp, created_ts timestamp, PRIMARY KEY(entity_key, feature_name))`,
	} {
		if _, err := other.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := other.Exec(`INSERT INTO proj_w VALUES (?, 'a', ?, NULL, NULL, 1700000000, NULL)`, storetest.Key(0), int64Val(0)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(missingTTL + 2*time.Second)
	for !read("w") {
		if time.Now().After(deadline) {
			t.Fatalf("a table made by another process not seen within %v", missingTTL+2*time.Second)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
