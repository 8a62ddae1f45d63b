package online

import (
	"context"
	"errors"
	"strings"
	"time"

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
	// Statuses, when set, is told each read's PRESENT and NOT_FOUND
	// value counts per feature view read from the store (metrics).
	Statuses func(view string, present, notFound int)
	// MaxEntities, when positive, bounds the entity rows of one request;
	// more are refused as too large (413, gRPC ResourceExhausted).
	MaxEntities int
	// RequestTimeout, when set, bounds a read (the store's call included);
	// past it the read fails as a timeout naming the limit (408, gRPC
	// DeadlineExceeded). A caller's own shorter deadline stays the caller's.
	RequestTimeout time.Duration
}

// DefaultMaxEntities is the serve command's entity rows limit a request.
const DefaultMaxEntities = 100_000

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

// GetOnlineFeatures answers one read, in the design's steps: resolve the
// refs into a plan (cached per snapshot), prepare the entity columns,
// serialize the entity keys once, read every view in one store call,
// assemble the feature columns, run the on-demand views over them, and
// drop the columns nobody asked for.
func (s *Service) GetOnlineFeatures(ctx context.Context, req *Request) (*core.OnlineResponse, error) {
	if s.RequestTimeout <= 0 {
		return s.getOnlineFeatures(ctx, req)
	}
	d, set := ctx.Deadline()
	ours := !set || d.After(time.Now().Add(s.RequestTimeout)) // not the caller's shorter one
	ctx, cancel := context.WithTimeout(ctx, s.RequestTimeout)
	defer cancel()
	resp, err := s.getOnlineFeatures(ctx, req)
	if err != nil && ours && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = core.Errorf(core.KindTimeout, "FeastError",
			"the request was not answered within the request timeout of %v (--request-timeout)", s.RequestTimeout)
	}
	return resp, err
}

func (s *Service) getOnlineFeatures(ctx context.Context, req *Request) (*core.OnlineResponse, error) {
	snap := s.Snapshot()
	p, err := s.plan(snap, req)
	if err != nil {
		return nil, err
	}
	if err := authorize(ctx, p); err != nil {
		return nil, err
	}
	cols, rows, err := requestColumns(req)
	if err != nil {
		return nil, err
	}
	if s.MaxEntities > 0 && rows > s.MaxEntities {
		return nil, core.Errorf(core.KindTooLarge, "ValueError",
			"entities: %d entity rows are over the limit of %d a request (--max-entities)", rows, s.MaxEntities)
	}
	m := getReadMem()
	ok := false
	defer func() {
		if !ok {
			m.put()
		}
	}()
	if err := prepareEntities(m, p, req, cols); err != nil {
		return nil, err
	}
	resp := &m.resp
	resp.Columns = growCap(m.cols, len(m.keyCols)+len(m.reqData)+featureCount(p))
	for _, kc := range m.keyCols {
		resp.Columns = append(resp.Columns, core.Column{Name: kc.name, Typed: kc.values})
	}
	for _, rc := range m.reqData {
		resp.Columns = append(resp.Columns, core.Column{Name: rc.Name, Typed: rc.Values})
	}
	if p.entityless {
		dummy := make([]core.Value, rows)
		for i := range dummy {
			dummy[i] = core.StringValue("")
		}
		m.keyCols = append(m.keyCols, keyCol{registry.DummyJoinKey, dummy})
	}
	if err := s.serializeKeys(m, p, rows); err != nil {
		return nil, err
	}
	if err := s.readStore(ctx, m); err != nil {
		return nil, err
	}
	if err := assembleFeatures(m, p, req, rows); err != nil {
		return nil, err
	}
	if s.Statuses != nil {
		reportStatuses(s.Statuses, m, p, rows)
	}
	if len(p.odfvs) > 0 {
		if err := s.applyODFVs(ctx, p, req, resp, rows); err != nil {
			return nil, err
		}
	}
	dropUnneeded(p, resp, m.keyCols)
	ok = true
	resp.OnRelease(m.release)
	return resp, nil
}

func featureCount(p *plan) int {
	n := 0
	for _, g := range p.groups {
		n += len(g.features)
	}
	return n
}
