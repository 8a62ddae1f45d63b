package feastjson

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// goldenDir holds Feast 0.67's recorded answers (see server/golden_test.go).
var goldenDir = filepath.Join("..", "..", "server", "testdata", "golden", "sqlite")

// Every 422 Feast answered for a /get-online-features body of the golden
// cases is what AppendValidationError prints for the parser's error.
func TestValidationErrorsLikeFeast(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		var g struct {
			Request json.RawMessage  `json:"request"`
			Path    string           `json:"path"`
			Headers *json.RawMessage `json:"headers"`
			Status  int              `json:"status"`
			Body    json.RawMessage  `json:"body"`
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &g); err != nil {
			t.Fatal(err)
		}
		if g.Status != 422 || g.Path != "" || g.Headers != nil {
			continue // another route, or a content type the server checks
		}
		body := []byte(g.Request)
		var s string
		if json.Unmarshal(g.Request, &s) == nil {
			body = []byte(s) // a malformed body sent verbatim
		}
		if string(g.Request) == "null" {
			body = nil
		}
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			m := AcquireRequestMem()
			defer m.Release()
			_, err := ParseOnlineRequest(body, m)
			if err == nil {
				t.Fatalf("%s: parsed", body)
			}
			got := AppendValidationError(nil, body, err)
			var x, y any
			if json.Unmarshal(got, &x) != nil || json.Unmarshal(g.Body, &y) != nil || !reflect.DeepEqual(x, y) {
				t.Fatalf("got  %s\nwant %s", got, bytes.Join(bytes.Fields(g.Body), nil))
			}
		})
		n++
	}
	if n < 8 {
		t.Fatalf("only %d golden 422 cases found", n)
	}
}

// A body sent without a JSON content type is echoed as the string the
// model was given.
func TestNotJSONError(t *testing.T) {
	got := string(AppendValidationError(nil, nil, NotJSONError([]byte(`{"a": "é"}`))))
	want := `{"detail":[{"type":"model_attributes_type","loc":["body"],"msg":"Input should be a valid dictionary or object to extract fields from","input":"{\"a\": \"é\"}"}]}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// An entity integer over 64 bits is Feast's 400 naming the column, not a
// 422: the value would become an INT64.
func TestEntityIntOverflowIsInvalidArgument(t *testing.T) {
	m := AcquireRequestMem()
	defer m.Release()
	_, err := ParseOnlineRequest([]byte(`{"features": [], "entities": {"id": [1, 99999999999999999999]}}`), m)
	if err == nil || err.Error() != "entities.id: integer 99999999999999999999 does not fit in 64 bits" {
		t.Fatalf("got %v", err)
	}
}

// Feast's error body: the detail object, with Python's separators and
// ensure_ascii, encoded once more as a JSON string.
func TestAppendErrorBody(t *testing.T) {
	got := string(AppendErrorBody(nil, errString("bad \"é\"\n\U0001F600")))
	want := `"{\"module\": \"feast.errors\", \"class\": \"FeastError\", \"message\": \"bad \\\"\\u00e9\\\"\\n\\ud83d\\ude00\"}"`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

type errString string

func (e errString) Error() string { return string(e) }
