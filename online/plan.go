// Package online answers online feature reads: it resolves feature
// references against a registry snapshot into a cached plan, turns request
// entities into serialized keys, reads every view in one store call and
// assembles Feast's column-oriented response.
//
// The files follow the steps of one read: plan.go (resolve refs into a
// plan), entities.go (classify and type the entity columns), keys.go
// (serialize entity keys once), read.go (one store read, assemble the
// columns, drop the unrequested ones), odfv.go (build the inputs of
// on-demand views and run them: the one place for online reads, the
// on-demand endpoint in ondemand.go, and historical retrieval). It knows
// no transport: it must not import server/ or any HTTP or gRPC package.
package online

import (
	"math"
	"sort"
	"strings"
	"unicode"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/permissions"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
	"github.com/feastgo/feastgo/registry"
)

// plan is everything about a request that depends only on its feature list
// and the registry, computed once per snapshot and reused.
type plan struct {
	groups []*group
	// odfvs are the on-demand views to evaluate (step 4) and odfvSources
	// the source-feature columns they read (ODFVInputs).
	odfvs       []ODFVOutputs
	odfvSources []ODFVSource
	// joinKeyOf maps request column names (entity names, join keys and
	// join_key_map aliases) to the join-key column they fill.
	joinKeyOf map[string]string
	// joinKeys is the set of join-key column names.
	joinKeys map[string]bool
	// typeOf is the declared type of each join-key column.
	typeOf map[string]core.ValueType
	// requestData names the request fields on-demand views need.
	requestData map[string]core.ValueType
	// checkedRequest are the request fields of python-mode views, whose
	// values are checked against the declared type before the UDF runs
	// (checkRequestValue).
	checkedRequest map[string]requestField
	entityless     bool
	// requested are the output column names that survive the final cut.
	requested map[string]bool
	// expectedKeys are all join keys the project knows (minus __dummy_id),
	// for the "missing join key" message.
	expectedKeys []string
	// reads are the resources the read needs READ_ONLINE on (readRefs).
	reads []*permissions.Ref
}

// group is one feature view projection to read.
type group struct {
	view      *registry.View
	nameToUse string
	metaName  string
	features  []registry.Field
	outNames  []string
	storeFeat []string
	// storage is the name the view's rows are stored under for this read.
	storage string
	// tableJoinKeys are the view's join keys (real names).
	tableJoinKeys map[string]bool
	// aliasToJoinKey inverts the projection's join_key_map.
	aliasToJoinKey map[string]string
	// keyNames are the request columns the view's rows are keyed by (the
	// join key, or its join_key_map alias), sorted, and keyOfName the join
	// key each fills: a composite key needs every one of them.
	keyNames  []string
	keyOfName map[string]string
}

type projKey struct {
	name    string
	version int32
	pinned  bool
}

// parseRef splits "view:feature" and "view@vN:feature".
func parseRef(ref string) (view string, version *int32, feature string, err error) {
	i := strings.IndexByte(ref, ':')
	if i < 0 {
		return "", nil, "", core.Errorf(core.KindInvalidArgument, "ValueError",
			"Invalid feature reference '%s'. Expected format: '<feature_view>:<feature>' or '<feature_view>@<version>:<feature>'", ref)
	}
	view, feature = ref[:i], ref[i+1:]
	at := strings.IndexByte(view, '@')
	if at < 0 {
		return view, nil, feature, nil
	}
	// Feast's rule: an empty tag or one whose .lower() is "latest" means
	// the active version (not strings.EqualFold's Unicode folding, which
	// also takes "lateſt"); "v<N>"/"V<N>" pins version N; any other tag
	// is part of the view name.
	tag := view[at+1:]
	if tag == "" || strings.ToLower(tag) == "latest" {
		return view[:at], nil, feature, nil
	}
	// The pin is Python's re.match(r"^[vV](\d+)$"): \d is any Unicode
	// decimal digit, which int() reads, and $ also matches before a final
	// newline.
	if len(tag) < 2 || (tag[0] != 'v' && tag[0] != 'V') {
		return view, nil, feature, nil
	}
	digits := strings.TrimSuffix(tag[1:], "\n")
	if digits == "" {
		return view, nil, feature, nil
	}
	n := int64(0)
	for _, c := range digits {
		d := decimalDigit(c)
		if d < 0 {
			return view, nil, feature, nil
		}
		if n = n*10 + int64(d); n > math.MaxInt32 {
			return "", nil, "", core.Invalidf("Invalid feature reference '%s': version %s is too large", ref, tag)
		}
	}
	v := int32(n)
	return view[:at], &v, feature, nil
}

// decimalDigit is the value of a Unicode decimal digit (category Nd), or
// -1. Nd comes in runs of ten, zero first, each run one range of
// unicode.Nd (TestDecimalDigit checks this).
func decimalDigit(r rune) int {
	switch {
	case r >= '0' && r <= '9':
		return int(r - '0')
	case r < 0x80 || !unicode.Is(unicode.Nd, r):
		return -1
	}
	for _, rg := range unicode.Nd.R16 {
		if lo, hi := rune(rg.Lo), rune(rg.Hi); r >= lo && r <= hi {
			return int(r-lo) % 10
		}
	}
	for _, rg := range unicode.Nd.R32 {
		if lo, hi := rune(rg.Lo), rune(rg.Hi); r >= lo && r <= hi {
			return int(r-lo) % 10
		}
	}
	return -1
}

// buildPlan resolves refs (or a feature service) against the snapshot,
// following Feast's _get_online_request_context, in the design's step 1
// (resolve refs against the registry snapshot): the views in order of
// first use, the entity maps, the refs grouped per view, the request data
// of on-demand views, then each group's keys and output names.
func buildPlan(s *registry.Snapshot, refs []string, service string, fullNames bool) (*plan, error) {
	return resolvePlan(s, refs, service, fullNames, true)
}

// resolvePlan is buildPlan; online says whether the lifecycle gate of
// online serving (servable) applies.
func resolvePlan(s *registry.Snapshot, refs []string, service string, fullNames, online bool) (*plan, error) {
	refs, order, err := viewsToRead(s, refs, service)
	if err != nil {
		return nil, err
	}
	views, err := resolveViews(s, order, online)
	if err != nil {
		return nil, err
	}
	b := &planBuilder{snap: s, fullNames: fullNames, byName: map[string]*group{}, odfvIdx: map[string]int{},
		p: &plan{
			joinKeyOf:   map[string]string{},
			joinKeys:    map[string]bool{},
			typeOf:      map[string]core.ValueType{},
			requestData: map[string]core.ValueType{},
			requested:   map[string]bool{},
		}}
	if err := b.entityMaps(views); err != nil {
		return nil, err
	}
	if err := checkCollisions(refs, fullNames); err != nil {
		return nil, err
	}
	if err := b.groupRefs(refs, views); err != nil {
		return nil, err
	}
	b.requestData()
	b.finishGroups()
	b.p.reads = readRefs(s, service, views)
	return b.p, nil
}

// viewReq is a view (or feature-service projection) a read names.
type viewReq struct {
	key  projKey
	proj *registry.Projection
}

// resolved is a view request resolved against the snapshot: a view or an
// on-demand view, with the projection that named it.
type resolved struct {
	view *registry.View
	odfv *registry.ODFV
	proj *registry.Projection
}

// viewsToRead lists the distinct views the refs (or the feature service,
// whose projections become refs) name, in order of first use.
func viewsToRead(s *registry.Snapshot, refs []string, service string) ([]string, []viewReq, error) {
	var order []viewReq
	if service != "" {
		svc, ok := s.Service(service)
		if !ok {
			return nil, nil, core.Errorf(core.KindNotFound, "FeatureServiceNotFoundException",
				"Feature service %s does not exist in project %s", service, s.Project)
		}
		refs = refs[:0:0]
		for i := range svc.Projections {
			p := &svc.Projections[i]
			for _, f := range p.Features {
				refs = append(refs, p.NameToUse()+":"+f.Name)
			}
			k := projKey{name: p.ViewName}
			if p.VersionTag != nil {
				k.version, k.pinned = *p.VersionTag, true
			}
			order = append(order, viewReq{key: k, proj: p})
		}
		return refs, order, nil
	}
	if len(refs) == 0 {
		return nil, nil, core.Invalidf("No features specified for retrieval: set \"features\" or \"feature_service\"")
	}
	seen := map[projKey]bool{}
	for _, ref := range refs {
		name, ver, _, err := parseRef(ref)
		if err != nil {
			return nil, nil, err
		}
		k := projKey{name: name}
		if ver != nil {
			k.version, k.pinned = *ver, true
		}
		if !seen[k] {
			seen[k] = true
			order = append(order, viewReq{key: k})
		}
	}
	return refs, order, nil
}

// resolveViews resolves each view request to a servable view or
// on-demand view.
func resolveViews(s *registry.Snapshot, order []viewReq, online bool) ([]resolved, error) {
	var views []resolved
	for _, vr := range order {
		v, o, err := resolveView(s, vr.key)
		if err != nil {
			return nil, err
		}
		if !online {
			views = append(views, resolved{v, o, vr.proj})
			continue
		}
		if err := servable(vr.key.name, v, o, s.ServeWhileMaterializing); err != nil {
			return nil, err
		}
		views = append(views, resolved{v, o, vr.proj})
	}
	return views, nil
}

func resolveView(s *registry.Snapshot, k projKey) (*registry.View, *registry.ODFV, error) {
	if k.pinned {
		if !s.EnableVersioning {
			return nil, nil, core.Invalidf("Version-qualified ref '%s@v%d' not supported: online versioning is disabled. Set 'enable_online_feature_view_versioning: true' under 'registry' in feature_store.yaml.", k.name, k.version)
		}
		v, err := s.ViewVersion(k.name, k.version)
		return v, nil, err
	}
	if v, ok := s.View(k.name); ok {
		return v, nil, nil
	}
	if o, ok := s.ODFV(k.name); ok {
		return nil, o, nil
	}
	return nil, nil, core.Errorf(core.KindNotFound, "FeatureViewNotFoundException",
		"Feature view %s does not exist in project %s", k.name, s.Project)
}

// planBuilder accumulates a plan: the groups to read by name to use, in
// order of first use, and the on-demand views by name.
type planBuilder struct {
	snap      *registry.Snapshot
	fullNames bool
	p         *plan
	byName    map[string]*group
	odfvIdx   map[string]int
}

// addGroup returns the group reading v through proj, creating it on first
// use.
func (b *planBuilder) addGroup(v *registry.View, proj *registry.Projection) *group {
	nameToUse := v.Name
	if proj != nil {
		nameToUse = proj.NameToUse()
	} else if v.Version != nil {
		nameToUse += "@v" + itoa(int(*v.Version))
	}
	if g, ok := b.byName[nameToUse]; ok {
		return g
	}
	g := &group{view: v, nameToUse: nameToUse, metaName: v.Name,
		tableJoinKeys: map[string]bool{}, aliasToJoinKey: map[string]string{}}
	g.storage = v.StorageName()
	if proj != nil && v.Version == nil {
		// Feast reads feature-service and ODFV-source projections
		// through a copy of the view that has lost its active version,
		// so they read the unversioned rows unless the projection pins
		// a version.
		g.storage = v.Name
	}
	if proj != nil {
		if proj.Alias != "" {
			g.metaName = proj.Alias
		}
		for jk, alias := range proj.JoinKeyMap {
			g.aliasToJoinKey[alias] = jk
		}
	}
	b.byName[nameToUse] = g
	b.p.groups = append(b.p.groups, g)
	return g
}

// entityMaps builds Feast's _get_entity_maps over plain views and the
// sources of requested on-demand views: which request column fills which
// join key, and each join key's declared type.
func (b *planBuilder) entityMaps(views []resolved) error {
	s, p := b.snap, b.p
	for _, e := range s.Entities() {
		p.joinKeyOf[e.Name] = e.JoinKey
	}
	var mapViews []resolved
	for _, r := range views {
		if r.view != nil {
			mapViews = append(mapViews, r)
			continue
		}
		for _, src := range r.odfv.Sources {
			if src.Projection == nil {
				continue
			}
			sv, ok := s.View(src.Projection.ViewName)
			if !ok {
				return core.Errorf(core.KindNotFound, "FeatureViewNotFoundException",
					"Feature view %s does not exist in project %s", src.Projection.ViewName, s.Project)
			}
			mapViews = append(mapViews, resolved{view: sv, proj: src.Projection})
		}
	}
	for _, r := range mapViews {
		var jkm map[string]string
		if r.proj != nil {
			jkm = r.proj.JoinKeyMap
		}
		for _, en := range r.view.Entities {
			e, ok := s.Entity(en)
			if !ok {
				return core.Errorf(core.KindNotFound, "EntityNotFoundException",
					"Entity %s does not exist in project %s", en, s.Project)
			}
			name, jk := e.Name, e.JoinKey
			if a, ok := jkm[e.JoinKey]; ok {
				name, jk = a, a
			}
			p.joinKeyOf[name] = jk
		}
		for _, c := range r.view.EntityColumns {
			col := c.Name
			if a, ok := jkm[c.Name]; ok {
				col = a
			}
			p.typeOf[col] = c.Type
		}
	}
	for _, jk := range p.joinKeyOf {
		p.joinKeys[jk] = true
		if jk != registry.DummyJoinKey {
			p.expectedKeys = append(p.expectedKeys, jk)
		}
	}
	sort.Strings(p.expectedKeys)
	p.expectedKeys = dedupSorted(p.expectedKeys)
	return nil
}

// groupRefs groups refs per view (Feast's _group_feature_refs); an
// on-demand view's refs pull in its source features.
func (b *planBuilder) groupRefs(refs []string, views []resolved) error {
	viewIdx := map[string]resolved{}
	for _, r := range views {
		if r.view != nil {
			name := r.view.Name
			if r.proj != nil {
				name = r.proj.NameToUse()
			} else if r.view.Version != nil {
				name += "@v" + itoa(int(*r.view.Version))
			}
			viewIdx[name] = r
		} else {
			viewIdx[r.odfv.Name] = r
		}
	}
	for _, ref := range refs {
		name, ver, feat, err := parseRef(ref)
		if err != nil {
			return err
		}
		key := name
		if ver != nil {
			key += "@v" + itoa(int(*ver))
		}
		r, ok := viewIdx[key]
		if !ok {
			return core.Errorf(core.KindNotFound, "FeatureViewNotFoundException", "Feature view %s does not exist", key)
		}
		if r.view != nil {
			f, ok := projectedFeature(r.view, r.proj, feat)
			if !ok {
				return core.Errorf(core.KindInvalidArgument, "KeyError",
					"Feature %s not found in projection %s", feat, key)
			}
			addFeature(b.addGroup(r.view, r.proj), f)
		} else if err := b.addODFVFeature(r.odfv, feat); err != nil {
			return err
		}
		if b.fullNames {
			b.p.requested[key+"__"+feat] = true
		} else {
			b.p.requested[feat] = true
		}
	}
	return nil
}

// addODFVFeature plans feature feat of o and the reads of its sources.
func (b *planBuilder) addODFVFeature(o *registry.ODFV, feat string) error {
	f, ok := o.Feature(feat)
	if !ok {
		return core.Errorf(core.KindInvalidArgument, "KeyError",
			"Feature %s not found in projection %s", feat, o.Name)
	}
	i, ok := b.odfvIdx[o.Name]
	if !ok {
		i = len(b.p.odfvs)
		b.odfvIdx[o.Name] = i
		b.p.odfvs = append(b.p.odfvs, ODFVOutputs{View: o})
	}
	b.p.odfvs[i].Features = appendField(b.p.odfvs[i].Features, f)
	for _, src := range o.Sources {
		if src.Projection == nil {
			continue
		}
		sv, _ := b.snap.View(src.Projection.ViewName)
		g := b.addGroup(sv, &registry.Projection{ViewName: sv.Name})
		for _, sf := range src.Projection.Features {
			if vf, ok := sv.Feature(sf.Name); ok {
				addFeature(g, vf)
			}
		}
	}
	return nil
}

// requestData collects the request fields the on-demand views need, and
// those of python-mode views, whose values are checked before the UDF.
func (b *planBuilder) requestData() {
	p := b.p
	for _, og := range p.odfvs {
		for _, src := range og.View.Sources {
			for _, f := range src.Request {
				p.requestData[f.Name] = f.Type
				if og.View.Mode == "python" {
					if p.checkedRequest == nil {
						p.checkedRequest = map[string]requestField{}
					}
					p.checkedRequest[f.Name] = requestField{typ: f.Type, source: src.Name}
				}
			}
		}
	}
}

// finishGroups fills in each group's join keys, the request columns that
// key it, its output and store feature names, and the source columns the
// on-demand views read (ODFVInputs).
func (b *planBuilder) finishGroups() {
	p := b.p
	for _, g := range p.groups {
		for _, en := range g.view.Entities {
			if en == registry.DummyEntityName {
				p.entityless = true
			}
			if jk, ok := p.joinKeyOf[en]; ok {
				g.tableJoinKeys[jk] = true
			}
		}
		g.keyOfName = make(map[string]string, len(g.tableJoinKeys))
		for jk := range g.tableJoinKeys {
			name := jk
			for alias, real := range g.aliasToJoinKey {
				if real == jk {
					name = alias
				}
			}
			g.keyNames = append(g.keyNames, name)
			g.keyOfName[name] = jk
		}
		sort.Strings(g.keyNames)
		for _, f := range g.features {
			out := f.Name
			if b.fullNames {
				out = g.nameToUse + "__" + f.Name
			}
			g.outNames = append(g.outNames, out)
			g.storeFeat = append(g.storeFeat, f.Name)
		}
	}
	if len(p.odfvs) == 0 {
		return
	}
	for _, g := range p.groups {
		for fi, f := range g.features {
			p.odfvSources = append(p.odfvSources, ODFVSource{View: g.nameToUse, Feature: f.Name, Column: g.outNames[fi]})
		}
	}
}

// servable is Feast's lifecycle gate: STATE_UNSPECIFIED (views applied
// before states existed) and AVAILABLE_ONLINE serve, and MATERIALIZING too
// with registry.serve_features_while_materializing (the rows of the last
// run are still in the store). CREATED and GENERATED never serve.
func servable(name string, v *registry.View, o *registry.ODFV, whileMaterializing bool) error {
	disabled, state := false, corepb.FeatureViewState_STATE_UNSPECIFIED
	if v != nil {
		disabled, state = v.Disabled, v.State
	} else {
		disabled, state = o.Disabled, o.State
	}
	if disabled {
		return core.Errorf(core.KindInvalidArgument, "ValueError",
			"Feature view '%s' is disabled and cannot serve features. Enable it with `feast feature-views enable %s` or set enabled=True.", name, name)
	}
	switch state {
	case corepb.FeatureViewState_STATE_UNSPECIFIED, corepb.FeatureViewState_AVAILABLE_ONLINE:
		return nil
	case corepb.FeatureViewState_MATERIALIZING:
		if whileMaterializing {
			return nil
		}
	}
	names := map[corepb.FeatureViewState]string{1: "CREATED", 2: "GENERATED", 3: "MATERIALIZING"}
	return core.Errorf(core.KindUnavailable, "ValueError",
		"Feature view '%s' is in state '%s' and cannot serve features. Only AVAILABLE_ONLINE feature views can serve.", name, names[state])
}

func projectedFeature(v *registry.View, proj *registry.Projection, name string) (registry.Field, bool) {
	if proj != nil && len(proj.Features) > 0 {
		for _, f := range proj.Features {
			if f.Name == name {
				if vf, ok := v.Feature(name); ok {
					return vf, true
				}
				return f, true
			}
		}
		return registry.Field{}, false
	}
	return v.Feature(name)
}

func addFeature(g *group, f registry.Field) { g.features = appendField(g.features, f) }

func appendField(fs []registry.Field, f registry.Field) []registry.Field {
	for _, x := range fs {
		if x.Name == f.Name {
			return fs
		}
	}
	return append(fs, f)
}

// checkCollisions mirrors Feast's _validate_feature_refs.
func checkCollisions(refs []string, fullNames bool) error {
	counts := map[string]int{}
	for _, r := range refs {
		k := r
		if !fullNames {
			if i := strings.LastIndexByte(r, ':'); i >= 0 {
				k = r[i+1:]
			}
		}
		counts[k]++
	}
	var dup []string
	for k, n := range counts {
		if n > 1 {
			dup = append(dup, k)
		}
	}
	if len(dup) == 0 {
		return nil
	}
	sort.Strings(dup)
	if fullNames {
		for i := range dup {
			dup[i] = strings.Replace(dup[i], ":", "__", 1)
		}
		return core.Errorf(core.KindInvalidArgument, "FeatureNameCollisionError",
			"Duplicate features named %s found.\nTo resolve this collision, please ensure that the feature views or their own features have different names. If you're intentionally joining the same feature view twice on different sets of entities, please rename one of the feature views with '.with_name'.", strings.Join(dup, ", "))
	}
	return core.Errorf(core.KindInvalidArgument, "FeatureNameCollisionError",
		"Duplicate features named %s found.\nTo resolve this collision, either use the full feature name by setting 'full_feature_names=True', or ensure that the features in question have different names.", strings.Join(dup, ", "))
}

func dedupSorted(s []string) []string {
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b [20]byte
	n := len(b)
	neg := i < 0
	if neg {
		i = -i
	}
	for i > 0 {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
	}
	if neg {
		n--
		b[n] = '-'
	}
	return string(b[n:])
}

// Resolution is a feature list resolved against the registry exactly as
// an online read resolves it (Feast's _get_online_request_context and
// _group_feature_refs share these rules with get_historical_features):
// historical retrieval reads it to build its point-in-time join.
type Resolution struct {
	// Views are the feature view projections to read, in order of first
	// use; the sources of requested on-demand views are among them.
	Views []ResolvedView
	// ODFVs are the on-demand views to evaluate over the joined rows, with
	// the requested features of each, and ODFVSources the columns they
	// read.
	ODFVs       []ODFVOutputs
	ODFVSources []ODFVSource
	// RequestData are the request fields the on-demand views need.
	RequestData map[string]core.ValueType
}

// ResolvedView is one feature view projection of a Resolution.
type ResolvedView struct {
	View *registry.View
	// NameToUse is the projection's name (alias, "@vN").
	NameToUse string
	// Features are the features to read and OutNames their output column
	// names (full names when asked).
	Features []registry.Field
	OutNames []string
	// FrameKeys are the entity columns that key the view (join keys, or
	// their join_key_map aliases), sorted, and JoinKeyOf the view's join
	// key each fills.
	FrameKeys []string
	JoinKeyOf map[string]string
}

// Resolve resolves refs (or a feature service) for a read that does not
// go to the online store: the lifecycle gate of online serving is not
// applied.
func Resolve(s *registry.Snapshot, refs []string, service string, fullNames bool) (*Resolution, error) {
	p, err := resolvePlan(s, refs, service, fullNames, false)
	if err != nil {
		return nil, err
	}
	r := &Resolution{ODFVs: p.odfvs, ODFVSources: p.odfvSources, RequestData: p.requestData}
	for _, g := range p.groups {
		r.Views = append(r.Views, ResolvedView{
			View: g.view, NameToUse: g.nameToUse, Features: g.features, OutNames: g.outNames,
			FrameKeys: g.keyNames, JoinKeyOf: g.keyOfName,
		})
	}
	return r, nil
}
