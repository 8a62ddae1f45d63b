// Package kubernetes authenticates Kubernetes bearer tokens (service-account
// tokens and user tokens) as Feast 0.67's KubernetesTokenParser does: a
// TokenReview against the API server says who the token belongs to, and the
// cluster's RBAC bindings give the user's roles, groups and namespaces.
//
// It speaks to the API server over its REST API with the server's own
// service-account credentials (in a pod: the mounted token, CA and
// namespace; see InCluster). The server's service account needs to create
// tokenreviews and to list rolebindings (all namespaces), clusterrolebindings
// and get clusterroles, as Feast's does.
//
// One deliberate difference from Feast: a token the TokenReview does not
// authenticate is refused. Feast decodes a service-account JWT without
// checking its signature and only logs a failed review, so a forged token
// naming a service account would get that account's roles there.
package kubernetes

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/feastgo/feastgo/auth"
	"github.com/feastgo/feastgo/core"
)

// ServiceAccountDir is where Kubernetes mounts a pod's service-account
// token, CA certificate and namespace.
const ServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// ServiceAccountDirEnv names a directory to read those three files from
// instead of ServiceAccountDir (a server run outside a pod, tests).
const ServiceAccountDirEnv = "FEATURE_SERVER_SERVICEACCOUNT_DIR"

// Config says how to reach the API server and who this server is there.
type Config struct {
	// Host is the API server's base URL (https://host:port).
	Host string
	// TokenFile holds the bearer token of this server's own service
	// account; it is read again when it changes (projected tokens rotate).
	TokenFile string
	// CAFile holds the PEM certificates the API server's certificate is
	// checked against.
	CAFile string
	// Namespace is the namespace this server runs in: a service account's
	// roles are those its RoleBindings in this namespace give it.
	Namespace string
	// IntraCommUser is INTRA_COMMUNICATION_BASE64: a service account of
	// that name is Feast's intra-server caller, with no roles.
	IntraCommUser string
	// CacheTTL is how long a reviewed token's user is remembered before the
	// next request with it is reviewed again (default 10 s; Feast reviews
	// every request). A token revoked in the cluster can be used for at most
	// this long.
	CacheTTL time.Duration
	// Timeout bounds one call to the API server (default 5 s).
	Timeout time.Duration
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// InCluster is the Config of a pod, as Kubernetes clients' in-cluster
// configuration reads it: KUBERNETES_SERVICE_HOST and _PORT, and the files
// under ServiceAccountDir (or $FEATURE_SERVER_SERVICEACCOUNT_DIR).
func InCluster() (Config, error) {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return Config{}, errors.New("auth.type kubernetes: not running in a Kubernetes pod (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set)")
	}
	dir := ServiceAccountDir
	if d := os.Getenv(ServiceAccountDirEnv); d != "" {
		dir = d
	}
	ns, err := os.ReadFile(filepath.Join(dir, "namespace"))
	if err != nil {
		return Config{}, fmt.Errorf("auth.type kubernetes: reading this pod's namespace: %w", err)
	}
	return Config{
		Host:          "https://" + net.JoinHostPort(host, port),
		TokenFile:     filepath.Join(dir, "token"),
		CAFile:        filepath.Join(dir, "ca.crt"),
		Namespace:     strings.TrimSpace(string(ns)),
		IntraCommUser: os.Getenv("INTRA_COMMUNICATION_BASE64"),
	}, nil
}

// Reviewer is an auth.Authenticator backed by TokenReviews.
type Reviewer struct {
	cfg    Config
	client *http.Client
	cache  auth.TokenCache
	token  fileToken
}

// New checks cfg and returns its Reviewer. It reads the CA and the token
// once, so that a pod without them fails at start.
func New(cfg Config) (*Reviewer, error) {
	if cfg.Host == "" {
		return nil, errors.New("kubernetes: the API server's address is required")
	}
	if cfg.Namespace == "" {
		return nil, errors.New("kubernetes: the server's namespace is required")
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = 10 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	var pem []byte
	if cfg.CAFile != "" {
		var err error
		if pem, err = os.ReadFile(cfg.CAFile); err != nil {
			return nil, fmt.Errorf("kubernetes: the API server's CA: %w", err)
		}
	}
	client, err := auth.HTTPClient(pem, false, cfg.Timeout)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %s %w", cfg.CAFile, err)
	}
	r := &Reviewer{cfg: cfg, client: client, token: fileToken{path: cfg.TokenFile}}
	if _, err := r.token.get(); err != nil {
		return nil, fmt.Errorf("kubernetes: this server's service-account token: %w", err)
	}
	r.cache.Init(65536)
	return r, nil
}

var (
	_ auth.Authenticator = (*Reviewer)(nil)
	_ auth.Remembering   = (*Reviewer)(nil)
)

// Remembered returns the user of a token reviewed less than CacheTTL ago.
func (r *Reviewer) Remembered(token string) (*auth.User, bool) {
	u := r.cache.Get(token, r.cfg.Now())
	return u, u != nil
}

// Authenticate reviews token and derives its user.
func (r *Reviewer) Authenticate(ctx context.Context, token string) (*auth.User, error) {
	now := r.cfg.Now()
	if u := r.cache.Get(token, now); u != nil {
		return u, nil
	}
	u, err := r.user(ctx, token)
	if err != nil {
		return nil, err
	}
	r.cache.Put(token, u, now.Add(r.cfg.CacheTTL), now)
	return u, nil
}

// Ping checks that the API server answers this server's credentials (a
// TokenReview of its own token), for a start-up check.
func (r *Reviewer) Ping(ctx context.Context) error {
	own, err := r.token.get()
	if err != nil {
		return err
	}
	_, err = r.review(ctx, own)
	return err
}

// user is Feast's user_details_from_access_token, given a token the API
// server authenticated.
func (r *Reviewer) user(ctx context.Context, token string) (*auth.User, error) {
	if r.cfg.IntraCommUser != "" {
		if _, name, ok := unverifiedServiceAccount(token); ok && name == r.cfg.IntraCommUser {
			// Feast's servers call each other with an unsigned JWT whose sub
			// is ":::" + INTRA_COMMUNICATION_BASE64, which its parser takes
			// on the secret's word alone; so does this one, when the
			// variable is set.
			return &auth.User{Name: name, Roles: []string{}, Groups: []string{}, Namespaces: []string{}}, nil
		}
	}
	rev, err := r.review(ctx, token)
	if err != nil {
		return nil, err
	}
	if !rev.Authenticated {
		reason := "the Kubernetes TokenReview did not authenticate it"
		if rev.Error != "" {
			reason += ": " + rev.Error
		}
		return nil, auth.Unauthenticated(reason)
	}
	groups := slices.Clone(rev.User.Groups)
	var namespaces []string
	name := rev.User.Username
	saNS, saName, isSA := serviceAccount(name)
	var b bindings
	if isSA {
		namespaces = append(namespaces, saNS)
		extra, err := r.namespaceAccessGroups(ctx, &b, saNS)
		if err != nil {
			return nil, err
		}
		groups = append(groups, extra...)
	} else {
		ns, err := r.userProjectNamespaces(ctx, &b, name)
		if err != nil {
			return nil, err
		}
		namespaces = append(namespaces, ns...)
	}
	for _, g := range rev.User.Groups {
		if strings.HasPrefix(g, "system:serviceaccounts:") {
			if parts := strings.Split(g, ":"); len(parts) >= 3 {
				namespaces = append(namespaces, parts[2])
			}
		}
	}
	groups, namespaces = sortedSet(groups), sortedSet(namespaces)

	if isSA {
		if r.cfg.IntraCommUser != "" && saName == r.cfg.IntraCommUser {
			return &auth.User{Name: saName, Roles: []string{}, Groups: []string{}, Namespaces: []string{}}, nil
		}
		roles, err := r.serviceAccountRoles(ctx, &b, saNS, saName)
		if err != nil {
			return nil, err
		}
		return &auth.User{Name: saNS + ":" + saName, Roles: roles, Groups: groups, Namespaces: namespaces}, nil
	}
	roles, err := r.userRoles(ctx, &b, name, groups)
	if err != nil {
		return nil, err
	}
	return &auth.User{Name: name, Roles: roles, Groups: groups, Namespaces: namespaces}, nil
}

// serviceAccount splits a TokenReview user name of a service account,
// system:serviceaccount:NAMESPACE:NAME (the "sub" Feast reads from the
// token), into its namespace and name.
func serviceAccount(username string) (ns, name string, ok bool) {
	parts := strings.Split(username, ":")
	if len(parts) != 4 || parts[0] != "system" || parts[1] != "serviceaccount" {
		return "", "", false
	}
	return parts[2], parts[3], true
}

// unverifiedServiceAccount reads a JWT's sub without checking anything
// else, as Feast's _decode_token: four parts separated by ":", the last
// two the namespace and the name.
func unverifiedServiceAccount(token string) (ns, name string, ok bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return "", "", false
	}
	var c struct {
		Sub string `json:"sub"`
	}
	if json.Unmarshal(raw, &c) != nil {
		return "", "", false
	}
	sub := strings.Split(c.Sub, ":")
	if len(sub) != 4 {
		return "", "", false
	}
	return sub[2], sub[3], true
}

// serviceAccountRoles is Feast's get_roles: the roles that RoleBindings in
// the server's namespace give the service account.
func (r *Reviewer) serviceAccountRoles(ctx context.Context, b *bindings, saNS, saName string) ([]string, error) {
	rbs, err := b.namespaced(ctx, r, r.cfg.Namespace)
	if err != nil {
		return nil, err
	}
	var roles []string
	for _, rb := range rbs {
		for _, s := range rb.Subjects {
			if s.Kind == "ServiceAccount" && s.Name == saName && s.Namespace == saNS {
				roles = append(roles, rb.RoleRef.Name)
			}
		}
	}
	return sortedSet(roles), nil
}

// userRoles is Feast's get_user_roles: the roles and cluster roles bound to
// the user, directly or through one of its groups, anywhere in the cluster.
func (r *Reviewer) userRoles(ctx context.Context, b *bindings, name string, groups []string) ([]string, error) {
	all, err := b.all(ctx, r)
	if err != nil {
		return nil, err
	}
	cluster, err := b.cluster(ctx, r)
	if err != nil {
		return nil, err
	}
	var roles []string
	for _, rb := range slices.Concat(all, cluster) {
		for _, s := range rb.Subjects {
			if (s.Kind == "User" && s.Name == name) || (s.Kind == "Group" && slices.Contains(groups, s.Name)) {
				roles = append(roles, rb.RoleRef.Name)
			}
		}
	}
	return sortedSet(roles), nil
}

// namespaceAccessGroups is Feast's _extract_namespace_access_groups: the
// groups bound by RoleBindings in ns, and by ClusterRoleBindings whose
// cluster role can get or list namespaces (or names ns).
func (r *Reviewer) namespaceAccessGroups(ctx context.Context, b *bindings, ns string) ([]string, error) {
	rbs, err := b.namespaced(ctx, r, ns)
	if err != nil {
		return nil, err
	}
	var groups []string
	for _, rb := range rbs {
		for _, s := range rb.Subjects {
			if s.Kind == "Group" {
				groups = append(groups, s.Name)
			}
		}
	}
	crbs, err := b.cluster(ctx, r)
	if err != nil {
		return nil, err
	}
	for _, crb := range crbs {
		grants, err := r.grantsNamespaceAccess(ctx, crb.RoleRef.Name, ns)
		if err != nil {
			return nil, err
		}
		if !grants {
			continue
		}
		for _, s := range crb.Subjects {
			if s.Kind == "Group" {
				groups = append(groups, s.Name)
			}
		}
	}
	return groups, nil
}

// grantsNamespaceAccess is Feast's _cluster_role_binding_grants_namespace_access
// for the cluster role named role. A cluster role that does not exist
// grants nothing (Feast: an error reading it is no access).
func (r *Reviewer) grantsNamespaceAccess(ctx context.Context, role, ns string) (bool, error) {
	var cr struct {
		Rules []struct {
			Resources     []string `json:"resources"`
			Verbs         []string `json:"verbs"`
			ResourceNames []string `json:"resourceNames"`
		} `json:"rules"`
	}
	err := r.get(ctx, rbacAPI+"/clusterroles/"+url.PathEscape(role), &cr)
	var nf notFound
	if errors.As(err, &nf) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, rule := range cr.Rules {
		if (slices.Contains(rule.Resources, "namespaces") || slices.Contains(rule.Resources, "*")) &&
			(slices.Contains(rule.Verbs, "get") || slices.Contains(rule.Verbs, "list") || slices.Contains(rule.Verbs, "*")) {
			return true, nil
		}
		if slices.Contains(rule.ResourceNames, ns) {
			return true, nil
		}
	}
	return false, nil
}

// userProjectNamespaces is Feast's _extract_user_project_namespaces: the
// namespaces where the user is a subject of an OpenShift AI dashboard
// permission RoleBinding or of a RoleBinding to the admin cluster role.
func (r *Reviewer) userProjectNamespaces(ctx context.Context, b *bindings, name string) ([]string, error) {
	all, err := b.all(ctx, r)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rb := range all {
		dashboard := strings.HasPrefix(rb.Metadata.Name, "dashboard-permissions-") && rb.Metadata.Labels["opendatahub.io/dashboard"] == "true"
		admin := rb.RoleRef.Kind == "ClusterRole" && rb.RoleRef.Name == "admin"
		if !dashboard && !admin {
			continue
		}
		for _, s := range rb.Subjects {
			if s.Kind == "User" && s.Name == name {
				out = append(out, rb.Metadata.Namespace)
				break
			}
		}
	}
	return out, nil
}

func sortedSet(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	out = slices.Compact(out)
	if out == nil {
		out = []string{}
	}
	return out
}

// --- the API server's REST API ---------------------------------------------

type tokenReviewStatus struct {
	Authenticated bool   `json:"authenticated"`
	Error         string `json:"error"`
	User          struct {
		Username string   `json:"username"`
		Groups   []string `json:"groups"`
	} `json:"user"`
}

// review sends a TokenReview of token.
func (r *Reviewer) review(ctx context.Context, token string) (*tokenReviewStatus, error) {
	body, err := json.Marshal(map[string]any{
		"apiVersion": "authentication.k8s.io/v1",
		"kind":       "TokenReview",
		"spec":       map[string]any{"token": token},
	})
	if err != nil {
		return nil, err
	}
	var out struct {
		Status tokenReviewStatus `json:"status"`
	}
	if err := r.call(ctx, http.MethodPost, "/apis/authentication.k8s.io/v1/tokenreviews", body, &out); err != nil {
		return nil, err
	}
	return &out.Status, nil
}

type roleBinding struct {
	Metadata struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	} `json:"metadata"`
	Subjects []struct {
		Kind      string `json:"kind"`
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"subjects"`
	RoleRef struct {
		Kind string `json:"kind"`
		Name string `json:"name"`
	} `json:"roleRef"`
}

// bindings reads each RBAC list at most once per authentication.
type bindings struct {
	lists map[string][]roleBinding // by API path
}

const rbacAPI = "/apis/rbac.authorization.k8s.io/v1"

func (b *bindings) namespaced(ctx context.Context, r *Reviewer, ns string) ([]roleBinding, error) {
	return b.list(ctx, r, rbacAPI+"/namespaces/"+url.PathEscape(ns)+"/rolebindings")
}

func (b *bindings) all(ctx context.Context, r *Reviewer) ([]roleBinding, error) {
	return b.list(ctx, r, rbacAPI+"/rolebindings")
}

func (b *bindings) cluster(ctx context.Context, r *Reviewer) ([]roleBinding, error) {
	return b.list(ctx, r, rbacAPI+"/clusterrolebindings")
}

func (b *bindings) list(ctx context.Context, r *Reviewer, path string) ([]roleBinding, error) {
	if rbs, ok := b.lists[path]; ok {
		return rbs, nil
	}
	rbs, err := r.list(ctx, path)
	if err != nil {
		return nil, err
	}
	if b.lists == nil {
		b.lists = map[string][]roleBinding{}
	}
	b.lists[path] = rbs
	return rbs, nil
}

// list reads every page of a binding list.
func (r *Reviewer) list(ctx context.Context, path string) ([]roleBinding, error) {
	var all []roleBinding
	cont := ""
	for {
		q := url.Values{"limit": {"500"}}
		if cont != "" {
			q.Set("continue", cont)
		}
		var page struct {
			Metadata struct {
				Continue string `json:"continue"`
			} `json:"metadata"`
			Items []roleBinding `json:"items"`
		}
		if err := r.get(ctx, path+"?"+q.Encode(), &page); err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if cont = page.Metadata.Continue; cont == "" {
			return all, nil
		}
	}
}

func (r *Reviewer) get(ctx context.Context, path string, out any) error {
	return r.call(ctx, http.MethodGet, path, nil, out)
}

// notFound is an API server's 404.
type notFound struct{ path string }

func (e notFound) Error() string { return "kubernetes: " + e.path + " not found" }

// maxAnswer bounds one answer read from the API server.
const maxAnswer = 64 << 20

// call sends one request with this server's own token. Any failure is a
// core.KindUnavailable error (the request may be retried), naming the call
// and the API server's status and message, never the token.
func (r *Reviewer) call(ctx context.Context, method, path string, body []byte, out any) error {
	own, err := r.token.get()
	if err != nil {
		return unavailable(path, err)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.cfg.Host+path, rd)
	if err != nil {
		return unavailable(path, err)
	}
	req.Header.Set("Authorization", "Bearer "+own)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return unavailable(path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return unavailable(path, err)
	}
	if resp.StatusCode == http.StatusNotFound {
		return notFound{path: path}
	}
	if resp.StatusCode/100 != 2 {
		var st struct {
			Message string `json:"message"`
		}
		msg := resp.Status
		if json.Unmarshal(b, &st) == nil && st.Message != "" {
			msg += ": " + st.Message
		}
		return unavailable(path, errors.New(msg))
	}
	if err := json.Unmarshal(b, out); err != nil {
		return unavailable(path, fmt.Errorf("decoding the answer: %w", err))
	}
	return nil
}

func unavailable(path string, err error) error {
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	return core.Errorf(core.KindUnavailable, "AuthenticationError", "the Kubernetes API server could not be asked (%s): %v", path, err)
}

// fileToken is a token file read again when its modification time changes.
type fileToken struct {
	path string
	mu   sync.Mutex
	mod  time.Time
	val  string
}

func (f *fileToken) get() (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, err := os.Stat(f.path)
	if err != nil {
		return "", err
	}
	if f.val != "" && st.ModTime().Equal(f.mod) {
		return f.val, nil
	}
	b, err := os.ReadFile(f.path)
	if err != nil {
		return "", err
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("%s is empty", f.path)
	}
	f.val, f.mod = v, st.ModTime()
	return v, nil
}
