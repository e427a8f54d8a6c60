package web

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shiplog-dev/shiplog/internal/api"
	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine"
	"github.com/shiplog-dev/shiplog/internal/engine/history"
	"github.com/shiplog-dev/shiplog/internal/engine/trace"
	"github.com/shiplog-dev/shiplog/internal/live"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// snapshot is the model every page reads, loaded once and shared until the
// store changes: building the deployment history is the expensive part of
// any page (tens of milliseconds on a few tens of thousands of events), and
// it depends on nothing but the store and the clock.
type snapshot struct {
	builtAt  time.Time
	gen      uint64
	now      time.Time
	settings engine.Settings

	deps       []history.Deployment // live-time order
	in         trace.Input          // deps plus the model rows traces read
	apps       []delivery.App
	health     []delivery.HealthRecord
	syncStatus []delivery.SyncStatusRecord
	scale      []delivery.ScaleRecord // the last 30 days
	incidents  []delivery.IncidentRecord
	manifests  []delivery.ManifestChangeRecord

	teams    []string // sorted: configured teams and those events name
	depTeams []string // sorted: the teams deployments are counted under (configured)
	envs     []string // in flow order (dev before prod)

	auditOnce sync.Once
	audit     []api.AuditEntry // per deps[i]

	scopedMu sync.Mutex
	scoped   map[string]*snapshot // by access.View key: see forView
	// allow is the scope of a scoped snapshot, for what pages ask the
	// engine directly (nil: everything).
	allow func(app, team, env string) bool
}

// auditEntries is the audit entry of each deployment, built on first use.
func (s *snapshot) auditEntries() []api.AuditEntry {
	s.auditOnce.Do(func() { s.audit = api.AuditEntries(s.deps, s.in) })
	return s.audit
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

// change finds the pull request that shipped a source commit (merged as
// it, or headed by it), else the one with number pr.
func (s *snapshot) change(sha string, pr int64) *delivery.ChangeRecord {
	if sha != "" {
		for i := range s.in.Changes {
			c := &s.in.Changes[i]
			if hasPrefix(c.MergeSHA, sha) || hasPrefix(c.HeadSHA, sha) {
				return c
			}
		}
	}
	if pr != 0 {
		for i := range s.in.Changes {
			if s.in.Changes[i].Number == pr {
				return &s.in.Changes[i]
			}
		}
	}
	return nil
}

func hasPrefix(full, short string) bool {
	return short != "" && full != "" && (strings.HasPrefix(full, short) || strings.HasPrefix(short, full))
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
	s := &snapshot{builtAt: time.Now(), gen: gen, settings: ss.eng.Settings()}
	s.now = s.settings.Now()
	var err error
	if s.deps, err = ss.eng.History(ctx); err != nil {
		return nil, err
	}
	if s.in, err = ss.eng.TraceInput(ctx, s.deps); err != nil {
		return nil, err
	}
	all := store.ModelFilter{}
	steps := []struct {
		what string
		fn   func() error
	}{
		{"apps", func() (err error) { s.apps, err = ss.st.Apps(ctx, all); return }},
		{"health", func() (err error) { s.health, err = ss.st.HealthTransitions(ctx, all); return }},
		{"sync statuses", func() (err error) { s.syncStatus, err = ss.st.SyncStatuses(ctx, all); return }},
		{"incidents", func() (err error) { s.incidents, err = ss.st.Incidents(ctx, all); return }},
		{"manifest changes", func() (err error) { s.manifests, err = ss.st.ManifestChanges(ctx, all); return }},
		{"scale samples", func() (err error) {
			s.scale, err = ss.st.ScaleSamples(ctx, store.ModelFilter{Since: s.now.Add(-30 * 24 * time.Hour)})
			return
		}},
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
	for _, d := range s.deps {
		envs[d.Env] = true
		if d.Team != "" {
			teams[d.Team], depTeams[d.Team] = true, true
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
