package config

import (
	"fmt"
	"strings"
)

// FieldError is one problem found in feature_store.yaml, naming the dotted field it concerns.
type FieldError struct {
	// Field is the dotted path of the offending key, e.g. "online_store.port"; empty for the whole file.
	Field string
	// Reason says what is wrong, e.g. "required" or "unknown key for redis online store".
	Reason string
	// Line is the 1-based line of the offending YAML node, or 0 when unknown.
	Line int
}

// Error renders the problem as "field: reason".
func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

// Errors is the list of every problem found while validating one feature_store.yaml.
type Errors []*FieldError

// Error renders a single problem as itself and several as a count followed by one line each.
func (es Errors) Error() string {
	if len(es) == 1 {
		return es[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d problems in feature_store.yaml:", len(es))
	for _, e := range es {
		b.WriteString("\n\t")
		if e.Line > 0 {
			fmt.Fprintf(&b, "line %d: ", e.Line)
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap exposes the individual problems to errors.Is and errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}
