package postgres

import (
	"context"

	"github.com/feastgo/feastgo/core"
)

// Ping reports whether the offline store's database answers; an engine
// with no database configured (the offline store is not postgres) has
// nothing to ping.
func (e *Engine) Ping(ctx context.Context) error {
	if e.dsn == "" {
		return nil
	}
	pool, err := e.db(ctx)
	if err != nil {
		return err
	}
	if err := pool.Ping(ctx); err != nil {
		return core.Unavailable(err, "offline store postgres is unreachable")
	}
	return nil
}
