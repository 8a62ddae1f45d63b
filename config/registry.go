package config

import (
	"net/url"
	"path/filepath"
	"strings"
	"time"
)

// RegistryConfig is the registry block (Feast RegistryConfig and its sql/remote/snowflake variants).
type RegistryConfig struct {
	// RegistryType is "file" (default), "sql", "remote" or "snowflake.registry".
	RegistryType string
	// Path is the path as written: a file path or s3/gs/hdfs URI (file), an SQLAlchemy URL (sql) or host:port (remote).
	Path string
	// RegistryStoreType is the optional registry store class name (e.g. "S3RegistryStore"); empty means chosen by Scheme.
	RegistryStoreType string
	// CacheTTLSeconds is how long the parsed registry is cached (default 600); 0 or less means it never expires.
	CacheTTLSeconds int
	// CacheMode is "sync" (default: reload when stale or when the file changed) or "thread" (background refresh).
	CacheMode string
	// S3AdditionalKwargs are extra arguments Feast passes to boto3 when writing an S3 registry.
	S3AdditionalKwargs map[string]string
	// PurgeFeastMetadata drops the legacy project_metadata entries from the registry on load.
	PurgeFeastMetadata bool
	// EnableOnlineFeatureViewVersioning enables version-qualified references ("fv@v2:feature") and per-version tables.
	EnableOnlineFeatureViewVersioning bool
	// ServeFeaturesWhileMaterializing keeps serving feature views that are in the MATERIALIZING state.
	ServeFeaturesWhileMaterializing bool
	// SQL holds the sql-registry settings when RegistryType is "sql".
	SQL *SQLRegistryConfig
	// Remote holds the remote-registry settings when RegistryType is "remote".
	Remote *RemoteRegistryConfig
	// Options holds every key of the registry block as written (all of it for snowflake.registry).
	Options map[string]any

	repoDir string
}

// SQLRegistryConfig holds the settings specific to registry_type sql.
type SQLRegistryConfig struct {
	// ReadPath is an optional read-only SQLAlchemy URL, as written.
	ReadPath string
	// SQLAlchemyConfigKwargs are the create_engine arguments (default {"echo": false}).
	SQLAlchemyConfigKwargs map[string]any
	// ThreadPoolExecutorWorkerCount is the number of background cache workers (0 = none).
	ThreadPoolExecutorWorkerCount int
	// SchemaMode is "auto" (default), "verify" or "skip".
	SchemaMode string
}

// RemoteRegistryConfig holds the settings specific to registry_type remote (a gRPC registry server).
type RemoteRegistryConfig struct {
	// Cert is the CA certificate path for TLS.
	Cert string
	// IsTLS turns TLS on even without Cert.
	IsTLS bool
	// ClientCert is the client certificate path for mutual TLS.
	ClientCert string
	// ClientKey is the client key path for mutual TLS.
	ClientKey string
	// Authority overrides the gRPC :authority header.
	Authority string
}

// Scheme returns the store scheme of Path for a file-type registry, following
// Feast's get_registry_store_class_from_scheme: "file" for plain paths, file://
// URIs and Windows drive letters ("C:\x", "C:/x"), otherwise the lower-cased URI
// scheme ("s3", "gs", "hdfs", ...).
func (r RegistryConfig) Scheme() string {
	s := urlScheme(r.Path)
	if s == "" || (len(s) == 1 && len(r.Path) >= 3 && (r.Path[1:3] == ":\\" || r.Path[1:3] == ":/")) {
		return "file"
	}
	return s
}

// StoreType returns the registry store class Feast would use for a file-type
// registry: RegistryStoreType when set, else the class for Scheme
// ("FileRegistryStore", "S3RegistryStore", "GCSRegistryStore", "HDFSRegistryStore").
func (r RegistryConfig) StoreType() string {
	if r.RegistryStoreType != "" {
		return r.RegistryStoreType
	}
	return storeForScheme[r.Scheme()]
}

var storeForScheme = map[string]string{
	"file": "FileRegistryStore",
	"s3":   "S3RegistryStore",
	"gs":   "GCSRegistryStore",
	"hdfs": "HDFSRegistryStore",
}

// ResolvedPath returns the absolute local path of a file-scheme registry
// (relative paths joined to the repository directory, file:// URIs reduced to
// their path) and Path unchanged for every other scheme or registry type.
func (r RegistryConfig) ResolvedPath() string {
	if r.RegistryType != "" && r.RegistryType != "file" {
		return r.Path
	}
	if r.Scheme() != "file" {
		return r.Path
	}
	p := r.Path
	if urlScheme(p) == "file" {
		if u, err := url.Parse(p); err == nil {
			p = u.Path
		}
	}
	if filepath.IsAbs(p) || filepath.VolumeName(p) != "" {
		return filepath.Clean(p)
	}
	return filepath.Join(r.repoDir, p)
}

// CacheTTL returns the registry cache lifetime; 0 means the cache never expires.
func (r RegistryConfig) CacheTTL() time.Duration {
	if r.CacheTTLSeconds <= 0 {
		return 0
	}
	return time.Duration(r.CacheTTLSeconds) * time.Second
}

// urlScheme mirrors Python's urllib.parse.urlparse scheme detection.
func urlScheme(p string) string {
	i := strings.IndexByte(p, ':')
	if i <= 0 {
		return ""
	}
	c := p[0]
	if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
		return ""
	}
	for j := 0; j < i; j++ {
		c := p[j]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.') {
			return ""
		}
	}
	return strings.ToLower(p[:i])
}

var registryStoreClasses = map[string]bool{
	"GCSRegistryStore":   true,
	"S3RegistryStore":    true,
	"FileRegistryStore":  true,
	"AzureRegistryStore": true,
	"HDFSRegistryStore":  true,
}

func (d *decoder) registry(v *yval, dir string) RegistryConfig {
	r := RegistryConfig{
		RegistryType:    "file",
		CacheTTLSeconds: 600,
		CacheMode:       "sync",
		repoDir:         dir,
	}
	switch v.kind {
	case kStr:
		r.Path = v.str
		r.Options = map[string]any{"path": v.str}
		d.checkRegistryPath(r, "registry", v.line)
		return r
	case kMap:
	case kNull:
		d.fail("registry", v.line, "required")
		return r
	default:
		d.fail("registry", v.line, "must be a path or a mapping, got %s", v.describe())
		return r
	}
	r.Options = v.native().(map[string]any)
	// Registry configs allow unknown keys (Feast's extra="allow").
	o := d.newObject(v, "registry", "registry", false)
	r.RegistryType = o.str("registry_type", "file")
	switch r.RegistryType {
	case "file", "sql", "remote", "snowflake.registry":
	default:
		o.fail("registry_type", o.get("registry_type"), "%q must be one of file, sql, remote, snowflake.registry", r.RegistryType)
		o.done()
		return r
	}
	if r.RegistryType == "snowflake.registry" {
		// Not served by this server; keep the block as written for the registry package to reject.
		for _, k := range v.m.keys {
			if k.kind == kStr {
				o.get(k.str)
			}
		}
		r.Path = o.str("path", "")
		return r
	}
	if s, ok := o.optStr("registry_store_type", ""); ok {
		r.RegistryStoreType = s
	}
	r.Path = o.str("path", "")
	r.CacheTTLSeconds = int(o.strictInt("cache_ttl_seconds", 600))
	r.CacheMode = o.str("cache_mode", "sync")
	if r.CacheMode != "sync" && r.CacheMode != "thread" {
		o.fail("cache_mode", o.get("cache_mode"), "%q must be one of sync, thread", r.CacheMode)
	}
	r.S3AdditionalKwargs = o.strMap("s3_additional_kwargs")
	r.PurgeFeastMetadata = o.strictBool("purge_feast_metadata", false)
	r.EnableOnlineFeatureViewVersioning = o.strictBool("enable_online_feature_view_versioning", false)
	r.ServeFeaturesWhileMaterializing = o.strictBool("serve_features_while_materializing", false)
	o.skip("mcp", func(v *yval, field string) {
		if v.kind == kNull {
			return
		}
		if v.kind != kMap {
			d.fail(field, v.line, "must be a mapping, got %s", v.describe())
			return
		}
		m := d.newObject(v, field, "registry mcp config", false)
		m.strictBool("enabled", false)
		m.done()
	})

	switch r.RegistryType {
	case "sql":
		sql := &SQLRegistryConfig{SQLAlchemyConfigKwargs: map[string]any{"echo": false}, SchemaMode: "auto"}
		if s, ok := o.optStr("read_path", ""); ok {
			sql.ReadPath = s
		}
		sql.SQLAlchemyConfigKwargs = o.anyMap("sqlalchemy_config_kwargs", sql.SQLAlchemyConfigKwargs)
		sql.ThreadPoolExecutorWorkerCount = int(o.strictInt("thread_pool_executor_worker_count", 0))
		sql.SchemaMode = o.enum("schema_mode", "auto", "auto", "verify", "skip")
		r.SQL = sql
		if strings.HasPrefix(r.Path, "postgresql://") {
			d.warn("registry.path: Feast rewrites a plain postgresql:// URL to postgresql+psycopg://")
		}
	case "remote":
		r.Remote = &RemoteRegistryConfig{
			Cert:       o.str("cert", ""),
			IsTLS:      o.laxBool("is_tls", false),
			ClientCert: o.str("client_cert", ""),
			ClientKey:  o.str("client_key", ""),
			Authority:  o.str("authority", ""),
		}
	}
	d.checkRegistryPath(r, "registry.path", lineOf(o, "path"))
	o.done()
	return r
}

func lineOf(o *object, key string) int {
	if v, ok := o.m.get(key); ok {
		return v.line
	}
	return o.line
}

func (d *decoder) checkRegistryPath(r RegistryConfig, field string, line int) {
	if r.Path == "" {
		d.fail(field, line, "required (the registry location)")
		return
	}
	if r.RegistryType != "file" {
		return
	}
	if r.RegistryStoreType != "" {
		if !strings.HasSuffix(r.RegistryStoreType, "RegistryStore") {
			d.fail("registry.registry_store_type", line, "%q must name a class ending in RegistryStore (e.g. %s)",
				r.RegistryStoreType, "FileRegistryStore, S3RegistryStore, GCSRegistryStore")
		} else if !registryStoreClasses[r.RegistryStoreType] && !strings.Contains(r.RegistryStoreType, ".") {
			d.fail("registry.registry_store_type", line, "%q is not a Feast registry store class", r.RegistryStoreType)
		}
		return
	}
	if _, ok := storeForScheme[r.Scheme()]; !ok {
		d.fail(field, line, "%q has unsupported scheme %q (supported: file, s3, gs, hdfs)", r.Path, r.Scheme())
	}
}
