package kubernetes_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/feastgo/feastgo/auth"
	"github.com/feastgo/feastgo/auth/kubernetes"
	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/testkube"
)

// reviewer is the Reviewer a feature server in namespace feast, running as
// service account feast/feature-server, uses.
func reviewer(t *testing.T, c *testkube.Cluster, mod func(*kubernetes.Config)) *kubernetes.Reviewer {
	t.Helper()
	c.InClusterEnv(t)
	cfg, err := kubernetes.InCluster()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Namespace != "feast" {
		t.Fatalf("namespace %q, want feast", cfg.Namespace)
	}
	if mod != nil {
		mod(&cfg)
	}
	r, err := kubernetes.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// bootstrapAuthenticated are the cluster roles Kubernetes binds to group
// system:authenticated from its first start.
var bootstrapAuthenticated = []string{"system:basic-user", "system:discovery", "system:public-info-viewer"}

func TestServiceAccountUsers(t *testing.T) {
	c := testkube.Get(t)
	r := reviewer(t, c, nil)
	ctx := context.Background()
	cases := []struct {
		ns, name   string
		user       string
		roles      []string
		namespaces []string
		groups     []string // a subset of the user's groups
		notGroups  []string
	}{
		// Roles: RoleBindings in the server's namespace (feast) naming the
		// service account; groups: the token's, plus those bound in the
		// account's namespace or by a ClusterRoleBinding whose role reads
		// namespaces.
		{ns: "feast", name: "reader", user: "feast:reader", roles: []string{"feast-reader", "reader"}, namespaces: []string{"feast"},
			groups: []string{"analysts", "data-science", "system:authenticated", "system:masters", "system:serviceaccounts", "system:serviceaccounts:feast"}, notGroups: []string{"ml-team"}},
		{ns: "feast", name: "writer", user: "feast:writer", roles: []string{"feast-reader", "feast-writer"}, namespaces: []string{"feast"},
			groups: []string{"analysts", "data-science"}},
		{ns: "ml", name: "trainer", user: "ml:trainer", roles: []string{"feast-reader"}, namespaces: []string{"ml"},
			groups: []string{"analysts", "ml-team", "system:serviceaccounts:ml"}, notGroups: []string{"data-science"}},
		{ns: "feast", name: "nobody", user: "feast:nobody", roles: []string{}, namespaces: []string{"feast"}},
	}
	for _, tc := range cases {
		t.Run(tc.ns+"/"+tc.name, func(t *testing.T) {
			tok := c.SAToken(t, tc.ns, tc.name)
			u, err := r.Authenticate(ctx, tok)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%+v", u)
			if u.Name != tc.user || !slices.Equal(u.Roles, tc.roles) || !slices.Equal(u.Namespaces, tc.namespaces) {
				t.Errorf("user %q roles %q namespaces %q, want %q %q %q", u.Name, u.Roles, u.Namespaces, tc.user, tc.roles, tc.namespaces)
			}
			for _, g := range tc.groups {
				if !slices.Contains(u.Groups, g) {
					t.Errorf("groups %q lack %q", u.Groups, g)
				}
			}
			for _, g := range tc.notGroups {
				if slices.Contains(u.Groups, g) {
					t.Errorf("groups %q hold %q", u.Groups, g)
				}
			}
			if !slices.IsSorted(u.Groups) {
				t.Errorf("groups %q not sorted", u.Groups)
			}
			if got, ok := r.Remembered(tok); !ok || got != u {
				t.Errorf("a reviewed token is not remembered")
			}
		})
	}
}

func TestUserTokens(t *testing.T) {
	c := testkube.Get(t)
	r := reviewer(t, c, nil)
	ctx := context.Background()
	// Static tokens of scripts/kube-apiserver.sh: jane in groups data-science
	// and analysts, joe in outsiders.
	u, err := r.Authenticate(ctx, c.UserToken("jane"))
	if err != nil {
		t.Fatal(err)
	}
	wantRoles := slices.Sorted(slices.Values(append([]string{"admin", "feast-analyst", "feast-reader"}, bootstrapAuthenticated...)))
	if u.Name != "jane" || !slices.Equal(u.Roles, wantRoles) || !slices.Equal(u.Groups, []string{"analysts", "data-science", "system:authenticated"}) ||
		!slices.Equal(u.Namespaces, []string{"ml"}) {
		t.Errorf("jane: %+v; want roles %q", u, wantRoles)
	}
	u, err = r.Authenticate(ctx, c.UserToken("joe"))
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "joe" || !slices.Equal(u.Roles, bootstrapAuthenticated) || !slices.Equal(u.Groups, []string{"outsiders", "system:authenticated"}) || len(u.Namespaces) != 0 {
		t.Errorf("joe: %+v", u)
	}
}

// A token the API server does not authenticate is refused, also a JWT
// naming a service account that the API server did not sign (which
// Feast's parser would accept, decoding it unverified).
func TestRefusedTokens(t *testing.T) {
	c := testkube.Get(t)
	r := reviewer(t, c, nil)
	ctx := context.Background()
	for name, tok := range map[string]string{
		"garbage": "not-a-token",
		"forged":  forgedJWT(t, "system:serviceaccount:feast:writer"),
		"static":  "jane-token-wrong",
	} {
		t.Run(name, func(t *testing.T) {
			u, err := r.Authenticate(ctx, tok)
			if !auth.IsUnauthenticated(err) {
				t.Fatalf("user %+v, err %v; want Unauthenticated", u, err)
			}
			if _, ok := r.Remembered(tok); ok {
				t.Error("a refused token is remembered")
			}
		})
	}
}

// An API server that cannot be reached is Unavailable (retry), never
// Unauthenticated: the token may be good.
func TestAPIServerDown(t *testing.T) {
	c := testkube.Get(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := reviewer(t, c, func(cfg *kubernetes.Config) { cfg.Host = "https://" + addr; cfg.Timeout = 2 * time.Second })
	_, err = r.Authenticate(context.Background(), c.SAToken(t, "feast", "reader"))
	if core.KindOf(err) != core.KindUnavailable {
		t.Fatalf("err %v (kind %v), want Unavailable", err, core.KindOf(err))
	}
}

// The server's own token file is read again when it changes, as a
// projected token is rotated; a server whose own token the API server
// refuses cannot review anything (Unavailable, not the caller's fault).
func TestOwnTokenRotation(t *testing.T) {
	c := testkube.Get(t)
	dir := t.TempDir()
	for _, f := range []string{"ca.crt", "namespace", "token"} {
		b, err := os.ReadFile(filepath.Join(c.SADir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c.SADir = dir
	r := reviewer(t, c, func(cfg *kubernetes.Config) { cfg.CacheTTL = time.Nanosecond })
	ctx := context.Background()
	reader := c.SAToken(t, "feast", "reader")
	if _, err := r.Authenticate(ctx, reader); err != nil {
		t.Fatal(err)
	}
	// The reader's token lacks the right to review tokens.
	writeLater(t, filepath.Join(dir, "token"), reader)
	if _, err := r.Authenticate(ctx, reader); core.KindOf(err) != core.KindUnavailable {
		t.Fatalf("with a token lacking RBAC rights: %v, want Unavailable", err)
	}
	writeLater(t, filepath.Join(dir, "token"), c.SAToken(t, "feast", "feature-server"))
	if _, err := r.Authenticate(ctx, reader); err != nil {
		t.Fatalf("after the token came back: %v", err)
	}
}

// writeLater writes s to path with a modification time later than the
// file's, so that a reader comparing times sees the change.
func writeLater(t *testing.T, path, s string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	later := st.ModTime().Add(time.Second)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
}

// forgedJWT is an RS256 JWT for sub signed by a key of its own.
func forgedJWT(t *testing.T, sub string) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	hdr, _ := json.Marshal(map[string]any{"alg": "RS256", "typ": "JWT", "kid": "forged"})
	claims, _ := json.Marshal(map[string]any{"sub": sub, "iss": "https://kubernetes.default.svc.cluster.local",
		"aud": []string{"https://kubernetes.default.svc.cluster.local"}, "exp": time.Now().Add(time.Hour).Unix()})
	signing := enc(hdr) + "." + enc(claims)
	h := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, h[:])
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + enc(sig)
}

// With INTRA_COMMUNICATION_BASE64 set, Feast's servers' unsigned token
// naming it is the intra-server user, as in Feast; without it, the same
// token is only a token the API server refuses.
func TestIntraCommunicationToken(t *testing.T) {
	c := testkube.Get(t)
	tok := auth.UnsignedToken(map[string]string{"sub": ":::c2VydmVycw"})
	r := reviewer(t, c, func(cfg *kubernetes.Config) { cfg.IntraCommUser = "c2VydmVycw" })
	u, err := r.Authenticate(context.Background(), tok)
	if err != nil || u.Name != "c2VydmVycw" || len(u.Roles) != 0 {
		t.Fatalf("user %+v, err %v", u, err)
	}
	r = reviewer(t, c, func(cfg *kubernetes.Config) { cfg.IntraCommUser = "" })
	if _, err := r.Authenticate(context.Background(), tok); !auth.IsUnauthenticated(err) {
		t.Fatalf("without INTRA_COMMUNICATION_BASE64: %v, want Unauthenticated", err)
	}
}
