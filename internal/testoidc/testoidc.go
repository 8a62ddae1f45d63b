// Package testoidc gives tests tokens from the real Keycloak that
// scripts/keycloak.sh starts (scripts/go-test.sh starts it and exports
// FEASTGO_TEST_OIDC_*), and builds the bad tokens of the auth tests from
// real ones. Test code only.
//
// The realms are scripts/keycloak/*-realm.json. Realm "feast" has the
// confidential client feast-client (secret feast-secret, password grant;
// tokens carry aud feast-client, resource_access.feast-client.roles and a
// groups claim of plain group names), feast-short (the same claims, access
// tokens live 1 s) and feast-other (aud not-feast, no feast-client roles).
// Realm "other" has a feast-client of its own: another issuer, other keys.
//
// Run alone (`go test ./...`) a test needing Keycloak is skipped; under
// FEASTGO_INTEGRATION=1 (scripts/go-test.sh) a missing one fails it.
package testoidc

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// The environment scripts/go-test.sh exports from scripts/keycloak.sh's env file.
const (
	EnvDiscovery      = "FEASTGO_TEST_OIDC_DISCOVERY"
	EnvOtherDiscovery = "FEASTGO_TEST_OIDC_OTHER_DISCOVERY"
	EnvIssuer         = "FEASTGO_TEST_OIDC_ISSUER"
)

// The clients of the committed realms.
const (
	ClientID     = "feast-client"
	ClientSecret = "feast-secret"
	// Audience is what feast-client's tokens carry in aud.
	Audience = "feast-client"
)

// Client is one OIDC client of a realm: where to ask and how to authenticate.
type Client struct {
	// Discovery is the realm's OIDC discovery URL.
	Discovery string
	ID        string
	Secret    string
}

// User is one of the committed test users, with what its tokens carry.
type User struct {
	Name     string
	Password string
	// Roles are the feast-client client roles (resource_access.feast-client.roles).
	Roles []string
	// Groups is the groups claim (absent from the token when empty).
	Groups []string
}

// Users of realm feast, chosen against the permissions of
// permissions/testdata/repo: alice reads (role reader), bob writes the
// driver.* views (group writers), ivy also reads the driver_* feature
// services (group ds), carol may do anything (role admin), mix reads and
// writes, nobody has no role and no group.
var Users = map[string]User{
	"alice":  {Name: "alice", Password: "alice-password", Roles: []string{"reader"}},
	"bob":    {Name: "bob", Password: "bob-password", Groups: []string{"writers"}},
	"ivy":    {Name: "ivy", Password: "ivy-password", Groups: []string{"ds", "writers"}},
	"carol":  {Name: "carol", Password: "carol-password", Roles: []string{"admin"}},
	"mix":    {Name: "mix", Password: "mix-password", Roles: []string{"reader"}, Groups: []string{"writers"}},
	"nobody": {Name: "nobody", Password: "nobody-password"},
}

// env returns a FEASTGO_TEST_OIDC_* variable: skips the test when unset
// outside an integration run, fails it inside one.
func env(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv("FEASTGO_INTEGRATION") != "" {
			t.Fatalf("%s is not set but FEASTGO_INTEGRATION is: scripts/go-test.sh should have started Keycloak (scripts/keycloak.sh)", name)
		}
		t.Skipf("%s not set: needs the Keycloak that scripts/go-test.sh starts (scripts/keycloak.sh)", name)
	}
	return v
}

// Discovery is realm feast's OIDC discovery URL (auth_discovery_url).
func Discovery(t testing.TB) string { t.Helper(); return env(t, EnvDiscovery) }

// OtherDiscovery is realm other's: another issuer with other signing keys.
func OtherDiscovery(t testing.TB) string { t.Helper(); return env(t, EnvOtherDiscovery) }

// Issuer is the iss of realm feast's tokens.
func Issuer(t testing.TB) string { t.Helper(); return env(t, EnvIssuer) }

// FeastClient is feast-client of realm feast.
func FeastClient(t testing.TB) Client {
	t.Helper()
	return Client{Discovery: Discovery(t), ID: ClientID, Secret: ClientSecret}
}

// ShortClient is feast-short of realm feast: the same claims as
// feast-client, but access tokens that expire 1 s after they are issued.
func ShortClient(t testing.TB) Client {
	t.Helper()
	return Client{Discovery: Discovery(t), ID: "feast-short", Secret: "short-secret"}
}

// OtherAudienceClient is feast-other of realm feast: aud is not-feast.
func OtherAudienceClient(t testing.TB) Client {
	t.Helper()
	return Client{Discovery: Discovery(t), ID: "feast-other", Secret: "other-secret"}
}

// OtherIssuerClient is feast-client of realm other.
func OtherIssuerClient(t testing.TB) Client {
	t.Helper()
	return Client{Discovery: OtherDiscovery(t), ID: ClientID, Secret: ClientSecret}
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

var (
	docMu sync.Mutex
	docs  = map[string]map[string]any{}
)

// DiscoveryDoc returns (and caches) the discovery document at url.
func DiscoveryDoc(t testing.TB, url string) map[string]any {
	t.Helper()
	docMu.Lock()
	defer docMu.Unlock()
	if d, ok := docs[url]; ok {
		return d
	}
	resp, err := httpClient.Get(url)
	if err != nil {
		t.Fatalf("OIDC discovery %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("OIDC discovery %s: %s: %s", url, resp.Status, body)
	}
	var d map[string]any
	if err := json.Unmarshal(body, &d); err != nil {
		t.Fatalf("OIDC discovery %s: %v", url, err)
	}
	docs[url] = d
	return d
}

func endpoint(t testing.TB, discovery, key string) string {
	t.Helper()
	s, _ := DiscoveryDoc(t, discovery)[key].(string)
	if s == "" {
		t.Fatalf("OIDC discovery %s has no %s", discovery, key)
	}
	return s
}

// TokenURL is the token endpoint of the realm at discovery.
func TokenURL(t testing.TB, discovery string) string {
	t.Helper()
	return endpoint(t, discovery, "token_endpoint")
}

// JWKSURL is the key set endpoint of the realm at discovery.
func JWKSURL(t testing.TB, discovery string) string {
	t.Helper()
	return endpoint(t, discovery, "jwks_uri")
}

// Token is an access token of feast-client in realm feast for user, by the
// password grant (what Feast's client does with username and password).
func Token(t testing.TB, user, password string) string {
	t.Helper()
	return TokenFor(t, FeastClient(t), user, password)
}

// UserToken is Token for one of Users.
func UserToken(t testing.TB, user string) string {
	t.Helper()
	u, ok := Users[user]
	if !ok {
		t.Fatalf("testoidc: no user %q in the committed realm", user)
	}
	return Token(t, u.Name, u.Password)
}

// TokenFor is an access token of c for user by the password grant.
func TokenFor(t testing.TB, c Client, user, password string) string {
	t.Helper()
	tok, err := PasswordGrant(TokenURL(t, c.Discovery), c.ID, c.Secret, user, password)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// PasswordGrant asks tokenURL for an access token; an error names the status and body.
func PasswordGrant(tokenURL, clientID, secret, user, password string) (string, error) {
	form := url.Values{
		"grant_type": {"password"}, "client_id": {clientID}, "client_secret": {secret},
		"username": {user}, "password": {password}, "scope": {"openid"},
	}
	resp, err := httpClient.PostForm(tokenURL, form)
	if err != nil {
		return "", fmt.Errorf("token %s for %s: %v", tokenURL, user, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("token %s for %s (client %s): %s: %s", tokenURL, user, clientID, resp.Status, body)
	}
	var r struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.AccessToken == "" {
		return "", fmt.Errorf("token %s for %s: no access_token in %s", tokenURL, user, body)
	}
	return r.AccessToken, nil
}

// ShortLivedToken is user's token from feast-short and its expiry; mint it
// early and wait for Expired, so that the wait overlaps other work.
func ShortLivedToken(t testing.TB, user string) (string, time.Time) {
	t.Helper()
	u, ok := Users[user]
	if !ok {
		t.Fatalf("testoidc: no user %q in the committed realm", user)
	}
	tok := TokenFor(t, ShortClient(t), u.Name, u.Password)
	exp, ok := Claims(t, tok)["exp"].(float64)
	if !ok {
		t.Fatalf("testoidc: token of feast-short has no exp")
	}
	return tok, time.Unix(int64(exp), 0)
}

// Expired sleeps until exp+leeway has passed by a second (Feast accepts a
// token up to 10 s after its exp: pass its leeway).
func Expired(exp time.Time, leeway time.Duration) {
	if d := time.Until(exp.Add(leeway + time.Second)); d > 0 {
		time.Sleep(d)
	}
}

// ExpiredToken is a real token of user whose exp is more than leeway in
// the past: it waits up to leeway+2 s for one.
func ExpiredToken(t testing.TB, user string, leeway time.Duration) string {
	t.Helper()
	tok, exp := ShortLivedToken(t, user)
	Expired(exp, leeway)
	return tok
}

// parts splits a compact JWS.
func parts(t testing.TB, tok string) [3]string {
	t.Helper()
	p := strings.Split(tok, ".")
	if len(p) != 3 {
		t.Fatalf("testoidc: not a compact JWS (%d parts)", len(p))
	}
	return [3]string{p[0], p[1], p[2]}
}

func decodeSegment(t testing.TB, seg string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatalf("testoidc: segment not base64url: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("testoidc: segment not JSON: %v", err)
	}
	return m
}

// Header is the decoded JOSE header of tok (not verified).
func Header(t testing.TB, tok string) map[string]any {
	t.Helper()
	return decodeSegment(t, parts(t, tok)[0])
}

// Claims is the decoded payload of tok (not verified).
func Claims(t testing.TB, tok string) map[string]any {
	t.Helper()
	return decodeSegment(t, parts(t, tok)[1])
}

// WrongSignature is tok with its signature's bytes flipped: header and
// claims unchanged, the signature no longer verifies.
func WrongSignature(t testing.TB, tok string) string {
	t.Helper()
	p := parts(t, tok)
	sig, err := base64.RawURLEncoding.DecodeString(p[2])
	if err != nil || len(sig) == 0 {
		t.Fatalf("testoidc: bad signature segment")
	}
	for i := range sig {
		sig[i] ^= 0x5a
	}
	return p[0] + "." + p[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// AlgNone is tok's claims under a header saying alg "none" (the original
// kid kept, so that a key lookup by kid still succeeds) and no signature.
func AlgNone(t testing.TB, tok string) string {
	t.Helper()
	h := Header(t, tok)
	h["alg"] = "none"
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b) + "." + parts(t, tok)[1] + "."
}

// WithClaims is tok with claims changed (nil deletes one) and the original
// signature kept, so it no longer verifies: a forged token.
func WithClaims(t testing.TB, tok string, changes map[string]any) string {
	t.Helper()
	p := parts(t, tok)
	c := Claims(t, tok)
	for k, v := range changes {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return p[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + p[2]
}

// OtherIssuerToken is user's token from realm other (alice only there).
func OtherIssuerToken(t testing.TB, user string) string {
	t.Helper()
	return TokenFor(t, OtherIssuerClient(t), user, Users[user].Password)
}

// WrongAudienceToken is user's token from feast-other: aud not-feast.
func WrongAudienceToken(t testing.TB, user string) string {
	t.Helper()
	return TokenFor(t, OtherAudienceClient(t), user, Users[user].Password)
}
