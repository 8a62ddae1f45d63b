package core

// FieldStatus is Feast's serving.FieldStatus.
type FieldStatus int32

// Field statuses, numbered as in ServingService.proto.
const (
	StatusInvalid       FieldStatus = 0
	StatusPresent       FieldStatus = 1
	StatusNullValue     FieldStatus = 2
	StatusNotFound      FieldStatus = 3
	StatusOutsideMaxAge FieldStatus = 4
)

var statusNames = [...]string{"INVALID", "PRESENT", "NULL_VALUE", "NOT_FOUND", "OUTSIDE_MAX_AGE"}

// String returns the enum name Feast prints in JSON.
func (s FieldStatus) String() string {
	if s >= 0 && int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "INVALID"
}

// Column is one output column of an online response: one entry per entity
// row. Exactly one of Typed and Raw is set.
type Column struct {
	Name string
	// Typed holds decoded values: join keys, request data, on-demand outputs.
	Typed []Value
	// Raw holds serialized feast.types.Value bytes as the store returned
	// them; nil or empty means null.
	Raw [][]byte
	// Status per row; nil means every row is PRESENT.
	Status []FieldStatus
	// TS per row; nil means every row has the epoch timestamp. Columns of
	// one feature view share the same slice.
	TS []Timestamp
}

// Len returns the number of rows of the column.
func (c *Column) Len() int {
	if c.Raw != nil {
		return len(c.Raw)
	}
	return len(c.Typed)
}

// StatusAt returns the status of row i.
func (c *Column) StatusAt(i int) FieldStatus {
	if c.Status == nil {
		return StatusPresent
	}
	return c.Status[i]
}

// TSAt returns the timestamp of row i.
func (c *Column) TSAt(i int) Timestamp {
	if c.TS == nil {
		return Timestamp{}
	}
	return c.TS[i]
}

// ViewMetadata names a feature view of the response and its version, for
// include_feature_view_version_metadata.
type ViewMetadata struct {
	Name    string
	Version int32
}

// OnlineResponse is the column-oriented answer to an online read.
type OnlineResponse struct {
	Columns      []Column
	ViewMetadata []ViewMetadata

	release func()
}

// OnRelease sets what Release does: hand the response's memory back to the
// pool it came from.
func (r *OnlineResponse) OnRelease(f func()) { r.release = f }

// Release tells the producer that the response (every Column and the bytes
// they reference) is no longer used, so its memory can serve a later
// request. A caller that cannot tell simply never calls it. Calling it on
// nil or twice is harmless.
func (r *OnlineResponse) Release() {
	if r == nil || r.release == nil {
		return
	}
	f := r.release
	r.release = nil
	f()
}
