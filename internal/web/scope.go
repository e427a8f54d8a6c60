package web

import (
	"github.com/shiplog-dev/shiplog/internal/access"
	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine/trace"
)

// forView returns the part of the snapshot a principal may see: a scoped
// principal's pages are built from its teams', apps' and environments'
// data only, so that no page shows another team's data, not even in a
// count. Scoped snapshots are built once per snapshot and view.
func (s *snapshot) forView(v access.View) *snapshot {
	if v.All() {
		return s
	}
	key := v.Key()
	s.scopedMu.Lock()
	defer s.scopedMu.Unlock()
	if c, ok := s.scoped[key]; ok {
		return c
	}
	allow := v.Allows
	c := &snapshot{builtAt: s.builtAt, gen: s.gen, now: s.now, settings: s.settings, allow: allow}
	c.in = trace.Scope(s.in, allow, s.team)
	c.deps = c.in.Deployments
	c.apps = keep(s.apps, func(a delivery.App) bool { return allow(a.Name, s.team(a.Name), a.Env) })
	c.health = keep(s.health, func(r delivery.HealthRecord) bool { return allow(r.App, s.team(r.App), r.Env) })
	c.syncStatus = keep(s.syncStatus, func(r delivery.SyncStatusRecord) bool { return allow(r.App, s.team(r.App), r.Env) })
	c.scale = keep(s.scale, func(r delivery.ScaleRecord) bool { return allow(r.App, s.team(r.App), r.Env) })
	c.incidents = keep(s.incidents, func(r delivery.IncidentRecord) bool { return allow(r.App, s.team(r.App), r.Env) })
	c.manifests = keep(s.manifests, func(r delivery.ManifestChangeRecord) bool { return allow(r.App, s.team(r.App), r.Env) })
	c.index()
	if s.scoped == nil {
		s.scoped = map[string]*snapshot{}
	}
	s.scoped[key] = c
	return c
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
