package config

import "strings"

// ExpandVars substitutes environment variables in text exactly like Python's
// posixpath.expandvars, which Feast applies to the whole of feature_store.yaml
// before parsing it: "$NAME" (NAME made of ASCII letters, digits and '_') and
// "${ANYTHING}" are replaced by the variable's value when getenv finds it and
// left verbatim otherwise; there is no default-value syntax ("${VAR:-x}" looks
// up a variable literally named "VAR:-x"), and substituted text is not rescanned.
func ExpandVars(text string, getenv func(string) (string, bool)) string {
	if !strings.Contains(text, "$") {
		return text
	}
	var b strings.Builder
	i := 0
	for {
		j := strings.IndexByte(text[i:], '$')
		if j < 0 {
			b.WriteString(text[i:])
			return b.String()
		}
		j += i
		name, end := varAt(text, j)
		b.WriteString(text[i:j])
		if end < 0 {
			// No variable reference here: keep the '$' and continue after it.
			b.WriteByte('$')
			i = j + 1
			continue
		}
		if v, ok := getenv(name); ok {
			b.WriteString(v)
		} else {
			b.WriteString(text[j:end])
		}
		i = end
	}
}

// varAt parses the reference starting at the '$' at index i, returning the
// variable name and the index just past the reference, or end -1 when the
// text at i is not a reference (the regular expression \$(\w+|\{[^}]*\})
// with re.ASCII does not match).
func varAt(text string, i int) (name string, end int) {
	k := i + 1
	if k < len(text) && text[k] == '{' {
		close := strings.IndexByte(text[k+1:], '}')
		if close < 0 {
			return "", -1
		}
		return text[k+1 : k+1+close], k + 1 + close + 1
	}
	for k < len(text) && isASCIIWord(text[k]) {
		k++
	}
	if k == i+1 {
		return "", -1
	}
	return text[i+1 : k], k
}

func isASCIIWord(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}
