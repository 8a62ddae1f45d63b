package materialize

import (
	"fmt"
	"sort"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/pyconv"
	"github.com/feastgo/feastgo/offlinestore"
	"github.com/feastgo/feastgo/onlinestore"
	"github.com/feastgo/feastgo/registry"
	"github.com/feastgo/feastgo/typemap"
)

// viewCodec turns pulled rows of one view into online rows.
type viewCodec struct {
	view     string
	features []string         // feature names, in the view's order
	featType []core.ValueType // declared types
	featCol  []string         // source column of each feature, for errors
	keys     []keyColumn      // join keys sorted by name, as Feast serializes them
	version  int
	// fixedKey is the serialized key of an entityless view.
	fixedKey []byte
}

type keyColumn struct {
	name string
	typ  core.ValueType
	col  int // index in the pulled row
}

// newViewCodec builds the codec of a view and the query that pulls its
// columns. Source column names come from the batch source's field_mapping
// run backwards, as Feast's _get_column_names does.
func newViewCodec(v *registry.View, version int) (*viewCodec, offlinestore.Query, error) {
	ds := v.BatchSource
	if ds == nil {
		return nil, offlinestore.Query{}, core.Invalidf("Feature view '%s' has no batch_source and cannot be materialized.", v.Name)
	}
	reverse := map[string]string{}
	for src, dst := range ds.GetFieldMapping() {
		reverse[dst] = src
	}
	col := func(name string) string {
		if s, ok := reverse[name]; ok {
			return s
		}
		return name
	}
	c := &viewCodec{view: v.Name, version: version}
	var q offlinestore.Query
	for _, k := range v.EntityColumns {
		if k.Name == registry.DummyJoinKey {
			continue
		}
		c.keys = append(c.keys, keyColumn{name: k.Name, typ: k.Type, col: len(q.Columns)})
		q.Columns = append(q.Columns, col(k.Name))
	}
	q.KeyColumns = len(q.Columns)
	sort.Slice(c.keys, func(i, j int) bool { return c.keys[i].name < c.keys[j].name })
	if len(c.keys) == 0 {
		var err error
		c.fixedKey, err = onlinestore.AppendEntityKey(nil, []onlinestore.KeyPart{{Name: registry.DummyJoinKey, Value: core.StringValue("")}}, version)
		if err != nil {
			return nil, q, err
		}
	}
	for _, f := range v.Features {
		c.features = append(c.features, f.Name)
		c.featType = append(c.featType, f.Type)
		c.featCol = append(c.featCol, col(f.Name))
		q.Columns = append(q.Columns, col(f.Name))
	}
	q.TimestampColumn = col(ds.GetTimestampField())
	if ds.GetCreatedTimestampColumn() != "" {
		q.CreatedColumn = col(ds.GetCreatedTimestampColumn())
	}
	if q.TimestampColumn == "" {
		return nil, q, core.Invalidf("Feature view '%s': its batch source has no timestamp_field.", v.Name)
	}
	return c, q, nil
}

// rowBuf holds one batch of encoded rows; it is reused once written.
type rowBuf struct {
	rows   []onlinestore.WriteRow
	values [][]byte
	data   []byte
	offs   []int // start of each key and each value in data, then the end
	parts  []onlinestore.KeyPart
}

// encode converts a pulled batch into online rows.
func (c *viewCodec) encode(b *offlinestore.Batch, buf *rowBuf) error {
	nf := len(c.features)
	buf.data, buf.offs = buf.data[:0], buf.offs[:0]
	if cap(buf.parts) < len(c.keys) {
		buf.parts = make([]onlinestore.KeyPart, len(c.keys))
	}
	parts := buf.parts[:len(c.keys)]
	for i := 0; i < b.Rows; i++ {
		row := b.Row(i)
		buf.offs = append(buf.offs, len(buf.data))
		if c.fixedKey != nil {
			buf.data = append(buf.data, c.fixedKey...)
		} else {
			for j, k := range c.keys {
				v, err := convert(row[k.col], k.typ)
				if err != nil {
					return fmt.Errorf("join key %s: %w", k.name, err)
				}
				if v.IsNull() {
					return fmt.Errorf("join key %s is null", k.name)
				}
				parts[j] = onlinestore.KeyPart{Name: k.name, Value: v}
			}
			var err error
			if buf.data, err = onlinestore.AppendEntityKey(buf.data, parts, c.version); err != nil {
				return err
			}
		}
		cells := row[len(row)-nf:]
		for j, t := range c.featType {
			buf.offs = append(buf.offs, len(buf.data))
			if cell := &cells[j]; sameScalar(cell, t) {
				buf.data = core.AppendValueProto(buf.data, *cell)
				continue
			}
			v, err := convert(cells[j], t)
			if err != nil {
				return fmt.Errorf("feature %s (column %s, %s): %w", c.features[j], c.featCol[j], t, err)
			}
			buf.data = typemap.AppendValue(buf.data, v)
		}
	}
	buf.offs = append(buf.offs, len(buf.data))

	// Slices into data are taken only now: appends above may move it.
	if cap(buf.rows) < b.Rows {
		buf.rows = make([]onlinestore.WriteRow, b.Rows)
		buf.values = make([][]byte, b.Rows*nf)
	}
	buf.rows, buf.values = buf.rows[:b.Rows], buf.values[:b.Rows*nf]
	at := func(k int) []byte { return buf.data[buf.offs[k]:buf.offs[k+1]:buf.offs[k+1]] }
	for i := range buf.rows {
		base := i * (nf + 1)
		vals := buf.values[i*nf : (i+1)*nf : (i+1)*nf]
		for j := range vals {
			vals[j] = at(base + 1 + j)
		}
		r := onlinestore.WriteRow{Key: at(base), TS: b.TS[i].Micros(), Values: vals}
		if b.Created != nil {
			r.Created = b.Created[i].Micros()
		}
		buf.rows[i] = r
	}
	return nil
}

// sameScalar reports whether a cell already is the Value convert would
// return for a feature declared want, so its bytes can be appended as they
// are: the common case of a column of the declared scalar type, skipped for
// NaN (a null) and for integers that might not fit.
func sameScalar(v *core.Value, want core.ValueType) bool {
	if v.Type != want {
		return false
	}
	switch want {
	case core.Int64, core.String, core.Bytes:
		return true
	case core.Double, core.Float:
		return !pyconv.IsNull(v.F)
	case core.Bool:
		return v.I == 0 || v.I == 1
	}
	return false
}
