package sqlregistry

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	corepb "github.com/feastgo/feastgo/protos/feast/core"
)

// viewRow is one feature_views or stream_feature_views row as read for an
// update, with the proto it held.
type viewRow struct {
	table, name, project string
	before               proto.Message
	now                  proto.Message
}

// Update applies change to the registry's feature views and stream feature
// views (the objects our writes touch: materialization intervals and
// states) in one transaction: their rows (Options.Project's only, when set)
// are read FOR UPDATE, so a
// concurrent `feast apply` or another server waits rather than being
// overwritten; each view change alters is stored as Feast's _apply_object
// stores it (its proto with last_updated_timestamp = now, the row's
// last_updated_timestamp in seconds), and the project's
// feast_metadata.last_updated_timestamp is set.
func (s *Source) Update(ctx context.Context, now time.Time, change func(*corepb.Registry) error) error {
	now = now.UTC().Truncate(time.Microsecond)
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		reg := &corepb.Registry{}
		rows, err := lockViews(ctx, tx, reg, s.project)
		if err != nil {
			return err
		}
		if err := change(reg); err != nil {
			return err
		}
		touched := map[string]bool{}
		for _, r := range rows {
			if proto.Equal(r.before, r.now) {
				continue
			}
			stampUpdated(r.now, now)
			b, err := proto.MarshalOptions{Deterministic: true}.Marshal(r.now)
			if err != nil {
				return err
			}
			q := fmt.Sprintf(`UPDATE %s SET feature_view_proto = $1, last_updated_timestamp = $2 WHERE feature_view_name = $3 AND project_id = $4`,
				pgx.Identifier{r.table}.Sanitize())
			if _, err := tx.Exec(ctx, q, b, now.Unix(), r.name, r.project); err != nil {
				return s.wrap(r.table, err)
			}
			touched[r.project] = true
		}
		for project := range touched {
			if err := setLastUpdated(ctx, tx, project, now); err != nil {
				return s.wrap("feast_metadata", err)
			}
		}
		return nil
	})
}

// lockViews reads the feature view and stream feature view rows of project
// ("" = of every project) FOR UPDATE into reg and returns them with copies
// of their protos.
func lockViews(ctx context.Context, tx pgx.Tx, reg *corepb.Registry, project string) ([]*viewRow, error) {
	var out []*viewRow
	for _, tbl := range []string{"feature_views", "stream_feature_views"} {
		q := fmt.Sprintf(`SELECT feature_view_name, project_id, feature_view_proto FROM %s WHERE $1 = '' OR project_id = $1 ORDER BY project_id, feature_view_name FOR UPDATE`,
			pgx.Identifier{tbl}.Sanitize())
		rows, err := tx.Query(ctx, q, project)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			r := &viewRow{table: tbl}
			var b []byte
			if err := rows.Scan(&r.name, &r.project, &b); err != nil {
				rows.Close()
				return nil, err
			}
			if tbl == "feature_views" {
				fv := &corepb.FeatureView{}
				if err := proto.Unmarshal(b, fv); err != nil {
					rows.Close()
					return nil, fmt.Errorf("feature view %s: %w", r.name, err)
				}
				spec(&fv.Spec).Project = r.project
				reg.FeatureViews = append(reg.FeatureViews, fv)
				r.now = fv
			} else {
				sfv := &corepb.StreamFeatureView{}
				if err := proto.Unmarshal(b, sfv); err != nil {
					rows.Close()
					return nil, fmt.Errorf("stream feature view %s: %w", r.name, err)
				}
				spec(&sfv.Spec).Project = r.project
				reg.StreamFeatureViews = append(reg.StreamFeatureViews, sfv)
				r.now = sfv
			}
			r.before = proto.Clone(r.now)
			out = append(out, r)
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// stampUpdated sets a changed view's meta.last_updated_timestamp, as
// Feast's apply does for an object that changed.
func stampUpdated(m proto.Message, now time.Time) {
	ts := timestamppb.New(now)
	switch v := m.(type) {
	case *corepb.FeatureView:
		spec(&v.Meta).LastUpdatedTimestamp = ts
	case *corepb.StreamFeatureView:
		spec(&v.Meta).LastUpdatedTimestamp = ts
	}
}

// setLastUpdated upserts the project's last_updated_timestamp metadata, as
// Feast's _set_last_updated_metadata does (seconds, as text and as a
// number).
func setLastUpdated(ctx context.Context, tx pgx.Tx, project string, now time.Time) error {
	secs := now.Unix()
	tag, err := tx.Exec(ctx, `UPDATE feast_metadata SET metadata_value = $1, last_updated_timestamp = $2 WHERE metadata_key = 'last_updated_timestamp' AND project_id = $3`,
		strconv.FormatInt(secs, 10), secs, project)
	if err != nil {
		return err
	}
	if tag.RowsAffected() > 0 {
		return nil
	}
	_, err = tx.Exec(ctx, `INSERT INTO feast_metadata (project_id, metadata_key, metadata_value, last_updated_timestamp) VALUES ($1, 'last_updated_timestamp', $2, $3)`,
		project, strconv.FormatInt(secs, 10), secs)
	return err
}
