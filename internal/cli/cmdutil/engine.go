package cmdutil

import (
	"context"
	"time"

	"github.com/shiplog-dev/shiplog/internal/config"
	"github.com/shiplog-dev/shiplog/internal/engine"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// OpenEngine opens the configured store (its schema must match the binary)
// and an engine over it, configured by cfg with the clock now. The caller
// closes the store.
func (f *Factory) OpenEngine(ctx context.Context, cfg config.Config, now func() time.Time) (*store.Store, *engine.Engine, error) {
	st, err := OpenStore(ctx, cfg, store.Options{Logger: f.Logger(cfg)}, false)
	if err != nil {
		return nil, nil, err
	}
	settings := engine.SettingsFrom(cfg)
	settings.Now = now
	return st, engine.New(st, settings), nil
}
