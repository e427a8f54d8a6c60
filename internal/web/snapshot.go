package web

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine"
	"github.com/shiplog-dev/shiplog/internal/engine/history"
	"github.com/shiplog-dev/shiplog/internal/live"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// snapshot is what every page reads of the model, loaded once and shared
// until the store changes: the engine's partitions (each app and
// environment with its history, latest health, sync status and traffic,
// shared with the engine, not copied), the work in flight, the apps as
// sources reported them and the last 30 days of Knative scale samples.
// Pages select partitions and windows of them (binary searches by live
// time), so that a page costs what it shows, not what the store holds.
type snapshot struct {
	builtAt  time.Time
	gen      uint64
	now      time.Time
	settings engine.Settings

	parts    []engine.Partition // app then environment order
	inFlight engine.InFlight
	apps     []delivery.App

	// The last 30 days of Knative scale samples, read on first use (by
	// the Applications page); a scoped snapshot keeps its scope's part of
	// its parent's.
	st        *store.Store
	parent    *snapshot
	scaleOnce sync.Once
	scale     []delivery.ScaleRecord
	scaleErr  error

	teams    []string // sorted: configured teams and those events name
	depTeams []string // sorted: the teams deployments are counted under (configured)
	envs     []string // in flow order (dev before prod)

	scopedMu sync.Mutex
	scoped   map[string]*snapshot // by access.View key: see forView

	pagesMu sync.Mutex
	pages   map[string]*builtPage // by page, language and URL: see built
	// allow is the scope of a scoped snapshot, for what pages ask the
	// engine directly (nil: everything).
	allow func(app, team, env string) bool
}

// team is an app's team: configured, else as the events said.
func (s *snapshot) team(app string) string {
	if t := s.settings.Teams[app]; t != "" {
		return t
	}
	for _, a := range s.apps {
		if a.Name == app && a.Team != "" {
			return a.Team
		}
	}
	return ""
}

// recentScale returns the Knative scale samples of the last 30 days.
func (s *snapshot) recentScale(ctx context.Context) ([]delivery.ScaleRecord, error) {
	s.scaleOnce.Do(func() {
		if s.parent != nil {
			all, err := s.parent.recentScale(ctx)
			s.scale, s.scaleErr = keep(all, func(r delivery.ScaleRecord) bool { return s.allow(r.App, s.team(r.App), r.Env) }), err
			return
		}
		s.scale, s.scaleErr = s.st.ScaleSamples(ctx, store.ModelFilter{Since: s.now.Add(-30 * 24 * time.Hour)})
		if s.scaleErr != nil {
			s.scaleErr = fmt.Errorf("load scale samples: %w", s.scaleErr)
		}
	})
	return s.scale, s.scaleErr
}

// partsOf returns the partitions of app (every app: ""), keeping envs
// (empty: every environment).
func (s *snapshot) partsOf(app string, envs []string) []engine.Partition {
	var out []engine.Partition
	for _, p := range s.parts {
		if (app == "" || p.App == app) && (len(envs) == 0 || slices.Contains(envs, p.Env)) {
			out = append(out, p)
		}
	}
	return out
}

// hasDeployments reports whether any partition has a deployment.
func (s *snapshot) hasDeployments() bool {
	return slices.ContainsFunc(s.parts, func(p engine.Partition) bool { return len(p.Deployments) > 0 })
}

// deployedApps returns the apps with a deployment, sorted.
func (s *snapshot) deployedApps() []string {
	apps := map[string]bool{}
	for _, p := range s.parts {
		if len(p.Deployments) > 0 {
			apps[p.App] = true
		}
	}
	return slices.Sorted(maps.Keys(apps))
}

// builtPage is what a page builder made of the snapshot for one URL.
type builtPage struct {
	data        any
	title, live string
	print       bool
}

// maxBuiltPages bounds the pages a snapshot keeps.
const maxBuiltPages = 128

// built returns what build makes of the snapshot for the page name in
// lang at u, made once per snapshot (the snapshot is a fixed state of the
// model, so the result does not change): every open browser that
// refreshes a page after a change, and every reload, shares one build.
// The query's fragment and lang parameters do not change what is built.
func (s *snapshot) built(name, lang string, u *url.URL, r *request, build func(*request) (any, error)) (any, error) {
	q := u.Query()
	q.Del("fragment")
	q.Del("lang")
	key := name + "\x00" + lang + "\x00" + u.Path + "?" + q.Encode()
	s.pagesMu.Lock()
	b := s.pages[key]
	s.pagesMu.Unlock()
	if b == nil {
		data, err := build(r)
		if err != nil {
			return nil, err
		}
		b = &builtPage{data: data, title: r.title, live: r.live, print: r.print}
		s.pagesMu.Lock()
		if s.pages == nil {
			s.pages = map[string]*builtPage{}
		}
		if len(s.pages) < maxBuiltPages {
			s.pages[key] = b
		}
		s.pagesMu.Unlock()
	}
	r.title, r.live, r.print = b.title, b.live, b.print
	return b.data, nil
}

// snapshots hands out the current snapshot, rebuilding it when the hub
// reports an append or it is older than maxAge.
type snapshots struct {
	eng    *engine.Engine
	st     *store.Store
	hub    *live.Hub
	maxAge time.Duration

	mu  sync.Mutex // held while building: one build at a time, shared
	cur *snapshot
}

func newSnapshots(eng *engine.Engine, st *store.Store, hub *live.Hub, maxAge time.Duration) *snapshots {
	return &snapshots{eng: eng, st: st, hub: hub, maxAge: maxAge}
}

func (ss *snapshots) generation() uint64 {
	if ss.hub == nil {
		return 0
	}
	return ss.hub.Generation()
}

func (ss *snapshots) get(ctx context.Context) (*snapshot, error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	gen := ss.generation()
	if c := ss.cur; c != nil && c.gen == gen && time.Since(c.builtAt) < ss.maxAge {
		return c, nil
	}
	s, err := ss.build(ctx, gen)
	if err != nil {
		return nil, err
	}
	ss.cur = s
	return s, nil
}

func (ss *snapshots) build(ctx context.Context, gen uint64) (*snapshot, error) {
	s := &snapshot{builtAt: time.Now(), gen: gen, settings: ss.eng.Settings(), st: ss.st}
	s.now = s.settings.Now()
	steps := []struct {
		what string
		fn   func() error
	}{
		{"partitions", func() (err error) { s.parts, err = ss.eng.Partitions(ctx, engine.PartitionQuery{}); return }},
		{"work in flight", func() (err error) { s.inFlight, err = ss.eng.InFlight(ctx, nil); return }},
		{"apps", func() (err error) { s.apps, err = ss.st.Apps(ctx, store.ModelFilter{}); return }},
	}
	for _, st := range steps {
		if err := st.fn(); err != nil {
			return nil, fmt.Errorf("load %s: %w", st.what, err)
		}
	}
	s.index()
	return s, nil
}

// index lists the teams and environments the snapshot's apps and
// deployments name.
func (s *snapshot) index() {
	teams, depTeams, envs, seen := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, a := range s.apps {
		envs[a.Env] = true
		if !seen[a.Name] { // an app has a row per environment: look its team up once
			seen[a.Name] = true
			if t := s.team(a.Name); t != "" {
				teams[t] = true
			}
		}
	}
	for _, p := range s.parts {
		if n := len(p.Deployments); n > 0 {
			envs[p.Env] = true
			for _, d := range []*history.Deployment{&p.Deployments[0], &p.Deployments[n-1]} { // one team per partition, as configured
				if d.Team != "" {
					teams[d.Team], depTeams[d.Team] = true, true
				}
			}
		}
	}
	s.teams = slices.Sorted(maps.Keys(teams))
	s.depTeams = slices.Sorted(maps.Keys(depTeams))
	s.envs = mapKeys(envs)
	slices.SortFunc(s.envs, compareEnvs)
}

// envRank orders well-known environment names along the flow.
var envRank = map[string]int{"dev": 1, "development": 1, "test": 2, "qa": 2, "int": 2, "integration": 2,
	"staging": 3, "stage": 3, "preprod": 4, "pre-prod": 4, "uat": 4, "prod": 5, "production": 5}

func compareEnvs(a, b string) int {
	ra, rb := envRank[a], envRank[b]
	if ra == 0 {
		ra = 4
	}
	if rb == 0 {
		rb = 4
	}
	if ra != rb {
		return ra - rb
	}
	return strings.Compare(a, b)
}
