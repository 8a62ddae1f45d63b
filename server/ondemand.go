package server

import (
	"math"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/internal/feastjson"
	"github.com/feastgo/feastgo/internal/pyconv"
	"github.com/feastgo/feastgo/online"
	"github.com/feastgo/feastgo/registry"
)

// onDemand answers POST /on-demand/{feature_view}: evaluate one on-demand
// feature view over request data and already-materialized features, the
// call the pre-Feast monitoring service made. The body is
//
//	{"request_data": {"execution_times": [[100.0, 120.5]], "error_counts": [[0, 2]]},
//	 "features":     {"avg_execution_time": [98.2]},   // optional, plain or view__feature names
//	 "entities":     {"pipeline_id": [1]},             // optional: read missing features
//	 "full_feature_names": false}
//
// Every column has one value per row. Source features of the view that are
// neither given nor readable (no entities) are null. The answer has the
// shape of /get-online-features: join keys (when entities are given), the
// view's source features, then the computed features, which Feast's own
// naming and conversion rules produce.
func (h *HTTP) onDemand(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "feature_view")
	bp, err := h.readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	req, err := parseOnDemandRequest(*bp)
	bufPool.Put(bp)
	if err != nil {
		writeError(w, err)
		return
	}
	resp, err := h.evaluateOnDemand(r, name, req)
	if err != nil {
		h.logError(r, err)
		writeError(w, err)
		return
	}
	body, err := feastjson.AppendOnlineResponse(nil, resp)
	if err != nil {
		err = core.Errorf(core.KindInternal, "FeastError", "encoding response: %v", err)
		h.logError(r, err)
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

type onDemandRequest struct {
	requestData []online.Column
	features    []online.Column
	entities    []online.Column
	fullNames   bool
}

func parseOnDemandRequest(body []byte) (*onDemandRequest, error) {
	r, err := feastjson.ParseOnDemandRequest(body)
	if err != nil {
		return nil, err
	}
	return &onDemandRequest{requestData: r.RequestData, features: r.Features, entities: r.Entities, fullNames: r.FullNames}, nil
}

func (h *HTTP) evaluateOnDemand(r *http.Request, name string, req *onDemandRequest) (*core.OnlineResponse, error) {
	snap := h.Online.Snapshot()
	odfv, ok := snap.ODFV(name)
	if !ok {
		return nil, core.Errorf(core.KindNotFound, "FeatureViewNotFoundException",
			"On demand feature view %s does not exist in project %s", name, snap.Project)
	}
	if h.Online.Transformer == nil {
		return nil, core.Errorf(core.KindUnimplemented, "NotImplementedError", "no transformation engine is configured")
	}
	rows := -1
	for _, group := range [][]online.Column{req.requestData, req.features, req.entities} {
		for _, c := range group {
			if rows >= 0 && len(c.Values) != rows {
				return nil, core.Invalidf("%s: %d values, but other columns have %d (one value per row)", c.Name, len(c.Values), rows)
			}
			rows = len(c.Values)
		}
	}
	if rows <= 0 {
		return nil, core.Invalidf("request_data: at least one row is required")
	}
	inputs := map[string]*core.Column{}
	add := func(n string, c *core.Column) {
		if _, dup := inputs[n]; !dup {
			inputs[n] = c
		}
	}
	var missing []string
	for _, f := range odfv.RequestFields() {
		found := false
		for _, c := range append(append([]online.Column(nil), req.requestData...), req.entities...) {
			if c.Name != f.Name {
				continue
			}
			// Typed as the request source declares it, so [[]] is an
			// empty list of the right type rather than untypable.
			typed := make([]core.Value, rows)
			for i, v := range c.Values {
				cv, ok := coerceFeature(v, f.Type)
				if !ok {
					return nil, core.Invalidf("request_data.%s: row %d cannot be a %s", f.Name, i, f.Type)
				}
				typed[i] = cv
			}
			add(f.Name, &core.Column{Name: f.Name, Typed: typed})
			found = true
			break
		}
		if !found {
			missing = append(missing, "'"+f.Name+"'")
		}
	}
	if len(missing) > 0 {
		return nil, core.Errorf(core.KindNotFound, "RequestDataNotFoundInEntityRowsException",
			"Required request data source features [%s] not found in the entity rows, but required by feature views", strings.Join(missing, ", "))
	}

	// Source features: given, or read from the online store by entities.
	type src struct {
		view  string
		field registry.Field
		col   *core.Column
	}
	var sources []src
	given := map[string][]core.Value{}
	for _, c := range req.features {
		given[c.Name] = c.Values
	}
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
			if ok {
				typed := make([]core.Value, rows)
				for i, v := range vals {
					cv, ok := coerceFeature(v, f.Type)
					if !ok {
						return nil, core.Invalidf("features.%s: row %d cannot be a %s", f.Name, i, f.Type)
					}
					typed[i] = cv
				}
				col = &core.Column{Typed: typed}
			} else if len(req.entities) > 0 {
				refs = append(refs, s.Projection.ViewName+":"+f.Name)
			} else {
				st := make([]core.FieldStatus, rows)
				for i := range st {
					st[i] = core.StatusNotFound
				}
				col = &core.Column{Typed: make([]core.Value, rows), Status: st}
			}
			sources = append(sources, src{view: view, field: f, col: col})
		}
	}
	var keyCols []core.Column
	if len(req.entities) > 0 {
		for _, c := range req.entities {
			if !isRequestField(odfv, c.Name) {
				keyCols = append(keyCols, core.Column{Name: c.Name, Typed: c.Values})
			}
		}
	}
	if len(refs) > 0 {
		read, err := h.Online.GetOnlineFeatures(r.Context(), &online.Request{Features: refs, Entities: req.entities, FullFeatureNames: true})
		if err != nil {
			return nil, err
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
	}
	resp := &core.OnlineResponse{}
	for i := range keyCols {
		add(keyCols[i].Name, &keyCols[i])
		resp.Columns = append(resp.Columns, keyCols[i])
	}
	for _, s := range sources {
		if s.col == nil {
			return nil, core.Errorf(core.KindInternal, "FeastError", "the online read returned no column for %s:%s", s.view, s.field.Name)
		}
		full := s.view + "__" + s.field.Name
		add(s.field.Name, s.col)
		add(full, s.col)
		out := *s.col
		out.Name = s.field.Name
		if req.fullNames {
			out.Name = full
		}
		resp.Columns = append(resp.Columns, out)
	}
	outs, err := h.Online.Transformer.Transform(r.Context(), odfv, odfv.Features, inputs, rows, req.fullNames)
	if err != nil {
		return nil, err
	}
	resp.Columns = append(resp.Columns, outs...)
	return resp, nil
}

func isRequestField(odfv *registry.ODFV, name string) bool {
	for _, f := range odfv.RequestFields() {
		if f.Name == name {
			return true
		}
	}
	return false
}

// coerceFeature types a given feature value as its view declares it.
func coerceFeature(v core.Value, t core.ValueType) (core.Value, bool) {
	if v.IsNull() {
		return core.Value{}, true
	}
	if t.IsList() {
		if !v.Type.IsList() && v.Type != core.Null+100 {
			return core.Value{}, false
		}
		out := core.Value{Type: t, List: make([]core.Value, len(v.List))}
		for i, e := range v.List {
			ce, ok := coerceFeature(e, t.Elem())
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
		return core.Value{Type: core.Float, F: float64(float32(f))}, ok
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
		if t == core.Int32 && (i < math.MinInt32 || i > math.MaxInt32) {
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
