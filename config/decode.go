package config

import (
	"fmt"
	"math"
	"math/big"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// decoder collects problems, ignored keys and warnings while one file is decoded.
type decoder struct {
	errs     Errors
	ignored  []ignoredKey
	warnings []string
}

type ignoredKey struct {
	field string
	line  int
}

// ignoredFields returns the ignored keys in file order.
func (d *decoder) ignoredFields() []string {
	sort.SliceStable(d.ignored, func(i, j int) bool { return d.ignored[i].line < d.ignored[j].line })
	out := make([]string, len(d.ignored))
	for i, k := range d.ignored {
		out[i] = k.field
	}
	return out
}

func (d *decoder) fail(field string, line int, format string, args ...any) {
	d.errs = append(d.errs, &FieldError{Field: field, Reason: fmt.Sprintf(format, args...), Line: line})
}

func (d *decoder) ignore(field string, line int) {
	d.ignored = append(d.ignored, ignoredKey{field, line})
}

func (d *decoder) warn(format string, args ...any) {
	d.warnings = append(d.warnings, fmt.Sprintf(format, args...))
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// object reads the keys of one mapping. With strict set (Feast's extra="forbid"
// models) a key nobody read is an error; otherwise it is recorded as ignored.
type object struct {
	d      *decoder
	path   string
	what   string // e.g. "redis online store", used in unknown-key errors
	strict bool
	m      *ymap
	line   int
	seen   map[string]bool
}

// newObject wraps a mapping value; v must be of kind kMap.
func (d *decoder) newObject(v *yval, path, what string, strict bool) *object {
	o := &object{d: d, path: path, what: what, strict: strict, m: v.m, line: v.line, seen: map[string]bool{}}
	if v.m.badKey != nil {
		d.fail(path, v.m.badKey.line, "key %s is not a string", v.m.badKey.describe())
	}
	return o
}

func (o *object) field(key string) string { return join(o.path, key) }

// get returns the value of key (marking it read) or nil when absent.
func (o *object) get(key string) *yval {
	o.seen[key] = true
	v, ok := o.m.get(key)
	if !ok {
		return nil
	}
	return v
}

func (o *object) has(key string) bool {
	_, ok := o.m.get(key)
	return ok
}

func (o *object) fail(key string, v *yval, format string, args ...any) {
	line := o.line
	if v != nil {
		line = v.line
	}
	o.d.fail(o.field(key), line, format, args...)
}

// skip marks key as a Feast setting this server does not use: its value is
// checked by check (when not nil) and the key is recorded in Ignored.
func (o *object) skip(key string, check func(v *yval, field string)) {
	v := o.get(key)
	if v == nil {
		return
	}
	if check != nil {
		check(v, o.field(key))
	}
	o.d.ignore(o.field(key), v.line)
}

// done reports every key that was not read.
func (o *object) done() {
	for _, k := range o.m.keys {
		if k.kind != kStr || o.seen[k.str] {
			continue
		}
		if o.strict {
			o.d.fail(o.field(k.str), k.line, "unknown key for %s", o.what)
		} else {
			o.d.ignore(o.field(k.str), k.line)
		}
	}
}

// ---- scalar conversions following pydantic v2 (lax unless said strict) ----

// strictStr accepts only strings (pydantic StrictStr, and str in lax mode too).
func (o *object) str(key, def string) string {
	v := o.get(key)
	if v == nil {
		return def
	}
	if v.kind != kStr {
		o.fail(key, v, "must be a string, got %s", v.describe())
		return def
	}
	return v.str
}

// optStr is Optional[str]: null is accepted and yields def.
func (o *object) optStr(key, def string) (string, bool) {
	v := o.get(key)
	if v == nil {
		return def, true
	}
	if v.kind == kNull {
		return "", false
	}
	if v.kind != kStr {
		o.fail(key, v, "must be a string, got %s", v.describe())
		return def, true
	}
	return v.str, true
}

// requiredStr is a StrictStr without default.
func (o *object) requiredStr(key string) string {
	if !o.has(key) {
		o.get(key)
		o.fail(key, nil, "required")
		return ""
	}
	return o.str(key, "")
}

// strictBool accepts only booleans (pydantic StrictBool).
func (o *object) strictBool(key string, def bool) bool {
	v := o.get(key)
	if v == nil {
		return def
	}
	if v.kind != kBool {
		o.fail(key, v, "must be a boolean, got %s", v.describe())
		return def
	}
	return v.b
}

// laxBool is pydantic's lax bool: booleans, 0/1 and the usual words.
func (o *object) laxBool(key string, def bool) bool {
	v := o.get(key)
	if v == nil {
		return def
	}
	b, ok := laxBoolValue(v)
	if !ok {
		o.fail(key, v, "must be a boolean, got %s", v.describe())
		return def
	}
	return b
}

// optLaxBool is Optional[bool]: null yields false (Python's None is falsy).
func (o *object) optLaxBool(key string, def bool) bool {
	v := o.get(key)
	if v == nil {
		return def
	}
	if v.kind == kNull {
		return false
	}
	b, ok := laxBoolValue(v)
	if !ok {
		o.fail(key, v, "must be a boolean, got %s", v.describe())
		return def
	}
	return b
}

func laxBoolValue(v *yval) (bool, bool) {
	switch v.kind {
	case kBool:
		return v.b, true
	case kInt:
		if v.i.IsInt64() && (v.i.Int64() == 0 || v.i.Int64() == 1) {
			return v.i.Int64() == 1, true
		}
	case kFloat:
		if v.f == 0 || v.f == 1 {
			return v.f == 1, true
		}
	case kStr:
		switch strings.ToLower(v.str) {
		case "0", "off", "f", "false", "n", "no":
			return false, true
		case "1", "on", "t", "true", "y", "yes":
			return true, true
		}
	}
	return false, false
}

// strictInt accepts only integers (pydantic StrictInt; booleans are rejected).
func (o *object) strictInt(key string, def int64) int64 {
	v := o.get(key)
	if v == nil {
		return def
	}
	if v.kind != kInt {
		o.fail(key, v, "must be an integer, got %s", v.describe())
		return def
	}
	return o.fitInt(key, v, v.i, def)
}

// optStrictInt is Optional[StrictInt].
func (o *object) optStrictInt(key string) *int64 {
	v := o.get(key)
	if v == nil || v.kind == kNull {
		return nil
	}
	if v.kind != kInt {
		o.fail(key, v, "must be an integer, got %s", v.describe())
		return nil
	}
	n := o.fitInt(key, v, v.i, 0)
	return &n
}

// laxInt is pydantic's lax int: integers, booleans, integral floats and numeric strings.
func (o *object) laxInt(key string, def int64) int64 {
	v := o.get(key)
	if v == nil {
		return def
	}
	i, ok := laxIntValue(v)
	if !ok {
		o.fail(key, v, "must be an integer, got %s", v.describe())
		return def
	}
	return o.fitInt(key, v, i, def)
}

// optLaxInt is Optional[int].
func (o *object) optLaxInt(key string) *int64 {
	v := o.get(key)
	if v == nil || v.kind == kNull {
		return nil
	}
	i, ok := laxIntValue(v)
	if !ok {
		o.fail(key, v, "must be an integer, got %s", v.describe())
		return nil
	}
	n := o.fitInt(key, v, i, 0)
	return &n
}

func (o *object) fitInt(key string, v *yval, i *big.Int, def int64) int64 {
	if !i.IsInt64() {
		o.fail(key, v, "integer %s is out of range", i.String())
		return def
	}
	return i.Int64()
}

var reLaxIntStr = regexp.MustCompile(`^[-+]?[0-9](?:_?[0-9])*(?:\.0*)?$`)

func laxIntValue(v *yval) (*big.Int, bool) {
	switch v.kind {
	case kInt:
		return v.i, true
	case kBool:
		if v.b {
			return big.NewInt(1), true
		}
		return big.NewInt(0), true
	case kFloat:
		if math.IsInf(v.f, 0) || math.IsNaN(v.f) || v.f != math.Trunc(v.f) {
			return nil, false
		}
		i, _ := big.NewFloat(v.f).Int(nil)
		return i, true
	case kStr:
		s := strings.TrimSpace(v.str)
		if !reLaxIntStr.MatchString(s) {
			return nil, false
		}
		if k := strings.IndexByte(s, '.'); k >= 0 {
			s = s[:k]
		}
		i, ok := new(big.Int).SetString(strings.ReplaceAll(strings.TrimPrefix(s, "+"), "_", ""), 10)
		return i, ok
	}
	return nil, false
}

// enum accepts one of the allowed strings.
func (o *object) enum(key, def string, allowed ...string) string {
	v := o.get(key)
	if v == nil {
		return def
	}
	if v.kind == kStr {
		for _, a := range allowed {
			if v.str == a {
				return a
			}
		}
	}
	o.fail(key, v, "%s must be one of %s", v.showValue(), strings.Join(allowed, ", "))
	return def
}

// showValue renders a value for "X must be ..." messages.
func (v *yval) showValue() string {
	if v.kind == kStr {
		return strconv.Quote(v.str)
	}
	return v.describe()
}

// strMap is Dict[str, str] (optional: null yields nil).
func (o *object) strMap(key string) map[string]string {
	v := o.get(key)
	if v == nil || v.kind == kNull {
		return nil
	}
	if v.kind != kMap {
		o.fail(key, v, "must be a mapping of strings, got %s", v.describe())
		return nil
	}
	out := map[string]string{}
	for i, k := range v.m.keys {
		val := v.m.vals[i]
		if k.kind != kStr {
			o.fail(key, k, "key %s is not a string", k.describe())
			continue
		}
		if val.kind != kStr {
			o.d.fail(join(o.field(key), k.str), val.line, "must be a string, got %s", val.describe())
			continue
		}
		out[k.str] = val.str
	}
	return out
}

// anyMap is Dict[str, Any].
func (o *object) anyMap(key string, def map[string]any) map[string]any {
	v := o.get(key)
	if v == nil {
		return def
	}
	if v.kind != kMap {
		o.fail(key, v, "must be a mapping, got %s", v.describe())
		return def
	}
	if v.m.badKey != nil {
		o.fail(key, v.m.badKey, "key %s is not a string", v.m.badKey.describe())
	}
	return v.native().(map[string]any)
}

// sub returns key's value as an object when it is a mapping; null yields nil
// when nullable, anything else is an error.
func (o *object) sub(key, what string, strict, nullable bool) *object {
	v := o.get(key)
	if v == nil {
		return nil
	}
	if v.kind == kNull && nullable {
		return nil
	}
	if v.kind != kMap {
		o.fail(key, v, "must be a mapping, got %s", v.describe())
		return nil
	}
	return o.d.newObject(v, o.field(key), what, strict)
}

// ---- checks for keys that are validated but not used ----

func (d *decoder) checkMapping(v *yval, field string) {
	if v.kind != kMap && v.kind != kNull {
		d.fail(field, v.line, "must be a mapping, got %s", v.describe())
	}
}

func (d *decoder) checkBool(v *yval, field string) {
	if v.kind != kBool {
		d.fail(field, v.line, "must be a boolean, got %s", v.describe())
	}
}

func (d *decoder) checkOptBool(v *yval, field string) {
	if v.kind != kBool && v.kind != kNull {
		d.fail(field, v.line, "must be a boolean, got %s", v.describe())
	}
}

func (d *decoder) checkOptInt(v *yval, field string) {
	if v.kind != kInt && v.kind != kNull {
		d.fail(field, v.line, "must be an integer, got %s", v.describe())
	}
}

func (d *decoder) checkOptStr(v *yval, field string) {
	if v.kind != kStr && v.kind != kNull {
		d.fail(field, v.line, "must be a string, got %s", v.describe())
	}
}

func (d *decoder) checkStr(v *yval, field string) {
	if v.kind != kStr {
		d.fail(field, v.line, "must be a string, got %s", v.describe())
	}
}
