// Package permissions decides, as Feast 0.67's permission model does
// (sdk/python/feast/permissions: permission.py, matcher.py, policy.py,
// enforcer.py), whether an authenticated user may perform actions on a
// registry resource.
//
// The registry's Permission objects of a project are compiled once per
// registry snapshot into a Plan: every permission's type set, name patterns,
// required tags, actions and policy, plus, for every object the registry
// holds, the list of permissions whose resource filter matches it. A check
// is then one map lookup (or none, with a Ref resolved beforehand) and a
// walk over the few matching permissions, each a set lookup per user role,
// group or namespace.
//
// Decision rules (enforcer.enforce_policy):
//   - no permission defined in the project: every user with a name is
//     allowed; a user without one is refused;
//   - the permissions that match a resource are those whose types (with
//     Feast's subclassing: a batch or stream feature view is also a feature
//     view), name patterns (re.fullmatch, any of them; none = every name)
//     and required tags match it and whose actions include every requested
//     action;
//   - none matches: denied ("No permissions defined to manage ...");
//   - otherwise one granting policy is enough (Feast's only strategy,
//     AFFIRMATIVE); when all deny, the error joins every explanation.
//
// Feast matches required_tags against the resource's required_tags
// attribute, which only Permission objects have: for every other resource
// the tags filter is ignored, and this package does the same.
package permissions

import (
	"fmt"
	"regexp"
	"strings"

	corepb "github.com/feastgo/feastgo/protos/feast/core"
)

// Action is one of Feast's AuthzedAction values, as a bit so that a set of
// actions is a mask.
type Action uint8

// Feast's AuthzedAction, bit i being the proto enum value i.
const (
	Create       Action = 1 << corepb.PermissionSpec_CREATE
	Describe     Action = 1 << corepb.PermissionSpec_DESCRIBE
	Update       Action = 1 << corepb.PermissionSpec_UPDATE
	Delete       Action = 1 << corepb.PermissionSpec_DELETE
	ReadOnline   Action = 1 << corepb.PermissionSpec_READ_ONLINE
	ReadOffline  Action = 1 << corepb.PermissionSpec_READ_OFFLINE
	WriteOnline  Action = 1 << corepb.PermissionSpec_WRITE_ONLINE
	WriteOffline Action = 1 << corepb.PermissionSpec_WRITE_OFFLINE
)

// Feast's action aliases (permissions/action.py), in Feast's order, which
// the denial messages keep.
var (
	Read  = []Action{ReadOffline, ReadOnline}
	Write = []Action{WriteOffline, WriteOnline}
	CRUD  = []Action{Create, Describe, Update, Delete}
	All   = []Action{Create, Describe, Update, Delete, ReadOnline, ReadOffline, WriteOnline, WriteOffline}
)

// name is the AuthzedAction member name (READ_ONLINE).
func (a Action) name() string {
	for i := 0; i < 8; i++ {
		if a == 1<<i {
			return corepb.PermissionSpec_AuthzedAction(i).String()
		}
	}
	return fmt.Sprintf("Action(%d)", uint8(a))
}

// String is the member name, READ_ONLINE.
func (a Action) String() string { return a.name() }

// Type is a Feast resource class, numbered as PermissionSpec.Type.
type Type uint8

// Resource types (Feast's ALL_RESOURCE_TYPES).
const (
	FeatureView         = Type(corepb.PermissionSpec_FEATURE_VIEW)
	OnDemandFeatureView = Type(corepb.PermissionSpec_ON_DEMAND_FEATURE_VIEW)
	BatchFeatureView    = Type(corepb.PermissionSpec_BATCH_FEATURE_VIEW)
	StreamFeatureView   = Type(corepb.PermissionSpec_STREAM_FEATURE_VIEW)
	Entity              = Type(corepb.PermissionSpec_ENTITY)
	FeatureService      = Type(corepb.PermissionSpec_FEATURE_SERVICE)
	DataSource          = Type(corepb.PermissionSpec_DATA_SOURCE)
	ValidationReference = Type(corepb.PermissionSpec_VALIDATION_REFERENCE)
	SavedDataset        = Type(corepb.PermissionSpec_SAVED_DATASET)
	Permission          = Type(corepb.PermissionSpec_PERMISSION)
	Project             = Type(corepb.PermissionSpec_PROJECT)
	LabelView           = Type(corepb.PermissionSpec_LABEL_VIEW)
	numTypes            = 12
)

// allTypes is the mask of every type: a permission with no types protects
// them all (Permission.__init__ defaults to ALL_RESOURCE_TYPES).
const allTypes typeMask = 1<<numTypes - 1

type typeMask uint16

// isa is the mask of the permission types an instance of t is an instance
// of (Python isinstance): batch and stream feature views subclass
// FeatureView.
func (t Type) isa() typeMask {
	switch t {
	case BatchFeatureView, StreamFeatureView:
		return 1<<t | 1<<FeatureView
	}
	return 1 << t
}

// classPath is the Python class of a resource of type t, as Feast prints
// type(resource) (data sources name their own subclass, see Resource.Class).
var classPath = [numTypes]string{
	FeatureView:         "feast.feature_view.FeatureView",
	OnDemandFeatureView: "feast.on_demand_feature_view.OnDemandFeatureView",
	BatchFeatureView:    "feast.batch_feature_view.BatchFeatureView",
	StreamFeatureView:   "feast.stream_feature_view.StreamFeatureView",
	Entity:              "feast.entity.Entity",
	FeatureService:      "feast.feature_service.FeatureService",
	DataSource:          "feast.data_source.DataSource",
	ValidationReference: "feast.saved_dataset.ValidationReference",
	SavedDataset:        "feast.saved_dataset.SavedDataset",
	Permission:          "feast.permissions.permission.Permission",
	Project:             "feast.project.Project",
	LabelView:           "feast.labeling.label_view.LabelView",
}

// dataSourceClass is data_source.py's _DATA_SOURCE_OPTIONS.
var dataSourceClass = map[corepb.DataSource_SourceType]string{
	corepb.DataSource_BATCH_FILE:      "feast.infra.offline_stores.file_source.FileSource",
	corepb.DataSource_BATCH_BIGQUERY:  "feast.infra.offline_stores.bigquery_source.BigQuerySource",
	corepb.DataSource_BATCH_REDSHIFT:  "feast.infra.offline_stores.redshift_source.RedshiftSource",
	corepb.DataSource_BATCH_SNOWFLAKE: "feast.infra.offline_stores.snowflake_source.SnowflakeSource",
	corepb.DataSource_BATCH_TRINO:     "feast.infra.offline_stores.contrib.trino_offline_store.trino_source.TrinoSource",
	corepb.DataSource_BATCH_SPARK:     "feast.infra.offline_stores.contrib.spark_offline_store.spark_source.SparkSource",
	corepb.DataSource_BATCH_ATHENA:    "feast.infra.offline_stores.contrib.athena_offline_store.athena_source.AthenaSource",
	corepb.DataSource_STREAM_KAFKA:    "feast.data_source.KafkaSource",
	corepb.DataSource_STREAM_KINESIS:  "feast.data_source.KinesisSource",
	corepb.DataSource_REQUEST_SOURCE:  "feast.data_source.RequestSource",
	corepb.DataSource_PUSH_SOURCE:     "feast.data_source.PushSource",
}

// DataSourceClass is the Python class Feast builds a data source proto into.
func DataSourceClass(ds *corepb.DataSource) string {
	if c := ds.GetDataSourceClassType(); c != "" {
		return c
	}
	if c, ok := dataSourceClass[ds.GetType()]; ok {
		return c
	}
	return classPath[DataSource]
}

// Resource is a Feast object a check is about.
type Resource struct {
	Type Type
	Name string
	// Class is the Python class path (only data sources need it; the
	// default is the type's class).
	Class string
	// RequiredTags are a Permission resource's own required tags, which
	// Feast's matcher compares with the checking permission's (no other
	// Feast object has the attribute).
	RequiredTags map[string]string
}

func (r *Resource) class() string {
	if r.Class != "" {
		return r.Class
	}
	if int(r.Type) < numTypes {
		return classPath[r.Type]
	}
	return "feast.feast_object.FeastObject"
}

// shortClass is type(resource).__name__.
func (r *Resource) shortClass() string {
	c := r.class()
	return c[strings.LastIndexByte(c, '.')+1:]
}

// policyKind is which Policy subclass a permission carries.
type policyKind uint8

const (
	allowAll policyKind = iota
	roleBased
	groupBased
	namespaceBased
	combinedGroupNamespace
)

type set map[string]struct{}

func toSet(xs []string) set {
	s := make(set, len(xs))
	for _, x := range xs {
		s[x] = struct{}{}
	}
	return s
}

// anyIn reports whether one of xs is in s (Feast's has_matching_*).
func (s set) anyIn(xs []string) bool {
	for _, x := range xs {
		if _, ok := s[x]; ok {
			return true
		}
	}
	return false
}

type policy struct {
	kind       policyKind
	roles      set
	groups     set
	namespaces set
	// explain is the denial explanation (validate_user's second value).
	explain string
}

// perm is one compiled Permission.
type perm struct {
	name         string
	types        typeMask
	patterns     []*regexp.Regexp
	badPattern   string // a pattern Go's regexp cannot compile (never matches)
	requiredTags map[string]string
	actions      Action
	policy       policy
}

func compilePolicy(p *corepb.Policy) policy {
	switch {
	case p.GetRoleBasedPolicy() != nil:
		roles := p.GetRoleBasedPolicy().GetRoles()
		return policy{kind: roleBased, roles: toSet(roles), explain: "Requires roles " + pyList(roles)}
	case p.GetGroupBasedPolicy() != nil:
		return policy{kind: groupBased, groups: toSet(p.GetGroupBasedPolicy().GetGroups()),
			explain: "User is not added into the permitted groups"}
	case p.GetNamespaceBasedPolicy() != nil:
		return policy{kind: namespaceBased, namespaces: toSet(p.GetNamespaceBasedPolicy().GetNamespaces()),
			explain: "User is not added into the permitted namespaces"}
	case p.GetCombinedGroupNamespacePolicy() != nil:
		c := p.GetCombinedGroupNamespacePolicy()
		return policy{kind: combinedGroupNamespace, groups: toSet(c.GetGroups()), namespaces: toSet(c.GetNamespaces()),
			explain: "User must be in at least one of the permitted groups or namespaces"}
	}
	// An empty Policy is what Feast stores for AllowAll. (Feast 0.67's own
	// Permission.from_proto then fails with "The list 'policy' must be
	// non-empty." on every check; we honour the intent instead, see
	// docs/compatibility.md.)
	return policy{kind: allowAll}
}

func compilePerm(p *corepb.Permission) perm {
	sp := p.GetSpec()
	c := perm{name: sp.GetName(), policy: compilePolicy(sp.GetPolicy())}
	for _, t := range sp.GetTypes() {
		if t >= 0 && int(t) < numTypes {
			c.types |= 1 << t
		}
	}
	if len(sp.GetTypes()) == 0 {
		c.types = allTypes
	}
	for _, pat := range sp.GetNamePatterns() {
		pat = strings.TrimSpace(pat)
		re, err := regexp.Compile(`^(?:` + pat + `)$`)
		if err != nil {
			// Keep the permission's "has patterns" nature (filter_only
			// depends on it) with a pattern that matches nothing.
			c.badPattern = pat
			re = regexp.MustCompile(`[^\x00-\x{10FFFF}]`)
		}
		c.patterns = append(c.patterns, re)
	}
	if len(sp.GetRequiredTags()) > 0 {
		c.requiredTags = make(map[string]string, len(sp.GetRequiredTags()))
		for k, v := range sp.GetRequiredTags() {
			c.requiredTags[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	for _, a := range sp.GetActions() {
		if a >= 0 && a < 8 {
			c.actions |= 1 << a
		}
	}
	return c
}

// matchResource is Permission.match_resource (matcher.resource_match_config).
func (p *perm) matchResource(r *Resource) bool {
	if r.Type.isa()&p.types == 0 {
		return false
	}
	if len(p.patterns) > 0 {
		ok := false
		for _, re := range p.patterns {
			if re.MatchString(r.Name) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	// Only Permission resources have required_tags, and Feast keeps an
	// empty one as None: without tags to compare, Feast logs a warning and
	// matches.
	if len(p.requiredTags) > 0 && r.Type == Permission && len(r.RequiredTags) > 0 {
		for k, want := range p.requiredTags {
			if got, ok := r.RequiredTags[k]; !ok || got != want {
				return false
			}
		}
	}
	return true
}

// grants is policy.validate_user.
func (p *policy) grants(roles, groups, namespaces []string) bool {
	switch p.kind {
	case roleBased:
		return p.roles.anyIn(roles)
	case groupBased:
		return p.groups.anyIn(groups)
	case namespaceBased:
		return p.namespaces.anyIn(namespaces)
	case combinedGroupNamespace:
		return p.groups.anyIn(groups) || p.namespaces.anyIn(namespaces)
	}
	return true
}

// pyRepr is Python's repr of a str.
func pyRepr(s string) string {
	q := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == rune(q):
			b.WriteByte('\\')
			b.WriteByte(q)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}

// pyList is Python's repr of a list of str.
func pyList(xs []string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = pyRepr(x)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
