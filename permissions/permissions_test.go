package permissions

import (
	"strings"
	"testing"

	"github.com/feastgo/feastgo/auth"
	"github.com/feastgo/feastgo/core"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
)

const proj = "p"

func permission(name string, types []corepb.PermissionSpec_Type, patterns []string, actions []corepb.PermissionSpec_AuthzedAction, pol *corepb.Policy, required map[string]string) *corepb.Permission {
	return &corepb.Permission{Spec: &corepb.PermissionSpec{Name: name, Project: proj, Types: types, NamePatterns: patterns,
		Actions: actions, Policy: pol, RequiredTags: required}}
}

func roles(r ...string) *corepb.Policy {
	return &corepb.Policy{PolicyType: &corepb.Policy_RoleBasedPolicy{RoleBasedPolicy: &corepb.RoleBasedPolicy{Roles: r}}}
}

func groups(g ...string) *corepb.Policy {
	return &corepb.Policy{PolicyType: &corepb.Policy_GroupBasedPolicy{GroupBasedPolicy: &corepb.GroupBasedPolicy{Groups: g}}}
}

func namespaces(n ...string) *corepb.Policy {
	return &corepb.Policy{PolicyType: &corepb.Policy_NamespaceBasedPolicy{NamespaceBasedPolicy: &corepb.NamespaceBasedPolicy{Namespaces: n}}}
}

func combined(g, n []string) *corepb.Policy {
	return &corepb.Policy{PolicyType: &corepb.Policy_CombinedGroupNamespacePolicy{
		CombinedGroupNamespacePolicy: &corepb.CombinedGroupNamespacePolicy{Groups: g, Namespaces: n}}}
}

var (
	fvType  = []corepb.PermissionSpec_Type{corepb.PermissionSpec_FEATURE_VIEW}
	readOn  = []corepb.PermissionSpec_AuthzedAction{corepb.PermissionSpec_READ_ONLINE}
	allActs = []corepb.PermissionSpec_AuthzedAction{0, 1, 2, 3, 4, 5, 6, 7}
)

func registryWith(perms ...*corepb.Permission) *corepb.Registry {
	fv := func(name string, transform bool) *corepb.FeatureView {
		sp := &corepb.FeatureViewSpec{Name: name, Project: proj}
		if transform {
			sp.FeatureTransformation = &corepb.FeatureTransformationV2{}
		}
		return &corepb.FeatureView{Spec: sp}
	}
	return &corepb.Registry{
		Permissions:          perms,
		FeatureViews:         []*corepb.FeatureView{fv("driver_stats", false), fv("customer", false), fv("batchy", true)},
		StreamFeatureViews:   []*corepb.StreamFeatureView{{Spec: &corepb.StreamFeatureViewSpec{Name: "streamy", Project: proj}}},
		OnDemandFeatureViews: []*corepb.OnDemandFeatureView{{Spec: &corepb.OnDemandFeatureViewSpec{Name: "odfv", Project: proj}}},
		FeatureServices:      []*corepb.FeatureService{{Spec: &corepb.FeatureServiceSpec{Name: "svc", Project: proj}}},
		DataSources:          []*corepb.DataSource{{Name: "src", Project: proj, Type: corepb.DataSource_BATCH_FILE}},
	}
}

func isDenied(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("allowed, want a denial containing %q", want)
	}
	if core.KindOf(err) != core.KindPermissionDenied {
		t.Fatalf("kind %v, want KindPermissionDenied: %v", core.KindOf(err), err)
	}
	if !strings.HasPrefix(err.Error(), "Permission error:\n") {
		t.Fatalf("message %q lacks Feast's prefix", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("message %q lacks %q", err, w)
		}
	}
}

func fvRes(name string) Resource { return Resource{Type: FeatureView, Name: name} }

func TestNoPermissionsAllowsNamedUsers(t *testing.T) {
	p := Compile(registryWith(), proj)
	if !p.Empty() {
		t.Fatal("not empty")
	}
	if err := p.Check(&auth.User{Name: "x"}, fvRes("driver_stats"), All...); err != nil {
		t.Fatal(err)
	}
	isDenied(t, p.Check(&auth.User{}, fvRes("driver_stats"), ReadOnline), "No permissions defined and no authenticated user context")
	if err := p.Check(nil, fvRes("driver_stats"), ReadOnline); err != nil {
		t.Fatalf("no_auth (nil user) must not be checked: %v", err)
	}
}

func TestPolicies(t *testing.T) {
	cases := []struct {
		pol     *corepb.Policy
		allowed auth.User
		denied  auth.User
		explain string
	}{
		{roles("a", "b"), auth.User{Name: "u", Roles: []string{"x", "b"}}, auth.User{Name: "u", Roles: []string{"c"}}, "Requires roles ['a', 'b']"},
		{groups("g"), auth.User{Name: "u", Groups: []string{"g"}}, auth.User{Name: "u", Roles: []string{"g"}}, "User is not added into the permitted groups"},
		{namespaces("n"), auth.User{Name: "u", Namespaces: []string{"n"}}, auth.User{Name: "u", Groups: []string{"n"}}, "User is not added into the permitted namespaces"},
		{combined([]string{"g"}, []string{"n"}), auth.User{Name: "u", Namespaces: []string{"n"}}, auth.User{Name: "u", Roles: []string{"g", "n"}}, "User must be in at least one of the permitted groups or namespaces"},
	}
	for _, c := range cases {
		p := Compile(registryWith(permission("perm", fvType, nil, readOn, c.pol, nil)), proj)
		if err := p.Check(&c.allowed, fvRes("driver_stats"), ReadOnline); err != nil {
			t.Errorf("%v: %v", c.pol, err)
		}
		isDenied(t, p.Check(&c.denied, fvRes("driver_stats"), ReadOnline),
			"Permission perm denied execution of ['READ_ONLINE'] to FeatureView:driver_stats: "+c.explain)
	}
	// An empty policy (AllowAll as Feast stores it) grants everyone.
	p := Compile(registryWith(permission("open", fvType, nil, readOn, nil, nil)), proj)
	if err := p.Check(&auth.User{Name: "u"}, fvRes("driver_stats"), ReadOnline); err != nil {
		t.Fatal(err)
	}
}

func TestAnyMatchingPermissionGrants(t *testing.T) {
	p := Compile(registryWith(
		permission("one", fvType, nil, readOn, roles("a"), nil),
		permission("two", fvType, nil, readOn, roles("b"), nil),
	), proj)
	if err := p.Check(&auth.User{Name: "u", Roles: []string{"b"}}, fvRes("customer"), ReadOnline); err != nil {
		t.Fatal(err)
	}
	err := p.Check(&auth.User{Name: "u"}, fvRes("customer"), ReadOnline)
	isDenied(t, err, "Permission one denied", ",Permission two denied")
}

func TestUnmatchedResourceIsDenied(t *testing.T) {
	p := Compile(registryWith(permission("fv", fvType, nil, readOn, roles("a"), nil)), proj)
	u := &auth.User{Name: "u", Roles: []string{"a"}}
	// Another type.
	isDenied(t, p.Check(u, Resource{Type: FeatureService, Name: "svc"}, ReadOnline),
		"No permissions defined to manage [<AuthzedAction.READ_ONLINE: 'read_online'>] on <class 'feast.feature_service.FeatureService'>/svc.")
	// An action the permission does not list.
	isDenied(t, p.Check(u, fvRes("customer"), WriteOnline), "<AuthzedAction.WRITE_ONLINE: 'write_online'>")
	// All requested actions must be listed by one permission.
	isDenied(t, p.Check(u, fvRes("customer"), ReadOnline, WriteOnline), "No permissions defined to manage")
	// Data sources print their own class.
	isDenied(t, p.Check(u, Resource{Type: DataSource, Name: "src"}, ReadOffline), "<class 'feast.infra.offline_stores.file_source.FileSource'>/src.")
}

func TestSubclassesMatchFeatureView(t *testing.T) {
	p := Compile(registryWith(permission("fv", fvType, nil, readOn, roles("a"), nil)), proj)
	u := &auth.User{Name: "u", Roles: []string{"a"}}
	for _, name := range []string{"batchy", "streamy", "driver_stats"} {
		if err := p.View(name).Check(u, ReadOnline); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if p.View("batchy").Type != BatchFeatureView || p.View("streamy").Type != StreamFeatureView || p.View("odfv").Type != OnDemandFeatureView {
		t.Fatal("view types")
	}
	// A stream-only permission does not cover plain feature views.
	p = Compile(registryWith(permission("s", []corepb.PermissionSpec_Type{corepb.PermissionSpec_STREAM_FEATURE_VIEW}, nil, readOn, roles("a"), nil)), proj)
	if err := p.View("streamy").Check(u, ReadOnline); err != nil {
		t.Fatal(err)
	}
	isDenied(t, p.View("driver_stats").Check(u, ReadOnline), "<class 'feast.feature_view.FeatureView'>/driver_stats")
	// No types means every type.
	p = Compile(registryWith(permission("all", nil, nil, readOn, roles("a"), nil)), proj)
	if err := p.View("odfv").Check(u, ReadOnline); err != nil {
		t.Fatal(err)
	}
}

func TestNamePatternsFullmatch(t *testing.T) {
	p := Compile(registryWith(permission("d", fvType, []string{" driver.* ", "cust"}, readOn, roles("a"), nil)), proj)
	u := &auth.User{Name: "u", Roles: []string{"a"}}
	if err := p.Check(u, fvRes("driver_stats"), ReadOnline); err != nil {
		t.Fatal(err)
	}
	// "cust" must match the whole name (re.fullmatch), not a prefix.
	isDenied(t, p.Check(u, fvRes("customer"), ReadOnline), "No permissions defined")
	// filter_only: a type protected by patterned permissions filters the
	// unmatched resource out instead of failing.
	keep, err := p.Permitted(u, fvRes("customer"), ReadOnline)
	if keep || err != nil {
		t.Fatalf("filter: keep %v, err %v", keep, err)
	}
	// ... and a denied match of a patterned permission is filtered too.
	keep, err = p.Permitted(&auth.User{Name: "v"}, fvRes("driver_stats"), ReadOnline)
	if keep || err != nil {
		t.Fatalf("filter denied: keep %v, err %v", keep, err)
	}
	// Without patterns, filter_only still raises.
	p = Compile(registryWith(permission("d", fvType, nil, readOn, roles("a"), nil)), proj)
	if _, err := p.Permitted(&auth.User{Name: "v"}, fvRes("driver_stats"), ReadOnline); err == nil {
		t.Fatal("a denied unpatterned match must raise under filter_only")
	}
	if _, err := p.Permitted(u, Resource{Type: Entity, Name: "e"}, Describe); err == nil {
		t.Fatal("an unprotected type must raise under filter_only")
	}
}

func TestRequiredTagsApplyToPermissionsOnly(t *testing.T) {
	tagged := permission("tagged", nil, nil, []corepb.PermissionSpec_AuthzedAction{corepb.PermissionSpec_DESCRIBE}, roles("a"), map[string]string{"owner": "sec"})
	other := permission("other", nil, nil, readOn, roles("b"), map[string]string{"owner": "x"})
	p := Compile(registryWith(tagged, other), proj)
	u := &auth.User{Name: "u", Roles: []string{"a"}}
	// Feature views have no required_tags attribute: Feast ignores the filter.
	if err := p.Check(u, fvRes("driver_stats"), Describe); err != nil {
		t.Fatal(err)
	}
	// A Permission resource is matched on its own required_tags.
	if err := p.Check(u, PermissionResource(tagged), Describe); err != nil {
		t.Fatal(err)
	}
	isDenied(t, p.Check(u, PermissionResource(other), Describe), "No permissions defined")
}

func TestAliasesAndMessages(t *testing.T) {
	p := Compile(registryWith(permission("w", fvType, nil, []corepb.PermissionSpec_AuthzedAction{
		corepb.PermissionSpec_WRITE_ONLINE, corepb.PermissionSpec_WRITE_OFFLINE}, groups("w"), nil)), proj)
	u := &auth.User{Name: "u", Groups: []string{"w"}}
	if err := p.Check(u, fvRes("customer"), Write...); err != nil {
		t.Fatal(err)
	}
	isDenied(t, p.Check(&auth.User{Name: "v"}, fvRes("customer"), Write...), "['WRITE_OFFLINE', 'WRITE_ONLINE'] to FeatureView:customer")
	isDenied(t, p.Check(u, fvRes("customer"), Read...), "[<AuthzedAction.READ_OFFLINE: 'read_offline'>, <AuthzedAction.READ_ONLINE: 'read_online'>]")
	all := Compile(registryWith(permission("all", nil, nil, allActs, roles("r"), nil)), proj)
	if err := all.Check(&auth.User{Name: "u", Roles: []string{"r"}}, Resource{Type: Project, Name: proj}, append(CRUD, Read...)...); err != nil {
		t.Fatal(err)
	}
	if got := pyList([]string{"a'b", `c"d'`, "e\\"}); got != `["a'b", 'c"d\'', 'e\\']` {
		t.Fatalf("pyList %s", got)
	}
}

func TestOtherProjectsCompileOnUse(t *testing.T) {
	reg := registryWith(permission("p-only", fvType, nil, readOn, roles("a"), nil))
	reg.Permissions = append(reg.Permissions, &corepb.Permission{Spec: &corepb.PermissionSpec{Name: "q", Project: "q", Actions: readOn, Policy: roles("z")}})
	s := NewSet(reg, proj)
	q := s.For("q")
	if s.For(proj) != s.Main() || s.For("q") != q {
		t.Fatal("plans are not cached")
	}
	isDenied(t, s.For("q").Check(&auth.User{Name: "u", Roles: []string{"a"}}, fvRes("x"), ReadOnline), "Permission q denied")
	if !s.For("none").Empty() {
		t.Fatal("a project without permissions")
	}
}

func BenchmarkCheck(b *testing.B) {
	p := Compile(registryWith(
		permission("one", fvType, []string{"driver.*"}, readOn, roles("a"), nil),
		permission("two", nil, nil, allActs, groups("g"), nil),
	), proj)
	u := &auth.User{Name: "u", Roles: []string{"x", "y"}, Groups: []string{"h", "g"}}
	ref := p.View("driver_stats")
	b.ReportAllocs()
	for b.Loop() {
		if err := ref.Check(u, ReadOnline); err != nil {
			b.Fatal(err)
		}
	}
}
