package feastjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/historical"
	"github.com/feastgo/feastgo/internal/arrowval"
)

// ParseHistoricalRequest decodes a /get-historical-features body:
//
//	{"features": ["view:feature", ...] | "feature_service": "name",
//	 "full_feature_names": false,
//	 "entities": {"driver_id": [1001, 1002], "event_timestamp": ["2025-03-01T00:00:00Z", ...], "label": [...]}}
//
// or, instead of entities, Feast's range mode (get_historical_features
// with entity_df=None): "start_date" and/or "end_date", ISO 8601 strings
// (a time without offset is UTC; end_date defaults to now, start_date to
// end_date minus the views' largest ttl). Entities together with a date,
// neither, or a date that does not parse is a 400 naming the field.
//
// Each entity column becomes an Arrow column: integers int64, numbers
// with a fraction float64, booleans bool, strings utf8; a string column
// whose every value is an RFC 3339 time becomes timestamp[us, UTC] (so
// that the event time column is found as in a DataFrame). Nulls are
// allowed anywhere. The endpoint is ours, not Feast's: every mistake is an
// invalid-argument error (400) naming the field, unknown keys included.
func ParseHistoricalRequest(body []byte) (*historical.Request, error) {
	if !utf8.Valid(body) {
		return nil, core.Invalidf("request body: not valid UTF-8")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, core.Invalidf("request body: %v", err)
	}
	req := &historical.Request{}
	var entities json.RawMessage
	for k, v := range raw {
		var err error
		switch k {
		case "features":
			err = json.Unmarshal(v, &req.Features)
		case "feature_service":
			err = json.Unmarshal(v, &req.FeatureService)
		case "full_feature_names":
			err = json.Unmarshal(v, &req.FullFeatureNames)
		case "entities":
			entities = v
		case "start_date":
			req.StartDate, err = parseDate(v)
		case "end_date":
			req.EndDate, err = parseDate(v)
		default:
			return nil, core.Invalidf("%s: unknown field", k)
		}
		if err != nil {
			return nil, core.Invalidf("%s: %v", k, err)
		}
	}
	if len(req.Features) == 0 && req.FeatureService == "" {
		return nil, core.Invalidf("features: give features or feature_service")
	}
	if entities != nil && (req.StartDate != nil || req.EndDate != nil) {
		field := "start_date"
		if req.StartDate == nil {
			field = "end_date"
		}
		return nil, core.Invalidf("%s: give either entities or start_date/end_date, not both", field)
	}
	if entities == nil {
		if req.StartDate != nil || req.EndDate != nil {
			return req, nil
		}
		return nil, core.Invalidf("entities: required (the entity columns and the event timestamp column), or start_date/end_date for a range without entities")
	}
	frame, err := entityFrame(entities)
	if err != nil {
		return nil, err
	}
	req.Entities = frame
	return req, nil
}

// parseDate reads a start_date/end_date: an ISO 8601 string, or null
// (not given).
func parseDate(v json.RawMessage) (*time.Time, error) {
	var s *string
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, fmt.Errorf("expected an ISO 8601 date string")
	}
	if s == nil {
		return nil, nil
	}
	ts, err := core.ParseTime(*s)
	if err != nil {
		return nil, err
	}
	t := time.Unix(ts.Seconds, int64(ts.Nanos)).UTC()
	return &t, nil
}

// entityFrame decodes the entities object into an Arrow record, keeping
// the column order of the body.
func entityFrame(b json.RawMessage) (arrow.RecordBatch, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, core.Invalidf("entities: expected an object of columns")
	}
	var fields []arrow.Field
	var cols []arrow.Array
	release := func() {
		for _, c := range cols {
			c.Release()
		}
	}
	rows := -1
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			release()
			return nil, core.Invalidf("entities: %v", err)
		}
		name := tok.(string)
		if seen[name] {
			release()
			return nil, core.Invalidf("entities.%s: given twice", name)
		}
		seen[name] = true
		var vals []any
		if err := dec.Decode(&vals); err != nil {
			release()
			return nil, core.Invalidf("entities.%s: expected an array of values: %v", name, err)
		}
		if rows >= 0 && len(vals) != rows {
			release()
			return nil, core.Invalidf("entities.%s: %d values, but the columns before it have %d", name, len(vals), rows)
		}
		rows = len(vals)
		arr, err := entityColumn(vals)
		if err != nil {
			release()
			return nil, core.Invalidf("entities.%s: %v", name, err)
		}
		cols = append(cols, arr)
		fields = append(fields, arrow.Field{Name: name, Type: arr.DataType(), Nullable: true})
	}
	if len(cols) == 0 {
		return nil, core.Invalidf("entities: no columns")
	}
	rec := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, int64(rows))
	release()
	return rec, nil
}

// entityColumn types one column by its values.
func entityColumn(vals []any) (arrow.Array, error) {
	kind := ""
	for i, v := range vals {
		k := ""
		switch v := v.(type) {
		case nil:
			continue
		case json.Number:
			k = "int"
			if _, err := strconv.ParseInt(string(v), 10, 64); err != nil {
				k = "float"
			}
		case string:
			k = "string"
		case bool:
			k = "bool"
		default:
			return nil, fmt.Errorf("row %d: a %T is not an entity value (numbers, strings, booleans or null)", i, v)
		}
		switch {
		case kind == "" || kind == k:
			kind = k
		case kind == "int" && k == "float" || kind == "float" && k == "int":
			kind = "float"
		default:
			return nil, fmt.Errorf("row %d: a %s among %s values", i, k, kind)
		}
	}
	mem := memory.DefaultAllocator
	switch kind {
	case "int":
		b := array.NewInt64Builder(mem)
		defer b.Release()
		for _, v := range vals {
			if v == nil {
				b.AppendNull()
				continue
			}
			n, _ := strconv.ParseInt(string(v.(json.Number)), 10, 64)
			b.Append(n)
		}
		return b.NewArray(), nil
	case "float":
		b := array.NewFloat64Builder(mem)
		defer b.Release()
		for i, v := range vals {
			if v == nil {
				b.AppendNull()
				continue
			}
			f, err := strconv.ParseFloat(string(v.(json.Number)), 64)
			if err != nil {
				return nil, fmt.Errorf("row %d: %v", i, err)
			}
			b.Append(f)
		}
		return b.NewArray(), nil
	case "bool":
		b := array.NewBooleanBuilder(mem)
		defer b.Release()
		for _, v := range vals {
			if v == nil {
				b.AppendNull()
				continue
			}
			b.Append(v.(bool))
		}
		return b.NewArray(), nil
	}
	if kind == "string" {
		if ts, ok := rfc3339Column(vals); ok {
			return ts, nil
		}
	}
	b := array.NewStringBuilder(mem)
	defer b.Release()
	for _, v := range vals {
		if v == nil {
			b.AppendNull()
			continue
		}
		b.Append(v.(string))
	}
	return b.NewArray(), nil
}

// rfc3339Column is the column as timestamp[us, UTC] when every value is
// an RFC 3339 time.
func rfc3339Column(vals []any) (arrow.Array, bool) {
	b := array.NewTimestampBuilder(memory.DefaultAllocator, &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"})
	defer b.Release()
	for _, v := range vals {
		if v == nil {
			b.AppendNull()
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, v.(string))
		if err != nil {
			return nil, false
		}
		b.Append(arrow.Timestamp(t.UnixMicro()))
	}
	return b.NewArray(), true
}

// HistoricalEncoder writes a training set in the column-oriented JSON of
// /get-online-features:
//
//	{"metadata": {"feature_names": [every column]},
//	 "results": [{"values": [...], "statuses": ["PRESENT" | "NOT_FOUND", ...]}, ...]}
//
// one result per column, in the columns' order; a null is NOT_FOUND,
// timestamps are RFC 3339 strings in UTC, floats print as Python's repr
// (NaN as "NaN").
type HistoricalEncoder struct {
	names    []string
	values   [][]byte
	statuses [][]byte
	slab     []core.Value
}

// Add appends a batch's rows.
func (e *HistoricalEncoder) Add(rec arrow.RecordBatch) error {
	if e.names == nil {
		for _, f := range rec.Schema().Fields() {
			e.names = append(e.names, f.Name)
		}
		e.values = make([][]byte, len(e.names))
		e.statuses = make([][]byte, len(e.names))
	}
	for c := range e.names {
		arr := rec.Column(c)
		cell, _, err := arrowval.Cells(arr, &e.slab)
		if err != nil {
			return core.Invalidf("column %s: %v", e.names[c], err)
		}
		ts, _ := arr.(*array.Timestamp)
		for i := 0; i < arr.Len(); i++ {
			if len(e.values[c]) > 0 {
				e.values[c] = append(e.values[c], ',')
				e.statuses[c] = append(e.statuses[c], ',')
			}
			if arr.IsNull(i) {
				e.values[c] = append(e.values[c], "null"...)
				e.statuses[c] = append(e.statuses[c], `"NOT_FOUND"`...)
				continue
			}
			e.statuses[c] = append(e.statuses[c], `"PRESENT"`...)
			if ts != nil {
				t := ts.Value(i).ToTime(ts.DataType().(*arrow.TimestampType).Unit).UTC()
				e.values[c] = append(e.values[c], '"')
				e.values[c] = append(e.values[c], strings.Replace(t.Format(time.RFC3339Nano), "+00:00", "Z", 1)...)
				e.values[c] = append(e.values[c], '"')
				continue
			}
			v := cell(i)
			if (v.Type == core.Double || v.Type == core.Float) && math.IsNaN(v.F) {
				e.values[c] = append(e.values[c], `"NaN"`...)
				continue
			}
			e.values[c] = AppendValue(e.values[c], v)
		}
		e.slab = e.slab[:0]
	}
	return nil
}

// Finish appends the whole answer to dst.
func (e *HistoricalEncoder) Finish(dst []byte) []byte {
	dst = append(dst, `{"metadata":{"feature_names":`...)
	dst = AppendStringList(dst, e.names)
	dst = append(dst, `},"results":[`...)
	for c := range e.names {
		if c > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"values":[`...)
		dst = append(dst, e.values[c]...)
		dst = append(dst, `],"statuses":[`...)
		dst = append(dst, e.statuses[c]...)
		dst = append(dst, "]}"...)
	}
	return append(dst, "]}"...)
}
