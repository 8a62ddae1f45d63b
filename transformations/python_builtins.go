package transformations

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/feastgo/feastgo/internal/pyfmt"
)

// predeclared are the builtins reimplemented with CPython 3.11 semantics.
var predeclared = starlark.StringDict{
	"sum":       starlark.NewBuiltin("sum", pySum),
	"round":     starlark.NewBuiltin("round", pyRound),
	"str":       starlark.NewBuiltin("str", pyStrBuiltin),
	"float":     starlark.NewBuiltin("float", pyFloatBuiltin),
	"int":       starlark.NewBuiltin("int", pyIntBuiltin),
	"zip":       starlark.NewBuiltin("zip", pyZip),
	"enumerate": starlark.NewBuiltin("enumerate", pyEnumerate),
	fnTrueDiv:   starlark.NewBuiltin("/", pyTrueDiv),
	fnFloorDiv:  starlark.NewBuiltin("//", pyFloorDiv),
	fnMod:       starlark.NewBuiltin("%", pyModBuiltin),
}

// pySum is sum(iterable, /, start=0): a left fold with +, as CPython 3.11
// computes it (3.12 switched floats to compensated summation).
func pySum(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var it starlark.Iterable
	var start starlark.Value = starlark.MakeInt(0)
	if err := starlark.UnpackArgs("sum", args, kwargs, "iterable", &it, "start?", &start); err != nil {
		return nil, err
	}
	if _, ok := start.(starlark.String); ok {
		return nil, fmt.Errorf("sum() can't sum strings [use ''.join(seq) instead]")
	}
	acc := start
	iter := it.Iterate()
	defer iter.Done()
	var x starlark.Value
	for iter.Next(&x) {
		r, err := starlark.Binary(syntax.PLUS, acc, x)
		if err != nil {
			return nil, err
		}
		acc = r
	}
	return acc, nil
}

// number is a Python int (bool included) or float.
type number struct {
	isFloat bool
	f       float64
	i       *big.Int
}

func asNumber(x starlark.Value) (number, bool) {
	switch x := x.(type) {
	case starlark.Int:
		return number{i: x.BigInt()}, true
	case starlark.Bool:
		if x {
			return number{i: big.NewInt(1)}, true
		}
		return number{i: big.NewInt(0)}, true
	case starlark.Float:
		return number{isFloat: true, f: float64(x)}, true
	}
	return number{}, false
}

// float converts as CPython's PyLong_AsDouble: nearest even, error beyond
// the float range.
func (n number) float() (float64, error) {
	if n.isFloat {
		return n.f, nil
	}
	if n.i.IsInt64() {
		return float64(n.i.Int64()), nil
	}
	f, _ := new(big.Float).SetInt(n.i).Float64()
	if math.IsInf(f, 0) {
		return 0, fmt.Errorf("OverflowError: int too large to convert to float")
	}
	return f, nil
}

func binaryNumbers(op string, x, y starlark.Value) (number, number, error) {
	a, ok1 := asNumber(x)
	b, ok2 := asNumber(y)
	if !ok1 || !ok2 {
		return a, b, fmt.Errorf("unsupported operand type(s) for %s: '%s' and '%s'", op, x.Type(), y.Type())
	}
	return a, b, nil
}

var twoPow53 = big.NewInt(1 << 53)

// smallInts returns both operands as int64 when both are ints (or bools)
// of at most 53 bits, the common case that needs no big arithmetic.
func smallInts(x, y starlark.Value) (int64, int64, bool) {
	get := func(v starlark.Value) (int64, bool) {
		switch v := v.(type) {
		case starlark.Int:
			i, ok := v.Int64()
			return i, ok && i <= 1<<53 && i >= -(1<<53)
		case starlark.Bool:
			if v {
				return 1, true
			}
			return 0, true
		}
		return 0, false
	}
	a, ok1 := get(x)
	b, ok2 := get(y)
	return a, b, ok1 && ok2
}

func pyTrueDiv(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
	if x, ok := args[0].(starlark.Float); ok {
		if y, ok := args[1].(starlark.Float); ok {
			if y == 0 {
				return nil, fmt.Errorf("ZeroDivisionError: float division by zero")
			}
			return x / y, nil
		}
	}
	if p, q, ok := smallInts(args[0], args[1]); ok {
		if q == 0 {
			return nil, fmt.Errorf("ZeroDivisionError: division by zero")
		}
		return starlark.Float(float64(p) / float64(q)), nil
	}
	a, b, err := binaryNumbers("/", args[0], args[1])
	if err != nil {
		return nil, err
	}
	if !a.isFloat && !b.isFloat {
		if b.i.Sign() == 0 {
			return nil, fmt.Errorf("ZeroDivisionError: division by zero")
		}
		if new(big.Int).Abs(a.i).Cmp(twoPow53) <= 0 && new(big.Int).Abs(b.i).Cmp(twoPow53) <= 0 {
			return starlark.Float(float64(a.i.Int64()) / float64(b.i.Int64())), nil
		}
		f, _ := new(big.Rat).SetFrac(a.i, b.i).Float64()
		if math.IsInf(f, 0) {
			return nil, fmt.Errorf("OverflowError: integer division result too large for a float")
		}
		return starlark.Float(f), nil
	}
	x, err := a.float()
	if err != nil {
		return nil, err
	}
	y, err := b.float()
	if err != nil {
		return nil, err
	}
	if y == 0 {
		return nil, fmt.Errorf("ZeroDivisionError: float division by zero")
	}
	return starlark.Float(x / y), nil
}

// floorDivMod is CPython's float divmod (_float_div_mod).
func floatDivMod(vx, wx float64) (float64, float64) {
	mod := math.Mod(vx, wx)
	div := (vx - mod) / wx
	if mod != 0 {
		if (wx < 0) != (mod < 0) {
			mod += wx
			div -= 1.0
		}
	} else {
		mod = math.Copysign(0, wx)
	}
	var floordiv float64
	if div != 0 {
		floordiv = math.Floor(div)
		if div-floordiv > 0.5 {
			floordiv += 1.0
		}
	} else {
		floordiv = math.Copysign(0, vx/wx)
	}
	return floordiv, mod
}

// intDivMod is floored integer division.
func intDivMod(x, y *big.Int) (*big.Int, *big.Int) {
	q, r := new(big.Int).QuoRem(x, y, new(big.Int))
	if r.Sign() != 0 && r.Sign() != y.Sign() {
		q.Sub(q, big.NewInt(1))
		r.Add(r, y)
	}
	return q, r
}

func pyFloorDiv(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
	a, b, err := binaryNumbers("//", args[0], args[1])
	if err != nil {
		return nil, err
	}
	if !a.isFloat && !b.isFloat {
		if b.i.Sign() == 0 {
			return nil, fmt.Errorf("ZeroDivisionError: integer division or modulo by zero")
		}
		q, _ := intDivMod(a.i, b.i)
		return starlark.MakeBigInt(q), nil
	}
	x, err := a.float()
	if err != nil {
		return nil, err
	}
	y, err := b.float()
	if err != nil {
		return nil, err
	}
	if y == 0 {
		return nil, fmt.Errorf("ZeroDivisionError: float floor division by zero")
	}
	q, _ := floatDivMod(x, y)
	return starlark.Float(q), nil
}

func pyModBuiltin(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
	if _, ok := args[0].(starlark.String); ok {
		return nil, unsupportedf("%%-formatting of strings")
	}
	a, b, err := binaryNumbers("%", args[0], args[1])
	if err != nil {
		return nil, err
	}
	if !a.isFloat && !b.isFloat {
		if b.i.Sign() == 0 {
			return nil, fmt.Errorf("ZeroDivisionError: integer division or modulo by zero")
		}
		_, r := intDivMod(a.i, b.i)
		return starlark.MakeBigInt(r), nil
	}
	x, err := a.float()
	if err != nil {
		return nil, err
	}
	y, err := b.float()
	if err != nil {
		return nil, err
	}
	if y == 0 {
		return nil, fmt.Errorf("ZeroDivisionError: float modulo")
	}
	mod := math.Mod(x, y)
	if mod != 0 {
		if (y < 0) != (mod < 0) {
			mod += y
		}
	} else {
		mod = math.Copysign(0, y)
	}
	return starlark.Float(mod), nil
}

// pyRound is round(number, ndigits=None).
func pyRound(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var x, nd starlark.Value = nil, starlark.None
	if err := starlark.UnpackArgs("round", args, kwargs, "number", &x, "ndigits?", &nd); err != nil {
		return nil, err
	}
	n, ok := asNumber(x)
	if !ok {
		return nil, fmt.Errorf("TypeError: type %s doesn't define __round__ method", x.Type())
	}
	if nd == starlark.None {
		if !n.isFloat {
			return starlark.MakeBigInt(n.i), nil
		}
		switch {
		case math.IsNaN(n.f):
			return nil, fmt.Errorf("ValueError: cannot convert float NaN to integer")
		case math.IsInf(n.f, 0):
			return nil, fmt.Errorf("OverflowError: cannot convert float infinity to integer")
		}
		i, _ := big.NewFloat(math.RoundToEven(n.f)).Int(nil)
		return starlark.MakeBigInt(i), nil
	}
	d, ok := asNumber(nd)
	if !ok || d.isFloat {
		return nil, fmt.Errorf("TypeError: '%s' object cannot be interpreted as an integer", nd.Type())
	}
	if !d.i.IsInt64() {
		return nil, unsupportedf("round() with a huge ndigits")
	}
	digits := d.i.Int64()
	if !n.isFloat {
		if digits >= 0 {
			return starlark.MakeBigInt(n.i), nil
		}
		m := new(big.Int).Exp(big.NewInt(10), big.NewInt(-digits), nil)
		q, r := intDivMod(n.i, m)
		twice := new(big.Int).Lsh(r, 1)
		if c := twice.Cmp(m); c > 0 || (c == 0 && q.Bit(0) == 1) {
			q.Add(q, big.NewInt(1))
		}
		return starlark.MakeBigInt(q.Mul(q, m)), nil
	}
	f, err := roundFloat(n.f, digits)
	if err != nil {
		return nil, err
	}
	return starlark.Float(f), nil
}

// roundFloat is CPython's float.__round__(ndigits): round the exact binary
// value to ndigits decimals, half to even, and read the decimal back.
func roundFloat(x float64, ndigits int64) (float64, error) {
	const ndigitsMax, ndigitsMin = 323, -308
	if math.IsNaN(x) || math.IsInf(x, 0) || ndigits > ndigitsMax {
		return x, nil
	}
	if ndigits < ndigitsMin {
		return 0.0 * x, nil
	}
	// A double has at most 1074 fractional decimal digits: this is exact.
	exact := new(big.Float).SetFloat64(math.Abs(x)).Text('f', 1100)
	intPart, frac, _ := strings.Cut(exact, ".")
	digits := intPart + frac
	point := len(intPart)
	keep := point + int(ndigits) // leading digits that survive
	var kept []byte
	if keep > 0 {
		kept = []byte(digits[:min(keep, len(digits))])
	}
	if keep >= 0 && keep < len(digits) {
		rest := digits[keep:]
		up := rest[0] > '5' || (rest[0] == '5' && strings.TrimRight(rest[1:], "0") != "")
		if rest[0] == '5' && !up {
			up = len(kept) > 0 && (kept[len(kept)-1]-'0')%2 == 1
		}
		if up {
			i := len(kept) - 1
			for ; i >= 0 && kept[i] == '9'; i-- {
				kept[i] = '0'
			}
			if i >= 0 {
				kept[i]++
			} else {
				kept = append([]byte{'1'}, kept...)
			}
		}
	}
	mant := string(kept)
	if mant == "" {
		mant = "0"
	}
	s := mant + "e" + strconv.Itoa(point-keep)
	if math.Signbit(x) {
		s = "-" + s
	}
	r, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if isRangeErr(err) && math.Abs(r) >= 1 {
			return 0, fmt.Errorf("OverflowError: rounded value too large to represent")
		}
		if !isRangeErr(err) {
			return 0, err
		}
	}
	return r, nil
}

// pyStrBuiltin is str(x) for the values a UDF has.
func pyStrBuiltin(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var x starlark.Value = starlark.String("")
	if err := starlark.UnpackPositionalArgs("str", args, kwargs, 0, &x); err != nil {
		return nil, err
	}
	if s, ok := x.(starlark.String); ok {
		return s, nil
	}
	s, err := pyStrOfStarlark(x, false, 0)
	if err != nil {
		return nil, err
	}
	return starlark.String(s), nil
}

// pyStrOfStarlark is str(x) (repr(x) when quoted) with Python's spelling.
func pyStrOfStarlark(x starlark.Value, quoted bool, depth int) (string, error) {
	if depth > 32 {
		return "", unsupportedf("str() of a deeply nested value")
	}
	switch x := x.(type) {
	case starlark.NoneType:
		return "None", nil
	case starlark.Bool:
		if x {
			return "True", nil
		}
		return "False", nil
	case starlark.Int:
		return x.String(), nil
	case starlark.Float:
		return pyfmt.Float(float64(x)), nil
	case starlark.String:
		if quoted {
			return pyStrRepr(string(x)), nil
		}
		return string(x), nil
	case *starlark.List, starlark.Tuple:
		seq := x.(starlark.Indexable)
		var b strings.Builder
		open, closing := "[", "]"
		if _, ok := x.(starlark.Tuple); ok {
			open, closing = "(", ")"
		}
		b.WriteString(open)
		for i := 0; i < seq.Len(); i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			s, err := pyStrOfStarlark(seq.Index(i), true, depth+1)
			if err != nil {
				return "", err
			}
			b.WriteString(s)
		}
		if _, ok := x.(starlark.Tuple); ok && seq.Len() == 1 {
			b.WriteString(",")
		}
		b.WriteString(closing)
		return b.String(), nil
	case *starlark.Dict:
		var b strings.Builder
		b.WriteString("{")
		for i, kv := range x.Items() {
			if i > 0 {
				b.WriteString(", ")
			}
			k, err := pyStrOfStarlark(kv[0], true, depth+1)
			if err != nil {
				return "", err
			}
			v, err := pyStrOfStarlark(kv[1], true, depth+1)
			if err != nil {
				return "", err
			}
			b.WriteString(k + ": " + v)
		}
		b.WriteString("}")
		return b.String(), nil
	}
	return "", unsupportedf("str() of a %s", x.Type())
}

func pyFloatBuiltin(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var x starlark.Value = starlark.Float(0)
	if err := starlark.UnpackPositionalArgs("float", args, kwargs, 0, &x); err != nil {
		return nil, err
	}
	switch x := x.(type) {
	case starlark.Float:
		return x, nil
	case starlark.Int, starlark.Bool:
		n, _ := asNumber(x)
		f, err := n.float()
		return starlark.Float(f), err
	case starlark.String:
		f, err := parsePyFloat(string(x))
		return starlark.Float(f), err
	}
	return nil, fmt.Errorf("TypeError: float() argument must be a string or a real number, not '%s'", x.Type())
}

func pyIntBuiltin(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var x starlark.Value = starlark.MakeInt(0)
	var base starlark.Value = starlark.None
	if err := starlark.UnpackPositionalArgs("int", args, kwargs, 0, &x, &base); err != nil {
		return nil, err
	}
	if base != starlark.None {
		if b, ok := base.(starlark.Int); !ok || b.String() != "10" {
			return nil, unsupportedf("int() with a base")
		}
	}
	switch x := x.(type) {
	case starlark.Int:
		return x, nil
	case starlark.Bool:
		if x {
			return starlark.MakeInt(1), nil
		}
		return starlark.MakeInt(0), nil
	case starlark.Float:
		f := float64(x)
		switch {
		case math.IsNaN(f):
			return nil, fmt.Errorf("ValueError: cannot convert float NaN to integer")
		case math.IsInf(f, 0):
			return nil, fmt.Errorf("OverflowError: cannot convert float infinity to integer")
		}
		i, _ := big.NewFloat(math.Trunc(f)).Int(nil)
		return starlark.MakeBigInt(i), nil
	case starlark.String:
		n, ok := parsePyInt(string(x))
		if !ok {
			return nil, fmt.Errorf("ValueError: invalid literal for int() with base 10: %s", pyStrRepr(string(x)))
		}
		return starlark.MakeBigInt(n), nil
	}
	return nil, fmt.Errorf("TypeError: int() argument must be a string, a bytes-like object or a real number, not '%s'", x.Type())
}

// pyIterator is a Python iterator (zip, enumerate): iterating it consumes
// it, so a second loop over the same object sees nothing.
type pyIterator struct {
	name  string
	items []starlark.Value // enumerate: materialised
	pos   int
	next  func(*starlark.Value) bool // zip: pulls from its inputs
}

var _ starlark.Iterable = (*pyIterator)(nil)

func (it *pyIterator) String() string        { return "<" + it.name + " object>" }
func (it *pyIterator) Type() string          { return it.name }
func (it *pyIterator) Freeze()               {}
func (it *pyIterator) Truth() starlark.Bool  { return true }
func (it *pyIterator) Hash() (uint32, error) { return 0, unsupportedf("hashing a %s object", it.name) }
func (it *pyIterator) Iterate() starlark.Iterator {
	return (*pyIterCursor)(it)
}

type pyIterCursor pyIterator

func (c *pyIterCursor) Next(p *starlark.Value) bool {
	if c.next != nil {
		return c.next(p)
	}
	if c.pos >= len(c.items) {
		return false
	}
	*p = c.items[c.pos]
	c.pos++
	return true
}
func (c *pyIterCursor) Done() {}

func collect(x starlark.Value) ([]starlark.Value, error) {
	it, ok := x.(starlark.Iterable)
	if !ok {
		return nil, fmt.Errorf("TypeError: '%s' object is not iterable", x.Type())
	}
	iter := it.Iterate()
	defer iter.Done()
	var out []starlark.Value
	var v starlark.Value
	for iter.Next(&v) {
		out = append(out, v)
	}
	return out, nil
}

func pyZip(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(kwargs) > 0 {
		return nil, unsupportedf("zip() keyword arguments")
	}
	its := make([]starlark.Iterator, len(args))
	for i, a := range args {
		it, ok := a.(starlark.Iterable)
		if !ok {
			for _, prev := range its[:i] {
				prev.Done()
			}
			return nil, fmt.Errorf("TypeError: '%s' object is not iterable", a.Type())
		}
		its[i] = it.Iterate()
	}
	done := len(its) == 0
	return &pyIterator{name: "zip", next: func(p *starlark.Value) bool {
		if done {
			return false
		}
		t := make(starlark.Tuple, len(its))
		for i, it := range its {
			if !it.Next(&t[i]) {
				// Python stops at the shortest input, having consumed one
				// more element of the inputs before it.
				done = true
				for _, it := range its {
					it.Done()
				}
				return false
			}
		}
		*p = t
		return true
	}}, nil
}

func pyEnumerate(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var x starlark.Value
	var start starlark.Value = starlark.MakeInt(0)
	if err := starlark.UnpackArgs("enumerate", args, kwargs, "iterable", &x, "start?", &start); err != nil {
		return nil, err
	}
	s, ok := asNumber(start)
	if !ok || s.isFloat {
		return nil, fmt.Errorf("TypeError: '%s' object cannot be interpreted as an integer", start.Type())
	}
	vals, err := collect(x)
	if err != nil {
		return nil, err
	}
	items := make([]starlark.Value, len(vals))
	for i, v := range vals {
		idx := new(big.Int).Add(s.i, big.NewInt(int64(i)))
		items[i] = starlark.Tuple{starlark.MakeBigInt(idx), v}
	}
	return &pyIterator{name: "enumerate", items: items}, nil
}
