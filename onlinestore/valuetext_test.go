package onlinestore

import (
	"encoding/hex"
	"testing"
)

// Expected texts printed by Feast 0.67.0's helpers.extract_text_and_num.
func TestValueTextMatchesFeast(t *testing.T) {
	cases := []struct {
		hex, text string
		ok        bool
	}{
		{"120668c3a96c6c6f", "héllo", true},
		{"18fbffffffffffffffff01", "-5", true},
		{"20808080808080808040", "4611686018427387904", true},
		{"299a9999999999b93f", "0.1", true},
		{"290080e03779c34143", "1e+16", true},
		{"29691d554d1075ef3e", "1.5e-05", true},
		{"290000000000000840", "3.0", true},
		{"35cdcccc3d", "0.10000000149011612", true},
		{"35ec78ad60", "1.0000000200408773e+20", true},
		{"3801", "True", true},
		{"3800", "False", true},
		{"29000000000000f87f", "nan", true},
		{"29000000000000f0ff", "-inf", true},
		{"", "", false},
		{"72030a0101", "", false},
		{"290000000000000080", "-0.0", true},
		{"2966de77832112dc42", "123456789012345.6", true},
	}
	for _, c := range cases {
		b, err := hex.DecodeString(c.hex)
		if err != nil {
			t.Fatal(err)
		}
		text, _, ok := ValueText(b)
		if text != c.text || ok != c.ok {
			t.Errorf("ValueText(%s) = %q, %v; want %q, %v", c.hex, text, ok, c.text, c.ok)
		}
	}
}
