package offline

import (
	"context"

	"github.com/feastgo/feastgo/auth"
	"github.com/feastgo/feastgo/permissions"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
)

// Authorization as Feast's offline_server.py asserts it, when a user is in
// the context: READ_OFFLINE on every view of get_historical_features, on
// the data source of the pulls, validate_data_source and
// get_table_column_names_and_types_from_data_source; WRITE_OFFLINE on the
// view of offline_write_batch, the feature service of
// write_logged_features and the destination source of persist.

// authorizeViews asserts actions on the named views (those the registry
// does not know are left to the API's own not-found answer).
func (s *Server) authorizeViews(ctx context.Context, names []string, action permissions.Action) error {
	u := auth.FromContext(ctx)
	if u == nil {
		return nil
	}
	plan := s.Snapshot().Permissions.Main()
	for _, n := range names {
		if ref := plan.OfflineView(n); ref != nil {
			if err := ref.Check(u, action); err != nil {
				return err
			}
		}
	}
	return nil
}

// authorizeSource asserts action on a data source.
func (s *Server) authorizeSource(ctx context.Context, ds *corepb.DataSource, action permissions.Action) error {
	u := auth.FromContext(ctx)
	if u == nil {
		return nil
	}
	return s.Snapshot().Permissions.Main().Check(u, permissions.DataSourceResource(ds), action)
}

// authorizeService asserts action on a feature service.
func (s *Server) authorizeService(ctx context.Context, name string, action permissions.Action) error {
	u := auth.FromContext(ctx)
	if u == nil {
		return nil
	}
	return s.Snapshot().Permissions.Main().Check(u, permissions.Resource{Type: permissions.FeatureService, Name: name}, action)
}
