package parquet

import (
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/arrowval"
	"github.com/feastgo/feastgo/offlinestore"
)

// keyIndex numbers the distinct join keys of a source's rows (the groups
// of the as-of join). A lone integer key, the common case, goes through a
// map of int64; any other key is encoded by appendKey, under which all
// integers compare alike, as in SQL and in Feast's entity keys.
type keyIndex struct {
	cols []string // source key columns
	// A lone integer key below denseKeys is looked up in dense (group+1,
	// 0 for none), any other in ints.
	dense []int32
	ints  map[int64]int32
	strs  map[string]int32
	n     int32
	// intKey: a lone key of an integer column.
	intKey bool

	slab []core.Value
	buf  []byte
}

// keyKind is what a key column holds, for comparing a frame column with
// the source column it is matched against.
type keyKind int

const (
	kindOther keyKind = iota
	kindInt
	kindFloat
	kindString
)

func kindOf(t arrow.DataType) keyKind {
	if d, ok := t.(*arrow.DictionaryType); ok {
		t = d.ValueType
	}
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return kindInt
	case arrow.FLOAT16, arrow.FLOAT32, arrow.FLOAT64:
		return kindFloat
	case arrow.STRING, arrow.LARGE_STRING, arrow.STRING_VIEW, arrow.BINARY, arrow.LARGE_BINARY:
		return kindString
	}
	return kindOther
}

func (k keyKind) numeric() bool { return k == kindInt || k == kindFloat }

// newKeyIndex checks the view's key columns, in the source (its first
// file) and in the frame, and returns an empty index over them.
func newKeyIndex(fr *pqarrow.FileReader, path string, frame arrow.RecordBatch, v *offlinestore.HistoricalView) (*keyIndex, error) {
	schema, err := fr.Schema()
	if err != nil {
		return nil, fmt.Errorf("parquet %s: %w", path, err)
	}
	x := &keyIndex{}
	for _, k := range v.Keys {
		x.cols = append(x.cols, k.Source)
		si := schema.FieldIndices(k.Source)
		if len(si) == 0 {
			return nil, core.Invalidf("feature view %s: its source %s has no join key column %q", v.Name, path, k.Source)
		}
		fi := frame.Schema().FieldIndices(k.Frame)
		if len(fi) == 0 {
			return nil, core.Invalidf("entity_df: no column %q, the join key of feature view %s", k.Frame, v.Name)
		}
		sk, fk := kindOf(schema.Field(si[0]).Type), kindOf(frame.Schema().Field(fi[0]).Type)
		if sk.numeric() != fk.numeric() || (sk == kindString) != (fk == kindString) {
			return nil, core.Invalidf("entity_df: column %q is %s, but the join key %q of feature view %s is %s in its source",
				k.Frame, frame.Schema().Field(fi[0]).Type, k.Source, v.Name, schema.Field(si[0]).Type)
		}
		x.intKey = len(v.Keys) == 1 && sk == kindInt
	}
	if len(x.cols) == 0 {
		x.n = 1 // entityless: one group
	}
	return x, nil
}

func (x *keyIndex) len() int { return int(x.n) }

// denseKeys bounds the integer keys looked up by index rather than hashed:
// ids counted from 0 or 1, the common case, up to 4M (16 MiB of table).
const denseKeys = 1 << 22

// intGroup returns the group of integer key k, numbering it when new and
// add is set; -1 when it has none.
func (x *keyIndex) intGroup(k int64, add bool) int32 {
	if k >= 0 && k < denseKeys {
		if int(k) >= len(x.dense) {
			if !add {
				return -1
			}
			n := max(int(k)+1, min(2*len(x.dense), denseKeys))
			x.dense = append(x.dense, make([]int32, n-len(x.dense))...)
		}
		if g := x.dense[k]; g > 0 || !add {
			return g - 1
		}
		x.dense[k] = x.n + 1
		x.n++
		return x.n - 1
	}
	if g, found := x.ints[k]; found || !add {
		if !found {
			return -1
		}
		return g
	}
	if x.ints == nil {
		x.ints = map[int64]int32{}
	}
	x.ints[k] = x.n
	x.n++
	return x.n - 1
}

// add appends the group of every row of rec to gids, numbering new keys;
// a null key gets -1.
func (x *keyIndex) add(rec arrow.RecordBatch, gids []int32) ([]int32, error) {
	n := int(rec.NumRows())
	if len(x.cols) == 0 {
		for range n {
			gids = append(gids, 0)
		}
		return gids, nil
	}
	if x.intKey {
		get, err := intReader(column(rec, x.cols[0]))
		if err != nil {
			return nil, fmt.Errorf("join key %q: %w", x.cols[0], err)
		}
		for i := range n {
			k, ok := get(i)
			if !ok {
				gids = append(gids, -1)
				continue
			}
			gids = append(gids, x.intGroup(k, true))
		}
		return gids, nil
	}
	if x.strs == nil {
		x.strs = map[string]int32{}
	}
	enc, err := x.encoder(rec, x.cols)
	if err != nil {
		return nil, err
	}
	for i := range n {
		key, ok := enc(i)
		if !ok {
			gids = append(gids, -1)
			continue
		}
		g, found := x.strs[string(key)]
		if !found {
			g = x.n
			x.strs[string(key)] = g
			x.n++
		}
		gids = append(gids, g)
	}
	return gids, nil
}

// lookup returns the group of every frame row (-1: no source rows).
func (x *keyIndex) lookup(frame arrow.RecordBatch, v *offlinestore.HistoricalView) ([]int32, error) {
	n := int(frame.NumRows())
	out := make([]int32, n)
	if len(x.cols) == 0 {
		return out, nil
	}
	names := make([]string, len(v.Keys))
	for i, k := range v.Keys {
		names[i] = k.Frame
	}
	if x.intKey {
		get, err := intReader(column(frame, names[0]))
		if err != nil {
			return nil, core.Invalidf("entity_df: column %q: %v", names[0], err)
		}
		for i := range n {
			out[i] = -1
			if k, ok := get(i); ok {
				out[i] = x.intGroup(k, false)
			}
		}
		return out, nil
	}
	enc, err := x.encoder(frame, names)
	if err != nil {
		return nil, core.Invalidf("entity_df: %v", err)
	}
	for i := range n {
		out[i] = -1
		if key, ok := enc(i); ok {
			if g, found := x.strs[string(key)]; found {
				out[i] = g
			}
		}
	}
	return out, nil
}

// encoder returns the appendKey encoding of row i's key columns, false
// when one is null (a null key matches nothing). An integral float is
// encoded as the integer (pandas turns an int column with a null into
// floats).
func (x *keyIndex) encoder(rec arrow.RecordBatch, names []string) (func(i int) ([]byte, bool), error) {
	cells := make([]arrowval.CellFn, len(names))
	for j, name := range names {
		var err error
		if cells[j], _, err = arrowval.Cells(column(rec, name), &x.slab); err != nil {
			return nil, fmt.Errorf("join key %q: %w", name, err)
		}
	}
	return func(i int) ([]byte, bool) {
		x.buf = x.buf[:0]
		x.slab = x.slab[:0]
		for _, c := range cells {
			v := c(i)
			if v.IsNull() {
				return nil, false
			}
			if (v.Type == core.Double || v.Type == core.Float) && v.F == math.Trunc(v.F) && math.Abs(v.F) < 1<<63 {
				v = core.Value{Type: core.Int64, I: int64(v.F)}
			}
			x.buf = appendKey(x.buf, v)
		}
		return x.buf, true
	}, nil
}

// intReader returns the accessor of an integer key column (a float column
// of a frame counts where its value is integral), false for a null or a
// float that no integer equals.
func intReader(arr arrow.Array) (func(i int) (int64, bool), error) {
	switch a := arr.(type) {
	case *array.Int64:
		vals := a.Int64Values()
		return func(i int) (int64, bool) { return vals[i], a.IsValid(i) }, nil
	case *array.Int32:
		vals := a.Int32Values()
		return func(i int) (int64, bool) { return int64(vals[i]), a.IsValid(i) }, nil
	case *array.Float64:
		return func(i int) (int64, bool) {
			f := a.Value(i)
			if a.IsNull(i) || f != math.Trunc(f) || math.Abs(f) >= 1<<63 {
				return 0, false
			}
			return int64(f), true
		}, nil
	}
	get, typ, err := arrowval.Scalar(arr)
	if err != nil {
		return nil, err
	}
	if typ != core.Int32 && typ != core.Int64 && typ != core.Float && typ != core.Double {
		return nil, fmt.Errorf("arrow type %s is not an integer", arr.DataType())
	}
	return func(i int) (int64, bool) {
		if arr.IsNull(i) {
			return 0, false
		}
		v := get(i, typ)
		if typ == core.Float || typ == core.Double {
			if v.F != math.Trunc(v.F) || math.Abs(v.F) >= 1<<63 {
				return 0, false
			}
			return int64(v.F), true
		}
		return v.I, true
	}, nil
}
