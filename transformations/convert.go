package transformations

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/pyconv"
	"github.com/feastgo/feastgo/internal/pyfmt"
)

// This file is Feast 0.67.0's type_map.python_values_to_proto_values for
// the value kinds a UDF can produce here: how an ODFV output column of
// Python values becomes feast Values of the declared type, or of the type
// inferred from the first non-empty value when the name is not in the
// ODFV's schema (full feature names). Cases Feast turns into an exception
// return a *udfError; cases this file does not model return errUnsupported.

// udfError is a failure Feast reports as an exception from the
// transformation (a 500): the UDF's own error or a value Feast cannot
// convert to the declared type.
type udfError struct {
	class string // Python exception class, e.g. "TypeError"
	msg   string
}

func (e *udfError) Error() string { return e.class + ": " + e.msg }

func udfErrorf(class, format string, args ...any) error {
	return &udfError{class: class, msg: fmt.Sprintf(format, args...)}
}

// nonEmpty is Feast's _non_empty_value.
func nonEmpty(v pv) bool {
	switch v.k {
	case kNone:
		return false
	case kList:
		return len(v.list) > 0
	case kDict:
		return v.n > 0
	}
	return true
}

// arrayLike is Feast's _is_array_like (str excluded).
func arrayLike(v pv) bool { return v.k == kList || v.k == kDict }

// isNull is pd.isnull for a scalar.
func isNull(v pv) bool {
	return v.k == kNone || ((v.k == kFloat || v.k == kFloat32) && pyconv.IsNull(v.f))
}

// pyValuesToCore converts one output column. declared is the ODFV
// schema's type of the column, or core.Invalid when Feast has to infer it.
func pyValuesToCore(values []pv, declared core.ValueType) ([]core.Value, error) {
	for _, v := range values {
		if err := checkModelled(v); err != nil {
			return nil, err
		}
	}
	vt := declared
	sample, found := firstNonEmpty(values, false)
	if found && declared == core.Invalid {
		var err error
		if sample.k == kList {
			vt, err = inferListType(sample)
		} else {
			vt, err = inferScalarType(sample)
		}
		if err != nil {
			return nil, err
		}
	}
	if vt == core.Invalid {
		for _, v := range values {
			if v.k != kNone {
				return nil, udfErrorf("TypeError", "Couldn't infer value type from empty value")
			}
		}
		return make([]core.Value, len(values)), nil
	}
	if vt.IsList() {
		return listValuesToCore(vt, values)
	}
	switch vt {
	case core.Int32, core.Int64, core.Float, core.Double, core.String, core.Bool, core.Bytes, core.UnixTimestamp:
		return scalarValuesToCore(vt, values)
	}
	return nil, unsupportedf("output type %s", vt)
}

// checkModelled rejects values whose conversion this file does not model.
func checkModelled(v pv) error {
	switch v.k {
	case kOpaque:
		return unsupportedf("a %s value in an output column", v.s)
	case kList:
		for _, e := range v.list {
			if e.k == kOpaque {
				return unsupportedf("a %s value in an output list", e.s)
			}
		}
	}
	return nil
}

func firstNonEmpty(values []pv, scalarOnly bool) (pv, bool) {
	for _, v := range values {
		if nonEmpty(v) && (!scalarOnly || !arrayLike(v)) {
			return v, true
		}
	}
	return pv{}, false
}

// inferScalarType is python_type_to_feast_value_type for a scalar.
func inferScalarType(v pv) (core.ValueType, error) {
	switch v.k {
	case kInt:
		return core.Int64, nil
	case kFloat:
		return core.Double, nil
	case kFloat32:
		return core.Float, nil
	case kStr:
		return core.String, nil
	case kBool:
		return core.Bool, nil
	case kDict:
		return 0, unsupportedf("a dict output (MAP)")
	}
	return 0, udfErrorf("ValueError", "Value with native type %s cannot be converted into Feast value type", strings.ToLower(v.typeName()))
}

// inferListType is python_type_to_feast_value_type for a non-empty list.
func inferListType(v pv) (core.ValueType, error) {
	if v.list[0].k == kDict {
		return 0, unsupportedf("a list of dicts (MAP_LIST)")
	}
	var common core.ValueType
	for _, e := range v.list {
		if e.k == kList {
			return 0, udfErrorf("ValueError", "Value type for field  is <class 'list'> but recursion is not allowed. Nested collection types cannot be inferred automatically; use an explicit Field dtype instead (e.g., dtype=Array(Array(Int32))).")
		}
		t, err := inferScalarType(e)
		if err != nil {
			return 0, err
		}
		if common != core.Invalid && common != t {
			return 0, udfErrorf("ValueError", "List value type for field  is inconsistent. ValueType.%s different from ValueType.%s.", common, t)
		}
		common = t
	}
	return common.ListOf(), nil
}

// pyTypeRepr is Python's repr(type(v)).
func pyTypeRepr(v pv) string {
	switch v.k {
	case kFloat32:
		return "<class 'numpy.float32'>"
	}
	return "<class '" + v.typeName() + "'>"
}

func scalarValuesToCore(vt core.ValueType, values []pv) ([]core.Value, error) {
	out := make([]core.Value, len(values))
	sample, found := firstNonEmpty(values, true)
	if !found {
		return out, nil
	}
	if vt == core.UnixTimestamp || vt == core.Bytes {
		if vt == core.Bytes {
			return nil, udfErrorf("AssertionError", "Type `%s` not in {<class 'bytes'>}", pyTypeRepr(sample))
		}
		return nil, unsupportedf("UNIX_TIMESTAMP outputs")
	}
	// Feast checks the type of the first non-empty value only.
	if vt == core.Double || vt == core.Bool {
		zero := false
		switch sample.k {
		case kInt:
			zero = sample.big == nil && sample.i == 0
		case kFloat, kFloat32:
			zero = sample.f == 0
		case kBool:
			zero = sample.i == 0
		}
		ok := false
		if zero && vt != core.Bool {
			ok = sample.k == kInt || sample.k == kFloat
			if !ok {
				return nil, udfErrorf("AssertionError", "Type `%s` not in {<class 'numpy.int64'>, <class 'int'>, <class 'numpy.float64'>, <class 'float'>, <class 'decimal.Decimal'>}", pyTypeRepr(sample))
			}
		} else if vt == core.Double {
			if sample.k != kInt && sample.k != kFloat {
				return nil, udfErrorf("AssertionError", "Type `%s` not in {<class 'float'>, <class 'numpy.float64'>, <class 'int'>, <class 'numpy.int64'>, <class 'decimal.Decimal'>}", pyTypeRepr(sample))
			}
		} else if sample.k != kBool && sample.k != kInt {
			return nil, udfErrorf("AssertionError", "Type `%s` not in {<class 'bool'>, <class 'numpy.bool'>, <class 'int'>, <class 'numpy.int64'>}", pyTypeRepr(sample))
		}
	}
	for i, v := range values {
		if arrayLike(v) || isNull(v) {
			continue // null
		}
		var err error
		out[i], err = scalarToCore(vt, v)
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func scalarToCore(vt core.ValueType, v pv) (core.Value, error) {
	switch vt {
	case core.Bool:
		switch v.k {
		case kBool, kInt:
			return core.BoolValue(v.i != 0 || v.big != nil), nil
		}
		return core.Value{}, udfErrorf("TypeError", "'%s' object cannot be interpreted as an integer", v.typeName())
	case core.Int32, core.Int64:
		n, err := pyIntOf(v)
		if err != nil {
			return core.Value{}, err
		}
		if !n.IsInt64() || (vt == core.Int32 && !pyconv.FitsInt32(n.Int64())) {
			return core.Value{}, udfErrorf("ValueError", "Value out of range: %s", n.String())
		}
		return core.Value{Type: vt, I: n.Int64()}, nil
	case core.Float:
		f, err := pyFloatOf(v)
		if err != nil {
			return core.Value{}, err
		}
		return core.Value{Type: core.Float, F: float64(pyconv.Float32(f))}, nil
	case core.Double:
		switch v.k {
		case kInt, kBool, kFloat, kFloat32:
			f, err := pyFloatOf(v)
			if err != nil {
				return core.Value{}, err
			}
			return core.DoubleValue(f), nil
		}
		return core.Value{}, udfErrorf("TypeError", "must be real number, not %s", v.typeName())
	case core.String:
		s, err := pyStrOf(v)
		if err != nil {
			return core.Value{}, err
		}
		return core.StringValue(s), nil
	}
	return core.Value{}, unsupportedf("output type %s", vt)
}

// pyIntOf is Python's int(v).
func pyIntOf(v pv) (*big.Int, error) {
	switch v.k {
	case kInt:
		if v.big != nil {
			return v.big, nil
		}
		return big.NewInt(v.i), nil
	case kBool:
		return big.NewInt(v.i), nil
	case kFloat, kFloat32:
		if math.IsInf(v.f, 0) {
			return nil, udfErrorf("OverflowError", "cannot convert float infinity to integer")
		}
		if math.IsNaN(v.f) {
			return nil, udfErrorf("ValueError", "cannot convert float NaN to integer")
		}
		n, _ := big.NewFloat(math.Trunc(v.f)).Int(nil)
		return n, nil
	case kStr:
		n, ok := parsePyInt(v.s)
		if !ok {
			return nil, udfErrorf("ValueError", "invalid literal for int() with base 10: %s", pyRepr(v))
		}
		return n, nil
	}
	return nil, udfErrorf("TypeError", "int() argument must be a string, a bytes-like object or a real number, not '%s'", v.typeName())
}

// pyFloatOf is Python's float(v).
func pyFloatOf(v pv) (float64, error) {
	switch v.k {
	case kFloat, kFloat32:
		return v.f, nil
	case kBool:
		return float64(v.i), nil
	case kInt:
		if v.big == nil {
			return float64(v.i), nil
		}
		f, _ := new(big.Float).SetInt(v.big).Float64()
		if math.IsInf(f, 0) {
			return 0, udfErrorf("OverflowError", "int too large to convert to float")
		}
		return f, nil
	case kStr:
		f, err := parsePyFloat(v.s)
		if err != nil {
			return 0, err
		}
		return f, nil
	}
	return 0, udfErrorf("TypeError", "float() argument must be a string or a real number, not '%s'", v.typeName())
}

// pyStrOf is Python's str(v) for the kinds Feast converts to STRING.
func pyStrOf(v pv) (string, error) {
	switch v.k {
	case kStr:
		return v.s, nil
	case kInt:
		if v.big != nil {
			return v.big.String(), nil
		}
		return strconv.FormatInt(v.i, 10), nil
	case kBool:
		return pyfmt.Bool(v.i != 0), nil
	case kFloat:
		return pyfmt.Float(v.f), nil
	case kFloat32:
		return pyfmt.Float32(float32(v.f)), nil
	}
	return "", unsupportedf("str() of a %s", v.typeName())
}

// parsePyInt is int(s) for a str in base 10 (pyconv.IntLiteral's
// grammar), of any size.
func parsePyInt(s string) (*big.Int, bool) {
	lit, ok := pyconv.IntLiteral(s)
	if !ok {
		return nil, false
	}
	return new(big.Int).SetString(lit, 10)
}

// parsePyFloat is float(s) (pyconv.ParseFloat) for the decimal forms; inf
// and nan strings are left to Python (NaN compares differently in
// Starlark).
func parsePyFloat(s string) (float64, error) {
	body := strings.TrimSpace(s)
	if body != "" && (body[0] == '+' || body[0] == '-') {
		body = body[1:]
	}
	switch strings.ToLower(body) {
	case "inf", "infinity", "nan":
		return 0, unsupportedf("float(%q)", s)
	}
	f, ok := pyconv.ParseFloat(s)
	if !ok {
		return 0, udfErrorf("ValueError", "could not convert string to float: %s", pyRepr(pyStr(s)))
	}
	return f, nil
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// pyRepr is Python's repr for the plain values this package models.
func pyRepr(v pv) string {
	switch v.k {
	case kNone:
		return "None"
	case kStr:
		return pyStrRepr(v.s)
	case kList:
		var b strings.Builder
		b.WriteByte('[')
		for i, e := range v.list {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(pyRepr(e))
		}
		b.WriteByte(']')
		return b.String()
	}
	s, err := pyStrOf(v)
	if err != nil {
		return "<" + v.typeName() + ">"
	}
	return s
}

// pyStrRepr is repr(str) for plain strings (printable ASCII, \t, \n, \r).
func pyStrRepr(s string) string {
	q := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == q || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte(q)
	return b.String()
}

var listDefaults = map[core.ValueType]pv{
	core.StringList: pyStr(""), core.Int32List: pyInt(0), core.Int64List: pyInt(0),
	core.FloatList: pyFloat(0), core.DoubleList: pyFloat(0), core.BoolList: pyBool(false),
}

func listValuesToCore(vt core.ValueType, values []pv) ([]core.Value, error) {
	if _, ok := listDefaults[vt]; !ok {
		return nil, unsupportedf("output type %s", vt)
	}
	def := listDefaults[vt]
	sanitized := make([]pv, len(values))
	for i, v := range values {
		if v.k == kList {
			l := make([]pv, len(v.list))
			for j, e := range v.list {
				if e.k == kNone {
					e = def
				}
				l[j] = e
			}
			v = pv{k: kList, list: l}
		}
		sanitized[i] = v
	}
	if sample, ok := firstNonEmpty(sanitized, false); ok {
		if sample.k != kList {
			return nil, unsupportedf("a %s in a list-typed output", sample.typeName())
		}
		for _, e := range sample.list {
			if !validListElem(vt, e) {
				first := map[core.ValueType]string{
					core.DoubleList: "<class 'numpy.float64'>", core.FloatList: "<class 'numpy.float32'>",
					core.Int32List: "<class 'numpy.int64'>", core.Int64List: "<class 'numpy.int64'>",
					core.StringList: "<class 'numpy.str_'>", core.BoolList: "<class 'numpy.bool'>",
				}[vt]
				return nil, udfErrorf("TypeError", "Value \"%s\" is of type %s not of type %s", pyStrOrRepr(e), pyTypeRepr(e), first)
			}
		}
	}
	out := make([]core.Value, len(values))
	for i, v := range sanitized {
		if v.k == kNone {
			continue
		}
		if v.k != kList {
			return nil, udfErrorf("TypeError", "'%s' object is not iterable", v.typeName())
		}
		elems := make([]core.Value, len(v.list))
		for j, e := range v.list {
			ev, err := listElemToCore(vt, e)
			if err != nil {
				return nil, err
			}
			elems[j] = ev
		}
		out[i] = core.Value{Type: vt, List: elems}
	}
	return out, nil
}

func pyStrOrRepr(v pv) string {
	if s, err := pyStrOf(v); err == nil {
		return s
	}
	return pyRepr(v)
}

func validListElem(vt core.ValueType, e pv) bool {
	switch vt {
	case core.DoubleList, core.FloatList:
		return e.k == kFloat || e.k == kFloat32
	case core.Int32List, core.Int64List:
		return e.k == kInt
	case core.StringList:
		return e.k == kStr
	case core.BoolList:
		return e.k == kBool
	}
	return false
}

// listElemToCore is what protobuf's repeated fields accept (BoolList takes
// bool(e) of anything).
func listElemToCore(vt core.ValueType, e pv) (core.Value, error) {
	switch vt {
	case core.BoolList:
		t, err := pyTruth(e)
		return core.BoolValue(t), err
	case core.DoubleList, core.FloatList:
		if e.k != kFloat && e.k != kFloat32 && e.k != kInt && e.k != kBool {
			return core.Value{}, udfErrorf("TypeError", "must be real number, not %s", e.typeName())
		}
		f, err := pyFloatOf(e)
		if err != nil {
			return core.Value{}, err
		}
		if vt == core.FloatList {
			return core.Value{Type: core.Float, F: float64(pyconv.Float32(f))}, nil
		}
		return core.DoubleValue(f), nil
	case core.Int32List, core.Int64List:
		switch e.k {
		case kInt:
			n, _ := pyIntOf(e)
			if !n.IsInt64() || (vt == core.Int32List && !pyconv.FitsInt32(n.Int64())) {
				return core.Value{}, udfErrorf("ValueError", "Value out of range: %s", n.String())
			}
			return core.Value{Type: vt.Elem(), I: n.Int64()}, nil
		case kBool:
			return core.Value{}, udfErrorf("TypeError", "Expected an int, got a boolean.")
		}
		return core.Value{}, udfErrorf("TypeError", "'%s' object cannot be interpreted as an integer", e.typeName())
	case core.StringList:
		if e.k != kStr {
			return core.Value{}, udfErrorf("TypeError", "bad argument type for built-in operation")
		}
		return core.StringValue(e.s), nil
	}
	return core.Value{}, unsupportedf("output type %s", vt)
}

// pyTruth is bool(v).
func pyTruth(v pv) (bool, error) {
	switch v.k {
	case kNone:
		return false, nil
	case kBool:
		return v.i != 0, nil
	case kInt:
		return v.big != nil || v.i != 0, nil
	case kFloat, kFloat32:
		return v.f != 0, nil
	case kStr:
		return v.s != "", nil
	case kList:
		return len(v.list) > 0, nil
	case kDict:
		return v.n > 0, nil
	}
	return false, unsupportedf("bool() of a %s", v.typeName())
}
