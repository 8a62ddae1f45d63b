package config

import (
	"strconv"
	"strings"
)

// PostgresConfig holds Postgres connection settings (Feast PostgreSQLConfig) plus the
// online-store or offline-store extras.
type PostgresConfig struct {
	// Host is the server host (required); libpq multi-host lists are passed through.
	Host string
	// Port is the server port (default 5432).
	Port int
	// Database is the database name (required).
	Database string
	// DBSchema is the schema put first on the search_path (default "public").
	DBSchema string
	// User is the role name (required).
	User string
	// Password is the role password (required).
	Password string
	// SSLMode is the libpq sslmode (default "require"; empty when set to null, i.e. libpq's default).
	SSLMode string
	// SSLKeyPath is the client key file (libpq sslkey).
	SSLKeyPath string
	// SSLCertPath is the client certificate file (libpq sslcert).
	SSLCertPath string
	// SSLRootCertPath is the CA certificate file (libpq sslrootcert).
	SSLRootCertPath string
	// KeepalivesIdle is the TCP keepalive idle time in seconds, nil for the system default.
	KeepalivesIdle *int
	// MinConn is the pool's minimum size (default 1).
	MinConn int
	// MaxConn is the pool's maximum size (default 10).
	MaxConn int
	// ConnType is "singleton" (default, one shared connection) or "pool".
	ConnType string
	// VectorEnabled (online store) makes vector_value a pgvector column used for vector search.
	VectorEnabled bool
	// Similarity (online store) is the vector similarity metric (default "cosine").
	Similarity string
	// EnableOpenAICompatibleStore (online store) adds the value_num column to new tables.
	EnableOpenAICompatibleStore bool
	// MaxBatchedResultRows (online store) caps entity rows × feature views read in one query (default 2048; 0 = one view per query).
	MaxBatchedResultRows int
	// EntitySelectMode (offline store) is "temp_table" (default) or "embed_query".
	EntitySelectMode string
}

var sslModes = []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}

func (d *decoder) postgres(o *object, online bool) *PostgresConfig {
	o.get("type")
	c := &PostgresConfig{}
	c.MinConn = int(o.laxInt("min_conn", 1))
	c.MaxConn = int(o.laxInt("max_conn", 10))
	c.ConnType = o.enum("conn_type", "singleton", "singleton", "pool")
	c.Host = o.requiredStr("host")
	c.Port = int(o.laxInt("port", 5432))
	if c.Port < 1 || c.Port > 65535 {
		o.fail("port", o.get("port"), "%d is not a valid port (1-65535)", c.Port)
	}
	c.Database = o.requiredStr("database")
	c.DBSchema = o.str("db_schema", "public")
	c.User = o.requiredStr("user")
	c.Password = o.requiredStr("password")
	if s, ok := o.optStr("sslmode", "require"); ok {
		c.SSLMode = s
		if !contains(sslModes, s) {
			o.fail("sslmode", o.get("sslmode"), "%q must be one of %s", s, strings.Join(sslModes, ", "))
		}
	}
	c.SSLKeyPath, _ = o.optStr("sslkey_path", "")
	c.SSLCertPath, _ = o.optStr("sslcert_path", "")
	c.SSLRootCertPath, _ = o.optStr("sslrootcert_path", "")
	if n := o.optLaxInt("keepalives_idle"); n != nil {
		k := int(*n)
		c.KeepalivesIdle = &k
	}
	if c.ConnType == "pool" {
		if c.MinConn < 0 {
			o.fail("min_conn", o.get("min_conn"), "must not be negative")
		}
		if c.MaxConn < c.MinConn {
			o.fail("max_conn", o.get("max_conn"), "%d must be at least min_conn (%d)", c.MaxConn, c.MinConn)
		}
	}
	if online {
		c.VectorEnabled = o.optLaxBool("vector_enabled", false)
		c.Similarity = "cosine"
		if s, ok := o.optStr("similarity", "cosine"); ok {
			c.Similarity = s
		} else {
			c.Similarity = ""
		}
		c.EnableOpenAICompatibleStore = o.optLaxBool("enable_openai_compatible_store", false)
		c.MaxBatchedResultRows = int(o.laxInt("max_batched_result_rows", 2048))
		if c.MaxBatchedResultRows < 0 {
			o.fail("max_batched_result_rows", o.get("max_batched_result_rows"), "must not be negative")
		}
	} else {
		c.EntitySelectMode = o.enum("entity_select_mode", "temp_table", "temp_table", "embed_query")
	}
	return c
}

// SearchPath is the search_path Feast sets on every connection: DBSchema (or
// User when DBSchema is empty), followed by ",public" unless it is "public".
func (p PostgresConfig) SearchPath() string {
	s := p.DBSchema
	if s == "" {
		s = p.User
	}
	s = strings.TrimSpace(s)
	if s != "public" {
		s += ",public"
	}
	return s
}

// DSN returns a libpq key/value connection string (accepted by pgx and lib/pq)
// carrying the same settings Feast passes to psycopg: user, password, host, port,
// dbname, sslmode, sslkey, sslcert, sslrootcert, keepalives_idle and
// options='-c search_path=...'. Empty settings are left out; values are quoted
// and escaped as libpq requires.
func (p PostgresConfig) DSN() string {
	var parts []string
	add := func(k, v string) {
		parts = append(parts, k+"="+quoteConnValue(v))
	}
	add("user", p.User)
	add("password", p.Password)
	add("host", p.Host)
	add("port", strconv.Itoa(p.Port))
	add("dbname", p.Database)
	for _, kv := range [][2]string{
		{"sslmode", p.SSLMode},
		{"sslkey", p.SSLKeyPath},
		{"sslcert", p.SSLCertPath},
		{"sslrootcert", p.SSLRootCertPath},
	} {
		if kv[1] != "" {
			add(kv[0], kv[1])
		}
	}
	if p.KeepalivesIdle != nil {
		add("keepalives_idle", strconv.Itoa(*p.KeepalivesIdle))
	}
	add("options", "-c search_path="+escapeOptionValue(p.SearchPath()))
	return strings.Join(parts, " ")
}

// quoteConnValue quotes a conninfo value when needed: empty values and values
// with blanks, quotes or backslashes are single-quoted with \ and ' escaped.
func quoteConnValue(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t\n\r\f\v'\\") {
		return v
	}
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(v) + "'"
}

// escapeOptionValue escapes blanks and backslashes inside a libpq "options" value,
// where the server splits on unescaped whitespace.
func escapeOptionValue(v string) string {
	var b strings.Builder
	for _, r := range v {
		if r == '\\' || r == ' ' || r == '\t' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
