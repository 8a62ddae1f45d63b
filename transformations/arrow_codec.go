package transformations

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"google.golang.org/protobuf/proto"

	"github.com/feastgo/feastgo/core"
	typespb "github.com/feastgo/feastgo/protos/feast/types"
	"github.com/feastgo/feastgo/registry"
)

// Arrow IPC *file* payloads for the TransformationService (contract 9.4).

func writeArrowFile(schema *arrow.Schema, cols []arrow.Array, rows int) ([]byte, error) {
	rec := array.NewRecordBatch(schema, cols, int64(rows))
	defer rec.Release()
	var buf bytes.Buffer
	w, err := ipc.NewFileWriter(&buf, ipc.WithSchema(schema), ipc.WithAllocator(memory.DefaultAllocator))
	if err != nil {
		return nil, err
	}
	if err := w.Write(rec); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// encodeWorkerInput writes the frame's response columns (not the aliases:
// Feast's own preprocessing adds them again in the worker) as serialized
// feast Values.
func encodeWorkerInput(odfv *registry.ODFV, fr *frame, requested nameSet, fullNames bool) ([]byte, error) {
	mem := memory.DefaultAllocator
	var fields []arrow.Field
	var cols []arrow.Array
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	for _, c := range fr.cols {
		if c.alias {
			continue
		}
		b := array.NewBinaryBuilder(mem, arrow.BinaryTypes.Binary)
		for r := 0; r < fr.rows; r++ {
			p, err := c.protoAt(r)
			if err != nil {
				b.Release()
				return nil, err
			}
			b.Append(p) // an empty Value is null
		}
		cols = append(cols, b.NewArray())
		b.Release()
		f := arrow.Field{Name: c.name, Type: arrow.BinaryTypes.Binary, Nullable: true}
		if c.typ != core.Invalid {
			f.Metadata = arrow.NewMetadata([]string{metaValueType}, []string{strconv.Itoa(int(c.typ))})
		}
		fields = append(fields, f)
	}
	var feats []string
	for _, f := range odfv.Features {
		name := f.Name
		if fullNames {
			name = odfv.Name + "__" + f.Name
		}
		if requested.has(name) {
			feats = append(feats, f.Name)
		}
	}
	req, err := json.Marshal(feats)
	if err != nil {
		return nil, err
	}
	md := arrow.NewMetadata(
		[]string{metaProtocol, metaFullNames, metaRequested},
		[]string{"1", strconv.FormatBool(fullNames), string(req)})
	return writeArrowFile(arrow.NewSchema(fields, &md), cols, fr.rows)
}

// decodeWorkerOutput reads the worker's answer: one binary column of
// serialized feast Values per selected output, in Feast's order.
func decodeWorkerOutput(b []byte, rows int) ([]core.Column, error) {
	var out []core.Column
	err := readArrowFile(b, func(name string, col []arrow.Array) error {
		raw := make([][]byte, 0, rows)
		for _, a := range col {
			bin, ok := a.(*array.Binary)
			if !ok {
				return fmt.Errorf("worker output column %s is %s, not binary", name, a.DataType())
			}
			for i := 0; i < bin.Len(); i++ {
				if bin.IsNull(i) || len(bin.Value(i)) == 0 {
					raw = append(raw, nil)
					continue
				}
				raw = append(raw, bytes.Clone(bin.Value(i)))
			}
		}
		if len(raw) != rows {
			return fmt.Errorf("worker output column %s has %d rows, expected %d", name, len(raw), rows)
		}
		// Decoded values when core.Value can hold them (writers need them);
		// serialized ones otherwise (maps, JSON, …), which encoders print.
		typed := make([]core.Value, rows)
		for i, b := range raw {
			v, ok := coreFromProto(b)
			if !ok {
				out = append(out, core.Column{Name: name, Raw: raw})
				return nil
			}
			typed[i] = v
		}
		out = append(out, core.Column{Name: name, Typed: typed})
		return nil
	})
	if err != nil {
		return nil, core.Errorf(core.KindInternal, "FeastError", "reading the transformation worker's answer: %v", err)
	}
	return out, nil
}

// coreFromProto decodes a serialized feast Value of a scalar or scalar-list
// type; ok is false for the types core.Value does not represent.
func coreFromProto(b []byte) (core.Value, bool) {
	if len(b) == 0 {
		return core.Value{}, true
	}
	v := &typespb.Value{}
	if proto.Unmarshal(b, v) != nil {
		return core.Value{}, false
	}
	list := func(t core.ValueType, n int, at func(int) core.Value) core.Value {
		out := core.Value{Type: t, List: make([]core.Value, n)}
		for i := range out.List {
			out.List[i] = at(i)
		}
		return out
	}
	switch x := v.GetVal().(type) {
	case nil, *typespb.Value_NullVal:
		return core.Value{}, true
	case *typespb.Value_BytesVal:
		return core.Value{Type: core.Bytes, S: string(x.BytesVal)}, true
	case *typespb.Value_StringVal:
		return core.StringValue(x.StringVal), true
	case *typespb.Value_Int32Val:
		return core.Value{Type: core.Int32, I: int64(x.Int32Val)}, true
	case *typespb.Value_Int64Val:
		return core.Int64Value(x.Int64Val), true
	case *typespb.Value_DoubleVal:
		return core.DoubleValue(x.DoubleVal), true
	case *typespb.Value_FloatVal:
		return core.Value{Type: core.Float, F: float64(x.FloatVal)}, true
	case *typespb.Value_BoolVal:
		return core.BoolValue(x.BoolVal), true
	case *typespb.Value_UnixTimestampVal:
		return core.Value{Type: core.UnixTimestamp, I: x.UnixTimestampVal}, true
	case *typespb.Value_BytesListVal:
		l := x.BytesListVal.GetVal()
		return list(core.BytesList, len(l), func(i int) core.Value { return core.Value{Type: core.Bytes, S: string(l[i])} }), true
	case *typespb.Value_StringListVal:
		l := x.StringListVal.GetVal()
		return list(core.StringList, len(l), func(i int) core.Value { return core.StringValue(l[i]) }), true
	case *typespb.Value_Int32ListVal:
		l := x.Int32ListVal.GetVal()
		return list(core.Int32List, len(l), func(i int) core.Value { return core.Value{Type: core.Int32, I: int64(l[i])} }), true
	case *typespb.Value_Int64ListVal:
		l := x.Int64ListVal.GetVal()
		return list(core.Int64List, len(l), func(i int) core.Value { return core.Int64Value(l[i]) }), true
	case *typespb.Value_DoubleListVal:
		l := x.DoubleListVal.GetVal()
		return list(core.DoubleList, len(l), func(i int) core.Value { return core.DoubleValue(l[i]) }), true
	case *typespb.Value_FloatListVal:
		l := x.FloatListVal.GetVal()
		return list(core.FloatList, len(l), func(i int) core.Value { return core.Value{Type: core.Float, F: float64(l[i])} }), true
	case *typespb.Value_BoolListVal:
		l := x.BoolListVal.GetVal()
		return list(core.BoolList, len(l), func(i int) core.Value { return core.BoolValue(l[i]) }), true
	case *typespb.Value_UnixTimestampListVal:
		l := x.UnixTimestampListVal.GetVal()
		return list(core.UnixTimestampList, len(l), func(i int) core.Value { return core.Value{Type: core.UnixTimestamp, I: l[i]} }), true
	}
	return core.Value{}, false
}

// readArrowFile calls fn for every column of an Arrow IPC file, with the
// column's arrays from all record batches.
func readArrowFile(b []byte, fn func(name string, chunks []arrow.Array) error) error {
	r, err := ipc.NewFileReader(bytes.NewReader(b), ipc.WithAllocator(memory.DefaultAllocator))
	if err != nil {
		return err
	}
	defer r.Close()
	schema := r.Schema()
	chunks := make([][]arrow.Array, schema.NumFields())
	var recs []arrow.RecordBatch
	defer func() {
		for _, rec := range recs {
			rec.Release()
		}
	}()
	for i := 0; i < r.NumRecords(); i++ {
		rec, err := r.RecordBatch(i)
		if err != nil {
			return err
		}
		rec.Retain()
		recs = append(recs, rec)
		for c := 0; c < int(rec.NumCols()); c++ {
			chunks[c] = append(chunks[c], rec.Column(c))
		}
	}
	for c, f := range schema.Fields() {
		if err := fn(f.Name, chunks[c]); err != nil {
			return err
		}
	}
	return nil
}

// encodeFeastInput writes the frame's response columns with the types
// pyarrow infers for Feast's to_dict() values (pa.Table.from_pydict), so
// Feast's server builds the same pandas frame feast serve would.
func encodeFeastInput(fr *frame) ([]byte, error) {
	var fields []arrow.Field
	var cols []arrow.Array
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	for _, c := range fr.cols {
		if c.alias {
			continue
		}
		vals, err := c.values()
		if err != nil {
			return nil, err
		}
		typ, err := inferArrowType(vals)
		if err != nil {
			return nil, fmt.Errorf("input column %s: %w", c.name, err)
		}
		b := array.NewBuilder(memory.DefaultAllocator, typ)
		for _, v := range vals {
			appendArrow(b, v)
		}
		cols = append(cols, b.NewArray())
		b.Release()
		fields = append(fields, arrow.Field{Name: c.name, Type: typ, Nullable: true})
	}
	return writeArrowFile(arrow.NewSchema(fields, nil), cols, fr.rows)
}

// inferArrowType is pyarrow's type inference for a list of Python values.
func inferArrowType(vals []pv) (arrow.DataType, error) {
	var kinds [kOpaque + 1]bool
	var elems []pv
	for _, v := range vals {
		kinds[v.k] = true
		if v.k == kList {
			elems = append(elems, v.list...)
		}
		if v.k == kOpaque || v.k == kDict || (v.k == kInt && v.big != nil) {
			return nil, unsupportedf("a %s value cannot be sent to Feast's transformation server", v.typeName())
		}
	}
	kinds[kNone] = false
	n := 0
	for _, k := range kinds {
		if k {
			n++
		}
	}
	switch {
	case n == 0:
		return arrow.Null, nil
	case kinds[kList] && n == 1:
		et, err := inferArrowType(elems)
		if err != nil {
			return nil, err
		}
		return arrow.ListOf(et), nil
	case kinds[kStr] && n == 1:
		return arrow.BinaryTypes.String, nil
	case kinds[kBool] && n == 1:
		return arrow.FixedWidthTypes.Boolean, nil
	case kinds[kInt] && n == 1:
		return arrow.PrimitiveTypes.Int64, nil
	case (kinds[kFloat] || kinds[kFloat32]) && !kinds[kStr] && !kinds[kBool] && !kinds[kList]:
		return arrow.PrimitiveTypes.Float64, nil
	}
	return nil, unsupportedf("a column of mixed Python types")
}

func appendArrow(b array.Builder, v pv) {
	if v.k == kNone {
		b.AppendNull()
		return
	}
	switch b := b.(type) {
	case *array.NullBuilder:
		b.AppendNull()
	case *array.Int64Builder:
		b.Append(v.i)
	case *array.Float64Builder:
		if v.k == kInt {
			b.Append(float64(v.i))
		} else {
			b.Append(v.f)
		}
	case *array.BooleanBuilder:
		b.Append(v.i != 0)
	case *array.StringBuilder:
		b.Append(v.s)
	case *array.ListBuilder:
		b.Append(true)
		for _, e := range v.list {
			appendArrow(b.ValueBuilder(), e)
		}
	}
}

// decodeFeastOutput reads the table Feast's server returns as the Python
// values ChunkedArray.to_numpy() gives Feast: ints with nulls become
// floats with NaN, bools with nulls objects with None.
func decodeFeastOutput(b []byte) ([]namedValues, error) {
	var out []namedValues
	err := readArrowFile(b, func(name string, chunks []arrow.Array) error {
		var vals []pv
		hasNull := false
		for _, a := range chunks {
			hasNull = hasNull || a.NullN() > 0
		}
		for _, a := range chunks {
			vs, err := arrowValues(a, hasNull)
			if err != nil {
				return fmt.Errorf("column %s: %w", name, err)
			}
			vals = append(vals, vs...)
		}
		out = append(out, namedValues{name: name, values: vals})
		return nil
	})
	return out, err
}

func arrowValues(a arrow.Array, hasNull bool) ([]pv, error) {
	n := a.Len()
	out := make([]pv, n)
	nan := pyFloat(nanValue())
	switch a := a.(type) {
	case *array.Null:
	case *array.Float64:
		for i := range out {
			out[i] = pyFloat(a.Value(i))
			if a.IsNull(i) {
				out[i] = nan
			}
		}
	case *array.Float32:
		for i := range out {
			out[i] = pv{k: kFloat32, f: float64(a.Value(i))}
			if a.IsNull(i) {
				out[i] = pv{k: kFloat32, f: nanValue()}
			}
		}
	case *array.Int64, *array.Int32, *array.Int16, *array.Int8:
		for i := range out {
			var v int64
			switch a := a.(type) {
			case *array.Int64:
				v = a.Value(i)
			case *array.Int32:
				v = int64(a.Value(i))
			case *array.Int16:
				v = int64(a.Value(i))
			case *array.Int8:
				v = int64(a.Value(i))
			}
			switch {
			case a.IsNull(i):
				out[i] = nan
			case hasNull:
				out[i] = pyFloat(float64(v))
			default:
				out[i] = pyInt(v)
			}
		}
	case *array.Boolean:
		for i := range out {
			if !a.IsNull(i) {
				out[i] = pyBool(a.Value(i))
			}
		}
	case *array.String:
		for i := range out {
			if !a.IsNull(i) {
				out[i] = pyStr(a.Value(i))
			}
		}
	case *array.LargeString:
		for i := range out {
			if !a.IsNull(i) {
				out[i] = pyStr(a.Value(i))
			}
		}
	case *array.List:
		for i := range out {
			if a.IsNull(i) {
				continue
			}
			start, end := a.ValueOffsets(i)
			vals := array.NewSlice(a.ListValues(), start, end)
			elems, err := arrowValues(vals, false)
			vals.Release()
			if err != nil {
				return nil, err
			}
			out[i] = pv{k: kList, list: elems}
		}
	default:
		return nil, fmt.Errorf("arrow type %s is not supported", strings.ToLower(a.DataType().String()))
	}
	return out, nil
}
