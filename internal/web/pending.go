package web

// Placeholders until the store's indexed lookups land (this file goes then).

import (
	"context"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine"
	"github.com/shiplog-dev/shiplog/internal/engine/trace"
	"github.com/shiplog-dev/shiplog/internal/store"
)

func findChanges(ctx context.Context, st *store.Store, shas []string, number int64) ([]delivery.ChangeRecord, error) {
	all, err := st.Changes(ctx, store.ModelFilter{})
	if err != nil {
		return nil, err
	}
	var out []delivery.ChangeRecord
	for _, c := range all {
		ok := number != 0 && c.Number == number
		for _, s := range shas {
			ok = ok || hasPrefix(c.MergeSHA, s) || hasPrefix(c.HeadSHA, s)
		}
		if ok {
			out = append(out, c)
		}
	}
	return out, nil
}

func tracesPage(ctx context.Context, eng *engine.Engine, q trace.Query, limit int) ([]trace.Trace, int, error) {
	all, err := eng.Traces(ctx, q)
	if err != nil {
		return nil, 0, err
	}
	return all[:min(len(all), limit)], len(all), nil
}
