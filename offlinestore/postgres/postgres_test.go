package postgres

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/testenv"
	"github.com/feastgo/feastgo/offlinestore"
)

var day0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// table creates a fresh table of test rows and drops it afterwards.
func table(t *testing.T) (*pgxpool.Pool, string) {
	t.Helper()
	dsn := testenv.Service(t, "FEASTGO_TEST_POSTGRES")
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("offline_test_%d", time.Now().UnixNano())
	t.Cleanup(func() {
		if _, err := pool.Exec(context.Background(), "DROP TABLE IF EXISTS "+name); err != nil {
			t.Errorf("drop: %v", err)
		}
		pool.Close()
	})
	_, err = pool.Exec(ctx, `CREATE TABLE `+name+` (
		id bigint, team text, f4 real, f8 double precision, n int, b boolean, s text,
		arr double precision[], iarr bigint[], sarr text[], ts_naive timestamp, "Event TS" timestamptz, created timestamptz)`)
	if err != nil {
		t.Fatal(err)
	}
	h := func(n int) time.Time { return day0.Add(time.Duration(n) * time.Hour) }
	rows := []struct {
		id      int64
		f8      any
		ts      time.Time
		created any
	}{
		{1, 1.0, h(1), h(1)},
		{1, 2.0, h(3), h(3)},
		{2, 4.0, h(5), h(5)},
		{2, 5.0, h(5), h(6)},
		{2, 6.0, h(5), nil},
		{3, 7.0, h(30), h(30)},
		{4, 9.0, h(24), h(24)},
		{5, nil, h(0), h(0)},
		{5, math.NaN(), h(0).Add(time.Microsecond), h(0)},
	}
	for _, r := range rows {
		_, err := pool.Exec(ctx, `INSERT INTO `+name+` VALUES ($1, 'ml', 0.5, $2, 7, true, NULL, '{1.5,NULL}', '{}', '{"a",NULL}', $3, $4, $5)`,
			r.id, r.f8, r.ts.Add(-time.Hour), r.ts, r.created)
		if err != nil {
			t.Fatal(err)
		}
	}
	return pool, name
}

func TestPullLatest(t *testing.T) {
	pool, name := table(t)
	q := offlinestore.Query{
		Columns: []string{"id", "f8", "f4", "n", "b", "s", "arr", "iarr", "sarr", "ts_naive", "team"}, KeyColumns: 1,
		TimestampColumn: "Event TS", CreatedColumn: "created",
		Start: core.TimestampOf(day0), End: core.TimestampOf(day0.Add(24 * time.Hour)), BatchSize: 2,
	}
	for _, src := range []struct{ table, query string }{{name, ""}, {"", "SELECT * FROM " + name}} {
		s, err := New(pool, src.table, src.query)
		if err != nil {
			t.Fatal(err)
		}
		got := map[int64][]core.Value{}
		created := map[int64]core.Timestamp{}
		err = s.PullLatest(context.Background(), q, func(b *offlinestore.Batch) error {
			if b.Rows > 2 {
				t.Errorf("batch of %d rows", b.Rows)
			}
			for i := 0; i < b.Rows; i++ {
				r := append([]core.Value(nil), b.Row(i)...)
				for j := range r {
					r[j].List = append([]core.Value(nil), r[j].List...)
				}
				got[r[0].I] = r
				created[r[0].I] = b.Created[i]
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", s.Describe(), err)
		}
		want := map[int64]float64{1: 2, 2: 5, 4: 9}
		for id, f := range want {
			if r := got[id]; r == nil || r[1].F != f {
				t.Errorf("%s: key %d: %+v, want f8=%v", s.Describe(), id, r, f)
			}
		}
		if _, ok := got[3]; ok {
			t.Errorf("%s: key 3 is outside the window", s.Describe())
		}
		if r := got[5]; r == nil || !math.IsNaN(r[1].F) {
			t.Errorf("%s: key 5: want the NaN row (later event time), got %+v", s.Describe(), r)
		}
		r := got[1]
		if r[2].Type != core.Float || r[2].F != 0.5 || r[3].Type != core.Int32 || r[3].I != 7 || r[4].Type != core.Bool || r[4].I != 1 || !r[5].IsNull() {
			t.Errorf("scalar types: %+v", r[2:6])
		}
		if r[6].Type != core.DoubleList || len(r[6].List) != 2 || r[6].List[0].F != 1.5 || !r[6].List[1].IsNull() {
			t.Errorf("double[] with a null element: %+v", r[6])
		}
		if r[7].Type != core.Int64List || r[7].List == nil && len(r[7].List) != 0 {
			t.Errorf("empty bigint[]: %+v", r[7])
		}
		if r[8].Type != core.StringList || r[8].List[0].S != "a" || !r[8].List[1].IsNull() {
			t.Errorf("text[]: %+v", r[8])
		}
		if r[9].Type != core.UnixTimestamp || r[9].I != day0.Add(2*time.Hour).Unix() {
			t.Errorf("naive timestamp column: %+v", r[9])
		}
		if r[10].S != "ml" {
			t.Errorf("text: %+v", r[10])
		}
		if created[2] != core.TimestampOf(day0.Add(6*time.Hour)) {
			t.Errorf("key 2 created: %+v", created[2])
		}
	}
}

func TestEntitylessAndErrors(t *testing.T) {
	pool, name := table(t)
	s, err := New(pool, name, "")
	if err != nil {
		t.Fatal(err)
	}
	q := offlinestore.Query{Columns: []string{"f8"}, TimestampColumn: "Event TS",
		Start: core.TimestampOf(day0), End: core.TimestampOf(day0.Add(48 * time.Hour))}
	n := 0
	err = s.PullLatest(context.Background(), q, func(b *offlinestore.Batch) error {
		n += b.Rows
		if b.Rows == 1 && b.Row(0)[0].F != 7 {
			t.Errorf("entityless: %+v, want the latest row (f8=7)", b.Row(0))
		}
		return nil
	})
	if err != nil || n != 1 {
		t.Fatalf("entityless: %d rows, err %v", n, err)
	}
	q.Columns = []string{"missing"}
	err = s.PullLatest(context.Background(), q, func(*offlinestore.Batch) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing column: %v", err)
	}
	if _, err := New(pool, "", ""); err == nil {
		t.Error("a source needs a table or a query")
	}
}
