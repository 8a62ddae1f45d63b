package testoidc

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// strs turns a decoded JSON array into strings (nil when absent).
func strs(v any) []string {
	a, _ := v.([]any)
	var out []string
	for _, x := range a {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func clientRoles(c map[string]any) []string {
	ra, _ := c["resource_access"].(map[string]any)
	fc, _ := ra[ClientID].(map[string]any)
	return strs(fc["roles"])
}

func audiences(c map[string]any) []string {
	if s, ok := c["aud"].(string); ok {
		return []string{s}
	}
	return strs(c["aud"])
}

// jwks fetches the realm's RS256 keys by kid.
func jwks(t *testing.T, discovery string) map[string]*rsa.PublicKey {
	t.Helper()
	resp, err := httpClient.Get(JWKSURL(t, discovery))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("jwks: %s", resp.Status)
	}
	var set struct {
		Keys []struct{ Kid, Kty, Alg, Use, N, E string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	keys := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "RSA" || k.Use == "enc" {
			continue
		}
		n, err1 := base64.RawURLEncoding.DecodeString(k.N)
		e, err2 := base64.RawURLEncoding.DecodeString(k.E)
		if err1 != nil || err2 != nil {
			t.Fatalf("jwks key %s: bad n/e", k.Kid)
		}
		keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	if len(keys) == 0 {
		t.Fatal("jwks: no RSA signing key")
	}
	return keys
}

// verifies reports whether tok's RS256 signature verifies under one of keys (by kid).
func verifies(t *testing.T, keys map[string]*rsa.PublicKey, tok string) bool {
	t.Helper()
	p := strings.Split(tok, ".")
	kid, _ := Header(t, tok)["kid"].(string)
	key := keys[kid]
	if key == nil || len(p) != 3 {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(p[2])
	if err != nil {
		return false
	}
	sum := sha256.Sum256([]byte(p[0] + "." + p[1]))
	return rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig) == nil
}

// Each committed user gets a token whose claims are what the realm says
// and what Feast's OIDC parser reads: preferred_username,
// resource_access.feast-client.roles, groups without a leading slash, aud
// feast-client, iss realm feast, RS256 signed by a key of its JWKS.
func TestTokensCarryTheRealmsClaims(t *testing.T) {
	keys := jwks(t, Discovery(t))
	for _, name := range []string{"alice", "bob", "ivy", "carol", "mix", "nobody"} {
		u := Users[name]
		tok := Token(t, u.Name, u.Password)
		c := Claims(t, tok)
		if got := c["preferred_username"]; got != u.Name {
			t.Errorf("%s: preferred_username %v", name, got)
		}
		if got := clientRoles(c); !reflect.DeepEqual(got, u.Roles) {
			t.Errorf("%s: resource_access.%s.roles %v, want %v", name, ClientID, got, u.Roles)
		}
		got := strs(c["groups"])
		slices.Sort(got)
		if !reflect.DeepEqual(got, u.Groups) {
			t.Errorf("%s: groups %v, want %v", name, got, u.Groups)
		}
		if aud := audiences(c); !slices.Contains(aud, Audience) {
			t.Errorf("%s: aud %v lacks %s", name, aud, Audience)
		}
		if c["iss"] != Issuer(t) {
			t.Errorf("%s: iss %v, want %s", name, c["iss"], Issuer(t))
		}
		if alg := Header(t, tok)["alg"]; alg != "RS256" {
			t.Errorf("%s: alg %v", name, alg)
		}
		if !verifies(t, keys, tok) {
			t.Errorf("%s: the signature does not verify with realm feast's JWKS", name)
		}
		exp, _ := c["exp"].(float64)
		if left := time.Until(time.Unix(int64(exp), 0)); left < 5*time.Minute {
			t.Errorf("%s: token expires in %v, want the realm's 15 min", name, left)
		}
	}
}

func TestWrongPasswordIsRefused(t *testing.T) {
	_, err := PasswordGrant(TokenURL(t, Discovery(t)), ClientID, ClientSecret, "alice", "not-her-password")
	if err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("want Keycloak's invalid_grant, got %v", err)
	}
	_, err = PasswordGrant(TokenURL(t, Discovery(t)), ClientID, "wrong-secret", "alice", Users["alice"].Password)
	if err == nil {
		t.Fatal("a wrong client secret got a token")
	}
}

// The bad tokens are what they claim: each differs from a real one in the
// one respect it names, and only the real one verifies.
func TestBadTokens(t *testing.T) {
	keys := jwks(t, Discovery(t))
	short, exp := ShortLivedToken(t, "alice") // minted first: its wait overlaps the rest
	real := UserToken(t, "alice")

	ws := WrongSignature(t, real)
	if ws == real || !reflect.DeepEqual(Claims(t, ws), Claims(t, real)) || !reflect.DeepEqual(Header(t, ws), Header(t, real)) {
		t.Error("WrongSignature changed more than the signature")
	}
	if verifies(t, keys, ws) {
		t.Error("WrongSignature still verifies")
	}

	none := AlgNone(t, real)
	if h := Header(t, none); h["alg"] != "none" || h["kid"] != Header(t, real)["kid"] {
		t.Errorf("AlgNone header %v", h)
	}
	if !strings.HasSuffix(none, ".") || !reflect.DeepEqual(Claims(t, none), Claims(t, real)) {
		t.Error("AlgNone: want the same claims and an empty signature")
	}

	forged := WithClaims(t, real, map[string]any{"resource_access": map[string]any{ClientID: map[string]any{"roles": []string{"admin"}}}})
	if got := clientRoles(Claims(t, forged)); !reflect.DeepEqual(got, []string{"admin"}) || verifies(t, keys, forged) {
		t.Errorf("WithClaims: roles %v, verifies %v", got, verifies(t, keys, forged))
	}

	other := OtherIssuerToken(t, "alice")
	oc := Claims(t, other)
	if oc["iss"] == Issuer(t) || !strings.HasSuffix(oc["iss"].(string), "/realms/other") {
		t.Errorf("OtherIssuerToken iss %v", oc["iss"])
	}
	if verifies(t, keys, other) {
		t.Error("realm other's token verifies with realm feast's keys")
	}
	if !verifies(t, jwks(t, OtherDiscovery(t)), other) {
		t.Error("realm other's token does not verify with its own keys")
	}

	wa := WrongAudienceToken(t, "alice")
	if aud := audiences(Claims(t, wa)); slices.Contains(aud, Audience) || len(aud) == 0 {
		t.Errorf("WrongAudienceToken aud %v", aud)
	}
	if len(clientRoles(Claims(t, wa))) != 0 {
		t.Error("WrongAudienceToken carries feast-client roles")
	}
	if !verifies(t, keys, wa) {
		t.Error("WrongAudienceToken is not a valid realm feast token")
	}

	sc := Claims(t, short)
	if iat, _ := sc["iat"].(float64); time.Unix(int64(iat), 0).Add(time.Second) != exp {
		t.Errorf("feast-short token lives %v s, want 1", sc["exp"].(float64)-iat)
	}
	if !verifies(t, keys, short) || !reflect.DeepEqual(clientRoles(sc), []string{"reader"}) {
		t.Error("feast-short token: want a valid token with alice's roles")
	}
	start := time.Now()
	Expired(exp, 0)
	if time.Now().Before(exp.Add(time.Second)) || time.Since(start) > 3*time.Second {
		t.Errorf("Expired(exp, 0) returned after %v", time.Since(start))
	}
}
