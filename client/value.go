package client

import (
	"fmt"
	"time"
)

// Status is the field status Feast reports with each value.
type Status int32

// Statuses, numbered as in Feast's ServingService.proto.
const (
	StatusInvalid       Status = 0
	StatusPresent       Status = 1
	StatusNullValue     Status = 2
	StatusNotFound      Status = 3
	StatusOutsideMaxAge Status = 4
)

var statusNames = [...]string{"INVALID", "PRESENT", "NULL_VALUE", "NOT_FOUND", "OUTSIDE_MAX_AGE"}

// String returns the name Feast prints.
func (s Status) String() string {
	if s >= 0 && int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("Status(%d)", int32(s))
}

func parseStatus(name string) (Status, error) {
	for i, n := range statusNames {
		if n == name {
			return Status(i), nil
		}
	}
	return StatusInvalid, fmt.Errorf("unknown field status %q", name)
}

// Feature is one value of an answer with its status and event time.
//
// Value holds, whichever the transport:
//   - nil for a missing or null value;
//   - int64 for INT32, INT64 and UNIX_TIMESTAMP (seconds) values;
//   - float64 for FLOAT and DOUBLE (a FLOAT widened exactly, as Feast's
//     JSON prints it);
//   - string, bool; []byte over gRPC for BYTES, where the JSON API
//     sends the base64 text as a string;
//   - []any of those for lists and sets, map[string]any for maps and
//     structs.
type Feature struct {
	Value     any
	Status    Status
	EventTime time.Time
}

// OnlineResponse is the column-oriented answer to an online read: one
// column per requested feature (join keys first, as Feast answers), one
// entry per entity row.
type OnlineResponse struct {
	FeatureNames []string
	// Columns[i][row] is feature FeatureNames[i] of entity row row.
	Columns [][]Feature
}

// Rows returns the number of entity rows answered.
func (r *OnlineResponse) Rows() int {
	if len(r.Columns) == 0 {
		return 0
	}
	return len(r.Columns[0])
}

// Get returns feature name of entity row row; ok is false when the answer
// has no such column or row.
func (r *OnlineResponse) Get(row int, name string) (f Feature, ok bool) {
	for i, n := range r.FeatureNames {
		if n == name && i < len(r.Columns) && row >= 0 && row < len(r.Columns[i]) {
			return r.Columns[i][row], true
		}
	}
	return Feature{}, false
}

// Row returns the feature vector of entity row row by feature name.
func (r *OnlineResponse) Row(row int) map[string]Feature {
	out := make(map[string]Feature, len(r.FeatureNames))
	for i, n := range r.FeatureNames {
		if i < len(r.Columns) && row >= 0 && row < len(r.Columns[i]) {
			out[n] = r.Columns[i][row]
		}
	}
	return out
}
