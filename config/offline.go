package config

import "strings"

// OfflineStoreConfig is the offline_store block.
type OfflineStoreConfig struct {
	// Type is "dask" (default; "file" is an alias kept as written), "duckdb", "postgres",
	// "remote", another Feast offline store type, a custom class path, or "none" (disabled).
	Type string
	// Postgres is set when Type is "postgres".
	Postgres *PostgresConfig
	// DuckDB is set when Type is "duckdb".
	DuckDB *DuckDBConfig
	// Remote is set when Type is "remote".
	Remote *RemoteOfflineConfig
	// Options holds the block as written; for types this package does not model it is the only content.
	Options map[string]any
}

// DuckDBConfig is the duckdb offline store.
type DuckDBConfig struct {
	// StagingLocation is where retrieval results may be staged (optional).
	StagingLocation string
	// StagingLocationEndpointOverride overrides the object-store endpoint of StagingLocation.
	StagingLocationEndpointOverride string
}

// RemoteOfflineConfig is the remote offline store: an Arrow Flight server (feast serve_offline).
type RemoteOfflineConfig struct {
	// Host is the Flight server host (required).
	Host string
	// Port is the Flight server port, 0 when not given.
	Port int
	// Scheme is "http" (default, grpc+tcp) or "https" (grpc+tls).
	Scheme string
	// Cert is the CA certificate path for TLS.
	Cert string
	// ConnectionRetries is the number of retries for transient errors (default 3).
	ConnectionRetries int
}

// knownOfflineStores are Feast 0.67.0's offline store type names (OFFLINE_STORE_CLASS_FOR_TYPE).
var knownOfflineStores = []string{
	"file", "dask", "bigquery", "redshift", "snowflake.offline", "spark", "trino", "postgres",
	"athena", "mssql", "duckdb", "remote", "couchbase.offline", "clickhouse", "ray", "oracle",
	"chronon", "hybrid",
}

func (d *decoder) offlineStore(top *object) OfflineStoreConfig {
	v := top.get("offline_store")
	typ := "dask"
	var o *object
	switch {
	case v == nil:
	case v.kind == kNull:
		return OfflineStoreConfig{Type: "none"}
	case v.kind == kStr:
		switch strings.ToLower(v.str) {
		case "none", "null", "":
			return OfflineStoreConfig{Type: "none"}
		}
		typ = v.str
	case v.kind == kMap:
		o = d.newObject(v, "offline_store", "", true)
		if tv := o.get("type"); tv != nil {
			if tv.kind != kStr {
				o.fail("type", tv, "must be a string, got %s", tv.describe())
				return OfflineStoreConfig{Type: "none"}
			}
			typ = tv.str
		}
	default:
		top.fail("offline_store", v, "must be a mapping or a store type name, got %s", v.describe())
		return OfflineStoreConfig{Type: "none"}
	}
	out := OfflineStoreConfig{Type: typ, Options: map[string]any{"type": typ}}
	if o == nil {
		o = d.newObject(&yval{kind: kMap, m: newMap(), line: lineOr(v, top.line)}, "offline_store", "", true)
	} else {
		out.Options = v.native().(map[string]any)
		out.Options["type"] = typ
	}
	switch typ {
	case "dask", "file":
		o.what = "dask offline store"
		o.get("type")
	case "duckdb":
		o.what = "duckdb offline store"
		o.get("type")
		c := &DuckDBConfig{}
		c.StagingLocation, _ = o.optStr("staging_location", "")
		c.StagingLocationEndpointOverride, _ = o.optStr("staging_location_endpoint_override", "")
		out.DuckDB = c
	case "postgres":
		o.what = "postgres offline store"
		out.Postgres = d.postgres(o, false)
	case "remote":
		o.what = "remote offline store"
		o.get("type")
		c := &RemoteOfflineConfig{}
		c.Scheme = o.enum("scheme", "http", "http", "https")
		c.Host = o.requiredStr("host")
		if p := o.optStrictInt("port"); p != nil {
			c.Port = int(*p)
			if c.Port < 1 || c.Port > 65535 {
				o.fail("port", o.get("port"), "%d is not a valid port (1-65535)", c.Port)
			}
		}
		c.Cert = o.str("cert", "")
		c.ConnectionRetries = int(o.laxInt("connection_retries", 3))
		if c.ConnectionRetries < 0 {
			o.fail("connection_retries", o.get("connection_retries"), "must not be negative")
		}
		out.Remote = c
	default:
		if contains(knownOfflineStores, typ) || strings.HasSuffix(typ, "OfflineStore") {
			// A store this package does not model: kept as written for the offline layer to judge.
			return out
		}
		line := lineOr(v, top.line)
		if tv, ok := o.m.get("type"); ok {
			line = tv.line
		}
		d.fail("offline_store.type", line, "%q is not a Feast offline store type", typ)
		return OfflineStoreConfig{Type: "none"}
	}
	o.done()
	return out
}

// BatchEngineConfig is the batch_engine block (the materialization engine).
type BatchEngineConfig struct {
	// Type is "local" (default), another Feast engine type or a custom class path.
	Type string
	// Backend is the local engine's DataFrame backend (e.g. "pandas", "polars"); empty for the default.
	Backend string
	// Options holds the block as written.
	Options map[string]any
}

// knownBatchEngines are Feast 0.67.0's batch engine type names (BATCH_ENGINE_CLASS_FOR_TYPE).
var knownBatchEngines = []string{
	"local", "snowflake.engine", "lambda", "k8s", "spark.engine", "ray.engine", "flink.engine",
	"spark_application", "trino.engine", "trino",
}

func (d *decoder) batchEngine(top *object) BatchEngineConfig {
	key := "batch_engine"
	v := top.get(key)
	if v == nil && top.has("batch_engine_config") {
		// Feast also reads the engine from the field name when the alias is absent.
		key = "batch_engine_config"
		v = top.get(key)
	}
	out := BatchEngineConfig{Type: "local", Options: map[string]any{"type": "local"}}
	var o *object
	switch {
	case v == nil || v.kind == kNull:
		return out
	case v.kind == kStr:
		out.Type = v.str
		out.Options = map[string]any{"type": v.str}
	case v.kind == kMap:
		o = d.newObject(v, key, "local batch engine", true)
		tv := o.get("type")
		if tv == nil {
			o.fail("type", nil, "required")
			return out
		}
		if tv.kind != kStr {
			o.fail("type", tv, "must be a string, got %s", tv.describe())
			return out
		}
		out.Type = tv.str
		out.Options = v.native().(map[string]any)
	default:
		top.fail(key, v, "must be a mapping or an engine type name, got %s", v.describe())
		return out
	}
	switch {
	case out.Type == "local":
		if o != nil {
			out.Backend, _ = o.optStr("backend", "")
			o.done()
		}
	case contains(knownBatchEngines, out.Type) || strings.HasSuffix(out.Type, "Engine"):
	default:
		d.fail(join(key, "type"), v.line, "%q is not a Feast batch engine type", out.Type)
	}
	return out
}
