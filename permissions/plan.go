package permissions

import (
	"os"
	"strings"
	"sync"

	"github.com/feastgo/feastgo/auth"
	"github.com/feastgo/feastgo/core"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
)

// ErrorClass is the Feast exception class of a denial.
const ErrorClass = "FeastPermissionError"

// Denied builds Feast's FeastPermissionError: "Permission error:\n" and the
// details, of kind core.KindPermissionDenied (HTTP 403, gRPC
// PermissionDenied).
func Denied(details string) *core.Error {
	return &core.Error{Kind: core.KindPermissionDenied, Class: ErrorClass, Message: "Permission error:\n" + details}
}

type resKey struct {
	t    Type
	name string
}

// Plan is the compiled permissions of one project.
type Plan struct {
	Project string
	perms   []perm
	// known holds, for every object of the project, the indices of the
	// permissions whose resource filter matches it, in registry order.
	known map[resKey]*Ref
	// views resolves a view name to its resource as Feast's
	// get_any_feature_view does (feature views, stream views, on-demand
	// views, label views); featureViews as get_feature_view_from_feature_store
	// does (feature views, on-demand views, stream views).
	views, writeViews map[string]*Ref
	// offlineViews resolves as the offline server's
	// get_feature_view_by_name: feature views, then stream views.
	offlineViews map[string]*Ref
	// typed[t]: some permission protects type t; patterned[t]: one of
	// those has name patterns (enforce_policy's filter_only branch).
	typed, patterned typeMask
}

// Ref is a resource resolved against a Plan: its matching permissions are
// known, so a check walks them without a lookup.
type Ref struct {
	Resource
	match []int32
	plan  *Plan
}

// Compile builds the plan of project's permissions over the registry's
// objects of that project.
func Compile(reg *corepb.Registry, project string) *Plan {
	p := &Plan{Project: project, known: map[resKey]*Ref{}, views: map[string]*Ref{}, writeViews: map[string]*Ref{}, offlineViews: map[string]*Ref{}}
	for _, pm := range reg.GetPermissions() {
		if pm.GetSpec().GetProject() != project {
			continue
		}
		c := compilePerm(pm)
		p.perms = append(p.perms, c)
		for t := Type(0); t < numTypes; t++ {
			if t.isa()&c.types != 0 {
				p.typed |= 1 << t
				if len(c.patterns) > 0 {
					p.patterned |= 1 << t
				}
			}
		}
	}
	add := func(r Resource) *Ref {
		k := resKey{r.Type, r.Name}
		if ref, ok := p.known[k]; ok {
			return ref
		}
		ref := p.resolve(r)
		p.known[k] = ref
		return ref
	}
	first := func(m map[string]*Ref, name string, ref *Ref) {
		if _, ok := m[name]; !ok {
			m[name] = ref
		}
	}
	for _, fv := range reg.GetFeatureViews() {
		if sp := fv.GetSpec(); sp.GetProject() == project {
			t := FeatureView
			if sp.GetFeatureTransformation() != nil {
				t = BatchFeatureView // FeatureView.from_proto builds a BatchFeatureView
			}
			ref := add(Resource{Type: t, Name: sp.GetName()})
			first(p.views, sp.GetName(), ref)
			first(p.writeViews, sp.GetName(), ref)
			first(p.offlineViews, sp.GetName(), ref)
		}
	}
	var streams []*Ref
	for _, sfv := range reg.GetStreamFeatureViews() {
		if sp := sfv.GetSpec(); sp.GetProject() == project {
			ref := add(Resource{Type: StreamFeatureView, Name: sp.GetName()})
			first(p.views, sp.GetName(), ref)
			streams = append(streams, ref)
		}
	}
	for _, o := range reg.GetOnDemandFeatureViews() {
		if sp := o.GetSpec(); sp.GetProject() == project {
			ref := add(Resource{Type: OnDemandFeatureView, Name: sp.GetName()})
			first(p.views, sp.GetName(), ref)
			first(p.writeViews, sp.GetName(), ref)
		}
	}
	for _, ref := range streams {
		first(p.writeViews, ref.Name, ref)
		first(p.offlineViews, ref.Name, ref)
	}
	for _, lv := range reg.GetLabelViews() {
		if sp := lv.GetSpec(); sp.GetProject() == project {
			first(p.views, sp.GetName(), add(Resource{Type: LabelView, Name: sp.GetName()}))
		}
	}
	for _, e := range reg.GetEntities() {
		if sp := e.GetSpec(); sp.GetProject() == project {
			add(Resource{Type: Entity, Name: sp.GetName()})
		}
	}
	for _, fs := range reg.GetFeatureServices() {
		if sp := fs.GetSpec(); sp.GetProject() == project {
			add(Resource{Type: FeatureService, Name: sp.GetName()})
		}
	}
	for _, ds := range reg.GetDataSources() {
		if ds.GetProject() == project {
			add(DataSourceResource(ds))
		}
	}
	for _, sd := range reg.GetSavedDatasets() {
		if sp := sd.GetSpec(); sp.GetProject() == project {
			add(Resource{Type: SavedDataset, Name: sp.GetName()})
		}
	}
	for _, vr := range reg.GetValidationReferences() {
		if vr.GetProject() == project {
			add(Resource{Type: ValidationReference, Name: vr.GetName()})
		}
	}
	for _, pm := range reg.GetPermissions() {
		if pm.GetSpec().GetProject() == project {
			add(PermissionResource(pm))
		}
	}
	add(Resource{Type: Project, Name: project})
	return p
}

// DataSourceResource is the resource of a data source proto.
func DataSourceResource(ds *corepb.DataSource) Resource {
	return Resource{Type: DataSource, Name: ds.GetName(), Class: DataSourceClass(ds)}
}

// PermissionResource is the resource of a permission proto.
func PermissionResource(pm *corepb.Permission) Resource {
	r := Resource{Type: Permission, Name: pm.GetSpec().GetName()}
	if len(pm.GetSpec().GetRequiredTags()) > 0 {
		r.RequiredTags = make(map[string]string, len(pm.GetSpec().GetRequiredTags()))
		for k, v := range pm.GetSpec().GetRequiredTags() {
			r.RequiredTags[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return r
}

func (p *Plan) resolve(r Resource) *Ref {
	ref := &Ref{Resource: r, plan: p}
	for i := range p.perms {
		if p.perms[i].matchResource(&r) {
			ref.match = append(ref.match, int32(i))
		}
	}
	return ref
}

// Empty reports whether the project defines no permission.
func (p *Plan) Empty() bool { return len(p.perms) == 0 }

// Ref resolves a resource: a registry object of the project is a lookup,
// any other (an object about to be created) is matched now.
func (p *Plan) Ref(r Resource) *Ref {
	if r.RequiredTags == nil {
		if ref, ok := p.known[resKey{r.Type, r.Name}]; ok {
			return ref
		}
	}
	return p.resolve(r)
}

// View is the resource a feature view name stands for in an online read
// (get_any_feature_view: feature, stream, on-demand, then label views);
// nil when the project has no such view.
func (p *Plan) View(name string) *Ref { return p.views[name] }

// WriteView is the resource /write-to-online-store writes
// (get_feature_view_from_feature_store: feature, on-demand, then stream
// views); nil when unknown.
func (p *Plan) WriteView(name string) *Ref { return p.writeViews[name] }

// OfflineView is the resource the offline server reads or writes for a
// view name (get_feature_view_by_name: feature views, then stream views);
// nil when unknown.
func (p *Plan) OfflineView(name string) *Ref { return p.offlineViews[name] }

// intraUser is Feast's INTRA_COMMUNICATION_BASE64: a user of that name is
// another Feast server of the deployment, never checked
// (security_manager.is_auth_necessary).
var intraUser = sync.OnceValue(func() string { return os.Getenv("INTRA_COMMUNICATION_BASE64") })

func exempt(u *auth.User) bool {
	n := intraUser()
	return n != "" && u.Name == n
}

func mask(actions []Action) Action {
	var m Action
	for _, a := range actions {
		m |= a
	}
	return m
}

// Check is assert_permissions of one resource: nil when u may perform
// every action on it, else Feast's FeastPermissionError. A nil user means
// no authentication is configured (no_auth): nothing is checked.
func (r *Ref) Check(u *auth.User, actions ...Action) error {
	if u == nil || exempt(u) {
		return nil
	}
	_, err := r.decide(u, actions, false)
	return err
}

// Permitted is the filter_only form (permitted_resources): whether the
// resource stays in a listing, or the error Feast raises even then.
func (r *Ref) Permitted(u *auth.User, actions ...Action) (bool, error) {
	if u == nil || exempt(u) {
		return true, nil
	}
	return r.decide(u, actions, true)
}

// Check is Ref(r).Check.
func (p *Plan) Check(u *auth.User, r Resource, actions ...Action) error {
	if u == nil {
		return nil
	}
	return p.Ref(r).Check(u, actions...)
}

// Permitted is Ref(r).Permitted.
func (p *Plan) Permitted(u *auth.User, r Resource, actions ...Action) (bool, error) {
	if u == nil {
		return true, nil
	}
	return p.Ref(r).Permitted(u, actions...)
}

// CheckAll checks the resources in order and returns the first denial, as
// Feast's endpoints assert them one after the other.
func CheckAll(u *auth.User, refs []*Ref, actions ...Action) error {
	if u == nil {
		return nil
	}
	for _, r := range refs {
		if err := r.Check(u, actions...); err != nil {
			return err
		}
	}
	return nil
}

// decide is enforcer.enforce_policy for one resource.
func (r *Ref) decide(u *auth.User, actions []Action, filterOnly bool) (bool, error) {
	p := r.plan
	if len(p.perms) == 0 {
		if u.Name == "" {
			return false, Denied("No permissions defined and no authenticated user context. Access denied.")
		}
		return true, nil
	}
	want := mask(actions)
	matched := 0
	var last *perm
	for _, i := range r.match {
		pm := &p.perms[i]
		if want&^pm.actions != 0 {
			continue
		}
		matched++
		if pm.policy.grants(u.Roles, u.Groups, u.Namespaces) {
			return true, nil
		}
		last = pm
	}
	if matched > 0 {
		if filterOnly && len(last.patterns) > 0 {
			return false, nil
		}
		// Every matching permission denied: the explanations, built only
		// now, in registry order.
		var denials []string
		for _, i := range r.match {
			if pm := &p.perms[i]; want&^pm.actions == 0 {
				denials = append(denials, pm.denial(&r.Resource, actions))
			}
		}
		return false, Denied(strings.Join(denials, ","))
	}
	if filterOnly && p.typed&(1<<r.Type) != 0 && p.patterned&(1<<r.Type) != 0 {
		return false, nil
	}
	return false, Denied(noPermissions(&r.Resource, actions))
}

// denial is enforce_policy's explanation of one permission's refusal.
func (pm *perm) denial(r *Resource, actions []Action) string {
	names := make([]string, len(actions))
	for i, a := range actions {
		names[i] = a.name()
	}
	return "Permission " + pm.name + " denied execution of " + pyList(names) + " to " +
		r.shortClass() + ":" + r.Name + ": " + pm.policy.explain
}

// noPermissions is enforce_policy's message for a resource no permission
// matches: the actions and the type as Python prints them.
func noPermissions(r *Resource, actions []Action) string {
	parts := make([]string, len(actions))
	for i, a := range actions {
		n := a.name()
		parts[i] = "<AuthzedAction." + n + ": '" + strings.ToLower(n) + "'>"
	}
	return "No permissions defined to manage [" + strings.Join(parts, ", ") + "] on <class '" + r.class() + "'>/" + r.Name + "."
}

// Set holds the plans of a registry's projects: the snapshot's own,
// compiled with it, and the others (the registry server serves every
// project) compiled on first use.
type Set struct {
	reg    *corepb.Registry
	main   *Plan
	others sync.Map // project → *Plan
}

// NewSet compiles project's plan now; the others wait for their first use.
func NewSet(reg *corepb.Registry, project string) *Set {
	return &Set{reg: reg, main: Compile(reg, project)}
}

// Main is the plan of the snapshot's project.
func (s *Set) Main() *Plan { return s.main }

// For is the plan of project.
func (s *Set) For(project string) *Plan {
	if project == s.main.Project {
		return s.main
	}
	if p, ok := s.others.Load(project); ok {
		return p.(*Plan)
	}
	p, _ := s.others.LoadOrStore(project, Compile(s.reg, project))
	return p.(*Plan)
}
