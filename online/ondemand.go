package online

import (
	"context"
	"strings"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/pyconv"
	"github.com/feastgo/feastgo/registry"
)

// OnDemandRequest evaluates one on-demand feature view over request data
// and source features, given or read from the online store.
type OnDemandRequest struct {
	// RequestData are the view's request-source columns.
	RequestData []Column
	// Features are given source features, by plain or "<view>__<feature>"
	// name; they override the store.
	Features []Column
	// Entities, when given, key a read of the source features not given.
	Entities         []Column
	FullFeatureNames bool
}

// EvaluateOnDemand answers an on-demand evaluation of the view named
// name. Every column has one value per row. Source features neither given
// nor readable (no entities) are null. The answer has the shape of an
// online read: join keys (when entities are given), the view's source
// features, then the computed features.
func (s *Service) EvaluateOnDemand(ctx context.Context, name string, req *OnDemandRequest) (*core.OnlineResponse, error) {
	snap := s.Snapshot()
	odfv, ok := snap.ODFV(name)
	if !ok {
		return nil, core.Errorf(core.KindNotFound, "FeatureViewNotFoundException",
			"On demand feature view %s does not exist in project %s", name, snap.Project)
	}
	if err := authorizeOnDemand(ctx, snap, name); err != nil {
		return nil, err
	}
	if s.Transformer == nil {
		return nil, core.Errorf(core.KindUnimplemented, "NotImplementedError", "no transformation engine is configured")
	}
	rows, err := onDemandRows(req)
	if err != nil {
		return nil, err
	}
	reqCols, err := typedRequestData(odfv, req, rows)
	if err != nil {
		return nil, err
	}
	sources, refs, err := givenSources(odfv, req, rows)
	if err != nil {
		return nil, err
	}
	var keyCols []core.Column
	for _, c := range req.Entities {
		if !isRequestField(odfv, c.Name) {
			keyCols = append(keyCols, core.Column{Name: c.Name, Typed: c.Values})
		}
	}
	if len(refs) > 0 {
		if err := s.readSources(ctx, req, refs, sources, keyCols); err != nil {
			return nil, err
		}
	}

	// The response frame: join keys, then the source features named as
	// asked; the ODFV also sees the request data.
	resp := &core.OnlineResponse{Columns: keyCols}
	odfvSources := make([]ODFVSource, 0, len(sources))
	for _, src := range sources {
		if src.col == nil {
			return nil, core.Errorf(core.KindInternal, "FeastError", "the online read returned no column for %s:%s", src.view, src.field.Name)
		}
		out := *src.col
		out.Name = src.field.Name
		if req.FullFeatureNames {
			out.Name = src.view + "__" + src.field.Name
		}
		resp.Columns = append(resp.Columns, out)
		odfvSources = append(odfvSources, ODFVSource{View: src.view, Feature: src.field.Name, Column: out.Name})
	}
	frame := append(reqCols, resp.Columns...)
	inputs := ODFVInputs(frame, odfvSources)
	outs, err := EvaluateODFVs(ctx, s.Transformer, []ODFVOutputs{{View: odfv, Features: odfv.Features}}, inputs, rows, req.FullFeatureNames)
	if err != nil {
		return nil, err
	}
	resp.Columns = append(resp.Columns, outs...)
	return resp, nil
}

// onDemandRows is the row count all columns share.
func onDemandRows(req *OnDemandRequest) (int, error) {
	rows := -1
	for _, group := range [][]Column{req.RequestData, req.Features, req.Entities} {
		for _, c := range group {
			if rows >= 0 && len(c.Values) != rows {
				return 0, core.Invalidf("%s: %d values, but other columns have %d (one value per row)", c.Name, len(c.Values), rows)
			}
			rows = len(c.Values)
		}
	}
	if rows <= 0 {
		return 0, core.Invalidf("request_data: at least one row is required")
	}
	return rows, nil
}

// typedRequestData finds each request field of the view in the request
// data (or the entities) and types it as its request source declares, so
// [[]] is an empty list of the right type rather than untypable.
func typedRequestData(odfv *registry.ODFV, req *OnDemandRequest, rows int) ([]core.Column, error) {
	var out []core.Column
	var missing []string
	for _, f := range odfv.RequestFields() {
		c, ok := findColumn(req.RequestData, f.Name)
		if !ok {
			c, ok = findColumn(req.Entities, f.Name)
		}
		if !ok {
			missing = append(missing, "'"+f.Name+"'")
			continue
		}
		typed, err := typedGiven(c.Values, f.Type, rows, "request_data."+f.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, core.Column{Name: f.Name, Typed: typed})
	}
	if len(missing) > 0 {
		return nil, core.Errorf(core.KindNotFound, "RequestDataNotFoundInEntityRowsException",
			"Required request data source features [%s] not found in the entity rows, but required by feature views", strings.Join(missing, ", "))
	}
	return out, nil
}

func findColumn(cols []Column, name string) (Column, bool) {
	for _, c := range cols {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

// onDemandSource is one source feature of the view and its column, nil
// until read from the store.
type onDemandSource struct {
	view  string
	field registry.Field
	col   *core.Column
}

// givenSources lists the view's source features with the given columns
// typed; a feature not given is read by entities (its ref is returned) or,
// without entities, is null.
func givenSources(odfv *registry.ODFV, req *OnDemandRequest, rows int) ([]onDemandSource, []string, error) {
	given := map[string][]core.Value{}
	for _, c := range req.Features {
		given[c.Name] = c.Values
	}
	var sources []onDemandSource
	var refs []string
	for _, s := range odfv.Sources {
		if s.Projection == nil {
			continue
		}
		view := s.Projection.NameToUse()
		for _, f := range s.Projection.Features {
			vals, ok := given[view+"__"+f.Name]
			if !ok {
				vals, ok = given[f.Name]
			}
			var col *core.Column
			switch {
			case ok:
				typed, err := typedGiven(vals, f.Type, rows, "features."+f.Name)
				if err != nil {
					return nil, nil, err
				}
				col = &core.Column{Typed: typed}
			case len(req.Entities) > 0:
				refs = append(refs, s.Projection.ViewName+":"+f.Name)
			default:
				st := make([]core.FieldStatus, rows)
				for i := range st {
					st[i] = core.StatusNotFound
				}
				col = &core.Column{Typed: make([]core.Value, rows), Status: st}
			}
			sources = append(sources, onDemandSource{view: view, field: f, col: col})
		}
	}
	return sources, refs, nil
}

// readSources reads the source features not given through an online read
// keyed by the request's entities, and types the join-key columns as the
// read did.
func (s *Service) readSources(ctx context.Context, req *OnDemandRequest, refs []string, sources []onDemandSource, keyCols []core.Column) error {
	read, err := s.GetOnlineFeatures(ctx, &Request{Features: refs, Entities: req.Entities, FullFeatureNames: true})
	if err != nil {
		return err
	}
	byName := map[string]*core.Column{}
	for i := range read.Columns {
		byName[read.Columns[i].Name] = &read.Columns[i]
	}
	for i := range sources {
		if sources[i].col == nil {
			sources[i].col = byName[sources[i].view+"__"+sources[i].field.Name]
		}
	}
	for i := range keyCols {
		if c, ok := byName[keyCols[i].Name]; ok {
			keyCols[i] = *c // typed like the join key
		}
	}
	return nil
}

func isRequestField(odfv *registry.ODFV, name string) bool {
	for _, f := range odfv.RequestFields() {
		if f.Name == name {
			return true
		}
	}
	return false
}

// typedGiven types given values as declared; field names the column in
// the error.
func typedGiven(vals []core.Value, t core.ValueType, rows int, field string) ([]core.Value, error) {
	typed := make([]core.Value, rows)
	for i, v := range vals {
		cv, ok := coerceGiven(v, t)
		if !ok {
			return nil, core.Invalidf("%s: row %d cannot be a %s", field, i, t)
		}
		typed[i] = cv
	}
	return typed, nil
}

// coerceGiven types a given feature or request value as its view
// declares it.
func coerceGiven(v core.Value, t core.ValueType) (core.Value, bool) {
	if v.IsNull() {
		return core.Value{}, true
	}
	if t.IsList() {
		if !v.Type.IsList() && v.Type != core.UntypedList {
			return core.Value{}, false
		}
		out := core.Value{Type: t, List: make([]core.Value, len(v.List))}
		for i, e := range v.List {
			ce, ok := coerceGiven(e, t.Elem())
			if !ok || ce.IsNull() {
				return core.Value{}, false
			}
			out.List[i] = ce
		}
		return out, true
	}
	num := func() (float64, bool) {
		switch v.Type {
		case core.Int64:
			return float64(v.I), true
		case core.Double:
			return v.F, true
		}
		return 0, false
	}
	switch t {
	case core.Double:
		f, ok := num()
		return core.DoubleValue(f), ok
	case core.Float:
		f, ok := num()
		return core.Value{Type: core.Float, F: pyconv.Widen32(f)}, ok
	case core.Int64, core.Int32, core.UnixTimestamp:
		i := v.I
		switch v.Type {
		case core.Int64:
		case core.Double:
			n, ok := pyconv.IntegralInt64(v.F)
			if !ok {
				return core.Value{}, false
			}
			i = n
		default:
			return core.Value{}, false
		}
		if t == core.Int32 && !pyconv.FitsInt32(i) {
			return core.Value{}, false
		}
		return core.Value{Type: t, I: i}, true
	case core.Bool:
		return v, v.Type == core.Bool
	case core.String:
		return v, v.Type == core.String
	}
	return core.Value{}, false
}
