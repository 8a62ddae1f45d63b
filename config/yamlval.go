package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/feastgo/feastgo/internal/pyfmt"
)

// Feast parses feature_store.yaml with PyYAML's safe_load, i.e. YAML 1.1 rules:
// "yes"/"on"/"off" are booleans, "0755" is octal, "1e3" is a string, "1_000" is
// an integer. yaml.v3 follows YAML 1.2, so plain scalars are re-resolved here
// with PyYAML's implicit resolvers and constructors, and the rest of the package
// works on the resulting Python-like value tree.

type kind int

const (
	kNull kind = iota
	kBool
	kInt
	kFloat
	kStr
	kSeq
	kMap
	kOther // timestamps, binary, sets...: values Feast's config models never accept as scalars
)

// yval is one YAML value as PyYAML's safe_load would construct it.
type yval struct {
	kind  kind
	str   string   // kStr: the string; other scalars: the source text
	b     bool     // kBool
	i     *big.Int // kInt
	f     float64  // kFloat
	seq   []*yval  // kSeq
	m     *ymap    // kMap
	other string   // kOther: a description such as "timestamp"
	line  int
}

// ymap is a mapping with its keys in document order; a key given twice keeps its
// first position and its last value, as a Python dict built by PyYAML does.
type ymap struct {
	keys   []*yval
	vals   []*yval
	index  map[string]int // string keys only
	badKey *yval          // first key that is not a string
}

func newMap() *ymap { return &ymap{index: map[string]int{}} }

func (m *ymap) set(k, v *yval) {
	if k.kind == kStr {
		if i, ok := m.index[k.str]; ok {
			m.vals[i] = v
			return
		}
		m.index[k.str] = len(m.keys)
	} else if m.badKey == nil {
		m.badKey = k
	}
	m.keys = append(m.keys, k)
	m.vals = append(m.vals, v)
}

func (m *ymap) get(key string) (*yval, bool) {
	i, ok := m.index[key]
	if !ok {
		return nil, false
	}
	return m.vals[i], true
}

// describe names a value's type and shows it, for error messages.
func (v *yval) describe() string {
	switch v.kind {
	case kNull:
		return "null"
	case kBool:
		return "boolean " + strconv.FormatBool(v.b)
	case kInt:
		return "integer " + v.i.String()
	case kFloat:
		return "number " + pyfmt.Float(v.f)
	case kStr:
		return "string " + strconv.Quote(v.str)
	case kSeq:
		return "a list"
	case kMap:
		return "a mapping"
	default:
		return v.other + " " + strconv.Quote(v.str)
	}
}

// native converts the value to plain Go values: nil, bool, int64 (or *big.Int
// when it does not fit), float64, string, []any and map[string]any.
func (v *yval) native() any {
	switch v.kind {
	case kNull:
		return nil
	case kBool:
		return v.b
	case kInt:
		if v.i.IsInt64() {
			return v.i.Int64()
		}
		return new(big.Int).Set(v.i)
	case kFloat:
		return v.f
	case kSeq:
		out := make([]any, len(v.seq))
		for i, e := range v.seq {
			out[i] = e.native()
		}
		return out
	case kMap:
		out := make(map[string]any, len(v.m.keys))
		for i, k := range v.m.keys {
			ks := k.str
			if k.kind != kStr {
				ks = fmt.Sprint(k.native())
			}
			out[ks] = v.m.vals[i].native()
		}
		return out
	default:
		return v.str
	}
}

// parseYAML parses one YAML document into a value tree with PyYAML semantics.
// An empty document yields a null value.
func parseYAML(data []byte) (*yval, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return &yval{kind: kNull, line: 1}, nil
		}
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, fmt.Errorf("line %d: expected a single YAML document, found another one", extra.Line)
	} else if !errors.Is(err, io.EOF) {
		return nil, err
	}
	c := &converter{}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return &yval{kind: kNull, line: 1}, nil
		}
		root = root.Content[0]
	}
	return c.convert(root, 0)
}

type converter struct {
	nodes int
}

const (
	maxYAMLDepth = 200
	maxYAMLNodes = 1 << 20 // guards against alias ("billion laughs") expansion
)

func (c *converter) convert(n *yaml.Node, depth int) (*yval, error) {
	c.nodes++
	if depth > maxYAMLDepth {
		return nil, fmt.Errorf("line %d: YAML nesting too deep", n.Line)
	}
	if c.nodes > maxYAMLNodes {
		return nil, fmt.Errorf("line %d: YAML document too large (alias expansion)", n.Line)
	}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, fmt.Errorf("line %d: unknown alias", n.Line)
		}
		return c.convert(n.Alias, depth+1)
	case yaml.ScalarNode:
		return scalar(n)
	case yaml.SequenceNode:
		if err := checkCollectionTag(n, "!!seq"); err != nil {
			return nil, err
		}
		v := &yval{kind: kSeq, line: n.Line, seq: make([]*yval, 0, len(n.Content))}
		for _, e := range n.Content {
			ev, err := c.convert(e, depth+1)
			if err != nil {
				return nil, err
			}
			v.seq = append(v.seq, ev)
		}
		return v, nil
	case yaml.MappingNode:
		return c.mapping(n, depth)
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return &yval{kind: kNull, line: n.Line}, nil
		}
		return c.convert(n.Content[0], depth+1)
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node", n.Line)
}

func checkCollectionTag(n *yaml.Node, want string) error {
	if n.Style&yaml.TaggedStyle != 0 && n.ShortTag() != want {
		return fmt.Errorf("line %d: unsupported YAML tag %s", n.Line, n.Tag)
	}
	return nil
}

// mapping builds a mapping, applying "<<" merge keys the way PyYAML's
// flatten_mapping does: merged pairs come first (from a list of mappings, the
// earlier ones win), then the node's own pairs, later keys overriding earlier ones.
func (c *converter) mapping(n *yaml.Node, depth int) (*yval, error) {
	if err := checkCollectionTag(n, "!!map"); err != nil {
		return nil, err
	}
	type pair struct{ k, v *yval }
	var merged, own []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		if kn.Kind == yaml.ScalarNode && kn.Style == 0 && kn.Value == "<<" {
			vals, err := c.mergeSources(vn, depth)
			if err != nil {
				return nil, err
			}
			for j := len(vals) - 1; j >= 0; j-- {
				for x, k := range vals[j].m.keys {
					merged = append(merged, pair{k, vals[j].m.vals[x]})
				}
			}
			continue
		}
		k, err := c.convert(kn, depth+1)
		if err != nil {
			return nil, err
		}
		if k.kind == kSeq || k.kind == kMap {
			return nil, fmt.Errorf("line %d: found unhashable key", kn.Line)
		}
		v, err := c.convert(vn, depth+1)
		if err != nil {
			return nil, err
		}
		own = append(own, pair{k, v})
	}
	m := newMap()
	for _, p := range append(merged, own...) {
		m.set(p.k, p.v)
	}
	return &yval{kind: kMap, m: m, line: n.Line}, nil
}

func (c *converter) mergeSources(n *yaml.Node, depth int) ([]*yval, error) {
	target := n
	for target.Kind == yaml.AliasNode && target.Alias != nil {
		target = target.Alias
	}
	if target.Kind == yaml.MappingNode {
		v, err := c.convert(target, depth+1)
		if err != nil {
			return nil, err
		}
		return []*yval{v}, nil
	}
	if target.Kind == yaml.SequenceNode {
		var out []*yval
		for _, e := range target.Content {
			for e.Kind == yaml.AliasNode && e.Alias != nil {
				e = e.Alias
			}
			if e.Kind != yaml.MappingNode {
				return nil, fmt.Errorf("line %d: expected a mapping for merging", e.Line)
			}
			v, err := c.convert(e, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("line %d: expected a mapping or list of mappings for merging", n.Line)
}

var (
	reBool  = regexp.MustCompile(`^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$`)
	reFloat = regexp.MustCompile(`^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`)
	reInt   = regexp.MustCompile(`^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$`)
	reNull  = regexp.MustCompile(`^(?:~|null|Null|NULL|)$`)
	reTime  = regexp.MustCompile(`^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$`)
)

// scalar constructs a scalar the way PyYAML's SafeLoader does.
func scalar(n *yaml.Node) (*yval, error) {
	text := n.Value
	tag := ""
	switch {
	case n.Style&yaml.TaggedStyle != 0:
		tag = n.ShortTag()
	case n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		tag = "!!str"
	default:
		// Plain scalar: PyYAML's implicit resolvers, keyed on the first character.
		switch {
		case reBool.MatchString(text):
			tag = "!!bool"
		case reFloat.MatchString(text):
			tag = "!!float"
		case reInt.MatchString(text):
			tag = "!!int"
		case reNull.MatchString(text):
			tag = "!!null"
		case reTime.MatchString(text):
			tag = "!!timestamp"
		default:
			tag = "!!str"
		}
	}
	v := &yval{str: text, line: n.Line}
	switch tag {
	case "!!str":
		v.kind = kStr
	case "!!null":
		v.kind = kNull
	case "!!bool":
		b, ok := map[string]bool{"yes": true, "no": false, "true": true, "false": false, "on": true, "off": false}[strings.ToLower(text)]
		if !ok {
			return nil, fmt.Errorf("line %d: invalid boolean %q", n.Line, text)
		}
		v.kind, v.b = kBool, b
	case "!!int":
		i, err := pyYAMLInt(text)
		if err != nil {
			return nil, fmt.Errorf("line %d: invalid integer %q", n.Line, text)
		}
		v.kind, v.i = kInt, i
	case "!!float":
		f, err := pyYAMLFloat(text)
		if err != nil {
			return nil, fmt.Errorf("line %d: invalid float %q", n.Line, text)
		}
		v.kind, v.f = kFloat, f
	case "!!timestamp":
		v.kind, v.other = kOther, "timestamp"
	case "!!binary":
		v.kind, v.other = kOther, "binary"
	default:
		return nil, fmt.Errorf("line %d: unsupported YAML tag %s", n.Line, n.Tag)
	}
	return v, nil
}

// pyYAMLInt mirrors SafeConstructor.construct_yaml_int.
func pyYAMLInt(text string) (*big.Int, error) {
	s := strings.ReplaceAll(text, "_", "")
	if s == "" {
		return nil, errors.New("empty")
	}
	neg := false
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" {
		return nil, errors.New("empty")
	}
	r := new(big.Int)
	var ok bool
	switch {
	case s == "0":
		ok = true
	case strings.HasPrefix(s, "0b"):
		_, ok = r.SetString(s[2:], 2)
	case strings.HasPrefix(s, "0x"):
		_, ok = r.SetString(s[2:], 16)
	case s[0] == '0':
		_, ok = r.SetString(s, 8)
	case strings.Contains(s, ":"):
		ok = true
		base := big.NewInt(1)
		parts := strings.Split(s, ":")
		for i := len(parts) - 1; i >= 0; i-- {
			d, good := new(big.Int).SetString(parts[i], 10)
			if !good {
				return nil, errors.New("bad digit group")
			}
			r.Add(r, d.Mul(d, base))
			base.Mul(base, big.NewInt(60))
		}
	default:
		_, ok = r.SetString(s, 10)
	}
	if !ok {
		return nil, errors.New("not an integer")
	}
	if neg {
		r.Neg(r)
	}
	return r, nil
}

// pyYAMLFloat mirrors SafeConstructor.construct_yaml_float.
func pyYAMLFloat(text string) (float64, error) {
	s := strings.ToLower(strings.ReplaceAll(text, "_", ""))
	if s == "" {
		return 0, errors.New("empty")
	}
	sign := 1.0
	if s[0] == '-' || s[0] == '+' {
		if s[0] == '-' {
			sign = -1
		}
		s = s[1:]
	}
	switch {
	case s == ".inf":
		return sign * math.Inf(1), nil
	case s == ".nan":
		return math.NaN(), nil
	case strings.Contains(s, ":"):
		parts := strings.Split(s, ":")
		base, total := 1.0, 0.0
		for i := len(parts) - 1; i >= 0; i-- {
			d, err := strconv.ParseFloat(parts[i], 64)
			if err != nil {
				return 0, err
			}
			total += d * base
			base *= 60
		}
		return sign * total, nil
	}
	if strings.HasSuffix(s, ".") {
		s += "0"
	}
	if strings.HasPrefix(s, ".") {
		s = "0" + s
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, err
	}
	return sign * f, nil
}
