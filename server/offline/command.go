package offline

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/offlinestore"
)

// The APIs of Feast 0.67's offline_server.py, named as the "api" field of
// a command names them.
const (
	apiHistorical  = "get_historical_features"
	apiPullLatest  = "pull_latest_from_table_or_query"
	apiPullAll     = "pull_all_from_table_or_query"
	apiColumns     = "get_table_column_names_and_types_from_data_source"
	apiWriteBatch  = "offline_write_batch"
	apiWriteLogged = "write_logged_features"
	apiPersist     = "persist"
	apiValidate    = "validate_data_source"
)

// command is the JSON document in a FlightDescriptor's cmd: "command_id",
// "api" and the API's parameters, each decoded on demand so that a missing
// or mistyped one is an error naming it.
type command struct {
	raw    []byte
	api    string
	fields map[string]json.RawMessage
}

// parseCommand decodes a descriptor's cmd.
func parseCommand(cmd []byte) (*command, error) {
	if len(cmd) == 0 {
		return nil, core.Invalidf("descriptor: a command descriptor (JSON with \"api\") is required")
	}
	c := &command{raw: cmd}
	if err := json.Unmarshal(cmd, &c.fields); err != nil {
		return nil, core.Invalidf("descriptor: the command is not a JSON object: %v", err)
	}
	if err := c.get("api", &c.api); err != nil {
		return nil, err
	}
	return c, nil
}

// has reports whether the parameter is present and not null.
func (c *command) has(name string) bool {
	v, ok := c.fields[name]
	return ok && string(v) != "null"
}

// get decodes a mandatory parameter; null counts as present for pointer
// and interface destinations only.
func (c *command) get(name string, dst any) error {
	v, ok := c.fields[name]
	if !ok {
		return core.Errorf(core.KindInvalidArgument, "AssertionError", "%s is a mandatory parameter", name)
	}
	if err := json.Unmarshal(v, dst); err != nil {
		return core.Errorf(core.KindInvalidArgument, "TypeError", "parameter %s: %s is not %s", name, v, kindOf(dst))
	}
	return nil
}

func kindOf(dst any) string {
	switch dst.(type) {
	case *string:
		return "a string"
	case *bool:
		return "a boolean"
	case *[]string:
		return "a list of strings"
	case *[]*string:
		return "a list of strings or nulls"
	case **string:
		return "a string or null"
	}
	return fmt.Sprintf("a %T", dst)
}

// strings decodes a mandatory list of strings.
func (c *command) strings(name string) ([]string, error) {
	var out []string
	if err := c.get(name, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// optString decodes a mandatory parameter that may be null ("").
func (c *command) optString(name string) (string, error) {
	var s *string
	if err := c.get(name, &s); err != nil {
		return "", err
	}
	if s == nil {
		return "", nil
	}
	return *s, nil
}

// time decodes an ISO 8601 time (Python's datetime.isoformat(); naive is
// UTC, as Feast's make_tzaware reads it). A null is open unless required.
func (c *command) time(name string, open core.Timestamp, required bool) (core.Timestamp, error) {
	s, err := c.optString(name)
	if err != nil {
		return core.Timestamp{}, err
	}
	if s == "" {
		if required {
			return core.Timestamp{}, core.Errorf(core.KindInvalidArgument, "TypeError", "parameter %s: a time is required, got null", name)
		}
		return open, nil
	}
	t, err := core.ParseTime(s)
	if err != nil {
		return core.Timestamp{}, core.Errorf(core.KindInvalidArgument, "ValueError", "parameter %s: Invalid isoformat string: %q", name, s)
	}
	return t, nil
}

// date decodes an optional ISO 8601 time: absent or null is nil.
func (c *command) date(name string) (*time.Time, error) {
	if !c.has(name) {
		return nil, nil
	}
	ts, err := c.time(name, core.Timestamp{}, true)
	if err != nil {
		return nil, err
	}
	t := time.Unix(ts.Seconds, int64(ts.Nanos)).UTC()
	return &t, nil
}

// pullQuery decodes the parameters of pull_latest_from_table_or_query and
// pull_all_from_table_or_query: the data source's name and the query.
func (c *command) pullQuery(latest bool) (string, offlinestore.Query, error) {
	var q offlinestore.Query
	var name string
	if err := c.get("data_source_name", &name); err != nil {
		return "", q, err
	}
	keys, err := c.strings("join_key_columns")
	if err != nil {
		return "", q, err
	}
	feats, err := c.strings("feature_name_columns")
	if err != nil {
		return "", q, err
	}
	if err := c.get("timestamp_field", &q.TimestampColumn); err != nil {
		return "", q, err
	}
	if q.TimestampColumn == "" {
		return "", q, core.Invalidf("parameter timestamp_field: must not be empty")
	}
	if q.CreatedColumn, err = c.optString("created_timestamp_column"); err != nil {
		return "", q, err
	}
	if q.Start, err = c.time("start_date", offlinestore.OpenStart, latest); err != nil {
		return "", q, err
	}
	if q.End, err = c.time("end_date", offlinestore.OpenEnd, latest); err != nil {
		return "", q, err
	}
	q.Columns = append(append([]string(nil), keys...), feats...)
	q.KeyColumns = len(keys)
	for _, col := range q.Columns {
		if strings.TrimSpace(col) == "" {
			return "", q, core.Invalidf("parameter join_key_columns/feature_name_columns: a column name is empty")
		}
	}
	return name, q, nil
}
