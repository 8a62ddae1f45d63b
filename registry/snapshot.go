// Package registry loads Feast's registry (a serialized feast.core.Registry
// from a local file or s3://), compiles it into an immutable, indexed
// Snapshot for one project, and refreshes it in the background.
//
// It imports only core, the generated protos and internal helpers: no store,
// no transport.
package registry

import (
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/permissions"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
)

// DummyEntityName, DummyJoinKey are Feast's placeholder entity of entityless
// feature views; their rows are keyed by {__dummy_id: ""}.
const (
	DummyEntityName = "__dummy"
	DummyJoinKey    = "__dummy_id"
)

// ViewKind says which registry collection a view came from.
type ViewKind int

// View kinds, in Feast's lookup order for "any feature view".
const (
	KindFeatureView ViewKind = iota
	KindStreamFeatureView
	KindOnDemandWritten // an ODFV with write_to_online_store, served like a view
	KindLabelView
)

// Field is a named, typed column: a feature, a join key or a request field.
type Field struct {
	Name string
	Type core.ValueType
}

// Entity is a registry entity of the project.
type Entity struct {
	Name    string
	JoinKey string
	Type    core.ValueType
}

// View is a feature view whose rows live in the online store.
type View struct {
	Name     string
	Kind     ViewKind
	Entities []string // entity names, ["__dummy"] for entityless views
	// EntityColumns are the join keys with their declared types.
	EntityColumns []Field
	Features      []Field
	featureIndex  map[string]int
	TTL           time.Duration
	Online        bool
	Disabled      bool
	State         corepb.FeatureViewState
	// CurrentVersion is meta.current_version_number.
	CurrentVersion int32
	// Version is set when this View is a pinned historical version.
	Version *int32
	// activeVersion is CurrentVersion when online versioning is enabled:
	// unpinned reads then go to the active version's rows, as in Feast.
	activeVersion int32
	// BatchSource and StreamSource are the view's embedded data sources.
	BatchSource  *corepb.DataSource
	StreamSource *corepb.DataSource
	// MaterializationIntervals are the recorded [start, end) windows.
	MaterializationIntervals []*corepb.MaterializationInterval
}

// Feature returns the feature with that name.
func (v *View) Feature(name string) (Field, bool) {
	i, ok := v.featureIndex[name]
	if !ok {
		return Field{}, false
	}
	return v.Features[i], true
}

// StorageName is the name rows are stored under: the view name, or
// "<name>_v<N>" for a pinned version N > 0.
func (v *View) StorageName() string {
	n := v.activeVersion
	if v.Version != nil {
		n = *v.Version
	}
	if n > 0 {
		return v.Name + "_v" + strconv.Itoa(int(n))
	}
	return v.Name
}

// Entityless reports whether the view has no real entities.
func (v *View) Entityless() bool {
	return len(v.Entities) == 0 || (len(v.Entities) == 1 && v.Entities[0] == DummyEntityName)
}

// Projection selects features of a view, optionally under an alias and with
// request columns renamed (join_key_map), as feature services do.
type Projection struct {
	ViewName   string
	Alias      string
	Features   []Field
	JoinKeyMap map[string]string
	VersionTag *int32
}

// NameToUse is the alias if set, else the view name, with "@v<N>" when
// pinned to a version.
func (p *Projection) NameToUse() string {
	n := p.ViewName
	if p.Alias != "" {
		n = p.Alias
	}
	if p.VersionTag != nil {
		n += "@v" + strconv.Itoa(int(*p.VersionTag))
	}
	return n
}

// ODFVSource is one input of an on-demand feature view: either a feature
// view projection or a request data source.
type ODFVSource struct {
	Name       string
	Projection *Projection // input feature view (nil for request data)
	Request    []Field     // request fields (nil for feature views)
}

// ODFV is an on-demand feature view.
type ODFV struct {
	Name               string
	Features           []Field
	featureIndex       map[string]int
	Sources            []ODFVSource
	Mode               string // "pandas", "python", "substrait"
	UDFName            string
	BodyText           string
	WriteToOnlineStore bool
	Singleton          bool
	Entities           []string
	EntityColumns      []Field
	Disabled           bool
	State              corepb.FeatureViewState
	Proto              *corepb.OnDemandFeatureView
}

// Feature returns the output feature with that name.
func (o *ODFV) Feature(name string) (Field, bool) {
	i, ok := o.featureIndex[name]
	if !ok {
		return Field{}, false
	}
	return o.Features[i], true
}

// RequestFields lists every request field the ODFV needs.
func (o *ODFV) RequestFields() []Field {
	var out []Field
	for _, s := range o.Sources {
		out = append(out, s.Request...)
	}
	return out
}

// Service is a feature service: an ordered list of projections.
type Service struct {
	Name        string
	Projections []Projection
}

// Snapshot is an immutable, compiled view of the registry for one project.
// Requests only look things up in it; a refresh builds a new one.
type Snapshot struct {
	Project          string
	VersionID        string
	LoadedAt         time.Time
	Proto            *corepb.Registry
	Projects         []string
	EnableVersioning bool
	// ServeWhileMaterializing is registry.serve_features_while_materializing:
	// views in the MATERIALIZING state keep serving.
	ServeWhileMaterializing bool
	entities                map[string]*Entity
	joinKeyOfEntity         map[string]string
	views                   map[string]*View
	odfvs                   map[string]*ODFV
	services                map[string]*Service
	versionedProtos         map[string][]byte // "<name>@<N>" → feature view proto bytes
	versionedCache          sync.Map          // "<name>@<N>" → *View
	pushSources             map[string]*corepb.DataSource
	viewsByPushSource       map[string][]*View
	dataSources             map[string]*corepb.DataSource
	raw                     []byte
	rawSize                 int

	// Permissions are the registry's Permission objects compiled for
	// checks (the snapshot's project at once, the others on first use).
	Permissions *permissions.Set

	// Plans caches request plans built by the online package, keyed by
	// the request's feature list; it lives and dies with the snapshot and
	// holds at most Options.PlanCacheSize plans.
	Plans PlanCache
}

// Entity returns the entity with that name.
func (s *Snapshot) Entity(name string) (*Entity, bool) {
	e, ok := s.entities[name]
	return e, ok
}

// Entities returns all entities of the project, sorted by name.
func (s *Snapshot) Entities() []*Entity {
	out := make([]*Entity, 0, len(s.entities))
	for _, e := range s.entities {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// View returns the feature view (or stream / label view, or a written ODFV)
// with that name, in Feast's lookup order.
func (s *Snapshot) View(name string) (*View, bool) {
	v, ok := s.views[name]
	return v, ok
}

// ViewVersion returns version n of a feature view from the version history.
func (s *Snapshot) ViewVersion(name string, n int32) (*View, error) {
	key := name + "@" + strconv.Itoa(int(n))
	if v, ok := s.versionedCache.Load(key); ok {
		return v.(*View), nil
	}
	var v *View
	if b, ok := s.versionedProtos[key]; ok {
		fv := &corepb.FeatureView{}
		if err := proto.Unmarshal(b, fv); err != nil {
			return nil, fmt.Errorf("version %d of feature view %s: %w", n, name, err)
		}
		v = compileFeatureView(fv.GetSpec(), fv.GetMeta(), KindFeatureView)
	} else if cur, ok := s.views[name]; ok && (n == 0 || n == cur.CurrentVersion) {
		cp := *cur
		v = &cp
	} else {
		return nil, core.Errorf(core.KindNotFound, "FeatureViewVersionNotFound",
			"Version v%d of feature view %s does not exist in project %s", n, name, s.Project)
	}
	tag := n
	v.Version = &tag
	actual, _ := s.versionedCache.LoadOrStore(key, v)
	return actual.(*View), nil
}

// ODFV returns the on-demand feature view with that name.
func (s *Snapshot) ODFV(name string) (*ODFV, bool) {
	o, ok := s.odfvs[name]
	return o, ok
}

// Service returns the feature service with that name.
func (s *Snapshot) Service(name string) (*Service, bool) {
	f, ok := s.services[name]
	return f, ok
}

// PushSource returns the push source with that name and the views it feeds.
func (s *Snapshot) PushSource(name string) (*corepb.DataSource, []*View, bool) {
	ds, ok := s.pushSources[name]
	return ds, s.viewsByPushSource[name], ok
}

// DataSource returns the standalone data source with that name.
func (s *Snapshot) DataSource(name string) (*corepb.DataSource, bool) {
	ds, ok := s.dataSources[name]
	return ds, ok
}

// AllViews returns the project's materializable views (feature and stream
// feature views), sorted by name.
func (s *Snapshot) AllViews() []*View {
	var out []*View
	for _, v := range s.views {
		if v.Kind == KindFeatureView || v.Kind == KindStreamFeatureView {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Compile builds the snapshot of project from a registry message.
func Compile(reg *corepb.Registry, project string, enableVersioning bool) (*Snapshot, error) {
	s := &Snapshot{
		Project:           project,
		VersionID:         reg.GetVersionId(),
		LoadedAt:          time.Now(),
		Proto:             reg,
		EnableVersioning:  enableVersioning,
		entities:          map[string]*Entity{},
		joinKeyOfEntity:   map[string]string{},
		views:             map[string]*View{},
		odfvs:             map[string]*ODFV{},
		services:          map[string]*Service{},
		versionedProtos:   map[string][]byte{},
		pushSources:       map[string]*corepb.DataSource{},
		viewsByPushSource: map[string][]*View{},
		dataSources:       map[string]*corepb.DataSource{},
	}
	s.addProjects(reg)
	s.addEntities(reg, project)
	s.addDataSources(reg, project)
	s.addViews(reg, project)
	s.addServices(reg, project)
	s.addVersions(reg, project, enableVersioning)
	s.indexPushSources()
	s.Permissions = permissions.NewSet(reg, project)
	return s, nil
}

// addProjects lists the registry's projects, each once, in registry order.
func (s *Snapshot) addProjects(reg *corepb.Registry) {
	seen := map[string]bool{}
	for _, p := range reg.GetProjects() {
		if n := p.GetSpec().GetName(); n != "" && !seen[n] {
			seen[n] = true
			s.Projects = append(s.Projects, n)
		}
	}
	for _, m := range reg.GetProjectMetadata() {
		if n := m.GetProject(); n != "" && !seen[n] {
			seen[n] = true
			s.Projects = append(s.Projects, n)
		}
	}
}

// addEntities indexes the project's entities and their join keys.
func (s *Snapshot) addEntities(reg *corepb.Registry, project string) {
	for _, e := range reg.GetEntities() {
		sp := e.GetSpec()
		if sp.GetProject() != project {
			continue
		}
		s.entities[sp.GetName()] = &Entity{Name: sp.GetName(), JoinKey: sp.GetJoinKey(), Type: core.ValueType(sp.GetValueType())}
		s.joinKeyOfEntity[sp.GetName()] = sp.GetJoinKey()
	}
}

// addDataSources indexes the project's data sources, and its push sources apart.
func (s *Snapshot) addDataSources(reg *corepb.Registry, project string) {
	for _, ds := range reg.GetDataSources() {
		if ds.GetProject() != project {
			continue
		}
		s.dataSources[ds.GetName()] = ds
		if ds.GetType() == corepb.DataSource_PUSH_SOURCE {
			s.pushSources[ds.GetName()] = ds
		}
	}
}

// addViews compiles every kind of view the project serves.
func (s *Snapshot) addViews(reg *corepb.Registry, project string) {
	// Later collections never shadow earlier ones: Feast looks feature views
	// up first, then stream views, then ODFVs, then label views.
	add := func(v *View) {
		if _, dup := s.views[v.Name]; !dup {
			s.views[v.Name] = v
		}
	}
	for _, fv := range reg.GetFeatureViews() {
		if fv.GetSpec().GetProject() != project {
			continue
		}
		add(compileFeatureView(fv.GetSpec(), fv.GetMeta(), KindFeatureView))
	}
	for _, sfv := range reg.GetStreamFeatureViews() {
		sp := sfv.GetSpec()
		if sp.GetProject() != project {
			continue
		}
		v := &View{
			Name: sp.GetName(), Kind: KindStreamFeatureView, Entities: sp.GetEntities(),
			EntityColumns: fields(sp.GetEntityColumns()), Features: fields(sp.GetFeatures()),
			TTL: sp.GetTtl().AsDuration(), Online: sp.GetOnline(), Disabled: sp.GetDisabled(),
			State: sfv.GetMeta().GetState(), CurrentVersion: sfv.GetMeta().GetCurrentVersionNumber(),
			BatchSource: sp.GetBatchSource(), StreamSource: sp.GetStreamSource(),
			MaterializationIntervals: sfv.GetMeta().GetMaterializationIntervals(),
		}
		v.featureIndex = index(v.Features)
		add(v)
	}
	for _, o := range reg.GetOnDemandFeatureViews() {
		if o.GetSpec().GetProject() != project {
			continue
		}
		od := compileODFV(o)
		s.odfvs[od.Name] = od
		if od.WriteToOnlineStore {
			v := &View{
				Name: od.Name, Kind: KindOnDemandWritten, Entities: od.Entities,
				EntityColumns: od.EntityColumns, Features: od.Features, Online: true,
				Disabled: od.Disabled, State: od.State,
			}
			v.featureIndex = index(v.Features)
			add(v)
		}
	}
	for _, lv := range reg.GetLabelViews() {
		sp := lv.GetSpec()
		if sp.GetProject() != project {
			continue
		}
		v := &View{
			Name: sp.GetName(), Kind: KindLabelView, Entities: sp.GetEntities(),
			EntityColumns: fields(sp.GetEntityColumns()), Features: fields(sp.GetFeatures()),
			TTL: sp.GetTtl().AsDuration(), Online: sp.GetOnline(),
		}
		v.featureIndex = index(v.Features)
		add(v)
	}
}

// addServices compiles the project's feature services into projections.
func (s *Snapshot) addServices(reg *corepb.Registry, project string) {
	for _, fs := range reg.GetFeatureServices() {
		sp := fs.GetSpec()
		if sp.GetProject() != project {
			continue
		}
		svc := &Service{Name: sp.GetName()}
		for _, p := range sp.GetFeatures() {
			svc.Projections = append(svc.Projections, compileProjection(p))
		}
		s.services[svc.Name] = svc
	}
}

// addVersions keeps the project's versioned view protos and, with versioning on, pins each view to its current version.
func (s *Snapshot) addVersions(reg *corepb.Registry, project string, enableVersioning bool) {
	for _, rec := range reg.GetFeatureViewVersionHistory().GetRecords() {
		if rec.GetProjectId() != project {
			continue
		}
		s.versionedProtos[rec.GetFeatureViewName()+"@"+strconv.Itoa(int(rec.GetVersionNumber()))] = rec.GetFeatureViewProto()
	}
	if enableVersioning {
		for _, v := range s.views {
			v.activeVersion = v.CurrentVersion
		}
	}
}

// indexPushSources lists the views each push source feeds, by name.
func (s *Snapshot) indexPushSources() {
	for _, v := range s.views {
		if ps := v.StreamSource; ps != nil && ps.GetType() == corepb.DataSource_PUSH_SOURCE {
			s.viewsByPushSource[ps.GetName()] = append(s.viewsByPushSource[ps.GetName()], v)
		}
	}
	for _, vs := range s.viewsByPushSource {
		sort.Slice(vs, func(i, j int) bool { return vs[i].Name < vs[j].Name })
	}
}

func compileFeatureView(sp *corepb.FeatureViewSpec, meta *corepb.FeatureViewMeta, kind ViewKind) *View {
	v := &View{
		Name: sp.GetName(), Kind: kind, Entities: sp.GetEntities(),
		EntityColumns: fields(sp.GetEntityColumns()), Features: fields(sp.GetFeatures()),
		TTL: sp.GetTtl().AsDuration(), Online: sp.GetOnline(), Disabled: sp.GetDisabled(),
		State: meta.GetState(), CurrentVersion: meta.GetCurrentVersionNumber(),
		BatchSource: sp.GetBatchSource(), StreamSource: sp.GetStreamSource(),
		MaterializationIntervals: meta.GetMaterializationIntervals(),
	}
	v.featureIndex = index(v.Features)
	return v
}

func compileODFV(o *corepb.OnDemandFeatureView) *ODFV {
	sp := o.GetSpec()
	od := &ODFV{
		Name: sp.GetName(), Features: fields(sp.GetFeatures()), Mode: sp.GetMode(),
		WriteToOnlineStore: sp.GetWriteToOnlineStore(), Singleton: sp.GetSingleton(),
		Entities: sp.GetEntities(), EntityColumns: fields(sp.GetEntityColumns()),
		Disabled: sp.GetDisabled(), State: o.GetMeta().GetState(), Proto: o,
	}
	od.featureIndex = index(od.Features)
	if od.Mode == "" {
		od.Mode = "pandas"
	}
	if udf := sp.GetFeatureTransformation().GetUserDefinedFunction(); udf != nil {
		od.UDFName, od.BodyText = udf.GetName(), udf.GetBodyText()
	} else if udf := sp.GetUserDefinedFunction(); udf != nil {
		od.UDFName, od.BodyText = udf.GetName(), udf.GetBodyText()
	}
	names := make([]string, 0, len(sp.GetSources()))
	for k := range sp.GetSources() {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		src := sp.GetSources()[k]
		switch {
		case src.GetFeatureViewProjection() != nil:
			p := compileProjection(src.GetFeatureViewProjection())
			od.Sources = append(od.Sources, ODFVSource{Name: k, Projection: &p})
		case src.GetFeatureView() != nil:
			fv := src.GetFeatureView().GetSpec()
			p := Projection{ViewName: fv.GetName(), Features: fields(fv.GetFeatures())}
			od.Sources = append(od.Sources, ODFVSource{Name: k, Projection: &p})
		case src.GetRequestDataSource() != nil:
			opts := src.GetRequestDataSource().GetRequestDataOptions()
			req := fields(opts.GetSchema())
			if len(req) == 0 {
				dep := opts.GetDeprecatedSchema()
				keys := make([]string, 0, len(dep))
				for n := range dep {
					keys = append(keys, n)
				}
				sort.Strings(keys)
				for _, n := range keys {
					req = append(req, Field{Name: n, Type: core.ValueType(dep[n])})
				}
			}
			od.Sources = append(od.Sources, ODFVSource{Name: k, Request: req})
		}
	}
	return od
}

func compileProjection(p *corepb.FeatureViewProjection) Projection {
	out := Projection{
		ViewName: p.GetFeatureViewName(), Alias: p.GetFeatureViewNameAlias(),
		Features: fields(p.GetFeatureColumns()), JoinKeyMap: p.GetJoinKeyMap(),
	}
	if p.VersionTag != nil {
		t := p.GetVersionTag()
		out.VersionTag = &t
	}
	return out
}

func fields(specs []*corepb.FeatureSpecV2) []Field {
	out := make([]Field, len(specs))
	for i, f := range specs {
		out[i] = Field{Name: f.GetName(), Type: core.ValueType(f.GetValueType())}
	}
	return out
}

func index(fs []Field) map[string]int {
	m := make(map[string]int, len(fs))
	for i, f := range fs {
		if _, dup := m[f.Name]; !dup {
			m[f.Name] = i
		}
	}
	return m
}
