// Package engine is how surfaces read shiplog's numbers: it loads the
// derived model from the store and hands it to the pure functions of
// history (deployments, their changes, failures and recoveries), metrics
// (KPIs and tiers), policy (policy deviations and traceability) and
// efficiency (manual interventions, automation, Knative cost, features per
// sprint).
package engine

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/shiplog-dev/shiplog/internal/engine/efficiency"
	"github.com/shiplog-dev/shiplog/internal/engine/history"
	"github.com/shiplog-dev/shiplog/internal/engine/metrics"
	"github.com/shiplog-dev/shiplog/internal/engine/policy"
	"github.com/shiplog-dev/shiplog/internal/engine/trace"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// Settings are the engine's definitions, from configuration.
type Settings struct {
	Teams          map[string]string // app → team
	ProductionEnvs []string          // environments the DORA metrics count by default
	Thresholds     metrics.Thresholds
	Now            func() time.Time
	// Policies are the rules deployments are checked against; nil: the
	// starter set (policy.Starter).
	Policies []policy.Rule
	// Policy is what rules see as the CEL variable `policy`.
	Policy policy.Config
	// Efficiency holds the efficiency definitions' settings; zero sprint
	// settings take efficiency's defaults, Teams is filled from Teams.
	Efficiency efficiency.Settings
}

// Engine computes from one store.
type Engine struct {
	st  *store.Store
	cfg Settings
	// policies are compiled once, at start; policyErr says why they did not compile.
	policies  *policy.Set
	policyErr error
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
	if cfg.Policies == nil {
		cfg.Policies = policy.Starter()
	}
	ef := &cfg.Efficiency
	if ef.SprintLength == 0 {
		ef.SprintLength = efficiency.DefaultSprintLength
	}
	if ef.SprintStart.IsZero() {
		ef.SprintStart = efficiency.DefaultSprintStart()
	}
	if ef.Currency == "" {
		ef.Currency = efficiency.DefaultCurrency
	}
	if ef.Teams == nil {
		ef.Teams = cfg.Teams
	}
	e := &Engine{st: st, cfg: cfg}
	e.policies, e.policyErr = policy.Compile(cfg.Policies, cfg.Policy)
	if e.policyErr != nil {
		e.policyErr = fmt.Errorf("policies: %w", e.policyErr)
	}
	return e
}

// PolicyError reports why the configured policies did not compile (nil
// when they did). Config validation catches this earlier; deviations are
// not available while it is not nil.
func (e *Engine) PolicyError() error { return e.policyErr }

// Settings returns the engine's settings.
func (e *Engine) Settings() Settings { return e.cfg }

// History builds the deployment history of every app and environment.
func (e *Engine) History(ctx context.Context) ([]history.Deployment, error) {
	_, deps, err := e.build(ctx)
	return deps, err
}

// build loads the model and builds the deployment history from it.
func (e *Engine) build(ctx context.Context) (history.Input, []history.Deployment, error) {
	in, err := e.load(ctx)
	if err != nil {
		return in, nil, err
	}
	return in, history.Build(in, history.Config{Teams: e.cfg.Teams, Now: e.cfg.Now()}), nil
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
		if d.SourceCommit != "" {
			shas = append(shas, d.SourceCommit) // it stands for the changes when a source names only it
		}
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

// Rules returns the compiled policies.
func (e *Engine) Rules() ([]policy.Rule, error) {
	if e.policyErr != nil {
		return nil, e.policyErr
	}
	return e.policies.Rules(), nil
}

func (e *Engine) isProduction(env string) bool { return slices.Contains(e.cfg.ProductionEnvs, env) }

func policyInput(in history.Input) policy.Input {
	return policy.Input{Changes: in.Changes, PipelineRuns: in.PipelineRuns, Artifacts: in.Artifacts, Syncs: in.Syncs, Revisions: in.Revisions}
}

// DeviationQuery selects the deviations to list.
type DeviationQuery struct {
	App   string
	Team  string
	Envs  []string // empty: every environment
	Since time.Time
	Until time.Time // zero: now
	// Rules keeps only the rules of these names; empty: every rule.
	Rules []string
	// Severity keeps only rules of this severity; empty: every severity.
	Severity policy.Severity
}

// Deviations evaluates the policies over the deployments q selects.
func (e *Engine) Deviations(ctx context.Context, q DeviationQuery) (policy.Result, error) {
	if e.policyErr != nil {
		return policy.Result{}, e.policyErr
	}
	in, deps, err := e.build(ctx)
	if err != nil {
		return policy.Result{}, err
	}
	until := q.Until
	if until.IsZero() {
		until = e.cfg.Now()
	}
	f := policy.Filter{App: q.App, Team: q.Team, Envs: q.Envs, Since: q.Since, Until: until}
	var only func(*policy.Rule) bool
	if len(q.Rules) > 0 || q.Severity != "" {
		only = func(r *policy.Rule) bool {
			return (len(q.Rules) == 0 || slices.Contains(q.Rules, r.Name)) && (q.Severity == "" || r.Severity == q.Severity)
		}
	}
	return e.policies.Evaluate(deps, policy.NewIndex(policyInput(in)), f, e.isProduction, only), nil
}

// Report is every KPI of one query, computed from one read of the store.
type Report struct {
	Metrics      metrics.Report
	Traceability policy.Traceability
	Efficiency   efficiency.Report
	// Deployments is the whole history, for trends and comparisons.
	Deployments []history.Deployment
}

// ScaleLookback is how far before a window's start Knative scale samples
// are read, to know the replica count at the start: shiplog re-samples a
// nonzero count every minute, so a revision with no sample in that time
// was at zero.
const ScaleLookback = 24 * time.Hour

// Report computes the DORA metrics, traceability and efficiency of q.
func (e *Engine) Report(ctx context.Context, q Query) (Report, error) {
	in, deps, err := e.build(ctx)
	if err != nil {
		return Report{}, err
	}
	mf, until := e.filter(q)
	r := Report{Deployments: deps, Metrics: metrics.Compute(deps, mf, q.Since, until, e.cfg.Thresholds)}
	r.Traceability = policy.Trace(deps, policy.NewIndex(policyInput(in)),
		policy.Filter{App: q.App, Team: q.Team, Envs: mf.Envs, Since: q.Since, Until: until})
	if r.Efficiency, err = e.efficiency(ctx, in, deps, q, mf.Envs, until); err != nil {
		return Report{}, err
	}
	return r, nil
}

// Traceability computes the share of q's deployments traceable to a
// reviewed change, with the untraceable ones.
func (e *Engine) Traceability(ctx context.Context, q Query) (policy.Traceability, error) {
	in, deps, err := e.build(ctx)
	if err != nil {
		return policy.Traceability{}, err
	}
	mf, until := e.filter(q)
	return policy.Trace(deps, policy.NewIndex(policyInput(in)), policy.Filter{App: q.App, Team: q.Team, Envs: mf.Envs, Since: q.Since, Until: until}), nil
}

// Efficiency computes the efficiency figures of q.
func (e *Engine) Efficiency(ctx context.Context, q Query) (efficiency.Report, error) {
	in, deps, err := e.build(ctx)
	if err != nil {
		return efficiency.Report{}, err
	}
	mf, until := e.filter(q)
	return e.efficiency(ctx, in, deps, q, mf.Envs, until)
}

// efficiency loads the rows only efficiency reads and computes it.
func (e *Engine) efficiency(ctx context.Context, in history.Input, deps []history.Deployment, q Query, envs []string, until time.Time) (efficiency.Report, error) {
	ein := efficiency.Input{Deployments: deps, Syncs: in.Syncs, Revisions: in.Revisions, Changes: in.Changes}
	scale := store.ModelFilter{Until: until}
	if !q.Since.IsZero() {
		scale.Since = q.Since.Add(-ScaleLookback)
	}
	all := store.ModelFilter{}
	steps := []struct {
		what string
		fn   func() error
	}{
		{"manifest changes", func() (err error) { ein.ManifestChanges, err = e.st.ManifestChanges(ctx, all); return }},
		{"sync statuses", func() (err error) { ein.SyncStatuses, err = e.st.SyncStatuses(ctx, all); return }},
		{"traffic", func() (err error) { ein.Traffic, err = e.st.Traffic(ctx, all); return }},
		{"scale samples", func() (err error) { ein.Scale, err = e.st.ScaleSamples(ctx, scale); return }},
	}
	for _, s := range steps {
		if err := s.fn(); err != nil {
			return efficiency.Report{}, fmt.Errorf("load %s: %w", s.what, err)
		}
	}
	f := efficiency.Filter{App: q.App, Team: q.Team, Envs: envs}
	return efficiency.Compute(ein, f, q.Since, until, e.cfg.Now(), e.cfg.Efficiency), nil
}

// TraceInput loads what trace.Find reads, around the given history.
func (e *Engine) TraceInput(ctx context.Context, deps []history.Deployment) (trace.Input, error) {
	in := trace.Input{Deployments: deps}
	all := store.ModelFilter{}
	steps := []struct {
		what string
		fn   func() error
	}{
		{"commits", func() (err error) { in.Commits, err = e.st.Commits(ctx, all); return }},
		{"pull requests", func() (err error) { in.Changes, err = e.st.Changes(ctx, all); return }},
		{"pipeline runs", func() (err error) { in.PipelineRuns, err = e.st.PipelineRuns(ctx, all); return }},
		{"artifacts", func() (err error) { in.Artifacts, err = e.st.Artifacts(ctx, all); return }},
		{"syncs", func() (err error) { in.Syncs, err = e.st.Syncs(ctx, all); return }},
		{"revisions", func() (err error) { in.Revisions, err = e.st.Revisions(ctx, all); return }},
		{"traffic", func() (err error) { in.Traffic, err = e.st.Traffic(ctx, all); return }},
	}
	for _, s := range steps {
		if err := s.fn(); err != nil {
			return in, fmt.Errorf("load %s: %w", s.what, err)
		}
	}
	return in, nil
}

// Traces returns the traces of the changes q selects.
func (e *Engine) Traces(ctx context.Context, q trace.Query) ([]trace.Trace, error) {
	deps, err := e.History(ctx)
	if err != nil {
		return nil, err
	}
	in, err := e.TraceInput(ctx, deps)
	if err != nil {
		return nil, err
	}
	return trace.Find(in, q), nil
}
