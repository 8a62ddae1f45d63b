package pyconv

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// ErrSyntax is a str that int() or float() refuses (Python's ValueError);
// ErrRange an int() literal that does not fit an INT64 field.
var (
	ErrSyntax = errors.New("invalid literal")
	ErrRange  = errors.New("out of range")
)

// IntLiteral is the grammar of Python's int(s) in base 10: surrounding
// blanks, one optional sign, ASCII digits with single underscores between
// them. It returns the literal cleaned for strconv or math/big ("-1000"
// for " -1_000 "). Python also takes non-ASCII decimal digits ("٣"); this
// does not.
func IntLiteral(s string) (string, bool) {
	t := strings.TrimSpace(s)
	sign := ""
	if t != "" && (t[0] == '+' || t[0] == '-') {
		if t[0] == '-' {
			sign = "-"
		}
		t = t[1:]
	}
	d, ok := digits(t)
	if !ok {
		return "", false
	}
	return sign + d, true
}

// ParseInt is Python's int(s) for a result stored in an INT64 field:
// ErrSyntax for what int() refuses, ErrRange for what fits no int64.
func ParseInt(s string) (int64, error) {
	lit, ok := IntLiteral(s)
	if !ok {
		return 0, ErrSyntax
	}
	n, err := strconv.ParseInt(lit, 10, 64)
	if err != nil {
		return 0, ErrRange
	}
	return n, nil
}

// ParseFloat is Python's float(s): surrounding blanks, decimal forms with
// single underscores between digits, "inf", "infinity" and "nan" in any
// case with an optional sign; no hexadecimal. A literal beyond the float64
// range is ±inf, below it 0 (no error, as in Python); "nan" is NaN's bits.
func ParseFloat(s string) (float64, bool) {
	t := strings.TrimSpace(s)
	if t == "" || strings.ContainsAny(t, "xXpP") {
		return 0, false
	}
	if strings.Contains(t, "_") {
		for i := 0; i < len(t); i++ {
			if t[i] == '_' && (i == 0 || i+1 == len(t) || !isDigit(t[i-1]) || !isDigit(t[i+1])) {
				return 0, false
			}
		}
		t = strings.ReplaceAll(t, "_", "")
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return f, true // ±inf or ±0, as Python gives
		}
		return 0, false
	}
	if math.IsNaN(f) {
		return NaN, true
	}
	return f, true
}

// digits checks ASCII digits with single underscores between them and
// returns them without the underscores.
func digits(s string) (string, bool) {
	if s == "" || s[0] == '_' || s[len(s)-1] == '_' || strings.Contains(s, "__") {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) && s[i] != '_' {
			return "", false
		}
	}
	return strings.ReplaceAll(s, "_", ""), true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
