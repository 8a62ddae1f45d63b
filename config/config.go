// Package config reads feature_store.yaml into typed, validated structs,
// interpreting it exactly as Feast 0.67.0 does (feast/repo_config.py and the
// store config models), and records where this server deliberately differs.
//
// Loading follows Feast: the file's text goes through os.path.expandvars-style
// substitution (see ExpandVars), is parsed with YAML 1.1 (PyYAML) scalar rules,
// then validated with pydantic's strict/lax type rules. The top level and the
// registry block accept unknown keys (listed in RepoConfig.Ignored); store,
// feature_server and auth blocks reject them. Every problem is reported at once
// as an Errors value of *FieldError naming the dotted field.
//
// It imports nothing of ours but internal helpers: every other package reads
// its typed structs, none of them reaches back.
package config

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
)

// FileName is the configuration file Feast looks for in a repository directory.
const FileName = "feature_store.yaml"

// FeatureStoreYAMLEnvVar names the environment variable from which the Feast CLI
// reads a base64-encoded feature_store.yaml instead of a file (repo_operations.py).
const FeatureStoreYAMLEnvVar = "FEATURE_STORE_YAML_BASE64"

// RepoConfig is a validated feature_store.yaml.
type RepoConfig struct {
	// RepoDir is the absolute repository directory (Feast's repo_path); relative paths resolve against it.
	RepoDir string
	// Project is the Feast project name every registry lookup is scoped to.
	Project string
	// ProjectDescription is the optional free-text project description.
	ProjectDescription string
	// Provider is "local" (default), "gcp", "aws" or "azure"; all behave as Feast's passthrough provider.
	Provider string
	// Registry says where and how the registry is stored.
	Registry RegistryConfig
	// OnlineStore configures the online store; Type "none" means disabled.
	OnlineStore OnlineStoreConfig
	// OfflineStore configures the offline store; Type "none" means disabled.
	OfflineStore OfflineStoreConfig
	// BatchEngine configures the materialization engine (default "local").
	BatchEngine BatchEngineConfig
	// FeatureServer holds feature_server settings, with defaults filled in when the block is absent.
	FeatureServer FeatureServerConfig
	// Auth holds the auth block (default type "no_auth").
	Auth AuthConfig
	// EntityKeySerializationVersion is 3 (default) or the deprecated 2 or 1.
	EntityKeySerializationVersion int
	// CoerceTZAware says whether entity_df timestamps are coerced to UTC-aware (default true).
	CoerceTZAware bool
	// Materialization holds the materialization block.
	Materialization MaterializationConfig
	// Ignored lists, in file order, the dotted keys Feast accepts that this server does not use.
	Ignored []string
	// Warnings lists deprecations and other non-fatal remarks worth logging.
	Warnings []string
}

// MaterializationConfig is the materialization block (Feast MaterializationConfig).
type MaterializationConfig struct {
	// PullLatestFeatures makes materialization pull only the latest row per entity.
	PullLatestFeatures bool
	// OnlineWriteBatchSize is the number of rows per online write batch; nil writes everything at once.
	OnlineWriteBatchSize *int
}

// Load reads <repoDir>/feature_store.yaml (or the file given by path when non-empty),
// substitutes environment variables, decodes and validates it. An empty repoDir
// means the working directory, as for the Feast CLI; a relative path is taken
// relative to the working directory.
func Load(repoDir, path string) (*RepoConfig, error) {
	dir, err := absDir(repoDir)
	if err != nil {
		return nil, err
	}
	if path == "" {
		path = filepath.Join(dir, FileName)
	} else if path, err = filepath.Abs(path); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading feature store config: %w", err)
	}
	cfg, err := Parse(data, dir, os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

func absDir(repoDir string) (string, error) {
	if repoDir == "" {
		return os.Getwd()
	}
	return filepath.Abs(repoDir)
}

// Parse is Load on bytes; getenv is the environment lookup (os.LookupEnv in
// production, nil means os.LookupEnv) and repoDir the repository directory.
func Parse(data []byte, repoDir string, getenv func(string) (string, bool)) (*RepoConfig, error) {
	if getenv == nil {
		getenv = os.LookupEnv
	}
	dir, err := absDir(repoDir)
	if err != nil {
		return nil, err
	}
	root, err := parseYAML([]byte(ExpandVars(string(data), getenv)))
	if err != nil {
		return nil, Errors{{Reason: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	if root.kind == kNull {
		return nil, Errors{{Reason: "the file is empty (project and registry are required)", Line: 1}}
	}
	if root.kind != kMap {
		return nil, Errors{{Reason: "expected a mapping of settings at the top level, got " + root.describe(), Line: root.line}}
	}
	d := &decoder{}
	cfg := d.repoConfig(root, dir)
	if len(d.errs) > 0 {
		sort.SliceStable(d.errs, func(i, j int) bool { return d.errs[i].Line < d.errs[j].Line })
		return nil, d.errs
	}
	cfg.Ignored = d.ignoredFields()
	cfg.Warnings = d.warnings
	return cfg, nil
}

func (d *decoder) repoConfig(root *yval, dir string) *RepoConfig {
	top := d.newObject(root, "", "feature_store.yaml", false)
	cfg := &RepoConfig{RepoDir: dir}

	// Stores first: the project-name rule depends on the online store.
	cfg.OnlineStore = d.onlineStore(top, dir)
	cfg.Project = d.project(top, cfg.OnlineStore.Type)
	if v, ok := top.optStr("project_description", ""); ok {
		cfg.ProjectDescription = v
	}
	cfg.Provider = d.provider(top)

	if v := top.get("registry"); v == nil {
		top.fail("registry", nil, "required")
	} else {
		cfg.Registry = d.registry(v, dir)
	}
	cfg.OfflineStore = d.offlineStore(top)
	cfg.BatchEngine = d.batchEngine(top)
	cfg.FeatureServer = d.featureServer(top)
	cfg.Auth = d.auth(top)

	cfg.EntityKeySerializationVersion = int(top.strictInt("entity_key_serialization_version", 3))
	switch v := cfg.EntityKeySerializationVersion; {
	case v == 3:
	case v == 1 || v == 2:
		d.warn("entity_key_serialization_version %d is deprecated; Feast recommends 3", v)
	default:
		top.fail("entity_key_serialization_version", top.get("entity_key_serialization_version"),
			"%d is not supported (1, 2 or 3)", v)
	}
	cfg.CoerceTZAware = top.optLaxBool("coerce_tz_aware", true)
	cfg.Materialization = d.materialization(top)

	// Known top-level settings that do not concern a feature server.
	top.skip("openlineage", d.checkMapping)
	top.skip("mlflow", nil)
	top.skip("data_quality_monitoring", d.dataQualityMonitoring)
	top.skip("embedding_model", d.embeddingModel)
	top.skip("flags", func(v *yval, field string) {
		if v.kind == kMap {
			d.warn("flags: flags are no longer necessary in Feast and are ignored")
		}
	})
	top.skip("repo_path", nil) // Feast overwrites it with the real repository path.
	top.done()
	return cfg
}

func (d *decoder) project(top *object, onlineType string) string {
	v := top.get("project")
	if v == nil {
		top.fail("project", nil, "required")
		return ""
	}
	if v.kind != kStr {
		top.fail("project", v, "must be a string, got %s", v.describe())
		return ""
	}
	name := v.str
	switch {
	case name == "":
		top.fail("project", v, "must not be empty")
	case !validProjectName(name):
		top.fail("project", v, "%q must match [\\w-]+ (letters, digits, '_' and '-') and not start with '_' or '-'", name)
	case strings.Contains(name, "-"):
		if onlineType == "sqlite" {
			top.fail("project", v, "%q must not contain '-' with the sqlite online store", name)
		} else {
			// Feast 0.67.0 validates the project before the online store is known,
			// so it applies the SQLite rule to every online store.
			top.fail("project", v, "%q must not contain '-' (Feast 0.67.0 rejects hyphens whatever the online store)", name)
		}
	}
	return name
}

// validProjectName mirrors feast.repo_operations.is_valid_name: Python's
// Unicode \w (letters, numbers, '_') and '-', not starting with '_' or '-'.
func validProjectName(name string) bool {
	if strings.HasPrefix(name, "_") || strings.HasPrefix(name, "-") {
		return false
	}
	for _, r := range name {
		if r != '_' && r != '-' && !unicode.IsLetter(r) && !unicode.IsNumber(r) {
			return false
		}
	}
	return true
}

func (d *decoder) provider(top *object) string {
	v := top.get("provider")
	if v == nil {
		return "local"
	}
	if v.kind != kStr {
		top.fail("provider", v, "must be a string, got %s", v.describe())
		return "local"
	}
	switch v.str {
	case "local", "gcp", "aws", "azure":
		return v.str
	case "chronon", "unity_catalog":
		top.fail("provider", v, "%q is a Feast provider this server does not support (local, gcp, aws, azure)", v.str)
	default:
		if strings.Contains(v.str, ".") {
			top.fail("provider", v, "custom provider class %q is not supported by this server", v.str)
		} else {
			top.fail("provider", v, "%q is not a Feast provider (local, gcp, aws, azure)", v.str)
		}
	}
	return v.str
}

func (d *decoder) materialization(top *object) MaterializationConfig {
	out := MaterializationConfig{}
	v := top.get("materialization")
	if v == nil {
		return out
	}
	if v.kind != kMap {
		top.fail("materialization", v, "must be a mapping, got %s", v.describe())
		return out
	}
	// Feast's MaterializationConfig silently drops unknown keys (pydantic's default).
	o := d.newObject(v, "materialization", "materialization config", false)
	out.PullLatestFeatures = o.strictBool("pull_latest_features", false)
	if n := o.optLaxInt("online_write_batch_size"); n != nil {
		if *n <= 0 {
			o.fail("online_write_batch_size", o.get("online_write_batch_size"), "must be greater than 0, got %d", *n)
		} else {
			size := int(*n)
			out.OnlineWriteBatchSize = &size
		}
	}
	o.done()
	return out
}

func (d *decoder) dataQualityMonitoring(v *yval, field string) {
	if v.kind == kNull {
		return
	}
	if v.kind != kMap {
		d.fail(field, v.line, "must be a mapping, got %s", v.describe())
		return
	}
	o := d.newObject(v, field, "data quality monitoring config", true)
	o.strictBool("auto_baseline", true)
	o.done()
}

func (d *decoder) embeddingModel(v *yval, field string) {
	if v.kind == kNull {
		return
	}
	if v.kind != kMap {
		d.fail(field, v.line, "must be a mapping, got %s", v.describe())
		return
	}
	o := d.newObject(v, field, "embedding model config", true)
	o.str("provider", "sentence_transformers")
	o.requiredStr("model")
	o.done()
}
