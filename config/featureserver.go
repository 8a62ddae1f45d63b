package config

import (
	"fmt"
	"math"
	"time"
)

// FeatureServerConfig is the feature_server block; defaults are filled in when it is absent.
type FeatureServerConfig struct {
	// Type is "local" (default) or "mcp".
	Type string
	// Enabled is Feast's "launch the feature server" flag (default false).
	Enabled bool
	// TransformationServiceEndpoint is the TransformationService address
	// (default "localhost:6569" for local, "localhost:6566" for mcp).
	TransformationServiceEndpoint string
	// Metrics holds the Prometheus metrics settings.
	Metrics MetricsConfig
}

// MetricsConfig is feature_server.metrics (Prometheus, port 8000 in Feast).
type MetricsConfig struct {
	// Enabled turns metrics collection and the metrics HTTP server on (default false).
	Enabled bool
	// Resource enables CPU and memory gauges (default true).
	Resource bool
	// Request enables per-endpoint request counters and latency histograms (default true).
	Request bool
	// FeatureCountBins are the upper bounds bucketing the feature_count label (default 10, 50, 200).
	FeatureCountBins []int
	// OnlineFeatures enables online retrieval metrics (default true).
	OnlineFeatures bool
	// Push enables push/write counters (default true).
	Push bool
	// Materialization enables materialization counters and histograms (default true).
	Materialization bool
	// Freshness enables per-feature-view freshness gauges (default true).
	Freshness bool
	// OfflineFeatures enables offline retrieval metrics (default true).
	OfflineFeatures bool
	// AuditLogging enables structured audit log entries for feature requests (default false).
	AuditLogging bool
}

// DefaultMetricsConfig returns Feast's MetricsConfig defaults.
func DefaultMetricsConfig() MetricsConfig {
	return MetricsConfig{
		Resource: true, Request: true, FeatureCountBins: []int{10, 50, 200},
		OnlineFeatures: true, Push: true, Materialization: true, Freshness: true, OfflineFeatures: true,
	}
}

func (d *decoder) featureServer(top *object) FeatureServerConfig {
	out := FeatureServerConfig{Type: "local", TransformationServiceEndpoint: "localhost:6569", Metrics: DefaultMetricsConfig()}
	o := top.sub("feature_server", "", true, true)
	if o == nil {
		return out
	}
	out.Type = o.str("type", "local")
	switch out.Type {
	case "local":
		o.what = "local feature server"
		out.TransformationServiceEndpoint = o.str("transformation_service_endpoint", "localhost:6569")
	case "mcp":
		o.what = "mcp feature server"
		out.TransformationServiceEndpoint = o.str("transformation_service_endpoint", "localhost:6566")
		o.skip("mcp_enabled", d.checkBool)
		o.skip("mcp_server_name", d.checkStr)
		o.skip("mcp_server_version", d.checkStr)
		o.skip("mcp_transport", func(v *yval, field string) {
			if v.kind != kStr || (v.str != "sse" && v.str != "http") {
				d.fail(field, v.line, "%s must be one of sse, http", v.showValue())
			}
		})
	default:
		o.fail("type", o.get("type"), "%q must be one of local, mcp", out.Type)
		return out
	}
	out.Enabled = o.strictBool("enabled", false)
	if m := o.sub("metrics", "metrics config", true, true); m != nil {
		out.Metrics = d.metrics(m)
	}
	o.skip("feature_logging", func(v *yval, field string) {
		if v.kind == kNull {
			return
		}
		if v.kind != kMap {
			d.fail(field, v.line, "must be a mapping, got %s", v.describe())
			return
		}
		f := d.newObject(v, field, "feature logging config", true)
		f.strictBool("enabled", false)
		f.strictInt("flush_interval_secs", 600)
		f.strictInt("write_to_disk_interval_secs", 30)
		f.strictInt("queue_capacity", 100000)
		f.strictInt("emit_timeout_micro_secs", 10000)
		f.done()
	})
	o.skip("audit_logging", func(v *yval, field string) {
		if v.kind == kNull {
			return
		}
		if v.kind != kMap {
			d.fail(field, v.line, "must be a mapping, got %s", v.describe())
			return
		}
		a := d.newObject(v, field, "audit logging config", true)
		a.strictBool("enabled", false)
		a.enum("sink", "stdout", "stdout", "file", "logger")
		a.str("file_path", "feast_audit.log")
		a.strictBool("log_successful_reads", true)
		a.done()
	})
	o.skip("offline_push_batching_enabled", d.checkOptBool)
	o.skip("offline_push_batching_batch_size", d.checkOptInt)
	o.skip("offline_push_batching_batch_interval_seconds", d.checkOptInt)
	o.get("type")
	o.done()
	return out
}

func (d *decoder) metrics(o *object) MetricsConfig {
	m := DefaultMetricsConfig()
	m.Enabled = o.strictBool("enabled", false)
	m.Resource = o.strictBool("resource", true)
	m.Request = o.strictBool("request", true)
	if v := o.get("feature_count_bins"); v != nil {
		field := o.field("feature_count_bins")
		if v.kind != kSeq {
			d.fail(field, v.line, "must be a list of integers, got %s", v.describe())
		} else {
			bins := make([]int, 0, len(v.seq))
			ok := true
			for i, e := range v.seq {
				n, good := laxIntValue(e)
				if !good || !n.IsInt64() {
					d.fail(field, e.line, "item %d must be an integer, got %s", i, e.describe())
					ok = false
					continue
				}
				bins = append(bins, int(n.Int64()))
			}
			if ok {
				for i, b := range bins {
					if b <= 0 {
						d.fail(field, v.line, "must contain only positive integers")
						ok = false
						break
					}
					if i > 0 && bins[i-1] >= b {
						d.fail(field, v.line, "must be strictly increasing")
						ok = false
						break
					}
				}
			}
			if ok {
				m.FeatureCountBins = bins
			}
		}
	}
	m.OnlineFeatures = o.strictBool("online_features", true)
	m.Push = o.strictBool("push", true)
	m.Materialization = o.strictBool("materialization", true)
	m.Freshness = o.strictBool("freshness", true)
	m.OfflineFeatures = o.strictBool("offline_features", true)
	m.AuditLogging = o.strictBool("audit_logging", false)
	o.done()
	return m
}

// AuthConfig is the auth block, validated as Feast validates it. The keys
// only a client uses (credentials, tokens) are listed in RepoConfig.Ignored.
type AuthConfig struct {
	// Type is "no_auth" (default), "kubernetes" or "oidc".
	Type string
	// OIDCClient reports an OIDC block that Feast treats as client-side (credentials or token, no discovery URL).
	OIDCClient bool
	// OIDC holds the keys a server verifies tokens with (type oidc).
	OIDC OIDCConfig
	// KubernetesUserToken is user_token (type kubernetes): the token the
	// server's own calls to a registry server carry, when set.
	KubernetesUserToken string
}

// OIDCConfig is the server side of Feast's OidcAuthConfig.
type OIDCConfig struct {
	DiscoveryURL string // auth_discovery_url
	ClientID     string // client_id
	VerifySSL    bool   // verify_ssl (default true)
	CACertPath   string // ca_cert_path
	// Audience and Issuer are nil when unset: the claim is not checked.
	Audience, Issuer *string
	JWKSLifespan     time.Duration // jwks_cache_lifespan_seconds (default 300 s)
	JWKSTimeout      time.Duration // jwks_request_timeout_seconds (default 10 s)
	// Client holds the keys that get a token for the server's own calls
	// (a remote registry), as Feast's OidcClientAuthConfig does.
	Client OIDCClientConfig
}

// OIDCClientConfig is the client side of Feast's OIDC auth block: at most
// one of a fixed token, an environment variable holding one, or IdP
// credentials (client_secret, with username and password for the password
// grant, else client credentials). None set: FEAST_OIDC_TOKEN, then the
// Kubernetes service-account token file.
type OIDCClientConfig struct {
	Username, Password string        // username, password
	ClientSecret       string        // client_secret
	Token              string        // token
	TokenEnvVar        string        // token_env_var
	RefreshMargin      time.Duration // token_refresh_margin_seconds (default 30 s)
}

// String hides the secrets, so that a logged config shows none.
func (c OIDCClientConfig) String() string {
	hide := func(s string) string {
		if s == "" {
			return `""`
		}
		return "(set)"
	}
	return fmt.Sprintf("{username:%s password:%s client_secret:%s token:%s token_env_var:%q refresh_margin:%v}",
		hide(c.Username), hide(c.Password), hide(c.ClientSecret), hide(c.Token), c.TokenEnvVar, c.RefreshMargin)
}

var oidcClientKeys = []string{"client_secret", "token", "token_env_var", "username", "password"}

func (d *decoder) auth(top *object) AuthConfig {
	out := AuthConfig{Type: "no_auth"}
	v := top.get("auth")
	if v == nil || v.kind == kNull {
		return out
	}
	if v.kind == kStr {
		switch v.str {
		case "no_auth", "kubernetes":
			out.Type = v.str
		case "oidc":
			top.fail("auth", v, "the oidc auth type needs a mapping with auth_discovery_url")
		default:
			top.fail("auth", v, "%q must be one of no_auth, kubernetes, oidc", v.str)
		}
		return out
	}
	if v.kind != kMap {
		top.fail("auth", v, "must be a mapping, got %s", v.describe())
		return out
	}
	o := d.newObject(v, "auth", "", true)
	tv := o.get("type")
	if tv == nil || tv.kind == kNull {
		o.fail("type", tv, "required (no_auth, kubernetes or oidc)")
		return out
	}
	if tv.kind != kStr || !contains([]string{"no_auth", "kubernetes", "oidc"}, tv.str) {
		o.fail("type", tv, "%s must be one of no_auth, kubernetes, oidc", tv.showValue())
		return out
	}
	out.Type = tv.str
	switch out.Type {
	case "no_auth":
		o.what = "no_auth auth config"
	case "kubernetes":
		// KubernetesAuthConfig allows extra keys.
		o.what, o.strict = "kubernetes auth config", false
		o.skip("user_token", func(v *yval, field string) {
			d.checkOptStr(v, field)
			if v.kind == kStr {
				out.KubernetesUserToken = v.str
			}
		})
	case "oidc":
		client := !o.has("auth_discovery_url")
		for _, k := range oidcClientKeys {
			if o.has(k) {
				client = true
			}
		}
		out.OIDCClient = client
		o.what = "oidc auth config"
		out.OIDC = d.oidc(o, client)
	}
	o.done()
	return out
}

func (d *decoder) oidc(o *object, client bool) OIDCConfig {
	// str reads a key the server uses; clientStr one only a client uses.
	str := func(key string) (string, bool) {
		v := o.get(key)
		if v == nil || v.kind == kNull {
			return "", false
		}
		if v.kind != kStr {
			o.fail(key, v, "must be a string, got %s", v.describe())
			return "", false
		}
		return v.str, true
	}
	clientStr := func(key string) string {
		s := ""
		o.skip(key, func(v *yval, field string) {
			if v.kind == kStr {
				s = v.str
			} else if v.kind != kNull {
				d.fail(field, v.line, "must be a string, got %s", v.describe())
			}
		})
		return s
	}
	used := func(key string) string { s, _ := str(key); return s }
	seconds := func(key string, def time.Duration) time.Duration {
		v := o.get(key)
		switch {
		case v == nil:
			return def
		case v.kind == kInt && v.i.Sign() > 0:
			if !v.i.IsInt64() || v.i.Int64() > int64(math.MaxInt64/time.Second) {
				o.fail(key, v, "is too large")
				return def
			}
			return time.Duration(v.i.Int64()) * time.Second
		case v.kind == kFloat && v.f > 0:
			if v.f > float64(math.MaxInt64/time.Second) {
				o.fail(key, v, "is too large")
				return def
			}
			return time.Duration(v.f * float64(time.Second))
		case v.kind == kStr:
			o.fail(key, v, "must be a number, got %s", v.describe())
		default:
			o.fail(key, v, "must be greater than 0, got %s", v.describe())
		}
		return def
	}
	if !client && !o.has("auth_discovery_url") {
		o.fail("auth_discovery_url", nil, "required")
	}
	var out OIDCConfig
	discovery, _ := str("auth_discovery_url")
	clientID, _ := str("client_id")
	out.DiscoveryURL, out.ClientID = discovery, clientID
	clientStr("ui_client_id")
	out.VerifySSL = o.laxBool("verify_ssl", true)
	out.CACertPath, _ = str("ca_cert_path")
	if s, ok := str("audience"); ok {
		out.Audience = &s
	}
	if s, ok := str("issuer"); ok {
		out.Issuer = &s
	}
	out.JWKSLifespan = seconds("jwks_cache_lifespan_seconds", 300*time.Second)
	out.JWKSTimeout = seconds("jwks_request_timeout_seconds", 10*time.Second)
	if !client {
		return out
	}
	username, password := used("username"), used("password")
	secret, token, tokenEnv := used("client_secret"), used("token"), used("token_env_var")
	out.Client = OIDCClientConfig{Username: username, Password: password, ClientSecret: secret, Token: token,
		TokenEnvVar: tokenEnv, RefreshMargin: seconds("token_refresh_margin_seconds", 30*time.Second)}

	network := []string{secret, discovery, clientID}
	if username != "" || password != "" {
		network = append(network, username, password)
	}
	groups := []struct {
		name string
		vals []string
	}{{"token", []string{token}}, {"token_env_var", []string{tokenEnv}}, {"client_credentials", network}}
	var active []string
	for _, g := range groups {
		n := 0
		for _, s := range g.vals {
			if s != "" {
				n++
			}
		}
		if n > 0 && n < len(g.vals) {
			o.d.fail("auth", o.line, "incomplete configuration for %q: configure all of its fields together, or none", g.name)
			return out
		}
		if n == len(g.vals) {
			active = append(active, g.name)
		}
	}
	if len(active) > 1 {
		o.d.fail("auth", o.line, "only one of token, token_env_var, client_credentials may be set, got %v", active)
	}
	return out
}
