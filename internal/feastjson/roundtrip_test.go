package feastjson

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/online"
)

// parseValue reads b as one JSON value, the whole of b.
func parseValue(b []byte) (core.Value, error) {
	p := &parser{b: b}
	v, err := p.value(0)
	if err == nil && p.peek() != 0 {
		err = p.fail("Extra data")
	}
	return v, err
}

// plain reports whether v prints as itself: no NaN or infinity (printed
// as strings, as Feast does), no object (not a value Feast answers with)
// and no list without a list type (an empty or all-null one, or a list of
// lists inside a list, which Feast's type inference cannot type).
func plain(v core.Value) bool {
	switch {
	case v.Type == objectType:
		return false
	case v.Type == core.Double && (math.IsNaN(v.F) || math.IsInf(v.F, 0)):
		return false
	case v.Type.IsList():
		for _, e := range v.List {
			if !plain(e) {
				return false
			}
		}
		return true
	case v.List != nil || v.Type == core.UntypedList:
		return false
	}
	return true
}

// checkValueRoundTrip checks, for a value read from JSON, that its printed
// form is JSON, reads back, prints the same again (the printed form is a
// fixed point) and, for a plain value, reads back as the value itself.
func checkValueRoundTrip(t *testing.T, v core.Value) {
	t.Helper()
	out := AppendValue(nil, v)
	if !json.Valid(out) {
		t.Fatalf("AppendValue(%+v) = %s: not JSON", v, out)
	}
	back, err := parseValue(out)
	if err != nil {
		t.Fatalf("AppendValue(%+v) = %s: does not parse: %v", v, out, err)
	}
	if again := AppendValue(nil, back); !bytes.Equal(again, out) {
		t.Fatalf("%s read back prints %s", out, again)
	}
	if plain(v) && !reflect.DeepEqual(normal(back), normal(v)) {
		t.Fatalf("%s read back as %+v, want %+v", out, back, v)
	}
}

// normal makes an empty list and a nil one the same, for comparison.
func normal(v core.Value) core.Value {
	if len(v.List) == 0 {
		v.List = nil
		return v
	}
	l := make([]core.Value, len(v.List))
	for i, e := range v.List {
		l[i] = normal(e)
	}
	v.List = l
	return v
}

var valueSeeds = []string{
	`1`, `-0`, `0.5`, `-0.0`, `1e400`, `-1e400`, `1E-7`, `123456789012345678901234567890`, `9223372036854775807`,
	`"a\"b\\c\n\u0001é\ud83d\ude00\ud800"`, `true`, `false`, `null`, `NaN`, `Infinity`, `-Infinity`,
	`[1, 2, 3]`, `[1.5, null, 2]`, `[]`, `[null]`, `["a", 1]`, `[[1], [2, 3]]`, `[[[1]]]`, `[true, 0]`,
	`{"b": 1, "a": [1, {"x": null}], "b": 2}`, `{}`, `[{"k": "v"}]`,
}

func TestValueRoundTrip(t *testing.T) {
	for _, s := range valueSeeds {
		t.Run(s, func(t *testing.T) {
			v, err := parseValue([]byte(s))
			if err != nil {
				t.Fatal(err)
			}
			checkValueRoundTrip(t, v)
		})
	}
}

// The printed form of each kind of value, as Feast's server prints it.
func TestAppendValueLikeFeast(t *testing.T) {
	for in, want := range map[string]string{
		`1`: `1`, `1.0`: `1.0`, `1e16`: `1e+16`, `0.1`: `0.1`, `-0.0`: `-0.0`, `NaN`: `"NaN"`, `-Infinity`: `"-Infinity"`,
		`"é\u0000"`: `"é\u0000"`, `[1,null,"a"]`: `[1,null,"a"]`, `[]`: `null`, `{"a":1}`: `null`, `true`: `true`,
	} {
		v, err := parseValue([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		if got := string(AppendValue(nil, v)); got != want {
			t.Errorf("%s printed %s, want %s", in, got, want)
		}
	}
}

func FuzzValueRoundTrip(f *testing.F) {
	for _, s := range valueSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !utf8.Valid(b) {
			return // the server refuses such a body before parsing it
		}
		v, err := parseValue(b)
		if err != nil {
			checkValidationError(t, b, err)
			return
		}
		checkValueRoundTrip(t, v)
	})
}

// checkValidationError checks the 422 body of a parse error: pydantic's
// shape, one detail with a type, a location starting at the body and a
// message. It is JSON unless it echoes a NaN or an infinity, which
// Python's json prints bare as well.
func checkValidationError(t *testing.T, body []byte, err error) {
	t.Helper()
	out := AppendValidationError(nil, body, err)
	var d struct {
		Detail []struct {
			Type string `json:"type"`
			Loc  []any  `json:"loc"`
			Msg  string `json:"msg"`
		} `json:"detail"`
	}
	if e := json.Unmarshal(out, &d); e != nil {
		if bytes.Contains(out, []byte("NaN")) || bytes.Contains(out, []byte("Infinity")) {
			return
		}
		t.Fatalf("422 body for %v is not JSON (%v): %s", err, e, out)
	}
	if len(d.Detail) != 1 || d.Detail[0].Type == "" || d.Detail[0].Msg == "" || len(d.Detail[0].Loc) == 0 {
		t.Fatalf("422 body for %v lacks pydantic's shape: %s", err, out)
	}
	if loc := d.Detail[0].Loc[0]; loc != "body" && loc != "query" {
		t.Fatalf("422 body for %v: location %v does not start at the body: %s", err, d.Detail[0].Loc, out)
	}
}

// appendColumns prints columns as the JSON object a request carries.
func appendColumns(b []byte, cols []online.Column) []byte {
	b = append(b, '{')
	for i, c := range cols {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(AppendString(b, c.Name), ':')
		b = AppendValue(b, core.Value{Type: core.Int64List, List: c.Values})
	}
	return append(b, '}')
}

func plainColumns(cols []online.Column) bool {
	for _, c := range cols {
		for _, v := range c.Values {
			if !plain(v) {
				return false
			}
		}
	}
	return true
}

// appendOnlineRequest prints a request as a /get-online-features body.
func appendOnlineRequest(b []byte, r *online.Request) []byte {
	b = append(b, `{"features":`...)
	if r.Features == nil {
		b = append(b, "null"...)
	} else {
		b = AppendStringList(b, r.Features)
	}
	b = append(b, `,"feature_service":`...)
	b = AppendString(b, r.FeatureService)
	b = append(b, `,"entities":`...)
	b = appendColumns(b, r.Entities)
	b = append(b, `,"full_feature_names":`...)
	b = appendBool(b, r.FullFeatureNames)
	b = append(b, `,"include_feature_view_version_metadata":`...)
	b = appendBool(b, r.IncludeViewMetadata)
	return append(b, '}')
}

var onlineSeeds = []string{
	`{"features": ["v:a", "v:b"], "entities": {"id": [1, 2, 3]}}`,
	`{"feature_service": "svc", "entities": {"id": [1], "s": ["x"]}, "full_feature_names": "yes"}`,
	`{"features": ["v:a"], "entities": {"id": [[1.5, 2], []], "o": [{"a": 1}]}, "include_feature_view_version_metadata": 1}`,
	`{"features": ["a\u00e9"], "entities": {"\"": [true, null, NaN]}}`,
	`{"features": ["v:a"], "entities": {"id": [99999999999999999999]}}`,
	`{"entities": 5}`, `[]`, `{`, ``, `{"features": "x"}`, `{"features": [1], "entities": {}}`, `{"entities": {"a": 1}}`,
	`{"features": null, "entities": {}, "x": [1, {"y": 2}]} `, `{"features": ["v:a"]}`,
}

// A /get-online-features body read, printed and read again is the same
// request; every refusal is Feast's 400 naming the column or FastAPI's 422.
func FuzzParseOnlineRequest(f *testing.F) {
	for _, s := range onlineSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !utf8.Valid(body) {
			return
		}
		m := AcquireRequestMem()
		defer m.Release()
		req, err := ParseOnlineRequest(body, m)
		if err != nil {
			checkParseError(t, body, err, "entities.")
			return
		}
		if !plainColumns(req.Entities) {
			return
		}
		out := appendOnlineRequest(nil, req)
		if !json.Valid(out) {
			t.Fatalf("%s printed as %s: not JSON", body, out)
		}
		m2 := AcquireRequestMem()
		defer m2.Release()
		back, err := ParseOnlineRequest(out, m2)
		if err != nil {
			t.Fatalf("%s printed as %s, which does not parse: %v", body, out, err)
		}
		if !reflect.DeepEqual(normalRequest(back), normalRequest(req)) {
			t.Fatalf("%s printed as %s reads back as %+v, want %+v", body, out, back, req)
		}
	})
}

// checkParseError checks a parser's refusal: a core invalid-argument error
// whose message names a field under prefix, or a 422 of pydantic's shape.
func checkParseError(t *testing.T, body []byte, err error, prefix string) {
	t.Helper()
	if core.KindOf(err) == core.KindInvalidArgument {
		if msg := err.Error(); len(msg) <= len(prefix) || msg[:len(prefix)] != prefix {
			t.Fatalf("400 for %q does not name a field under %q: %v", body, prefix, err)
		}
		return
	}
	checkValidationError(t, body, err)
}

func normalRequest(r *online.Request) online.Request {
	out := *r
	out.Entities = make([]online.Column, len(r.Entities))
	for i, c := range r.Entities {
		v := normal(core.Value{List: c.Values})
		out.Entities[i] = online.Column{Name: c.Name, Values: v.List}
	}
	if len(out.Entities) == 0 {
		out.Entities = nil
	}
	return out
}

var writeSeeds = []string{
	`{"push_source_name": "p", "df": {"id": [1, 2], "ts": ["2025-01-02 00:00:00"]}, "to": "online"}`,
	`{"push_source_name": "p", "df": {"m": [{"b": 1, "a": {"x": [1, 2]}}, null]}, "allow_registry_cache": "no"}`,
	`{"push_source_name": "p", "df": {"x": 1}}`, `{"push_source_name": 1, "df": {}}`, `{"df": {}}`,
	`{"push_source_name": "p", "df": {"id": [18446744073709551616]}, "transform_on_write": 0}`,
}

// A write body read, printed and read again is the same request.
func FuzzParseWriteRequest(f *testing.F) {
	for _, s := range writeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !utf8.Valid(body) {
			return
		}
		req, err := ParseWriteRequest(body, "push_source_name", true)
		if err != nil {
			checkParseError(t, body, err, "df.")
			return
		}
		cols := make([]online.Column, len(req.Frame.Columns))
		for i, c := range req.Frame.Columns {
			cols[i] = online.Column(c)
		}
		if !plainColumns(cols) {
			return
		}
		out := append(AppendString(append([]byte(nil), `{"push_source_name":`...), req.Name), `,"to":`...)
		out = append(AppendString(out, req.To), `,"allow_registry_cache":`...)
		out = append(appendBool(out, req.Opts.AllowRegistryCache), `,"transform_on_write":`...)
		out = append(appendBool(out, req.Opts.Transform), `,"df":`...)
		out = append(appendColumns(out, cols), '}')
		back, err := ParseWriteRequest(out, "push_source_name", true)
		if err != nil {
			t.Fatalf("%s printed as %s, which does not parse: %v", body, out, err)
		}
		for i := range back.Frame.Columns {
			back.Frame.Columns[i].Values = normal(core.Value{List: back.Frame.Columns[i].Values}).List
		}
		for i := range req.Frame.Columns {
			req.Frame.Columns[i].Values = normal(core.Value{List: req.Frame.Columns[i].Values}).List
		}
		if len(back.Frame.Columns) == 0 {
			back.Frame.Columns = req.Frame.Columns[:0:0]
		}
		if len(req.Frame.Columns) == 0 {
			req.Frame.Columns = back.Frame.Columns
		}
		if !reflect.DeepEqual(back, req) {
			t.Fatalf("%s printed as %s reads back as %+v, want %+v", body, out, back, req)
		}
	})
}

var materializeSeeds = []string{
	`{"start_ts": "2025-01-01", "end_ts": "2025-01-08", "feature_views": ["a", "b"]}`,
	`{"end_ts": "2025-01-08", "feature_views": [], "disable_event_timestamp": "true", "version": "v2"}`,
	`{"feature_views": "a"}`, `{"feature_views": ["a", 1]}`, `{"start_ts": 5}`, `{"disable_event_timestamp": 2}`, `null`,
}

// A materialize body read, printed and read again is the same request.
func FuzzParseMaterializeRequest(f *testing.F) {
	for _, s := range materializeSeeds {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, body []byte, incremental bool) {
		if !utf8.Valid(body) {
			return
		}
		req, err := ParseMaterializeRequest(body, incremental)
		if err != nil {
			checkValidationError(t, body, err)
			return
		}
		optStr := func(b []byte, s *string) []byte {
			if s == nil {
				return append(b, "null"...)
			}
			return AppendString(b, *s)
		}
		out := append([]byte(nil), `{"start_ts":`...)
		out = append(optStr(out, req.StartTS), `,"end_ts":`...)
		out = append(optStr(out, req.EndTS), `,"version":`...)
		out = append(optStr(out, req.Version), `,"disable_event_timestamp":`...)
		out = append(appendBool(out, req.DisableEventTS), `,"feature_views":`...)
		if req.HasViews {
			out = AppendStringList(out, req.Views)
		} else {
			out = append(out, "null"...)
		}
		out = append(out, '}')
		back, err := ParseMaterializeRequest(out, incremental)
		if err != nil {
			t.Fatalf("%s printed as %s, which does not parse: %v", body, out, err)
		}
		if !reflect.DeepEqual(back, req) {
			t.Fatalf("%s printed as %s reads back as %+v, want %+v", body, out, back, req)
		}
	})
}
