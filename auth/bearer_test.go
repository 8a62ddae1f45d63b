package auth

import (
	"context"
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

// remembering knows one token; every Authenticate call is counted.
type remembering struct{ calls int }

func (r *remembering) Remembered(token string) (*User, bool) {
	if token == "known" {
		return &User{Name: "alice"}, true
	}
	return nil, false
}

func (r *remembering) Authenticate(_ context.Context, token string) (*User, error) {
	r.calls++
	if token == "known" || token == "fresh" {
		return &User{Name: "bob"}, nil
	}
	return nil, Unauthenticated("unknown")
}

func TestAuthenticateRemembersOnlyExactBearerTokens(t *testing.T) {
	r := &remembering{}
	ctx := context.Background()
	for _, h := range []string{"Bearer known", "bearer known", "BEARER known"} {
		if u, err := Authenticate(ctx, r, h); err != nil || u.Name != "alice" {
			t.Errorf("%q: %v %v, want the remembered user", h, u, err)
		}
	}
	if r.calls != 0 {
		t.Fatalf("a remembered token was verified again (%d calls)", r.calls)
	}
	// Anything but exactly "Bearer <remembered>" takes the full path.
	if u, err := Authenticate(ctx, r, "Bearer  known"); err != nil || u.Name != "bob" || r.calls != 1 {
		t.Errorf("two spaces: %v %v (calls %d), want BearerToken's trim and a verification", u, err, r.calls)
	}
	for _, h := range []string{"Bearer known extra", "Basic known", "known", "Bearer "} {
		if _, err := Authenticate(ctx, r, h); !IsUnauthenticated(err) {
			t.Errorf("%q: %v, want Unauthenticated", h, err)
		}
	}
	if u, err := Authenticate(ctx, r, "Bearer fresh"); err != nil || u.Name != "bob" {
		t.Errorf("a token not remembered: %v %v", u, err)
	}
}
