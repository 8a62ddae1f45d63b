package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/jackc/pgx/v5"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/offlinestore"
)

// historicalRange is Feast's postgres offline store without an entity
// frame (get_historical_features(entity_df=None, start_date, end_date)),
// the same statement its MULTIPLE_FEATURE_VIEW_POINT_IN_TIME_JOIN
// template renders in that mode, run in PostgreSQL and streamed:
//
//   - one view: every source row with its event time in [Start, End]
//     (not deduplicated), as event_timestamp, created_timestamp (when the
//     source has a created column), the join keys, the features;
//   - several views: the distinct (event time, join keys) of all views'
//     rows in [Start, End] (a UNION, so the views must have join keys of
//     the same types; PostgreSQL refuses others as it does Feast's), and
//     for each the latest row of every view with the same keys at or
//     before that time (within the ttl), ordered by event time.
//
// Join keys are read from the source by their (projected) names, as
// Feast does: a join_key_map or field-mapped key fails as it fails there.
// Timestamps come back naive (UTC wall clock), as Feast's
// pg_type_code_to_arrow makes them.
func (e *Engine) historicalRange(ctx context.Context, q *offlinestore.HistoricalQuery, fn func(arrow.RecordBatch) error) error {
	froms := make([]string, len(q.Views))
	for i, v := range q.Views {
		table, query, err := parseOptions(v.Source)
		if err != nil {
			return core.Invalidf("feature view %s: data source %s: PostgreSQL options: %v", v.Name, v.Source.GetName(), err)
		}
		src, err := New(nil, table, query)
		if err != nil {
			return core.Invalidf("feature view %s: data source %s: %v", v.Name, v.Source.GetName(), err)
		}
		froms[i] = src.from
	}
	pool, err := e.db(ctx)
	if err != nil {
		return err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return core.Unavailable(err, "offline store postgres is unreachable")
	}
	defer conn.Release()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return historicalErr(err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, "SET LOCAL TIME ZONE 'UTC'"); err != nil {
		return historicalErr(err)
	}
	rows, err := tx.Query(ctx, rangeSQL(q, froms), pgx.QueryExecModeDescribeExec)
	if err != nil {
		return historicalErr(err)
	}
	defer rows.Close()
	more := rows.Next()
	if err := rows.Err(); err != nil {
		return historicalErr(err)
	}
	fds := rows.FieldDescriptions()
	names := make([]string, len(fds))
	for i, fd := range fds {
		names[i] = fd.Name
	}
	cols, err := newColumns(rows, names, &arrow.TimestampType{Unit: arrow.Microsecond})
	if err != nil {
		return err
	}
	return streamColumns(rows, more, cols, q.Size(), fn)
}

// pyTime writes t as Python's str(datetime) does for an aware UTC
// datetime, the form Feast's template puts in its SQL.
func pyTime(t time.Time) string {
	t = t.UTC()
	s := t.Format("2006-01-02 15:04:05")
	if us := t.Nanosecond() / 1000; us != 0 {
		s += fmt.Sprintf(".%06d", us)
	}
	return s + "+00:00"
}

func lit(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// rangeSQL renders Feast's range-mode statement for q.
func rangeSQL(q *offlinestore.HistoricalQuery, froms []string) string {
	start, end := lit(pyTime(q.Range.Start)), lit(pyTime(q.Range.End))
	// dataSelect is a view's rows in the range, named as the output.
	dataSelect := func(v *offlinestore.HistoricalView, from, alias string) string {
		var sel []string
		sel = append(sel, ident(v.TimestampColumn)+" AS event_timestamp")
		if v.CreatedColumn != "" {
			sel = append(sel, ident(v.CreatedColumn)+" AS created_timestamp")
		}
		for _, k := range v.Keys {
			sel = append(sel, ident(k.Frame))
		}
		for _, f := range v.Features {
			sel = append(sel, ident(f.Source)+" AS "+ident(f.Output))
		}
		where := ident(v.TimestampColumn) + " BETWEEN " + start + " AND " + end
		if ttl := int64(v.TTL / time.Second); ttl != 0 {
			where += " AND " + ident(v.TimestampColumn) + " >= " + lit(pyTime(q.Range.Start.Add(-time.Duration(ttl)*time.Second)))
		}
		return "SELECT " + strings.Join(sel, ", ") + " FROM " + from + " AS " + alias + " WHERE " + where
	}
	if len(q.Views) == 1 {
		return dataSelect(&q.Views[0], froms[0], "fv_alias")
	}
	var b strings.Builder
	b.WriteString("WITH ")
	for i := range q.Views {
		v := &q.Views[i]
		fmt.Fprintf(&b, "%s AS (%s), ", ident(v.Name+"__data"), dataSelect(v, froms[i], "sub"))
	}
	// base_entities: as Feast's template writes it, an entityless view
	// leaves a dangling comma (PostgreSQL's syntax error is Feast's too).
	b.WriteString("base_entities AS (")
	var allKeys []string
	seen := map[string]bool{}
	for i := range q.Views {
		v := &q.Views[i]
		if i > 0 {
			b.WriteString(" UNION ")
		}
		keys := make([]string, len(v.Keys))
		for k, kc := range v.Keys {
			keys[k] = ident(kc.Frame)
			if !seen[kc.Frame] {
				seen[kc.Frame] = true
				allKeys = append(allKeys, kc.Frame)
			}
		}
		fmt.Fprintf(&b, "SELECT DISTINCT event_timestamp, %s FROM %s", strings.Join(keys, ", "), ident(v.Name+"__data"))
	}
	b.WriteString(") SELECT base.event_timestamp")
	for _, k := range allKeys {
		b.WriteString(", base." + ident(k))
	}
	for i, v := range q.Views {
		for _, f := range v.Features {
			fmt.Fprintf(&b, ", fv_%d.%s", i, ident(f.Output))
		}
	}
	b.WriteString(" FROM base_entities base")
	for i := range q.Views {
		v := &q.Views[i]
		keys := make([]string, len(v.Keys))
		for k, kc := range v.Keys {
			keys[k] = ident(kc.Frame)
		}
		sel := []string{"event_timestamp"}
		sel = append(sel, keys...)
		for _, f := range v.Features {
			sel = append(sel, ident(f.Output))
		}
		sub := fmt.Sprintf("fv_sub_%d", i)
		where := sub + ".event_timestamp <= base.event_timestamp"
		if ttl := int64(v.TTL / time.Second); ttl != 0 {
			where += fmt.Sprintf(" AND %s.event_timestamp >= base.event_timestamp - %d * interval '1' second", sub, ttl)
		}
		for _, k := range keys {
			where += fmt.Sprintf(" AND %s.%s = base.%s", sub, k, k)
		}
		fmt.Fprintf(&b, " LEFT JOIN LATERAL (SELECT DISTINCT ON (%s) %s FROM %s %s WHERE %s ORDER BY %s, event_timestamp DESC) AS fv_%d ON true",
			strings.Join(keys, ", "), strings.Join(sel, ", "), ident(v.Name+"__data"), sub, where, strings.Join(keys, ", "), i)
	}
	b.WriteString(" ORDER BY base.event_timestamp")
	return b.String()
}
