package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"strconv"
	"strings"

	"github.com/feastgo/feastgo/internal/pyfmt"
)

// RedisConfig is the redis online store (Feast RedisOnlineStoreConfig) with its connection string parsed.
type RedisConfig struct {
	// RedisType is "redis" (default), "redis_cluster" or "redis_sentinel".
	RedisType string
	// Client is the Python client Feast uses for reads, "redis" (default) or "glide"; informational here.
	Client string
	// SentinelMaster is the master name looked up through the sentinels (default "mymaster").
	SentinelMaster string
	// ConnectionString is the connection string as written (default "localhost:6379").
	ConnectionString string
	// Addrs are the "host:port" nodes of the connection string in order: the server (only the
	// first is used) for redis, startup nodes for redis_cluster, sentinels for redis_sentinel.
	Addrs []string
	// Username is the ACL user name from the username= option.
	Username string
	// Password is the password from the password= option.
	Password string
	// DB is the database number from the db= option.
	DB int
	// SSL reports whether the ssl= option is truthy in Python's sense.
	SSL bool
	// SSLCertReqs is the ssl_cert_reqs= option ("none", "optional" or "required"; empty when absent).
	SSLCertReqs string
	// Options holds every key=value option of the connection string, JSON-decoded as redis-py
	// receives them (bool, int64, float64, string, nil, []any or map[string]any), including the above.
	Options map[string]any
	// KeyTTLSeconds, when set and non-zero, is applied with EXPIRE to every written entity key.
	KeyTTLSeconds *int64
	// FullScanForDeletion makes feature-view removal scan and delete its data (default true).
	FullScanForDeletion bool
	// SkipDedup skips the read-before-write timestamp check on writes.
	SkipDedup bool
}

func (d *decoder) redis(o *object) *RedisConfig {
	o.get("type")
	c := &RedisConfig{}
	c.RedisType = o.enum("redis_type", "redis", "redis", "redis_cluster", "redis_sentinel")
	c.Client = o.enum("client", "redis", "redis", "glide")
	if c.Client == "glide" && c.RedisType == "redis_sentinel" {
		o.fail("client", o.get("client"), "glide does not support redis_type redis_sentinel")
	}
	c.SentinelMaster = o.str("sentinel_master", "mymaster")
	c.ConnectionString = o.str("connection_string", "localhost:6379")
	c.KeyTTLSeconds = o.optLaxInt("key_ttl_seconds")
	if c.KeyTTLSeconds != nil && *c.KeyTTLSeconds < 0 {
		o.fail("key_ttl_seconds", o.get("key_ttl_seconds"), "must not be negative, got %d", *c.KeyTTLSeconds)
	}
	c.FullScanForDeletion = o.optLaxBool("full_scan_for_deletion", true)
	c.SkipDedup = o.laxBool("skip_dedup", false)

	field := o.field("connection_string")
	line := lineOf(o, "connection_string")
	nodes, opts, err := ParseRedisConnectionString(c.ConnectionString)
	if err != nil {
		d.fail(field, line, "%v", err)
		return c
	}
	c.Options = opts
	for _, n := range nodes {
		if n.Port == "" {
			if c.RedisType == "redis_sentinel" {
				d.fail(field, line, "sentinel node %q needs a port", n.Host)
				continue
			}
			n.Port = "6379"
		}
		c.Addrs = append(c.Addrs, net.JoinHostPort(n.Host, n.Port))
	}
	if len(nodes) == 0 {
		d.fail(field, line, "%q names no host:port node", c.ConnectionString)
	}
	if c.RedisType == "redis" && len(nodes) > 1 {
		d.warn("%s: redis_type redis uses only the first node, %s", field, c.Addrs[0])
	}
	if v, ok := opts["username"]; ok {
		c.Username, err = redisStringOption(v)
		if err != nil {
			d.fail(field, line, "username=%v", err)
		}
	}
	if v, ok := opts["password"]; ok {
		c.Password, err = redisStringOption(v)
		if err != nil {
			d.fail(field, line, "password=%v", err)
		}
	}
	if v, ok := opts["db"]; ok {
		switch n := v.(type) {
		case nil:
		case int64:
			if n < 0 || n > math.MaxInt32 {
				d.fail(field, line, "db=%d is out of range", n)
			}
			c.DB = int(n)
		default:
			d.fail(field, line, "db=%v must be an integer", v)
		}
	}
	if v, ok := opts["ssl"]; ok {
		c.SSL = pyTruthy(v)
	}
	if v, ok := opts["ssl_cert_reqs"]; ok {
		switch x := v.(type) {
		case nil:
		case string:
			if x != "none" && x != "optional" && x != "required" {
				d.fail(field, line, "ssl_cert_reqs=%q must be one of none, optional, required", x)
			}
			c.SSLCertReqs = x
		case int64:
			if x < 0 || x > 2 {
				d.fail(field, line, "ssl_cert_reqs=%d must be 0 (none), 1 (optional) or 2 (required)", x)
			} else {
				c.SSLCertReqs = []string{"none", "optional", "required"}[x]
			}
		default:
			d.fail(field, line, "ssl_cert_reqs=%v must be none, optional or required", v)
		}
	}
	return c
}

// RedisNode is one "host:port" token of a Redis connection string; Port is empty when not given.
type RedisNode struct {
	// Host is the host name or address.
	Host string
	// Port is the port as written, empty when the token had none.
	Port string
}

// ParseRedisConnectionString splits a Feast Redis connection string like
// "redis1:6379,redis2:6379,ssl=true,password=secret,db=0" the way Feast's
// RedisOnlineStore._parse_connection_string does: tokens are separated by ',';
// a token containing '=' is a key=value option whose value is JSON-decoded when
// it parses as JSON (true → bool, 0 → int64, 1.5 → float64) and kept as a string
// otherwise; any other token is a node split on ':' into host and port (extra
// parts ignored). Beyond Feast, surrounding blanks and empty tokens are skipped,
// "[v6addr]:port" is understood, and a non-numeric port is an error.
func ParseRedisConnectionString(s string) ([]RedisNode, map[string]any, error) {
	var nodes []RedisNode
	opts := map[string]any{}
	for _, tok := range strings.Split(s, ",") {
		tok = strings.TrimSpace(tok)
		if tok == "" {
			continue
		}
		if k, v, ok := strings.Cut(tok, "="); ok {
			opts[k] = decodeRedisOption(v)
			continue
		}
		var n RedisNode
		if strings.HasPrefix(tok, "[") {
			host, port, err := net.SplitHostPort(tok)
			if err != nil {
				if !strings.HasSuffix(tok, "]") {
					return nil, nil, fmt.Errorf("node %q: %v", tok, err)
				}
				host, port = strings.Trim(tok, "[]"), ""
			}
			n = RedisNode{Host: host, Port: port}
		} else {
			parts := strings.Split(tok, ":")
			n.Host = parts[0]
			if len(parts) > 1 {
				n.Port = parts[1]
			}
		}
		if n.Host == "" {
			return nil, nil, fmt.Errorf("node %q has no host", tok)
		}
		if n.Port != "" {
			p, err := strconv.Atoi(n.Port)
			if err != nil || p < 1 || p > 65535 {
				return nil, nil, fmt.Errorf("node %q: port %q must be a number between 1 and 65535", tok, n.Port)
			}
		}
		nodes = append(nodes, n)
	}
	return nodes, opts, nil
}

// decodeRedisOption mirrors Python's json.loads with a fallback to the raw string.
func decodeRedisOption(s string) any {
	switch strings.TrimSpace(s) {
	case "NaN":
		return math.NaN()
	case "Infinity":
		return math.Inf(1)
	case "-Infinity":
		return math.Inf(-1)
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return s
	}
	if _, err := dec.Token(); err != io.EOF {
		return s // trailing data: Python's json.loads fails too
	}
	return normalizeJSON(v)
}

// normalizeJSON turns json.Number into int64 (Python int) or float64 (Python float).
func normalizeJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		t := x.String()
		if !strings.ContainsAny(t, ".eE") {
			if i, err := strconv.ParseInt(t, 10, 64); err == nil {
				return i
			}
		}
		f, _ := strconv.ParseFloat(t, 64)
		return f
	case []any:
		for i := range x {
			x[i] = normalizeJSON(x[i])
		}
		return x
	case map[string]any:
		for k := range x {
			x[k] = normalizeJSON(x[k])
		}
		return x
	}
	return v
}

// pyTruthy is Python's truth value of a JSON-decoded option.
func pyTruthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case int64:
		return x != 0
	case float64:
		return x != 0
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return true
}

// redisStringOption renders a credential the way redis-py sends it (numbers as their text).
func redisStringOption(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		return pyfmt.Float(x), nil
	}
	return "", fmt.Errorf("%v must be a string", v)
}
