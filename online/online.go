package online

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"unsafe"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/onlinestore"
	"github.com/feastgo/feastgo/registry"
)

// Request is an online read in domain terms.
type Request struct {
	Features       []string
	FeatureService string
	// Entities are the request's entity columns in request order: join
	// keys, entity names, aliases or request data for on-demand views.
	Entities []Column
	// RequestContext carries request data separately (gRPC); its columns
	// are treated like entity columns that are request data.
	RequestContext      []Column
	FullFeatureNames    bool
	IncludeViewMetadata bool
}

// Column is a named list of request values.
type Column struct {
	Name   string
	Values []core.Value
}

// Transformer evaluates on-demand feature views over assembled columns.
type Transformer interface {
	// Transform computes the requested outputs of odfv for rows rows.
	// inputs holds every column the ODFV may read, by name.
	Transform(ctx context.Context, odfv *registry.ODFV, outputs []registry.Field, inputs map[string]*core.Column, rows int, fullNames bool) ([]core.Column, error)
}

// Service answers online reads.
type Service struct {
	Snapshot    func() *registry.Snapshot
	Store       onlinestore.Store
	KeyVersion  int
	Transformer Transformer // nil: on-demand views are refused
}

type planKey struct {
	refs      string
	service   string
	fullNames bool
}

func (s *Service) plan(snap *registry.Snapshot, req *Request) (*plan, error) {
	k := planKey{service: req.FeatureService, fullNames: req.FullFeatureNames}
	if req.FeatureService == "" {
		k.refs = strings.Join(req.Features, "\x00")
	}
	if p, ok := snap.Plans.Load(k); ok {
		return p.(*plan), nil
	}
	p, err := buildPlan(snap, req.Features, req.FeatureService, req.FullFeatureNames)
	if err != nil {
		return nil, err
	}
	return snap.Plans.Store(k, p).(*plan), nil
}

// GetOnlineFeatures answers one read.
func (s *Service) GetOnlineFeatures(ctx context.Context, req *Request) (*core.OnlineResponse, error) {
	snap := s.Snapshot()
	p, err := s.plan(snap, req)
	if err != nil {
		return nil, err
	}
	cols := req.Entities
	if len(req.RequestContext) > 0 {
		cols = append(append([]Column(nil), req.Entities...), req.RequestContext...)
	}
	if len(cols) == 0 {
		return nil, core.Invalidf("entities: at least one entity column is required")
	}
	rows := len(cols[0].Values)
	for _, c := range cols[1:] {
		if len(c.Values) != rows {
			return nil, core.Invalidf("entities: all entity columns must have the same number of values (%s has %d, %s has %d)",
				cols[0].Name, rows, c.Name, len(c.Values))
		}
	}

	// Classify and type the request columns (Feast's
	// _prepare_entities_to_read_from_online_store).
	var keyCols []keyCol
	var reqData []Column
	for ci, c := range cols {
		vals := c.Values
		if rf, ok := p.checkedRequest[c.Name]; ok {
			field := "entities"
			if ci >= len(req.Entities) {
				field = "request_context"
			}
			if err := checkRequestColumn(field, c, rf); err != nil {
				return nil, err
			}
		}
		if t, ok := p.typeOf[c.Name]; ok {
			// Copy on write: values already of the declared type (the
			// usual case) are used as sent, without a new slice.
			var conv []core.Value
			for i, v := range vals {
				if v.IsNull() || t == core.Invalid || v.Type == t {
					if conv != nil {
						conv[i] = v
					}
					continue
				}
				if conv == nil {
					conv = make([]core.Value, len(vals))
					copy(conv, vals[:i])
				}
				if conv[i], err = coerce(v, t, c.Name); err != nil {
					return nil, err
				}
			}
			if conv != nil {
				vals = conv
			}
		}
		switch {
		case hasKey(p.requestData, c.Name):
			reqData = append(reqData, Column{Name: c.Name, Values: vals})
		case p.joinKeys[c.Name]:
			keyCols = appendKeyCol(keyCols, keyCol{c.Name, vals})
		default:
			if jk, ok := p.joinKeyOf[c.Name]; ok {
				keyCols = appendKeyCol(keyCols, keyCol{jk, vals})
			}
		}
	}
	if len(reqData) != len(p.requestData) {
		var missing []string
		for n := range p.requestData {
			found := false
			for _, c := range reqData {
				found = found || c.Name == n
			}
			if !found {
				missing = append(missing, "'"+n+"'")
			}
		}
		sort.Strings(missing)
		return nil, core.Errorf(core.KindNotFound, "RequestDataNotFoundInEntityRowsException",
			"Required request data source features [%s] not found in the entity rows, but required by feature views", strings.Join(missing, ", "))
	}

	m := getReadMem()
	ok := false
	defer func() {
		if !ok {
			m.put()
		}
	}()
	resp := &m.resp
	resp.Columns = growCap(m.cols, len(keyCols)+len(reqData)+featureCount(p))
	for _, kc := range keyCols {
		resp.Columns = append(resp.Columns, core.Column{Name: kc.name, Typed: kc.values})
	}
	for _, rc := range reqData {
		resp.Columns = append(resp.Columns, core.Column{Name: rc.Name, Typed: rc.Values})
	}
	if p.entityless {
		dummy := make([]core.Value, rows)
		for i := range dummy {
			dummy[i] = core.StringValue("")
		}
		keyCols = append(keyCols, keyCol{registry.DummyJoinKey, dummy})
	}

	// Build store requests: one per view group, unique keys only. Groups
	// keyed by the same request columns (every view of one entity, the
	// usual case) share one serialized key list and fan-out.
	m.reads = growLen(m.reads, len(p.groups))
	reads := m.reads
	m.fan = growLen(m.fan, len(p.groups)*rows)
	fanSlab := m.fan
	m.fanout = growLen(m.fanout, len(p.groups))
	fanout := m.fanout // row -> unique key index
	keySets := m.keySets[:0]
	keyBuf := m.keyBuf[:0]
	keySlab := growCap(m.keys, len(p.groups)*rows)
	// Each group has at most one key part per request key column.
	m.parts = growLen(m.parts, len(p.groups)*len(keyCols))
	partsSlab := m.parts
	m.pcols = growLen(m.pcols, len(p.groups)*len(keyCols))
	colsSlab := m.pcols
	for gi, g := range p.groups {
		lo, hi := gi*len(keyCols), (gi+1)*len(keyCols)
		parts := partsSlab[lo:lo:hi]
		partCols := colsSlab[lo:lo:hi]
		for _, kc := range keyCols {
			jk := kc.name
			if real, ok := g.aliasToJoinKey[jk]; ok {
				jk = real
			}
			if !g.tableJoinKeys[jk] {
				continue
			}
			replaced := false
			for i := range parts {
				if parts[i].Name == jk {
					partCols[i], replaced = kc.values, true
				}
			}
			if !replaced {
				parts = append(parts, onlinestore.KeyPart{Name: jk})
				partCols = append(partCols, kc.values)
			}
		}
		if len(parts) == 0 || rows == 0 {
			return nil, core.Errorf(core.KindInvalidArgument, "KeyError",
				"Missing join key values for keys: %s. No values provided for keys: %s. Provided join_key_values: %s",
				pyList(missingKeys(p.expectedKeys, keyCols, g)), pyList(p.expectedKeys), pyList(keyColNames(keyCols)))
		}
		if len(parts) < len(g.tableJoinKeys) {
			// A composite key given in part: Feast 0.67 reads a key made
			// of the parts given, which no row has, and answers NOT_FOUND;
			// it is the caller's mistake, so it is refused.
			return nil, core.Errorf(core.KindInvalidArgument, "KeyError",
				"Missing join key values for keys: %s. Feature view %s is keyed by %s: every entity row needs a value for each. Provided join_key_values: %s",
				pyList(missingParts(g, parts)), g.nameToUse, pyList(g.keyNames), pyList(keyColNames(keyCols)))
		}
		// Sort key parts by join-key name once; the column order follows
		// (insertion sort: there are one or two parts).
		for i := 1; i < len(parts); i++ {
			for j := i; j > 0 && parts[j].Name < parts[j-1].Name; j-- {
				parts[j], parts[j-1] = parts[j-1], parts[j]
				partCols[j], partCols[j-1] = partCols[j-1], partCols[j]
			}
		}
		rd := &reads[gi]
		rd.View = g.storage
		rd.Features = g.storeFeat
		if ks := findKeySet(keySets, parts, partCols); ks >= 0 {
			rd.Keys, fanout[gi] = keySets[ks].keys, keySets[ks].fan
			continue
		}
		if need := len(keyBuf) + rows*entityKeySize(parts); cap(keyBuf) < need {
			keyBuf = make([]byte, 0, need)
		}
		fan := fanSlab[gi*rows : (gi+1)*rows : (gi+1)*rows]
		var seen map[string]int
		for r := 0; r < rows; r++ {
			for i := range parts {
				v := partCols[i][r]
				if v.IsNull() {
					return nil, core.Invalidf("entities.%s: row %d is null; join key values cannot be null", parts[i].Name, r)
				}
				parts[i].Value = v
			}
			start := len(keyBuf)
			keyBuf, err = onlinestore.AppendEntityKey(keyBuf, parts, s.KeyVersion)
			if err != nil {
				return nil, err
			}
			key := keyBuf[start:len(keyBuf):len(keyBuf)]
			if rows > 1 {
				if seen == nil {
					if m.seen == nil {
						m.seen = make(map[string]int, rows)
					}
					seen = m.seen
					clear(seen)
				}
				// The map key aliases key's bytes, which are never written
				// again: later keys are appended after them (or into a new
				// array when keyBuf grows).
				ks := unsafe.String(unsafe.SliceData(key), len(key))
				if u, ok := seen[ks]; ok {
					fan[r] = u
					keyBuf = keyBuf[:start]
					continue
				}
				seen[ks] = len(rd.Keys)
			}
			if rd.Keys == nil {
				rd.Keys = keySlab[len(keySlab):len(keySlab):cap(keySlab)]
			}
			fan[r] = len(rd.Keys)
			rd.Keys = append(rd.Keys, key)
		}
		fanout[gi] = fan
		keySlab = keySlab[:len(keySlab)+len(rd.Keys)]
		keySets = append(keySets, keySet{parts: parts, cols: partCols, keys: rd.Keys, fan: fan})
	}
	m.keyBuf, m.keys, m.keySets = keyBuf, keySlab, keySets
	if len(reads) > 0 {
		var err error
		if sr, ok := s.Store.(onlinestore.ScratchReader); ok {
			err = sr.ReadScratch(ctx, reads, &m.store)
		} else {
			err = s.Store.Read(ctx, reads)
		}
		if err != nil {
			return nil, err
		}
	}
	// One slab each for the raw values, statuses and timestamps of all
	// feature columns.
	nfeat := featureCount(p)
	m.raw = growLen(m.raw, nfeat*rows)
	rawSlab := m.raw
	m.st = growLen(m.st, nfeat*rows)
	stSlab := m.st
	m.ts = growLen(m.ts, len(p.groups)*rows)
	tsSlab := m.ts
	clear(tsSlab) // only found rows set theirs
	for gi, g := range p.groups {
		rd := &reads[gi]
		if len(rd.Rows) != len(rd.Keys) {
			return nil, fmt.Errorf("online store returned %d rows for %d keys of %s", len(rd.Rows), len(rd.Keys), rd.View)
		}
		fan := fanout[gi]
		ts := tsSlab[gi*rows : (gi+1)*rows : (gi+1)*rows]
		for r, u := range fan {
			if rd.Rows[u].Found {
				ts[r] = rd.Rows[u].TS
			}
		}
		for fi, name := range g.outNames {
			raw := rawSlab[:rows:rows]
			st := stSlab[:rows:rows]
			rawSlab, stSlab = rawSlab[rows:], stSlab[rows:]
			for r, u := range fan {
				row := &rd.Rows[u]
				if row.Found && row.Values[fi] != nil {
					raw[r] = row.Values[fi]
					st[r] = core.StatusPresent
				} else {
					raw[r] = nil
					st[r] = core.StatusNotFound
				}
			}
			resp.Columns = append(resp.Columns, core.Column{Name: name, Raw: raw, Status: st, TS: ts})
		}
		if req.IncludeViewMetadata {
			resp.ViewMetadata = appendViewMeta(resp.ViewMetadata, g)
		}
	}
	if len(p.odfvs) > 0 {
		if err := s.applyODFVs(ctx, p, req, resp, rows); err != nil {
			return nil, err
		}
	}
	// Drop request data and unrequested ODFV inputs (Feast's
	// _drop_unneeded_columns); join keys supplied by the request stay.
	out := resp.Columns[:0]
	for _, c := range resp.Columns {
		if p.requested[c.Name] || isKeyCol(keyCols, c.Name) {
			out = append(out, c)
		}
	}
	resp.Columns = out
	ok = true
	resp.OnRelease(m.release)
	return resp, nil
}

func (s *Service) applyODFVs(ctx context.Context, p *plan, req *Request, resp *core.OnlineResponse, rows int) error {
	if s.Transformer == nil {
		return core.Errorf(core.KindUnimplemented, "NotImplementedError",
			"on-demand feature view %s cannot be evaluated: no transformation engine is configured", p.odfvs[0].name)
	}
	inputs := make(map[string]*core.Column, len(resp.Columns))
	for i := range resp.Columns {
		inputs[resp.Columns[i].Name] = &resp.Columns[i]
	}
	// Source features are visible to the UDF both plain and as
	// "<view>__<feature>".
	for _, g := range p.groups {
		for fi, f := range g.features {
			c := inputs[g.outNames[fi]]
			if c == nil {
				continue
			}
			if _, ok := inputs[f.Name]; !ok {
				inputs[f.Name] = c
			}
			if full := g.nameToUse + "__" + f.Name; inputs[full] == nil {
				inputs[full] = c
			}
		}
	}
	for _, og := range p.odfvs {
		outs, err := s.Transformer.Transform(ctx, og.odfv, og.features, inputs, rows, req.FullFeatureNames)
		if err != nil {
			return err
		}
		resp.Columns = append(resp.Columns, outs...)
	}
	return nil
}

func appendViewMeta(ms []core.ViewMetadata, g *group) []core.ViewMetadata {
	for _, m := range ms {
		if m.Name == g.metaName {
			return ms
		}
	}
	return append(ms, core.ViewMetadata{Name: g.metaName, Version: g.view.CurrentVersion})
}

// keySet is the serialized keys of one set of join keys read from one set
// of request columns, with the row -> unique key fan-out.
type keySet struct {
	parts []onlinestore.KeyPart
	cols  [][]core.Value
	keys  [][]byte
	fan   []int
}

// findKeySet returns the index of the key set built from the same join
// keys and the very same request columns, or -1.
func findKeySet(sets []keySet, parts []onlinestore.KeyPart, cols [][]core.Value) int {
next:
	for i := range sets {
		ks := &sets[i]
		if len(ks.parts) != len(parts) {
			continue
		}
		for j := range parts {
			if ks.parts[j].Name != parts[j].Name || len(ks.cols[j]) != len(cols[j]) ||
				unsafe.SliceData(ks.cols[j]) != unsafe.SliceData(cols[j]) {
				continue next
			}
		}
		return i
	}
	return -1
}

// entityKeySize estimates the serialized size of one entity key.
func entityKeySize(parts []onlinestore.KeyPart) int {
	n := 4
	for _, p := range parts {
		n += 8 + len(p.Name) + 8 + 8 + len(p.Value.S)
	}
	return n
}

func featureCount(p *plan) int {
	n := 0
	for _, g := range p.groups {
		n += len(g.features)
	}
	return n
}

func hasKey(m map[string]core.ValueType, k string) bool {
	_, ok := m[k]
	return ok
}

// keyCol is a join-key column of the request, named as requested (the
// join key itself or a join_key_map alias).
type keyCol struct {
	name   string
	values []core.Value
}

func appendKeyCol(cols []keyCol, c keyCol) []keyCol { return append(cols, c) }

func isKeyCol(cols []keyCol, name string) bool {
	for _, c := range cols {
		if c.name == name && name != registry.DummyJoinKey {
			return true
		}
	}
	return false
}

func keyColNames(cols []keyCol) []string {
	out := make([]string, 0, len(cols))
	for _, c := range cols {
		if c.name != registry.DummyJoinKey {
			out = append(out, c.name)
		}
	}
	return out
}

// missingKeys lists the project's join keys the request did not supply.
func missingKeys(expected []string, cols []keyCol, g *group) []string {
	var out []string
	for _, k := range expected {
		found := false
		for _, c := range cols {
			jk := c.name
			if real, ok := g.aliasToJoinKey[jk]; ok {
				jk = real
			}
			found = found || c.name == k || jk == k
		}
		if !found {
			out = append(out, k)
		}
	}
	return out
}

// missingParts lists the request columns of g's key that parts (the key
// columns the request gave, by join key) lacks.
func missingParts(g *group, parts []onlinestore.KeyPart) []string {
	var out []string
	for _, name := range g.keyNames {
		found := false
		for _, pt := range parts {
			found = found || pt.Name == g.keyOfName[name]
		}
		if !found {
			out = append(out, name)
		}
	}
	return out
}

// pyList prints names like Python prints a list of strings.
func pyList(names []string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("'" + n + "'")
	}
	b.WriteByte(']')
	return b.String()
}
