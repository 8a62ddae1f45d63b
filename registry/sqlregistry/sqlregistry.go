// Package sqlregistry reads and writes Feast's SQL registry
// (`registry_type: sql`) on PostgreSQL: the tables Feast 0.67's
// infra/registry/sql.py creates, one row per object holding its serialized
// proto. Reading assembles every project's rows into one feast.core.Registry,
// as Feast's SqlRegistry.proto() does, so the registry package compiles it
// into the same snapshot a registry file gives. Writing (materialization
// intervals, view states) updates the changed rows in one transaction that
// locks them, so Feast and this server can share the tables without losing
// each other's updates.
//
// It imports only registry, core protos and pgx; the wiring (cmd/) picks it.
package sqlregistry

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	corepb "github.com/feastgo/feastgo/protos/feast/core"
	"github.com/feastgo/feastgo/registry"
)

// Source is a SQL registry on PostgreSQL.
type Source struct {
	pool     *pgxpool.Pool // writes
	readPool *pgxpool.Pool // reads: pool, or read_path's
	location string
	project  string // Update's lock scope; "" = every project
}

// Options says where the registry database is.
type Options struct {
	// Path is registry.path, a SQLAlchemy URL; writes go here.
	Path string
	// ReadPath is Feast's registry.read_path (a read replica); reads go
	// here when set.
	ReadPath string
	// Project, when set, narrows Update's row locks to that project's
	// views, so a write of ours never waits on, or blocks, another
	// project's `feast apply`. Fetch still reads every project.
	Project string
}

var (
	_ registry.Source     = (*Source)(nil)
	_ registry.Transactor = (*Source)(nil)
)

// DSN turns a SQLAlchemy URL as Feast takes it (postgresql://,
// postgresql+psycopg://, postgresql+psycopg2://, postgres://) into a pgx
// connection string. Other databases are an error naming the field.
func DSN(sqlalchemyURL string) (string, error) {
	u, err := url.Parse(sqlalchemyURL)
	if err != nil || u.Scheme == "" {
		return "", fmt.Errorf("registry.path %q: not a database URL (registry_type sql takes a SQLAlchemy URL such as postgresql+psycopg://user:pass@host:5432/db)", redact(sqlalchemyURL))
	}
	dialect, _, _ := strings.Cut(u.Scheme, "+")
	switch dialect {
	case "postgresql", "postgres":
	default:
		return "", fmt.Errorf("registry.path: the %q database is not supported for registry_type sql by this server; use PostgreSQL (postgresql+psycopg://…)", dialect)
	}
	u.Scheme = "postgresql"
	return u.String(), nil
}

// redact hides a password in a URL for error messages.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Open connects to the registry database opts names. The connections are
// checked now, so a database that is down at start is a clear error.
func Open(ctx context.Context, opts Options) (*Source, error) {
	path, readPath := opts.Path, opts.ReadPath
	s := &Source{location: redact(path), project: opts.Project}
	var err error
	if s.pool, err = connect(ctx, "registry.path", path); err != nil {
		return nil, err
	}
	s.readPool = s.pool
	if readPath != "" && readPath != path {
		if s.readPool, err = connect(ctx, "registry.read_path", readPath); err != nil {
			s.pool.Close()
			return nil, err
		}
	}
	return s, nil
}

// connect opens and pings a small pool; field names the setting in errors.
func connect(ctx context.Context, field, sqlalchemyURL string) (*pgxpool.Pool, error) {
	dsn, err := DSN(sqlalchemyURL)
	if err != nil {
		return nil, fmt.Errorf("%s%s", field, strings.TrimPrefix(err.Error(), "registry.path"))
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("registry %s (%s): %w", redact(sqlalchemyURL), field, err)
	}
	return pool, nil
}

// Close releases the pools.
func (s *Source) Close() {
	if s.readPool != s.pool {
		s.readPool.Close()
	}
	s.pool.Close()
}

// Location is the URL without its password.
func (s *Source) Location() string { return s.location }

// table is one of Feast's object tables: its name, the proto column, and
// how a row's proto joins the registry.
type table struct {
	name, idColumn, protoColumn string
	add                         func(r *corepb.Registry, b []byte, project string) error
}

// unmarshalInto decodes b into a new T, stamps its project and appends it.
func unmarshalInto[T proto.Message](list *[]T, b []byte, newT func() T, setProject func(T, string), project string) error {
	m := newT()
	if err := proto.Unmarshal(b, m); err != nil {
		return err
	}
	setProject(m, project)
	*list = append(*list, m)
	return nil
}

// objectTables are read in Feast's proto() order.
var objectTables = []table{
	{"entities", "entity_name", "entity_proto", func(r *corepb.Registry, b []byte, p string) error {
		return unmarshalInto(&r.Entities, b, func() *corepb.Entity { return &corepb.Entity{Spec: &corepb.EntitySpecV2{}} },
			func(m *corepb.Entity, p string) { spec(&m.Spec).Project = p }, p)
	}},
	{"feature_views", "feature_view_name", "feature_view_proto", func(r *corepb.Registry, b []byte, p string) error {
		return unmarshalInto(&r.FeatureViews, b, func() *corepb.FeatureView { return &corepb.FeatureView{} },
			func(m *corepb.FeatureView, p string) { spec(&m.Spec).Project = p }, p)
	}},
	{"data_sources", "data_source_name", "data_source_proto", func(r *corepb.Registry, b []byte, p string) error {
		return unmarshalInto(&r.DataSources, b, func() *corepb.DataSource { return &corepb.DataSource{} },
			func(m *corepb.DataSource, p string) { m.Project = p }, p)
	}},
	{"on_demand_feature_views", "feature_view_name", "feature_view_proto", func(r *corepb.Registry, b []byte, p string) error {
		return unmarshalInto(&r.OnDemandFeatureViews, b, func() *corepb.OnDemandFeatureView { return &corepb.OnDemandFeatureView{} },
			func(m *corepb.OnDemandFeatureView, p string) { spec(&m.Spec).Project = p }, p)
	}},
	{"stream_feature_views", "feature_view_name", "feature_view_proto", func(r *corepb.Registry, b []byte, p string) error {
		return unmarshalInto(&r.StreamFeatureViews, b, func() *corepb.StreamFeatureView { return &corepb.StreamFeatureView{} },
			func(m *corepb.StreamFeatureView, p string) { spec(&m.Spec).Project = p }, p)
	}},
	{"feature_services", "feature_service_name", "feature_service_proto", func(r *corepb.Registry, b []byte, p string) error {
		return unmarshalInto(&r.FeatureServices, b, func() *corepb.FeatureService { return &corepb.FeatureService{} },
			func(m *corepb.FeatureService, p string) { spec(&m.Spec).Project = p }, p)
	}},
	{"saved_datasets", "saved_dataset_name", "saved_dataset_proto", func(r *corepb.Registry, b []byte, p string) error {
		return unmarshalInto(&r.SavedDatasets, b, func() *corepb.SavedDataset { return &corepb.SavedDataset{} },
			func(m *corepb.SavedDataset, p string) { spec(&m.Spec).Project = p }, p)
	}},
	{"validation_references", "validation_reference_name", "validation_reference_proto", func(r *corepb.Registry, b []byte, p string) error {
		return unmarshalInto(&r.ValidationReferences, b, func() *corepb.ValidationReference { return &corepb.ValidationReference{} },
			func(m *corepb.ValidationReference, p string) { m.Project = p }, p)
	}},
	{"permissions", "permission_name", "permission_proto", func(r *corepb.Registry, b []byte, p string) error {
		return unmarshalInto(&r.Permissions, b, func() *corepb.Permission { return &corepb.Permission{} },
			func(m *corepb.Permission, p string) { spec(&m.Spec).Project = p }, p)
	}},
	{"label_views", "feature_view_name", "feature_view_proto", func(r *corepb.Registry, b []byte, p string) error {
		return unmarshalInto(&r.LabelViews, b, func() *corepb.LabelView { return &corepb.LabelView{} },
			func(m *corepb.LabelView, p string) { spec(&m.Spec).Project = p }, p)
	}},
}

// spec returns *p, allocating it when nil, so a project can be stamped on
// an object stored without a spec.
func spec[T any](p **T) *T {
	if *p == nil {
		*p = new(T)
	}
	return *p
}

// Fetch reads every project's objects in one repeatable-read transaction
// (a consistent view while Feast writes) and returns the serialized
// registry, as Feast's proto() assembles it.
func (s *Source) Fetch(ctx context.Context) ([]byte, error) {
	reg, err := s.read(ctx)
	if err != nil {
		return nil, err
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(reg)
}

func (s *Source) read(ctx context.Context) (*corepb.Registry, error) {
	tx, err := s.readPool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", s.location, err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	reg := &corepb.Registry{}
	projects, err := readProjects(ctx, tx, reg)
	if err != nil {
		return nil, s.wrap("projects", err)
	}
	for _, t := range objectTables {
		if err := readTable(ctx, tx, reg, t); err != nil {
			return nil, s.wrap(t.name, err)
		}
	}
	// Feast keeps one infra field: the last project's.
	for _, p := range projects {
		var b []byte
		err := tx.QueryRow(ctx, `SELECT infra_proto FROM managed_infra WHERE infra_name = 'infra_obj' AND project_id = $1`, p).Scan(&b)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return nil, s.wrap("managed_infra", err)
		default:
			infra := &corepb.Infra{}
			if err := proto.Unmarshal(b, infra); err != nil {
				return nil, s.wrap("managed_infra", err)
			}
			reg.Infra = infra
		}
	}
	return reg, nil
}

// wrap names the table of a failure; a missing table or column (a schema
// Feast has not created, or a newer one) says so.
func (s *Source) wrap(tableName string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "42P01":
			return fmt.Errorf("registry %s: table %s does not exist (run `feast apply` with registry_type sql first): %s", s.location, tableName, pgErr.Message)
		case "42703":
			return fmt.Errorf("registry %s: table %s does not have the columns Feast 0.67 creates: %s", s.location, tableName, pgErr.Message)
		}
	}
	return fmt.Errorf("registry %s: table %s: %w", s.location, tableName, err)
}

// readProjects adds every project and sets the registry's last_updated to
// the latest project update, as Feast does; it returns the project names.
func readProjects(ctx context.Context, tx pgx.Tx, reg *corepb.Registry) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT project_id, project_proto FROM projects ORDER BY project_id`)
	if err != nil {
		return nil, err
	}
	var names []string
	for rows.Next() {
		var id string
		var b []byte
		if err := rows.Scan(&id, &b); err != nil {
			return nil, err
		}
		p := &corepb.Project{}
		if err := proto.Unmarshal(b, p); err != nil {
			return nil, fmt.Errorf("project %s: %w", id, err)
		}
		reg.Projects = append(reg.Projects, p)
		names = append(names, id)
		if ts := p.GetMeta().GetLastUpdatedTimestamp(); ts != nil {
			if reg.LastUpdated == nil || ts.AsTime().After(reg.LastUpdated.AsTime()) {
				reg.LastUpdated = timestamppb.New(ts.AsTime())
			}
		}
	}
	return names, rows.Err()
}

// readTable adds every row of t; rows of a project with no projects row
// are skipped, as Feast's proto() only walks listed projects.
func readTable(ctx context.Context, tx pgx.Tx, reg *corepb.Registry, t table) error {
	q := fmt.Sprintf(`SELECT t.project_id, t.%s FROM %s t JOIN projects p ON p.project_id = t.project_id ORDER BY t.project_id, t.%s`,
		pgx.Identifier{t.protoColumn}.Sanitize(), pgx.Identifier{t.name}.Sanitize(), pgx.Identifier{t.idColumn}.Sanitize())
	rows, err := tx.Query(ctx, q)
	if err != nil {
		return err
	}
	for rows.Next() {
		var project string
		var b []byte
		if err := rows.Scan(&project, &b); err != nil {
			return err
		}
		if err := t.add(reg, b, project); err != nil {
			return fmt.Errorf("a %s row of project %s is not a valid proto: %w", t.name, project, err)
		}
	}
	return rows.Err()
}
