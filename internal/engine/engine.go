// Package engine is how surfaces read shiplog's numbers: it loads the
// derived model from the store and hands it to the pure functions of
// history (deployments, their changes, failures and recoveries) and metrics
// (KPIs and tiers).
package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/shiplog-dev/shiplog/internal/engine/history"
	"github.com/shiplog-dev/shiplog/internal/engine/metrics"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// Settings are the engine's definitions, from configuration.
type Settings struct {
	Teams          map[string]string // app → team
	ProductionEnvs []string          // environments the DORA metrics count by default
	Thresholds     metrics.Thresholds
	Now            func() time.Time
}

// Engine computes from one store.
type Engine struct {
	st  *store.Store
	cfg Settings
}

// New returns an engine over st.
func New(st *store.Store, cfg Settings) *Engine {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if len(cfg.ProductionEnvs) == 0 {
		cfg.ProductionEnvs = []string{"prod", "production"}
	}
	if cfg.Thresholds == (metrics.Thresholds{}) {
		cfg.Thresholds = metrics.DefaultThresholds()
	}
	return &Engine{st: st, cfg: cfg}
}

// Settings returns the engine's settings.
func (e *Engine) Settings() Settings { return e.cfg }

// History builds the deployment history of every app and environment.
func (e *Engine) History(ctx context.Context) ([]history.Deployment, error) {
	in, err := e.load(ctx)
	if err != nil {
		return nil, err
	}
	return history.Build(in, history.Config{Teams: e.cfg.Teams, Now: e.cfg.Now()}), nil
}

// load reads the model rows the history needs.
func (e *Engine) load(ctx context.Context) (history.Input, error) {
	var in history.Input
	var err error
	all := store.ModelFilter{}
	steps := []struct {
		what string
		fn   func() error
	}{
		{"deployments", func() (err error) { in.Deployments, err = e.st.Deployments(ctx, all); return }},
		{"syncs", func() (err error) { in.Syncs, err = e.st.Syncs(ctx, all); return }},
		{"health", func() (err error) { in.Health, err = e.st.HealthTransitions(ctx, all); return }},
		{"revisions", func() (err error) { in.Revisions, err = e.st.Revisions(ctx, all); return }},
		{"incidents", func() (err error) { in.Incidents, err = e.st.Incidents(ctx, all); return }},
		{"pull requests", func() (err error) { in.Changes, err = e.st.Changes(ctx, all); return }},
		{"pipeline runs", func() (err error) { in.PipelineRuns, err = e.st.PipelineRuns(ctx, all); return }},
		{"artifacts", func() (err error) { in.Artifacts, err = e.st.Artifacts(ctx, all); return }},
	}
	for _, s := range steps {
		if err = s.fn(); err != nil {
			return in, fmt.Errorf("load %s: %w", s.what, err)
		}
	}
	var shas []string
	for _, d := range in.Deployments {
		shas = append(shas, d.Changes...)
	}
	if in.Commits, err = e.st.CommitsBySHA(ctx, shas); err != nil {
		return in, fmt.Errorf("load commits: %w", err)
	}
	return in, nil
}

// Query selects the deployments a metrics computation counts.
type Query struct {
	App   string
	Team  string
	Envs  []string // empty: the production environments
	Since time.Time
	Until time.Time // zero: now
}

func (e *Engine) filter(q Query) (metrics.Filter, time.Time) {
	envs := q.Envs
	if len(envs) == 0 {
		envs = e.cfg.ProductionEnvs
	}
	until := q.Until
	if until.IsZero() {
		until = e.cfg.Now()
	}
	return metrics.Filter{App: q.App, Team: q.Team, Envs: envs}, until
}

// Metrics computes the KPIs of q.
func (e *Engine) Metrics(ctx context.Context, q Query) (metrics.Report, []history.Deployment, error) {
	deps, err := e.History(ctx)
	if err != nil {
		return metrics.Report{}, nil, err
	}
	f, until := e.filter(q)
	return metrics.Compute(deps, f, q.Since, until, e.cfg.Thresholds), deps, nil
}

// Compare computes the KPIs of q before and after at.
func (e *Engine) Compare(ctx context.Context, q Query, at time.Time) (metrics.Comparison, error) {
	deps, err := e.History(ctx)
	if err != nil {
		return metrics.Comparison{}, err
	}
	f, until := e.filter(q)
	return metrics.Compare(deps, f, q.Since, at, until, e.cfg.Thresholds), nil
}
