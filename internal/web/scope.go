package web

import (
	"context"

	"github.com/shiplog-dev/shiplog/internal/access"
	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine"
)

// forView returns the part of the snapshot a principal may see: a scoped
// principal's pages are built from its teams', apps' and environments'
// data only, so that no page shows another team's data, not even in a
// count. Scoped snapshots are built once per snapshot and view.
func (s *snapshot) forView(ctx context.Context, eng *engine.Engine, v access.View) (*snapshot, error) {
	if v.All() {
		return s, nil
	}
	key := v.Key()
	s.scopedMu.Lock()
	defer s.scopedMu.Unlock()
	if c, ok := s.scoped[key]; ok {
		return c, nil
	}
	allow := v.Allows
	c := &snapshot{builtAt: s.builtAt, gen: s.gen, now: s.now, settings: s.settings, allow: allow, parent: s}
	var err error
	if c.parts, err = eng.Partitions(ctx, engine.PartitionQuery{Allow: allow}); err != nil {
		return nil, err
	}
	if c.inFlight, err = eng.InFlight(ctx, allow); err != nil {
		return nil, err
	}
	c.apps = keep(s.apps, func(a delivery.App) bool { return allow(a.Name, s.team(a.Name), a.Env) })
	c.index()
	if s.scoped == nil {
		s.scoped = map[string]*snapshot{}
	}
	s.scoped[key] = c
	return c, nil
}

func keep[T any](rows []T, ok func(T) bool) []T {
	var out []T
	for _, r := range rows {
		if ok(r) {
			out = append(out, r)
		}
	}
	return out
}
