package engine

import (
	"context"

	"github.com/shiplog-dev/shiplog/internal/engine/history"
	"github.com/shiplog-dev/shiplog/internal/engine/trace"
)

// AuditInput is a placeholder until the store lookups land.
func (e *Engine) AuditInput(ctx context.Context, deps []history.Deployment) (trace.Input, error) {
	return e.TraceInput(ctx, deps)
}

