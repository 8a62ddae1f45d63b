package transformations_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
)

type onlineJSON struct {
	Metadata struct {
		FeatureNames []string `json:"feature_names"`
	} `json:"metadata"`
	Results []struct {
		Values          []json.RawMessage `json:"values"`
		Statuses        []string          `json:"statuses"`
		EventTimestamps []string          `json:"event_timestamps"`
	} `json:"results"`
}

// diffOnline compares two /get-online-features answers column by column
// (matched by name: within-view order follows a Python set), values by
// exact JSON meaning: floats equal when they parse to the same double, and
// ints and floats are never interchangeable. It returns "" when equal.
func diffOnline(want, got []byte) string {
	var w, g onlineJSON
	if err := json.Unmarshal(want, &w); err != nil {
		return "golden: " + err.Error()
	}
	if err := json.Unmarshal(got, &g); err != nil {
		return "ours: " + err.Error()
	}
	if len(w.Metadata.FeatureNames) != len(g.Metadata.FeatureNames) {
		return fmt.Sprintf("columns %v, want %v", g.Metadata.FeatureNames, w.Metadata.FeatureNames)
	}
	byName := map[string]int{}
	for i, n := range g.Metadata.FeatureNames {
		byName[n] = i
	}
	for wi, n := range w.Metadata.FeatureNames {
		gi, ok := byName[n]
		if !ok {
			return fmt.Sprintf("column %q missing", n)
		}
		wc, gc := w.Results[wi], g.Results[gi]
		if !reflect.DeepEqual(wc.Statuses, gc.Statuses) || !reflect.DeepEqual(wc.EventTimestamps, gc.EventTimestamps) {
			return fmt.Sprintf("column %q: statuses/timestamps %v %v, want %v %v", n, gc.Statuses, gc.EventTimestamps, wc.Statuses, wc.EventTimestamps)
		}
		if len(wc.Values) != len(gc.Values) {
			return fmt.Sprintf("column %q: %d values, want %d", n, len(gc.Values), len(wc.Values))
		}
		for i := range wc.Values {
			if !sameJSONValue(wc.Values[i], gc.Values[i]) {
				return fmt.Sprintf("column %q row %d: got %s want %s", n, i, gc.Values[i], wc.Values[i])
			}
		}
	}
	return ""
}

func sameJSONValue(a, b json.RawMessage) bool {
	a, b = bytes.TrimSpace(a), bytes.TrimSpace(b)
	if bytes.Equal(a, b) {
		return true
	}
	isFloat := func(s []byte) bool {
		return bytes.ContainsAny(s, ".eE") || bytes.Contains(s, []byte("Infinity")) || bytes.Contains(s, []byte("NaN"))
	}
	if len(a) > 0 && (a[0] == '[') && len(b) > 0 && b[0] == '[' {
		var x, y []json.RawMessage
		if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameJSONValue(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	if isFloat(a) != isFloat(b) {
		return false
	}
	fa, err1 := strconv.ParseFloat(string(a), 64)
	fb, err2 := strconv.ParseFloat(string(b), 64)
	return err1 == nil && err2 == nil && fa == fb
}
