package historical

import (
	"context"

	"github.com/feastgo/feastgo/auth"
	"github.com/feastgo/feastgo/online"
	"github.com/feastgo/feastgo/permissions"
	"github.com/feastgo/feastgo/registry"
)

// authorize asserts READ_OFFLINE on every view a training set joins, as
// Feast's offline server does for get_historical_features (on-demand views
// are computed from them and not checked), when a user is in the context.
// It covers this server's own HTTP /get-historical-features too.
func authorize(ctx context.Context, snap *registry.Snapshot, res *online.Resolution) error {
	u := auth.FromContext(ctx)
	if u == nil {
		return nil
	}
	plan := snap.Permissions.Main()
	for _, v := range res.Views {
		if ref := plan.OfflineView(v.View.Name); ref != nil {
			if err := ref.Check(u, permissions.ReadOffline); err != nil {
				return err
			}
		}
	}
	return nil
}
