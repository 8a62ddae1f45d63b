package postgres

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/offlinestore"
)

// awkward are names and strings JSON must carry unchanged: control
// characters, DEL, non-ASCII, quotes and backslashes, line and paragraph
// separators. python is how Python's json.dumps (what Feast hands
// PostgreSQL, and what pyarrow's JSON reader reads) writes each one.
var awkward = []struct{ s, python string }{
	{"a\x01b", `"a\u0001b"`},
	{"tab\there", `"tab\there"`},
	{"del\x7f", `"del\u007f"`},
	{"é€😀", `"\u00e9\u20ac\ud83d\ude00"`},
	{`q"b\s`, `"q\"b\\s"`},
	{"nb\u00a0sp\u2028ls", `"nb\u00a0sp\u2028ls"`},
	{"\x1b[0m", `"\u001b[0m"`},
}

// RowsJSON is read by PostgreSQL's JSON parser: every column name and
// string must be valid JSON that decodes to exactly what Python's
// json.dumps of the same string decodes to.
func TestRowsJSONIsJSON(t *testing.T) {
	var rows offlinestore.Rows
	for _, a := range awkward {
		rows.Columns = append(rows.Columns, offlinestore.Column{Name: a.s, Values: []core.Value{core.StringValue(a.s)}})
	}
	out := RowsJSON(rows)
	if !json.Valid(out) {
		t.Fatalf("not JSON: %s", out)
	}
	var got []map[string]string
	if err := json.Unmarshal(out, &got); err != nil || len(got) != 1 {
		t.Fatalf("%s: %v", out, err)
	}
	for _, a := range awkward {
		var want string
		if err := json.Unmarshal([]byte(a.python), &want); err != nil {
			t.Fatal(err)
		}
		if v, ok := got[0][want]; !ok || v != want {
			t.Errorf("%q: column %q missing or value %q (JSON %s)", a.s, want, v, out)
		}
	}
}

// A column whose name needs escaping is appended to, not refused with a
// JSON syntax error.
func TestAppendToColumnsWithAwkwardNames(t *testing.T) {
	var defs []string
	var cols []offlinestore.Column
	for i, a := range awkward {
		if strings.ContainsRune(a.s, 0) {
			continue
		}
		defs = append(defs, `"`+strings.ReplaceAll(a.s, `"`, `""`)+`" text`)
		cols = append(cols, offlinestore.Column{Name: a.s, Values: []core.Value{core.StringValue(fmt.Sprint(i) + a.s)}})
	}
	pool, e, table := emptyTable(t, strings.Join(defs, ", "))
	if err := appendRows(t, e, table, offlinestore.Rows{Columns: cols}); err != nil {
		t.Fatal(err)
	}
	for _, c := range cols {
		var got string
		q := `SELECT "` + strings.ReplaceAll(c.Name, `"`, `""`) + `" FROM ` + table
		if err := pool.QueryRow(t.Context(), q).Scan(&got); err != nil || got != c.Values[0].S {
			t.Errorf("column %q: %q, %v; want %q", c.Name, got, err, c.Values[0].S)
		}
	}
}

// Invalid UTF-8 (a bytes value, say) becomes U+FFFD, as encoding/json
// writes it, rather than a \xff escape JSON does not have.
func TestRowsJSONInvalidUTF8(t *testing.T) {
	rows := offlinestore.Rows{Columns: []offlinestore.Column{{Name: "b", Values: []core.Value{{Type: core.Bytes, S: "ok\xff\xfe!"}}}}}
	out := RowsJSON(rows)
	want, _ := json.Marshal([]map[string]string{{"b": "ok\xff\xfe!"}})
	if !json.Valid(out) || string(out) != string(want) {
		t.Errorf("got %s, want %s", out, want)
	}
}
