package online

import (
	"context"
	"fmt"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/onlinestore"
)

// readStore is step 3: every view group's keys in one store call (one
// round trip).
func (s *Service) readStore(ctx context.Context, m *readMem) error {
	reads := m.reads
	if len(reads) > 0 {
		var err error
		if sr, ok := s.Store.(onlinestore.ScratchReader); ok {
			err = sr.ReadScratch(ctx, reads, &m.store)
		} else {
			err = s.Store.Read(ctx, reads)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// assembleFeatures turns the store's rows into the response's feature
// columns, fanning unique keys back out to request rows. All feature
// columns share one slab each of raw values, statuses and timestamps.
func assembleFeatures(m *readMem, p *plan, req *Request, rows int) error {
	resp, reads, fanout := &m.resp, m.reads, m.fanout
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
			return fmt.Errorf("online store returned %d rows for %d keys of %s", len(rd.Rows), len(rd.Keys), rd.View)
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

// dropUnneeded drops request data and unrequested ODFV inputs (Feast's
// _drop_unneeded_columns); join keys supplied by the request stay.
func dropUnneeded(p *plan, resp *core.OnlineResponse, keyCols []keyCol) {
	out := resp.Columns[:0]
	for _, c := range resp.Columns {
		if p.requested[c.Name] || isKeyCol(keyCols, c.Name) {
			out = append(out, c)
		}
	}
	resp.Columns = out
}

// reportStatuses tells report each view group's PRESENT and NOT_FOUND
// counts over its feature columns, as Feast's track_feature_statuses: the
// columns assembleFeatures appended, in group order.
func reportStatuses(report func(view string, present, notFound int), m *readMem, p *plan, rows int) {
	st := m.st
	for _, g := range p.groups {
		n := len(g.outNames) * rows
		present := 0
		for _, s := range st[:n] {
			if s == core.StatusPresent {
				present++
			}
		}
		st = st[n:]
		report(g.view.Name, present, n-present)
	}
}
