package auth

import (
	"strings"
	"testing"
	"unicode"
)

func TestHasSpaceEqualsUnicode(t *testing.T) {
	base := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl-_"
	for _, sp := range []string{" ", "\t", "\n", "\v", "\f", "\r", "\u0085", "\u00a0", "\u2003", "\u3000", "!", "~", "\x00", "\x7f", "é"} {
		for i := 0; i <= len(base); i++ {
			s := base[:i] + sp + base[i:]
			want := strings.IndexFunc(s, unicode.IsSpace) >= 0
			if got := hasSpace(s); got != want {
				t.Fatalf("hasSpace(%q) = %v, want %v", s, got, want)
			}
		}
	}
	if hasSpace(base) {
		t.Fatal("a token without white space")
	}
}

func FuzzHasSpace(f *testing.F) {
	f.Add("abc def")
	f.Add("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := hasSpace(s), strings.IndexFunc(s, unicode.IsSpace) >= 0; got != want {
			t.Fatalf("hasSpace(%q) = %v, want %v", s, got, want)
		}
	})
}
