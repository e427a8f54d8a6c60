package app

import (
	"context"
	"strings"

	"github.com/shiplog-dev/shiplog/internal/store"
	"github.com/shiplog-dev/shiplog/internal/store/postgres"
	"github.com/shiplog-dev/shiplog/internal/store/sqlite"
)

// OpenStore opens the store named by db: a postgres:// or postgresql:// DSN,
// or else a SQLite file path (an optional "sqlite:" prefix is removed).
func OpenStore(ctx context.Context, db string, opts store.Options) (*store.Store, error) {
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		return postgres.Open(ctx, db, opts)
	}
	return sqlite.Open(ctx, strings.TrimPrefix(db, "sqlite:"), opts)
}
