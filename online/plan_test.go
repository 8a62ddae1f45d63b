package online

import (
	"testing"
	"unicode"
)

// parseRef follows Feast's reading of "<view>[@<version>]:<feature>": an
// empty tag or one whose Python .lower() is "latest" means the active
// version, v<N>/V<N> pins N, and any other tag is part of the view name.
// Every expectation below is what feast.utils._parse_feature_ref of Feast
// 0.67.0 returns for the same string.
func TestParseRefVersionTags(t *testing.T) {
	cases := []struct {
		ref, view string
		version   int32 // -1: none
	}{
		{"fv:f", "fv", -1},
		{"fv@:f", "fv", -1},
		{"fv@latest:f", "fv", -1},
		{"fv@LATEST:f", "fv", -1},
		{"fv@LaTeSt:f", "fv", -1},
		// "ſ" (long s) folds to "s" in Unicode case folding, but
		// Python's "lateſt".lower() is itself: a view name.
		{"fv@lateſt:f", "fv@lateſt", -1},
		{"fv@latest2:f", "fv@latest2", -1},
		{"fv@v2:f", "fv", 2},
		{"fv@V0:f", "fv", 0},
		{"fv@vx:f", "fv@vx", -1},
		{"fv@v:f", "fv@v", -1},
		// Python's \d and int(): any script's decimal digits.
		{"fv@v٣:f", "fv", 3},     // ARABIC-INDIC DIGIT THREE
		{"fv@v1０:f", "fv", 10},   // FULLWIDTH DIGIT ZERO
		{"fv@v𝟐:f", "fv", 2},     // MATHEMATICAL BOLD DIGIT TWO
		{"fv@v²:f", "fv@v²", -1}, // SUPERSCRIPT TWO is No, not Nd
		// $ matches before one final newline.
		{"fv@v2\n:f", "fv", 2},
		{"fv@v2\n\n:f", "fv@v2\n\n", -1},
		{"fv@v\n:f", "fv@v\n", -1},
	}
	for _, tc := range cases {
		view, version, feature, err := parseRef(tc.ref)
		if err != nil {
			t.Fatalf("%s: %v", tc.ref, err)
		}
		got := int32(-1)
		if version != nil {
			got = *version
		}
		if view != tc.view || got != tc.version || feature != "f" {
			t.Errorf("%s: view %q version %d feature %q, want %q %d", tc.ref, view, got, feature, tc.view, tc.version)
		}
	}
	if _, _, _, err := parseRef("fv@v2147483648:f"); err == nil {
		t.Error("a version past int32 was accepted")
	}
}

// decimalDigit relies on unicode.Nd being runs of ten digits, zero first,
// one run (or several whole ones) per range; Python 3.11's
// unicodedata.decimal agreed with (r - lo) % 10 on every Nd character it
// knows (checked when this was written; Go knows 20 newer ones).
func TestDecimalDigit(t *testing.T) {
	n := 0
	check := func(lo, hi, stride uint32) {
		if stride != 1 || (hi-lo+1)%10 != 0 {
			t.Errorf("Nd range %#x-%#x stride %d is not whole runs of ten", lo, hi, stride)
		}
		for r := lo; r <= hi; r++ {
			if got, want := decimalDigit(rune(r)), int(r-lo)%10; got != want {
				t.Errorf("decimalDigit(%#x) = %d, want %d", r, got, want)
			}
			n++
		}
	}
	for _, rg := range unicode.Nd.R16 {
		check(uint32(rg.Lo), uint32(rg.Hi), uint32(rg.Stride))
	}
	for _, rg := range unicode.Nd.R32 {
		check(rg.Lo, rg.Hi, rg.Stride)
	}
	if n < 600 {
		t.Errorf("only %d Nd characters", n)
	}
	for _, r := range []rune{'a', '²', '½', 'Ⅻ', -1, unicode.MaxRune + 1} {
		if d := decimalDigit(r); d != -1 {
			t.Errorf("decimalDigit(%q) = %d, want -1", r, d)
		}
	}
}
