package transformations

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/feastgo/feastgo/core"
)

// pkind is the Python type of a pv.
type pkind uint8

const (
	kNone pkind = iota
	kBool
	kInt
	kFloat
	kFloat32 // numpy.float32, from a float column of a delegated answer
	kStr
	kList
	kDict
	// kOpaque is a Python value the native paths do not model (datetime,
	// bytes, a map, …): touching one means the request is delegated.
	kOpaque
)

// pv is a Python value as Feast's code sees it: what to_dict() hands a
// python-mode UDF, what a UDF returns, what python_values_to_proto_values
// converts.
type pv struct {
	k    pkind
	i    int64    // kBool (0/1), kInt when big == nil
	big  *big.Int // kInt outside int64
	f    float64  // kFloat, kFloat32 (widened)
	s    string   // kStr; kOpaque: the Python type name
	list []pv     // kList
	n    int      // kDict: number of items
}

var pyNone = pv{}

func pyInt(i int64) pv       { return pv{k: kInt, i: i} }
func pyFloat(f float64) pv   { return pv{k: kFloat, f: f} }
func pyStr(s string) pv      { return pv{k: kStr, s: s} }
func pyOpaque(typ string) pv { return pv{k: kOpaque, s: typ} }
func pyBool(b bool) pv {
	if b {
		return pv{k: kBool, i: 1}
	}
	return pv{k: kBool}
}

// typeName is Python's type(x).__name__.
func (v pv) typeName() string {
	switch v.k {
	case kNone:
		return "NoneType"
	case kBool:
		return "bool"
	case kInt:
		return "int"
	case kFloat:
		return "float"
	case kFloat32:
		return "float32"
	case kStr:
		return "str"
	case kList:
		return "list"
	case kDict:
		return "dict"
	}
	return v.s
}

// errUnsupported marks input or output the native paths do not model
// exactly; the caller delegates instead of guessing.
var errUnsupported = errors.New("outside the natively modelled subset")

func unsupportedf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUnsupported, fmt.Sprintf(format, args...))
}

// pvFromCore is feast_value_type_to_python_type for a decoded request value
// (join keys and request data).
func pvFromCore(v core.Value) pv {
	switch v.Type {
	case core.Invalid, core.Null:
		return pyNone
	case core.Int32, core.Int64:
		return pyInt(v.I)
	case core.Double, core.Float:
		return pyFloat(v.F)
	case core.Bool:
		return pyBool(v.I != 0)
	case core.String:
		return pyStr(v.S)
	case core.Bytes:
		return pyOpaque("bytes")
	case core.UnixTimestamp:
		return pyOpaque("datetime")
	}
	if v.Type.IsList() || v.Type == core.UntypedList {
		if v.Type == core.BytesList || v.Type == core.UnixTimestampList {
			return pyOpaque("list")
		}
		out := make([]pv, len(v.List))
		for i, e := range v.List {
			out[i] = pvFromCore(e)
		}
		return pv{k: kList, list: out}
	}
	return pyOpaque(v.Type.String())
}

var errBadValue = errors.New("malformed feast.types.Value")

// pvFromProto is feast_value_type_to_python_type for serialized
// feast.types.Value bytes as an online store returns them.
func pvFromProto(b []byte) (pv, error) {
	var num protowire.Number
	var field []byte
	var typ protowire.Type
	for len(b) > 0 {
		n, t, l := protowire.ConsumeTag(b)
		if l < 0 {
			return pv{}, errBadValue
		}
		m := protowire.ConsumeFieldValue(n, t, b[l:])
		if m < 0 {
			return pv{}, errBadValue
		}
		num, typ, field = n, t, b[l:l+m]
		b = b[l+m:]
	}
	if num == 0 {
		return pyNone, nil
	}
	payload := func() ([]byte, error) {
		if typ != protowire.BytesType {
			return nil, errBadValue
		}
		v, n := protowire.ConsumeBytes(field)
		if n < 0 {
			return nil, errBadValue
		}
		return v, nil
	}
	varint := func() (uint64, error) {
		if typ != protowire.VarintType {
			return 0, errBadValue
		}
		v, n := protowire.ConsumeVarint(field)
		if n < 0 {
			return 0, errBadValue
		}
		return v, nil
	}
	switch num {
	case 1:
		return pyOpaque("bytes"), nil
	case 2:
		s, err := payload()
		return pyStr(string(s)), err
	case 3:
		v, err := varint()
		return pyInt(int64(int32(v))), err
	case 4:
		v, err := varint()
		return pyInt(int64(v)), err
	case 5:
		if typ != protowire.Fixed64Type || len(field) != 8 {
			return pv{}, errBadValue
		}
		return pyFloat(math.Float64frombits(binary.LittleEndian.Uint64(field))), nil
	case 6:
		if typ != protowire.Fixed32Type || len(field) != 4 {
			return pv{}, errBadValue
		}
		return pyFloat(float64(math.Float32frombits(binary.LittleEndian.Uint32(field)))), nil
	case 7:
		v, err := varint()
		return pyBool(v != 0), err
	case 8:
		return pyOpaque("datetime"), nil
	case 12, 13, 14, 15, 16, 17:
		p, err := payload()
		if err != nil {
			return pv{}, err
		}
		return decodeList(num, p)
	case 11, 18:
		return pyOpaque("list"), nil
	}
	// null_val becomes the int 0 in Feast's to_dict; maps, sets, JSON,
	// UUIDs, decimals … are left to Python.
	return pyOpaque(fmt.Sprintf("Value field %d", num)), nil
}

// decodeList reads the repeated "val" field (1) of a *List message.
func decodeList(num protowire.Number, b []byte) (pv, error) {
	out := []pv{}
	for len(b) > 0 {
		n, t, l := protowire.ConsumeTag(b)
		if l < 0 {
			return pv{}, errBadValue
		}
		b = b[l:]
		if n != 1 {
			m := protowire.ConsumeFieldValue(n, t, b)
			if m < 0 {
				return pv{}, errBadValue
			}
			b = b[m:]
			continue
		}
		switch {
		case num == 12 && t == protowire.BytesType:
			s, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return pv{}, errBadValue
			}
			out = append(out, pyStr(string(s)))
			b = b[m:]
		case t == protowire.BytesType: // packed
			p, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return pv{}, errBadValue
			}
			b = b[m:]
			for len(p) > 0 {
				e, k, err := listElem(num, p, packedType(num))
				if err != nil {
					return pv{}, err
				}
				out = append(out, e)
				p = p[k:]
			}
		default:
			e, k, err := listElem(num, b, t)
			if err != nil {
				return pv{}, err
			}
			out = append(out, e)
			b = b[k:]
		}
	}
	return pv{k: kList, list: out}, nil
}

func packedType(num protowire.Number) protowire.Type {
	switch num {
	case 15:
		return protowire.Fixed64Type
	case 16:
		return protowire.Fixed32Type
	}
	return protowire.VarintType
}

func listElem(num protowire.Number, b []byte, t protowire.Type) (pv, int, error) {
	switch {
	case t == protowire.VarintType && (num == 13 || num == 14 || num == 17):
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return pv{}, 0, errBadValue
		}
		switch num {
		case 13:
			return pyInt(int64(int32(v))), n, nil
		case 14:
			return pyInt(int64(v)), n, nil
		}
		return pyBool(v != 0), n, nil
	case t == protowire.Fixed64Type && num == 15:
		v, n := protowire.ConsumeFixed64(b)
		if n < 0 {
			return pv{}, 0, errBadValue
		}
		return pyFloat(math.Float64frombits(v)), n, nil
	case t == protowire.Fixed32Type && num == 16:
		v, n := protowire.ConsumeFixed32(b)
		if n < 0 {
			return pv{}, 0, errBadValue
		}
		return pyFloat(float64(math.Float32frombits(v))), n, nil
	}
	return pv{}, 0, errBadValue
}
