package config

import (
	"path/filepath"
	"strings"
)

// OnlineStoreConfig is the online_store block; exactly one of the store pointers is set unless Type is "none".
type OnlineStoreConfig struct {
	// Type is "sqlite" (default), "redis", "postgres", "remote" or "none" (disabled).
	Type string
	// SQLite is set when Type is "sqlite".
	SQLite *SQLiteConfig
	// Redis is set when Type is "redis".
	Redis *RedisConfig
	// Postgres is set when Type is "postgres".
	Postgres *PostgresConfig
	// Remote is set when Type is "remote".
	Remote *RemoteConfig
}

// SQLiteConfig is the sqlite online store (Feast SqliteOnlineStoreConfig).
type SQLiteConfig struct {
	// Path is the absolute database file path (default <repo>/data/online.db).
	Path string
	// VectorEnabled makes writes fill the vector_value column for vector search.
	VectorEnabled bool
	// Similarity is the vector similarity metric (default "cosine").
	Similarity string
	// TextSearchEnabled enables text search over value_text.
	TextSearchEnabled bool
	// EnableOpenAICompatibleStore adds the value_num column to new tables.
	EnableOpenAICompatibleStore bool
}

// RemoteConfig is the remote online store: a Feast feature server reached over HTTP.
type RemoteConfig struct {
	// Path is the feature server base URL (default "http://localhost:6566").
	Path string
	// Cert is the CA certificate path used to verify the server's TLS certificate.
	Cert string
	// ConnectionPoolSize is the maximum number of pooled connections (default 50).
	ConnectionPoolSize int
	// ConnectionIdleTimeout is the idle time in seconds after which a session is closed (default 300; 0 disables).
	ConnectionIdleTimeout int
	// ConnectionRetries is the number of retries with exponential backoff (default 3).
	ConnectionRetries int
}

// knownOnlineStores are Feast 0.67.0's online store type names (ONLINE_STORE_CLASS_FOR_TYPE).
var knownOnlineStores = []string{
	"aerospike", "sqlite", "datastore", "redis", "dynamodb", "snowflake.online", "bigtable",
	"postgres", "hbase", "cassandra", "scylladb", "mysql", "hazelcast", "elasticsearch",
	"remote", "singlestore", "qdrant", "couchbase.online", "milvus", "mongodb", "hybrid", "chronon",
}

const sqliteClassPath = "feast.infra.online_stores.sqlite.SqliteOnlineStore"

func (d *decoder) onlineStore(top *object, dir string) OnlineStoreConfig {
	v := top.get("online_store")
	var o *object
	typ := "sqlite"
	switch {
	case v == nil:
	case v.kind == kNull:
		return OnlineStoreConfig{Type: "none"}
	case v.kind == kStr:
		switch strings.ToLower(v.str) {
		case "none", "null", "":
			return OnlineStoreConfig{Type: "none"}
		}
		typ = v.str
	case v.kind == kMap:
		o = d.newObject(v, "online_store", "", true)
		if tv := o.get("type"); tv != nil {
			if tv.kind != kStr {
				o.fail("type", tv, "must be a string, got %s", tv.describe())
				return OnlineStoreConfig{Type: "none"}
			}
			typ = tv.str
		}
	default:
		top.fail("online_store", v, "must be a mapping or a store type name, got %s", v.describe())
		return OnlineStoreConfig{Type: "none"}
	}
	if typ == sqliteClassPath {
		typ = "sqlite"
	}
	if o == nil {
		// String form: the store's defaults.
		o = d.newObject(&yval{kind: kMap, m: newMap(), line: lineOr(v, top.line)}, "online_store", "", true)
	}
	out := OnlineStoreConfig{Type: typ}
	switch typ {
	case "sqlite":
		o.what = "sqlite online store"
		out.SQLite = d.sqlite(o, dir)
	case "redis":
		o.what = "redis online store"
		out.Redis = d.redis(o)
	case "postgres":
		o.what = "postgres online store"
		out.Postgres = d.postgres(o, true)
	case "remote":
		o.what = "remote online store"
		out.Remote = d.remote(o)
	default:
		line := lineOr(v, top.line)
		if tv, ok := o.m.get("type"); ok {
			line = tv.line
		}
		switch {
		case contains(knownOnlineStores, typ) || strings.HasPrefix(typ, "feast.infra.online_stores."):
			d.fail("online_store.type", line, "%q is a Feast online store that is not supported by this server (supported: sqlite, redis, postgres, remote)", typ)
		case strings.HasSuffix(typ, "OnlineStore"):
			d.fail("online_store.type", line, "custom online store class %q is not supported by this server", typ)
		default:
			d.fail("online_store.type", line, "%q is not supported by this server (nor a Feast online store type)", typ)
		}
		return OnlineStoreConfig{Type: "none"}
	}
	o.done()
	return out
}

func lineOr(v *yval, def int) int {
	if v != nil {
		return v.line
	}
	return def
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (d *decoder) sqlite(o *object, dir string) *SQLiteConfig {
	o.get("type")
	c := &SQLiteConfig{Similarity: "cosine"}
	p := o.str("path", "data/online.db")
	if p == "" {
		o.fail("path", o.get("path"), "must not be empty")
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	c.Path = filepath.Clean(p)
	c.VectorEnabled = o.optLaxBool("vector_enabled", false)
	if s, ok := o.optStr("similarity", "cosine"); ok {
		c.Similarity = s
	} else {
		c.Similarity = ""
	}
	c.TextSearchEnabled = o.laxBool("text_search_enabled", false)
	c.EnableOpenAICompatibleStore = o.laxBool("enable_openai_compatible_store", false)
	return c
}

func (d *decoder) remote(o *object) *RemoteConfig {
	o.get("type")
	return &RemoteConfig{
		Path:                  o.str("path", "http://localhost:6566"),
		Cert:                  o.str("cert", ""),
		ConnectionPoolSize:    int(o.laxInt("connection_pool_size", 50)),
		ConnectionIdleTimeout: int(o.laxInt("connection_idle_timeout", 300)),
		ConnectionRetries:     int(o.laxInt("connection_retries", 3)),
	}
}
