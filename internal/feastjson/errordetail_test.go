package feastjson

import (
	"testing"

	"github.com/feastgo/feastgo/core"
)

// The error detail is FeastError.to_error_detail(), printed by json.dumps:
// a backspace or form feed in a message is \b / \f there, not \u0008.
func TestErrorDetailIsJSONDumps(t *testing.T) {
	err := core.Invalidf("bad \b\f é 😀 \"q\"")
	want := `{"module": "builtins", "class": "ValueError", "message": "bad \b\f \u00e9 \ud83d\ude00 \"q\""}`
	if got := errorDetail(err); got != want {
		t.Errorf("errorDetail = %s\nwant           %s", got, want)
	}
}
