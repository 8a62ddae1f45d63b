package ingest

import (
	"context"

	"github.com/feastgo/feastgo/auth"
	"github.com/feastgo/feastgo/permissions"
	"github.com/feastgo/feastgo/registry"
)

// pushActions are the actions feature_server's /push asserts per mode.
func pushActions(mode Mode) []permissions.Action {
	switch mode {
	case ModeOffline:
		return []permissions.Action{permissions.WriteOffline}
	case ModeOnlineAndOffline:
		return permissions.Write
	}
	return []permissions.Action{permissions.WriteOnline}
}

// authorizePush asserts the push's actions on every view the push source
// feeds, as Feast's /push does, when authentication is on.
func authorizePush(ctx context.Context, snap *registry.Snapshot, views []*registry.View, mode Mode) error {
	u := auth.FromContext(ctx)
	if u == nil {
		return nil
	}
	plan := snap.Permissions.Main()
	acts := pushActions(mode)
	for _, v := range views {
		if ref := plan.View(v.Name); ref != nil {
			if err := ref.Check(u, acts...); err != nil {
				return err
			}
		}
	}
	return nil
}

// authorizeWrite asserts WRITE_ONLINE on the view /write-to-online-store
// writes (resolved as get_feature_view_from_feature_store does).
func authorizeWrite(ctx context.Context, snap *registry.Snapshot, name string) error {
	u := auth.FromContext(ctx)
	if u == nil {
		return nil
	}
	if ref := snap.Permissions.Main().WriteView(name); ref != nil {
		return ref.Check(u, permissions.WriteOnline)
	}
	return nil
}
