package online

import (
	"context"

	"github.com/feastgo/feastgo/auth"
	"github.com/feastgo/feastgo/permissions"
	"github.com/feastgo/feastgo/registry"
)

// readRefs lists the resources a read must be allowed READ_ONLINE on, in
// the order Feast's feature server asserts them (feature_server._get_features):
// the feature service alone when one is named; otherwise every feature view
// the refs name or an on-demand view reads (utils._get_feature_views_to_use,
// in order of first use), then the on-demand views.
func readRefs(s *registry.Snapshot, service string, views []resolved) []*permissions.Ref {
	plan := s.Permissions.Main()
	if service != "" {
		return []*permissions.Ref{plan.Ref(permissions.Resource{Type: permissions.FeatureService, Name: service})}
	}
	var fvs, odfvs []*permissions.Ref
	seen := map[*permissions.Ref]bool{}
	addFV := func(r *permissions.Ref) {
		if r != nil && !seen[r] {
			seen[r] = true
			fvs = append(fvs, r)
		}
	}
	for _, v := range views {
		name := ""
		switch {
		case v.view != nil:
			name = v.view.Name
		case v.odfv != nil:
			name = v.odfv.Name
		}
		ref := plan.View(name)
		if ref == nil {
			continue
		}
		if ref.Type != permissions.OnDemandFeatureView {
			addFV(ref)
			continue
		}
		if !seen[ref] {
			seen[ref] = true
			odfvs = append(odfvs, ref)
		}
		if o, ok := s.ODFV(name); ok {
			for _, src := range o.Sources {
				if src.Projection != nil {
					addFV(plan.View(src.Projection.ViewName))
				}
			}
		}
	}
	return append(fvs, odfvs...)
}

// authorize checks the request's user, when authentication is on, against
// the plan's resources.
func authorize(ctx context.Context, p *plan) error {
	u := auth.FromContext(ctx)
	if u == nil {
		return nil
	}
	return permissions.CheckAll(u, p.reads, permissions.ReadOnline)
}

// authorizeOnDemand asserts READ_ONLINE on the on-demand view /on-demand
// evaluates (an endpoint of this server only; Feast has none to follow),
// when a user is in the context.
func authorizeOnDemand(ctx context.Context, s *registry.Snapshot, name string) error {
	u := auth.FromContext(ctx)
	if u == nil {
		return nil
	}
	if ref := s.Permissions.Main().View(name); ref != nil {
		return ref.Check(u, permissions.ReadOnline)
	}
	return nil
}
