package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

const testRepo = "/repo"

// testEnv is the environment seen by the testdata files.
var testEnv = map[string]string{
	"PROJECT_NAME":   "envproj",
	"REGISTRY_DIR":   "/srv/feast",
	"REDIS_HOST":     "cache",
	"REDIS_PORT":     "6390",
	"REDIS_PASSWORD": "unused",
	"EKSV":           "2",
}

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

func parseFile(t *testing.T, path string) (*RepoConfig, error) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return Parse(data, testRepo, lookup(testEnv))
}

func eq[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

func ptr[T any](v T) *T { return &v }

func TestGoodConfigs(t *testing.T) {
	cases := map[string]func(t *testing.T, c *RepoConfig){
		"defaults.yaml": func(t *testing.T, c *RepoConfig) {
			eq(t, "RepoDir", c.RepoDir, testRepo)
			eq(t, "Project", c.Project, "driver_ranking")
			eq(t, "Provider", c.Provider, "local")
			eq(t, "Registry.RegistryType", c.Registry.RegistryType, "file")
			eq(t, "Registry.Path", c.Registry.Path, "data/registry.db")
			eq(t, "Registry.ResolvedPath", c.Registry.ResolvedPath(), "/repo/data/registry.db")
			eq(t, "Registry.Scheme", c.Registry.Scheme(), "file")
			eq(t, "Registry.StoreType", c.Registry.StoreType(), "FileRegistryStore")
			eq(t, "Registry.CacheTTLSeconds", c.Registry.CacheTTLSeconds, 600)
			eq(t, "Registry.CacheMode", c.Registry.CacheMode, "sync")
			eq(t, "OnlineStore.Type", c.OnlineStore.Type, "sqlite")
			eq(t, "SQLite", *c.OnlineStore.SQLite, SQLiteConfig{Path: "/repo/data/online.db", Similarity: "cosine"})
			eq(t, "OfflineStore.Type", c.OfflineStore.Type, "dask")
			eq(t, "BatchEngine.Type", c.BatchEngine.Type, "local")
			eq(t, "FeatureServer", c.FeatureServer, FeatureServerConfig{
				Type: "local", TransformationServiceEndpoint: "localhost:6569", Metrics: DefaultMetricsConfig(),
			})
			eq(t, "Auth.Type", c.Auth.Type, "no_auth")
			eq(t, "EntityKeySerializationVersion", c.EntityKeySerializationVersion, 3)
			eq(t, "CoerceTZAware", c.CoerceTZAware, true)
			eq(t, "Materialization", c.Materialization, MaterializationConfig{})
			eq(t, "len(Ignored)", len(c.Ignored), 0)
			eq(t, "len(Warnings)", len(c.Warnings), 0)
		},
		"registry_object.yaml": func(t *testing.T, c *RepoConfig) {
			r := c.Registry
			eq(t, "Path", r.Path, "/var/feast/registry.pb")
			eq(t, "ResolvedPath", r.ResolvedPath(), "/var/feast/registry.pb")
			eq(t, "CacheTTLSeconds", r.CacheTTLSeconds, 60)
			eq(t, "CacheTTL", r.CacheTTL().Seconds(), 60.0)
			eq(t, "CacheMode", r.CacheMode, "thread")
			eq(t, "PurgeFeastMetadata", r.PurgeFeastMetadata, true)
			eq(t, "EnableOnlineFeatureViewVersioning", r.EnableOnlineFeatureViewVersioning, true)
			eq(t, "Ignored", c.Ignored, []string{"registry.some_future_key"})
		},
		"registry_s3.yaml": func(t *testing.T, c *RepoConfig) {
			r := c.Registry
			eq(t, "Scheme", r.Scheme(), "s3")
			eq(t, "StoreType", r.StoreType(), "S3RegistryStore")
			eq(t, "ResolvedPath", r.ResolvedPath(), "s3://my-bucket/feast/registry.db")
			eq(t, "S3AdditionalKwargs", r.S3AdditionalKwargs, map[string]string{"ServerSideEncryption": "AES256"})
			eq(t, "OnlineStore.Type", c.OnlineStore.Type, "redis")
		},
		"registry_gs_string.yaml": func(t *testing.T, c *RepoConfig) {
			eq(t, "Scheme", c.Registry.Scheme(), "gs")
			eq(t, "StoreType", c.Registry.StoreType(), "GCSRegistryStore")
			eq(t, "ResolvedPath", c.Registry.ResolvedPath(), "gs://bucket/registry.db")
		},
		"registry_cache_ttl_zero.yaml": func(t *testing.T, c *RepoConfig) {
			eq(t, "CacheTTLSeconds", c.Registry.CacheTTLSeconds, 0)
			eq(t, "CacheTTL", c.Registry.CacheTTL(), 0)
			eq(t, "ResolvedPath", c.Registry.ResolvedPath(), "/repo/registry.db")
		},
		"registry_sql.yaml": func(t *testing.T, c *RepoConfig) {
			r := c.Registry
			eq(t, "RegistryType", r.RegistryType, "sql")
			eq(t, "Path", r.Path, "postgresql://feast:pw@db:5432/feast")
			eq(t, "ResolvedPath", r.ResolvedPath(), r.Path)
			eq(t, "SQL", *r.SQL, SQLRegistryConfig{
				SQLAlchemyConfigKwargs: map[string]any{"echo": false, "pool_pre_ping": true},
				SchemaMode:             "verify",
			})
			eq(t, "len(Warnings)", len(c.Warnings), 1)
		},
		"registry_remote.yaml": func(t *testing.T, c *RepoConfig) {
			r := c.Registry
			eq(t, "RegistryType", r.RegistryType, "remote")
			eq(t, "Path", r.Path, "registry.example.com:6570")
			eq(t, "Remote", *r.Remote, RemoteRegistryConfig{Cert: "/certs/ca.pem", IsTLS: true})
			eq(t, "OnlineStore.Remote", *c.OnlineStore.Remote, RemoteConfig{
				Path: "https://features.example.com", Cert: "/certs/ca.pem",
				ConnectionPoolSize: 50, ConnectionIdleTimeout: 300, ConnectionRetries: 5,
			})
		},
		"registry_windows_drive.yaml": func(t *testing.T, c *RepoConfig) {
			eq(t, "Scheme", c.Registry.Scheme(), "file")
			eq(t, "StoreType", c.Registry.StoreType(), "FileRegistryStore")
		},
		"env_substitution.yaml": func(t *testing.T, c *RepoConfig) {
			eq(t, "Project", c.Project, "envproj")
			eq(t, "Registry.Path", c.Registry.Path, "/srv/feast/registry.db")
			r := c.OnlineStore.Redis
			eq(t, "Addrs", r.Addrs, []string{"cache:6390"})
			// No default-value syntax: "${REDIS_PASSWORD:-secret}" names a variable that does not exist.
			eq(t, "Password", r.Password, "${REDIS_PASSWORD:-secret}")
			// Undefined variables stay verbatim.
			eq(t, "Username", r.Username, "$UNDEFINED_USER")
			// Substitution happens before YAML parsing, so "2" becomes an integer.
			eq(t, "EntityKeySerializationVersion", c.EntityKeySerializationVersion, 2)
		},
		"redis_single.yaml": func(t *testing.T, c *RepoConfig) {
			r := c.OnlineStore.Redis
			eq(t, "RedisType", r.RedisType, "redis")
			eq(t, "Addrs", r.Addrs, []string{"redis-master:6380"})
			eq(t, "DB", r.DB, 2)
			eq(t, "SSL", r.SSL, true)
			eq(t, "Password", r.Password, "s3cr3t")
			eq(t, "Username", r.Username, "feast")
			eq(t, "SSLCertReqs", r.SSLCertReqs, "none")
			eq(t, "Options", r.Options, map[string]any{
				"db": int64(2), "ssl": true, "password": "s3cr3t", "username": "feast",
				"ssl_cert_reqs": "none", "socket_timeout": 1.5,
			})
			eq(t, "KeyTTLSeconds", r.KeyTTLSeconds, ptr(int64(86400)))
			eq(t, "FullScanForDeletion", r.FullScanForDeletion, false)
			eq(t, "SkipDedup", r.SkipDedup, true)
			eq(t, "SentinelMaster", r.SentinelMaster, "mymaster")
		},
		"redis_cluster.yaml": func(t *testing.T, c *RepoConfig) {
			r := c.OnlineStore.Redis
			eq(t, "RedisType", r.RedisType, "redis_cluster")
			eq(t, "Addrs", r.Addrs, []string{"node1:7000", "node2:7001", "node3:6379"})
			eq(t, "SSL", r.SSL, true)
			// password=123 is JSON-decoded to an int; redis-py sends its text.
			eq(t, "Password", r.Password, "123")
			eq(t, "Options[password]", r.Options["password"], any(int64(123)))
			eq(t, "Options[skip_full_coverage_check]", r.Options["skip_full_coverage_check"], any(true))
			eq(t, "KeyTTLSeconds", r.KeyTTLSeconds, (*int64)(nil))
			eq(t, "FullScanForDeletion", r.FullScanForDeletion, true)
		},
		"redis_sentinel.yaml": func(t *testing.T, c *RepoConfig) {
			r := c.OnlineStore.Redis
			eq(t, "RedisType", r.RedisType, "redis_sentinel")
			eq(t, "SentinelMaster", r.SentinelMaster, "mymaster")
			eq(t, "Addrs", r.Addrs, []string{"sentinel1:26379", "sentinel2:26379", "sentinel3:26379"})
			eq(t, "Password", r.Password, "pw")
			eq(t, "DB", r.DB, 1)
		},
		"redis_defaults_string.yaml": func(t *testing.T, c *RepoConfig) {
			r := c.OnlineStore.Redis
			eq(t, "ConnectionString", r.ConnectionString, "localhost:6379")
			eq(t, "Addrs", r.Addrs, []string{"localhost:6379"})
			eq(t, "RedisType", r.RedisType, "redis")
			eq(t, "SentinelMaster", r.SentinelMaster, "mymaster")
		},
		"sqlite_relative.yaml": func(t *testing.T, c *RepoConfig) {
			eq(t, "SQLite", *c.OnlineStore.SQLite, SQLiteConfig{
				Path: "/shared/online.db", VectorEnabled: true, Similarity: "L2", TextSearchEnabled: true,
			})
		},
		"sqlite_absolute_classpath.yaml": func(t *testing.T, c *RepoConfig) {
			eq(t, "Type", c.OnlineStore.Type, "sqlite")
			eq(t, "Path", c.OnlineStore.SQLite.Path, "/tmp/online.db")
			eq(t, "ResolvedPath", c.Registry.ResolvedPath(), "/abs/registry.db")
		},
		"postgres.yaml": func(t *testing.T, c *RepoConfig) {
			eq(t, "online", *c.OnlineStore.Postgres, PostgresConfig{
				Host: "db.internal", Port: 5433, Database: "feast", DBSchema: "features", User: "feast",
				Password: `p@ss w'rd\`, SSLMode: "verify-full", SSLKeyPath: "/certs/client.key",
				SSLCertPath: "/certs/client.crt", SSLRootCertPath: "/certs/ca.crt", KeepalivesIdle: ptr(30),
				MinConn: 2, MaxConn: 20, ConnType: "pool", VectorEnabled: true, Similarity: "cosine",
				EnableOpenAICompatibleStore: true, MaxBatchedResultRows: 0,
			})
			eq(t, "online DSN", c.OnlineStore.Postgres.DSN(),
				`user=feast password='p@ss w\'rd\\' host=db.internal port=5433 dbname=feast sslmode=verify-full `+
					`sslkey=/certs/client.key sslcert=/certs/client.crt sslrootcert=/certs/ca.crt keepalives_idle=30 `+
					`options='-c search_path=features,public'`)
			eq(t, "offline", *c.OfflineStore.Postgres, PostgresConfig{
				Host: "db.internal", Port: 5432, Database: "feast", DBSchema: "public", User: "feast",
				Password: "pw", MinConn: 1, MaxConn: 10, ConnType: "singleton", EntitySelectMode: "embed_query",
			})
			// sslmode: null leaves libpq's default.
			eq(t, "offline DSN", c.OfflineStore.Postgres.DSN(),
				`user=feast password=pw host=db.internal port=5432 dbname=feast options='-c search_path=public'`)
		},
		"unknown_top_level.yaml": func(t *testing.T, c *RepoConfig) {
			eq(t, "Provider", c.Provider, "aws")
			eq(t, "FeatureServer.Enabled", c.FeatureServer.Enabled, true)
			eq(t, "Auth", c.Auth, AuthConfig{Type: "oidc", OIDC: OIDCConfig{
				DiscoveryURL: "https://idp/.well-known/openid-configuration", ClientID: "feast",
				VerifySSL: true, JWKSLifespan: 300 * time.Second, JWKSTimeout: 10 * time.Second}})
			eq(t, "Ignored", c.Ignored, []string{
				"registry.mcp", "registry.cert", "custom_setting", "flags", "openlineage",
				"feature_server.feature_logging", "feature_server.offline_push_batching_enabled",
			})
			eq(t, "len(Warnings)", len(c.Warnings), 1)
		},
		"online_store_null_string.yaml": func(t *testing.T, c *RepoConfig) {
			eq(t, "OnlineStore", c.OnlineStore, OnlineStoreConfig{Type: "none"})
		},
		"online_store_none.yaml": func(t *testing.T, c *RepoConfig) {
			eq(t, "OnlineStore", c.OnlineStore, OnlineStoreConfig{Type: "none"})
			eq(t, "OfflineStore.Type", c.OfflineStore.Type, "none")
		},
		"online_store_yaml_null.yaml": func(t *testing.T, c *RepoConfig) {
			eq(t, "OnlineStore", c.OnlineStore, OnlineStoreConfig{Type: "none"})
		},
		"eksv2.yaml": func(t *testing.T, c *RepoConfig) {
			eq(t, "EntityKeySerializationVersion", c.EntityKeySerializationVersion, 2)
			eq(t, "CoerceTZAware", c.CoerceTZAware, false) // YAML 1.1: "no" is false
			eq(t, "len(Warnings)", len(c.Warnings), 1)
		},
		"yaml11_and_merge.yaml": func(t *testing.T, c *RepoConfig) {
			eq(t, "Registry.PurgeFeastMetadata", c.Registry.PurgeFeastMetadata, true) // yes
			eq(t, "Registry.CacheTTLSeconds", c.Registry.CacheTTLSeconds, 16)         // 0x10
			p := c.OnlineStore.Postgres
			eq(t, "Host", p.Host, "override")     // explicit key beats the merged one
			eq(t, "Port", p.Port, 493)            // 0755 is octal in YAML 1.1
			eq(t, "Password", p.Password, "0755") // quoted stays a string
			eq(t, "offline Host", c.OfflineStore.Postgres.Host, "db")
			eq(t, "Materialization", c.Materialization, MaterializationConfig{PullLatestFeatures: true, OnlineWriteBatchSize: ptr(1000)})
			eq(t, "Ignored", c.Ignored, []string{"defaults"})
		},
		"feature_server.yaml": func(t *testing.T, c *RepoConfig) {
			m := DefaultMetricsConfig()
			m.Enabled, m.Push, m.FeatureCountBins = true, false, []int{5, 25, 125}
			eq(t, "FeatureServer", c.FeatureServer, FeatureServerConfig{
				Type: "local", Enabled: true, TransformationServiceEndpoint: "transformations:6569", Metrics: m,
			})
			eq(t, "BatchEngine", c.BatchEngine, BatchEngineConfig{Type: "local", Backend: "polars",
				Options: map[string]any{"type": "local", "backend": "polars"}})
		},
		"offline_stores.yaml": func(t *testing.T, c *RepoConfig) {
			eq(t, "OfflineStore", c.OfflineStore, OfflineStoreConfig{Type: "bigquery",
				Options: map[string]any{"type": "bigquery", "dataset": "feast", "project_id": "my-gcp"}})
			eq(t, "BatchEngine.Type", c.BatchEngine.Type, "spark.engine")
			eq(t, "Auth.Type", c.Auth.Type, "kubernetes")
			eq(t, "Auth.KubernetesUserToken", c.Auth.KubernetesUserToken, "eyJ.user.token")
		},
		"offline_remote.yaml": func(t *testing.T, c *RepoConfig) {
			eq(t, "Remote", *c.OfflineStore.Remote, RemoteOfflineConfig{Host: "flight.internal", Port: 8815, Scheme: "https", ConnectionRetries: 3})
			eq(t, "Auth.Type", c.Auth.Type, "no_auth")
		},
		"offline_duckdb.yaml": func(t *testing.T, c *RepoConfig) {
			eq(t, "DuckDB", *c.OfflineStore.DuckDB, DuckDBConfig{StagingLocation: "s3://bucket/staging"})
		},
	}
	files, err := filepath.Glob("testdata/good/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		check, ok := cases[name]
		if !ok {
			t.Errorf("%s has no entry in the table", f)
			continue
		}
		delete(cases, name)
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			c, err := parseFile(t, f)
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			check(t, c)
		})
	}
	for name := range cases {
		t.Errorf("table entry %s has no file in testdata/good", name)
	}
}

func TestBadConfigs(t *testing.T) {
	cases := map[string][]string{
		"missing_project.yaml":               {"project: required"},
		"project_hyphen_sqlite.yaml":         {`project: "my-proj" must not contain '-' with the sqlite online store`},
		"project_hyphen_redis.yaml":          {`project: "my-proj" must not contain '-'`, "whatever the online store"},
		"project_invalid_chars.yaml":         {`project: "my proj" must match`},
		"project_leading_underscore.yaml":    {`project: "_proj" must match`, "not start with '_' or '-'"},
		"project_not_string.yaml":            {"project: must be a string, got integer 123"},
		"missing_registry.yaml":              {"registry: required"},
		"bad_version.yaml":                   {"entity_key_serialization_version: 4 is not supported (1, 2 or 3)"},
		"version_string.yaml":                {`entity_key_serialization_version: must be an integer, got string "3"`},
		"unknown_strict_key.yaml":            {"online_store.conection_string: unknown key for redis online store"},
		"redis_vector_enabled.yaml":          {"online_store.vector_enabled: unknown key for redis online store"},
		"bad_redis_type.yaml":                {`online_store.redis_type: "foo" must be one of redis, redis_cluster, redis_sentinel`},
		"redis_bad_port.yaml":                {"online_store.connection_string:", `port "abc" must be a number`},
		"redis_bad_db.yaml":                  {"online_store.connection_string: db=abc must be an integer"},
		"redis_no_node.yaml":                 {"online_store.connection_string:", "names no host:port node"},
		"sentinel_no_port.yaml":              {`online_store.connection_string: sentinel node "sentinel1" needs a port`},
		"redis_negative_ttl.yaml":            {"online_store.key_ttl_seconds: must not be negative"},
		"postgres_missing_required.yaml":     {"online_store.database: required", "online_store.user: required", "online_store.password: required"},
		"postgres_bad_port.yaml":             {"online_store.port: 70000 is not a valid port"},
		"postgres_port_not_int.yaml":         {`online_store.port: must be an integer, got string "five"`, "online_store.password: must be a string, got integer 1234"},
		"postgres_bad_conn_type.yaml":        {`offline_store.conn_type: "pooled" must be one of singleton, pool`, `offline_store.entity_select_mode: "fast" must be one of temp_table, embed_query`},
		"unsupported_online_store.yaml":      {`online_store.type: "dynamodb" is a Feast online store that is not supported by this server`},
		"unknown_online_store.yaml":          {`online_store.type: "memcached" is not supported by this server`},
		"online_store_list.yaml":             {"online_store: must be a mapping or a store type name, got a list"},
		"bad_registry_type.yaml":             {`registry.registry_type: "mysql" must be one of file, sql, remote, snowflake.registry`},
		"registry_bad_scheme.yaml":           {`registry: "ftp://host/registry.db" has unsupported scheme "ftp"`},
		"registry_cache_ttl_string.yaml":     {`registry.cache_ttl_seconds: must be an integer, got string "600"`},
		"registry_cache_mode.yaml":           {`registry.cache_mode: "async" must be one of sync, thread`},
		"registry_no_path.yaml":              {"registry.path: required"},
		"registry_s3_kwargs_not_string.yaml": {"registry.s3_additional_kwargs.Retries: must be a string, got integer 3"},
		"registry_store_type.yaml":           {`registry.registry_store_type: "S3Store" must name a class ending in RegistryStore`},
		"feature_server_type.yaml":           {`feature_server.type: "grpc" must be one of local, mcp`},
		"feature_server_unknown_key.yaml":    {"feature_server.port: unknown key for local feature server", `feature_server.metrics.enabled: must be a boolean, got string "yes"`},
		"feature_server_bins.yaml":           {"feature_server.metrics.feature_count_bins: must be strictly increasing"},
		"feature_logging_unknown_key.yaml":   {"feature_server.feature_logging.flush_every: unknown key for feature logging config"},
		"auth_missing_type.yaml":             {"auth.type: required"},
		"auth_bad_type.yaml":                 {`auth.type: "basic" must be one of no_auth, kubernetes, oidc`},
		"auth_unknown_key.yaml":              {"auth.user: unknown key for no_auth auth config"},
		"auth_oidc_incomplete.yaml":          {`auth: incomplete configuration for "client_credentials"`},
		"offline_unknown_type.yaml":          {`offline_store.type: "parquet" is not a Feast offline store type`},
		"offline_dask_extra.yaml":            {"offline_store.path: unknown key for dask offline store"},
		"offline_remote_no_host.yaml":        {"offline_store.host: required", `offline_store.port: must be an integer, got string "8815"`},
		"batch_engine_unknown.yaml":          {`batch_engine.type: "beam" is not a Feast batch engine type`},
		"batch_engine_no_type.yaml":          {"batch_engine.type: required"},
		"materialization_batch_size.yaml":    {"materialization.online_write_batch_size: must be greater than 0", `materialization.pull_latest_features: must be a boolean, got string "true"`},
		"provider_unknown.yaml":              {`provider: "openstack" is not a Feast provider`},
		"not_a_mapping.yaml":                 {"expected a mapping of settings at the top level, got a list"},
		"empty.yaml":                         {"the file is empty"},
		"invalid_yaml.yaml":                  {"invalid YAML"},
		"multiple_documents.yaml":            {"invalid YAML", "expected a single YAML document"},
		"unsupported_tag.yaml":               {"invalid YAML", "unsupported YAML tag !secret"},
		"many_problems.yaml": {
			"5 problems in feature_store.yaml",
			`project: "my-proj" must not contain '-'`,
			"registry: required",
			`online_store.redis_type: "foo" must be one of`,
			"online_store.conection_string: unknown key for redis online store",
			"entity_key_serialization_version: 0 is not supported (1, 2 or 3)",
		},
	}
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		want, ok := cases[name]
		if !ok {
			t.Errorf("%s has no entry in the table", f)
			continue
		}
		delete(cases, name)
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			c, err := parseFile(t, f)
			if err == nil {
				t.Fatalf("expected an error, got config %+v", c)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("error %T does not hold a *FieldError", err)
			}
			for _, w := range want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	for name := range cases {
		t.Errorf("table entry %s has no file in testdata/bad", name)
	}
}

func TestExpandVars(t *testing.T) {
	env := lookup(map[string]string{"HOST": "redis", "PORT": "6379", "EMPTY": "", "A_1": "x", "DOLLAR": "$HOST"})
	cases := []struct{ name, in, want string }{
		{"plain", "$HOST:$PORT", "redis:6379"},
		{"braces", "${HOST}:${PORT}", "redis:6379"},
		{"undefined stays", "$NOPE ${NOPE}", "$NOPE ${NOPE}"},
		{"no default syntax", "${HOST:-other}", "${HOST:-other}"},
		{"empty value", "[$EMPTY]", "[]"},
		{"word chars", "$A_1.$HOST-x", "x.redis-x"},
		{"no name", "cost: $ 5 $", "cost: $ 5 $"},
		{"unterminated brace", "${HOST", "${HOST"},
		{"empty braces", "${}", "${}"},
		{"not rescanned", "$DOLLAR", "$HOST"},
		{"double dollar", "$$HOST", "$redis"},
		{"no dollar", "plain text", "plain text"},
		{"unicode is not a word char", "$HOSTé", "redisé"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			eq(t, "ExpandVars", ExpandVars(c.in, env), c.want)
		})
	}
}

func TestParseRedisConnectionString(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		nodes   []RedisNode
		opts    map[string]any
		wantErr string
	}{
		{name: "single", in: "localhost:6379", nodes: []RedisNode{{"localhost", "6379"}}, opts: map[string]any{}},
		{name: "cluster with options", in: "r1:7000,r2:7001,ssl=true,password=secret,db=0",
			nodes: []RedisNode{{"r1", "7000"}, {"r2", "7001"}},
			opts:  map[string]any{"ssl": true, "password": "secret", "db": int64(0)}},
		{name: "json values", in: "h:1,a=1.5,b=null,c=\"q\",d=[1],e=True,f=,g=x=y,h=01",
			nodes: []RedisNode{{"h", "1"}},
			opts:  map[string]any{"a": 1.5, "b": nil, "c": "q", "d": []any{int64(1)}, "e": "True", "f": "", "g": "x=y", "h": "01"}},
		{name: "no port", in: "redis", nodes: []RedisNode{{"redis", ""}}, opts: map[string]any{}},
		{name: "extra colon parts ignored", in: "h:6379:x", nodes: []RedisNode{{"h", "6379"}}, opts: map[string]any{}},
		{name: "ipv6", in: "[::1]:6380", nodes: []RedisNode{{"::1", "6380"}}, opts: map[string]any{}},
		{name: "blanks and empty tokens", in: " a:1 ,, b:2 ", nodes: []RedisNode{{"a", "1"}, {"b", "2"}}, opts: map[string]any{}},
		{name: "last option wins", in: "a:1,db=1,db=2", nodes: []RedisNode{{"a", "1"}}, opts: map[string]any{"db": int64(2)}},
		{name: "bad port", in: "a:x", wantErr: `port "x"`},
		{name: "port out of range", in: "a:70000", wantErr: "between 1 and 65535"},
		{name: "no host", in: ":6379", wantErr: "has no host"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			nodes, opts, err := ParseRedisConnectionString(c.in)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			eq(t, "nodes", nodes, c.nodes)
			eq(t, "opts", opts, c.opts)
		})
	}
	t.Run("nan", func(t *testing.T) {
		_, opts, err := ParseRedisConnectionString("a:1,x=NaN,y=-Infinity")
		if err != nil {
			t.Fatal(err)
		}
		if f, ok := opts["x"].(float64); !ok || !math.IsNaN(f) {
			t.Errorf("x = %v, want NaN", opts["x"])
		}
		eq(t, "y", opts["y"], any(math.Inf(-1)))
	})
}

func TestRedisOptionsTyped(t *testing.T) {
	cases := []struct {
		name, conn string
		ssl        bool
		db         int
		user, pw   string
		reqs       string
	}{
		{name: "ssl string truthy like Python", conn: "h:1,ssl=True", ssl: true},
		{name: "ssl false", conn: "h:1,ssl=false", ssl: false},
		{name: "ssl zero", conn: "h:1,ssl=0", ssl: false},
		{name: "numeric credentials", conn: "h:1,username=7,password=1.5", user: "7", pw: "1.5"},
		// json.loads makes a float of it, and redis-py sends repr(float).
		{name: "float credential printed as Python", conn: "h:1,username=1e16,password=123456789.0", user: "1e+16", pw: "123456789.0"},
		{name: "cert reqs int", conn: "h:1,ssl_cert_reqs=2", reqs: "required"},
		{name: "db null", conn: "h:1,db=null", db: 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse([]byte("project: p\nregistry: r.db\nonline_store:\n  type: redis\n  connection_string: \""+c.conn+"\"\n"), testRepo, lookup(nil))
			if err != nil {
				t.Fatal(err)
			}
			r := cfg.OnlineStore.Redis
			eq(t, "SSL", r.SSL, c.ssl)
			eq(t, "DB", r.DB, c.db)
			eq(t, "Username", r.Username, c.user)
			eq(t, "Password", r.Password, c.pw)
			eq(t, "SSLCertReqs", r.SSLCertReqs, c.reqs)
		})
	}
}

func TestRegistryScheme(t *testing.T) {
	cases := []struct{ path, scheme, resolved string }{
		{"data/registry.db", "file", "/repo/data/registry.db"},
		{"/abs/registry.db", "file", "/abs/registry.db"},
		{"file:///abs/registry.db", "file", "/abs/registry.db"},
		{"s3://bucket/key.db", "s3", "s3://bucket/key.db"},
		{"S3://bucket/key.db", "s3", "S3://bucket/key.db"},
		{"gs://bucket/blob", "gs", "gs://bucket/blob"},
		{"hdfs://nn/registry.db", "hdfs", "hdfs://nn/registry.db"},
		{`C:\feast\registry.db`, "file", ""},
		{"C:/feast/registry.db", "file", ""},
		{"az://container/blob", "az", "az://container/blob"},
		{"./1:2", "file", "/repo/1:2"},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			r := RegistryConfig{RegistryType: "file", Path: c.path, repoDir: testRepo}
			eq(t, "Scheme", r.Scheme(), c.scheme)
			if c.resolved != "" {
				eq(t, "ResolvedPath", r.ResolvedPath(), c.resolved)
			}
		})
	}
}

func TestPyYAMLScalars(t *testing.T) {
	cases := []struct {
		name, text string
		want       any
	}{
		{"yes", "yes", true},
		{"On", "On", true},
		{"OFF", "OFF", false},
		{"y is a string", "y", "y"},
		{"octal", "0755", int64(493)},
		{"not octal", "0789", "0789"},
		{"hex", "0x1F", int64(31)},
		{"binary", "0b101", int64(5)},
		{"underscores", "1_000", int64(1000)},
		{"sexagesimal", "1:30", int64(90)},
		{"exponent without dot is a string", "1e3", "1e3"},
		{"float", "1.5e+3", 1500.0},
		{"dot float", ".5", 0.5},
		{"trailing dot", "1.", 1.0},
		{"inf", "-.inf", math.Inf(-1)},
		{"tilde", "~", nil},
		{"Null", "Null", nil},
		{"empty", "", nil},
		{"quoted", `"yes"`, "yes"},
		{"explicit str", "!!str 12", "12"},
		{"explicit int", "!!int '12'", int64(12)},
		{"date", "2024-01-02", "2024-01-02"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := parseYAML([]byte("k: " + c.text + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := v.m.get("k")
			eq(t, "value", got.native(), c.want)
		})
	}
	t.Run("duplicate key keeps last value", func(t *testing.T) {
		v, err := parseYAML([]byte("a: 1\nb: 2\na: 3\n"))
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "value", v.native(), any(map[string]any{"a": int64(3), "b": int64(2)}))
	})
	t.Run("merge list earlier wins", func(t *testing.T) {
		v, err := parseYAML([]byte("x: &x {a: 1, b: 1}\ny: &y {a: 2, c: 2}\nz:\n  <<: [*x, *y]\n  c: 3\n"))
		if err != nil {
			t.Fatal(err)
		}
		z, _ := v.m.get("z")
		eq(t, "z", z.native(), any(map[string]any{"a": int64(1), "b": int64(1), "c": int64(3)}))
	})
}

func TestPydanticCoercions(t *testing.T) {
	cases := []struct {
		name, yaml, wantErr string
		check               func(t *testing.T, c *RepoConfig)
	}{
		{name: "lax int from string and float", yaml: "online_store:\n  type: postgres\n  host: h\n  database: d\n  user: u\n  password: p\n  port: ' 6543 '\n  keepalives_idle: 5.0\n  min_conn: true\n",
			check: func(t *testing.T, c *RepoConfig) {
				eq(t, "Port", c.OnlineStore.Postgres.Port, 6543)
				eq(t, "KeepalivesIdle", c.OnlineStore.Postgres.KeepalivesIdle, ptr(5))
				eq(t, "MinConn", c.OnlineStore.Postgres.MinConn, 1)
			}},
		{name: "lax int rejects fraction", yaml: "online_store:\n  type: redis\n  key_ttl_seconds: 1.5\n", wantErr: "online_store.key_ttl_seconds: must be an integer, got number 1.5"},
		{name: "lax bool words", yaml: "online_store:\n  type: redis\n  skip_dedup: 'on'\n  full_scan_for_deletion: null\n",
			check: func(t *testing.T, c *RepoConfig) {
				eq(t, "SkipDedup", c.OnlineStore.Redis.SkipDedup, true)
				eq(t, "FullScanForDeletion", c.OnlineStore.Redis.FullScanForDeletion, false)
			}},
		{name: "lax bool rejects 2", yaml: "online_store:\n  type: redis\n  skip_dedup: 2\n", wantErr: "online_store.skip_dedup: must be a boolean, got integer 2"},
		{name: "strict bool rejects string", yaml: "registry:\n  path: r.db\n  purge_feast_metadata: 'true'\n", wantErr: "registry.purge_feast_metadata: must be a boolean"},
		{name: "strict int rejects bool", yaml: "entity_key_serialization_version: true\n", wantErr: "entity_key_serialization_version: must be an integer, got boolean true"},
		{name: "string rejects number", yaml: "online_store:\n  type: redis\n  connection_string: 6379\n", wantErr: "online_store.connection_string: must be a string, got integer 6379"},
		{name: "glide sentinel", yaml: "online_store:\n  type: redis\n  client: glide\n  redis_type: redis_sentinel\n  connection_string: s:26379\n", wantErr: "online_store.client: glide does not support"},
		{name: "coerce_tz_aware null", yaml: "coerce_tz_aware: null\n", check: func(t *testing.T, c *RepoConfig) { eq(t, "CoerceTZAware", c.CoerceTZAware, false) }},
		{name: "empty project", yaml: "project: ''\n", wantErr: "project: must not be empty"},
		{name: "unicode project", yaml: "project: données_2\n", check: func(t *testing.T, c *RepoConfig) { eq(t, "Project", c.Project, "données_2") }},
		{name: "mcp feature server", yaml: "feature_server:\n  type: mcp\n  mcp_enabled: true\n  mcp_transport: http\n",
			check: func(t *testing.T, c *RepoConfig) {
				eq(t, "Type", c.FeatureServer.Type, "mcp")
				eq(t, "TransformationServiceEndpoint", c.FeatureServer.TransformationServiceEndpoint, "localhost:6566")
				eq(t, "Ignored", c.Ignored, []string{"feature_server.mcp_enabled", "feature_server.mcp_transport"})
			}},
		{name: "batch_engine_config field name", yaml: "batch_engine_config: k8s\n", check: func(t *testing.T, c *RepoConfig) { eq(t, "Type", c.BatchEngine.Type, "k8s") }},
		{name: "registry null", yaml: "registry: null\n", wantErr: "registry: required"},
		{name: "non-string key", yaml: "online_store:\n  type: redis\n  1: x\n", wantErr: "online_store: key integer 1 is not a string"},
		{name: "redis class path", yaml: "online_store:\n  type: feast.infra.online_stores.redis.RedisOnlineStore\n", wantErr: "is a Feast online store that is not supported"},
		{name: "custom online class", yaml: "online_store:\n  type: my.pkg.FancyOnlineStore\n", wantErr: `custom online store class "my.pkg.FancyOnlineStore"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			y := c.yaml
			if !hasTopKey(y, "registry") {
				y = "registry: r.db\n" + y
			}
			if !hasTopKey(y, "project") {
				y = "project: p\n" + y
			}
			cfg, err := Parse([]byte(y), testRepo, lookup(nil))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, cfg)
		})
	}
}

func hasTopKey(doc, key string) bool {
	for _, l := range strings.Split(doc, "\n") {
		if strings.HasPrefix(l, key+":") {
			return true
		}
	}
	return false
}

func TestPostgresDSN(t *testing.T) {
	cases := []struct {
		name string
		cfg  PostgresConfig
		want string
	}{
		{"minimal", PostgresConfig{Host: "h", Port: 5432, Database: "d", User: "u", Password: "p", DBSchema: "public"},
			"user=u password=p host=h port=5432 dbname=d options='-c search_path=public'"},
		{"empty password and schema falls back to user", PostgresConfig{Host: "h", Port: 1, Database: "d", User: "bob"},
			"user=bob password='' host=h port=1 dbname=d options='-c search_path=bob,public'"},
		{"schema with blank", PostgresConfig{Host: "h", Port: 1, Database: "my db", User: "u", Password: "p", DBSchema: "a b"},
			`user=u password=p host=h port=1 dbname='my db' options='-c search_path=a\\ b,public'`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			eq(t, "DSN", c.cfg.DSN(), c.want)
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte("project: p\nregistry: data/registry.db\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "other.yaml")
	if err := os.WriteFile(other, []byte("project: q\nregistry: reg.db\nonline_store:\n  path: o.db\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("repo dir", func(t *testing.T) {
		c, err := Load(dir, "")
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "Project", c.Project, "p")
		eq(t, "RepoDir", c.RepoDir, dir)
		eq(t, "ResolvedPath", c.Registry.ResolvedPath(), filepath.Join(dir, "data/registry.db"))
	})
	t.Run("explicit file resolves against repo dir", func(t *testing.T) {
		c, err := Load(dir, other)
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "Project", c.Project, "q")
		eq(t, "SQLite.Path", c.OnlineStore.SQLite.Path, filepath.Join(dir, "o.db"))
	})
	t.Run("missing file", func(t *testing.T) {
		_, err := Load(t.TempDir(), "")
		if err == nil || !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("error = %v, want not-exist", err)
		}
	})
	t.Run("env from process", func(t *testing.T) {
		t.Setenv("FEASTGO_TEST_PROJECT", "from_env")
		if err := os.WriteFile(filepath.Join(dir, FileName), []byte("project: $FEASTGO_TEST_PROJECT\nregistry: r.db\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := Load(dir, "")
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "Project", c.Project, "from_env")
	})
	t.Run("error names file and field", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(dir, FileName), []byte("registry: r.db\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(dir, "")
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "project" || fe.Reason != "required" {
			t.Fatalf("error = %v, want project: required", err)
		}
		if !strings.Contains(err.Error(), FileName) {
			t.Errorf("error %q does not name the file", err)
		}
	})
}

func TestErrorsListEveryProblem(t *testing.T) {
	_, err := Parse([]byte("project: 1\nregistry: 2\nonline_store:\n  type: redis\n  a: 1\n  b: 2\n"), testRepo, lookup(nil))
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("error %T is not Errors", err)
	}
	var fields []string
	for _, e := range es {
		fields = append(fields, e.Field)
	}
	sort.Strings(fields)
	eq(t, "fields", fields, []string{"online_store.a", "online_store.b", "project", "registry"})
}

func TestOIDCServerKeys(t *testing.T) {
	const head = "project: p\nregistry: r.db\nauth:\n  type: oidc\n  auth_discovery_url: https://idp/realms/feast/.well-known/openid-configuration\n"
	cfg, err := Parse([]byte(head+"  client_id: feast-client\n  verify_ssl: false\n  ca_cert_path: /ca.pem\n  audience: feast-client\n  issuer: https://idp/realms/feast\n  jwks_cache_lifespan_seconds: 60\n  jwks_request_timeout_seconds: 2.5\n"), testRepo, lookup(nil))
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.Auth.OIDC
	if o.ClientID != "feast-client" || o.VerifySSL || o.CACertPath != "/ca.pem" || o.Audience == nil || *o.Audience != "feast-client" ||
		o.Issuer == nil || *o.Issuer != "https://idp/realms/feast" || o.JWKSLifespan != time.Minute || o.JWKSTimeout != 2500*time.Millisecond {
		t.Fatalf("oidc config %+v", o)
	}
	cfg, err = Parse([]byte(head+"  audience: null\n"), testRepo, lookup(nil))
	if err != nil || cfg.Auth.OIDC.Audience != nil || !cfg.Auth.OIDC.VerifySSL {
		t.Fatalf("audience null: %+v %v", cfg.Auth.OIDC, err)
	}
	for key, want := range map[string]string{
		"  jwks_cache_lifespan_seconds: 0\n":     "auth.jwks_cache_lifespan_seconds",
		"  jwks_request_timeout_seconds: x\n":    "auth.jwks_request_timeout_seconds",
		"  audience: [a]\n":                      "auth.audience",
		"  verify_ssl: maybe\n":                  "auth.verify_ssl",
		"  jwks_cache_lifespan_seconds: 1e300\n": "auth.jwks_cache_lifespan_seconds",
	} {
		_, err := Parse([]byte(head+key), testRepo, lookup(nil))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one naming %s", key, err, want)
		}
	}
}

func TestOIDCClientKeys(t *testing.T) {
	const head = "project: p\nregistry: r.db\nauth:\n  type: oidc\n  auth_discovery_url: https://idp/.well-known/openid-configuration\n  client_id: feast-client\n"
	cfg, err := Parse([]byte(head+"  client_secret: s3cret\n  username: alice\n  password: pw\n  token_refresh_margin_seconds: 5\n"), testRepo, lookup(nil))
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Auth.OIDC.Client
	if !cfg.Auth.OIDCClient || c.ClientSecret != "s3cret" || c.Username != "alice" || c.Password != "pw" || c.RefreshMargin != 5*time.Second {
		t.Fatalf("client config %+v", c)
	}
	for _, k := range cfg.Ignored {
		if strings.HasPrefix(k, "auth.") {
			t.Errorf("%s is used, not ignored", k)
		}
	}
	if s := fmt.Sprint(c); strings.Contains(s, "s3cret") || strings.Contains(s, "pw ") {
		t.Errorf("the secrets show in %s", s)
	}
	cfg, err = Parse([]byte("project: p\nregistry: r.db\nauth:\n  type: oidc\n  token_env_var: MY_TOKEN\n"), testRepo, lookup(nil))
	if err != nil || cfg.Auth.OIDC.Client.TokenEnvVar != "MY_TOKEN" || cfg.Auth.OIDC.Client.RefreshMargin != 30*time.Second {
		t.Fatalf("token_env_var: %+v %v", cfg.Auth.OIDC.Client, err)
	}
	for key, want := range map[string]string{
		"  client_secret: s\n  token: t\n":          "only one of",
		"  token_refresh_margin_seconds: 0\n":       "auth.token_refresh_margin_seconds",
		"  client_secret: s\n  username: [alice]\n": "auth.username",
	} {
		_, err := Parse([]byte(head+key), testRepo, lookup(nil))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one naming %s", key, err, want)
		}
	}
}
