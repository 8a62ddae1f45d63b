package materialize

import (
	"context"

	"github.com/feastgo/feastgo/auth"
	"github.com/feastgo/feastgo/permissions"
	"github.com/feastgo/feastgo/registry"
)

// authorize asserts WRITE_ONLINE on every view a materialization runs, as
// feature_server._authorize_materialize_views does, when authentication is
// on.
func authorize(ctx context.Context, snap *registry.Snapshot, tasks []Task) error {
	u := auth.FromContext(ctx)
	if u == nil {
		return nil
	}
	plan := snap.Permissions.Main()
	for _, t := range tasks {
		if ref := plan.View(t.View.Name); ref != nil {
			if err := ref.Check(u, permissions.WriteOnline); err != nil {
				return err
			}
		}
	}
	return nil
}
