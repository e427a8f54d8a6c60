// Package engine is how surfaces read shiplog's numbers: it keeps the
// derived model in memory, partitioned by app and environment, reads only
// what changed in the store since it last looked, and hands each
// partition to the pure functions of history (deployments, their changes,
// failures and recoveries), policy (policy deviations and traceability)
// and efficiency (manual interventions, automation, Knative cost, features
// per sprint); metrics computes the KPIs of a query from the partitions it
// selects. docs/store.md ("The engine's model") describes the design.
package engine

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
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
	// Adoption overrides the detected GitOps adoption date of these apps
	// (config metrics.gitops_adoption).
	Adoption map[string]time.Time
}

// Engine computes from one store. It is safe for concurrent use: requests
// read an immutable view of the model; one refresh at a time brings it up
// to date, shared by the requests that wait for it.
type Engine struct {
	st  *store.Store
	cfg Settings
	// policies are compiled once, at start; policyErr says why they did not compile.
	policies  *policy.Set
	policyErr error
	rules     map[string]*policy.Rule

	// refresh is held by the one refresh running; m and lastOK belong to
	// its holder.
	refresh chan struct{}
	started atomic.Uint64 // refreshes started
	lastOK  uint64        // the number of the last refresh that succeeded
	m       *model
	cur     atomic.Pointer[view]
	stats   RefreshStats // of the last refresh, under refresh
}

// RefreshStats say what the last refresh did.
type RefreshStats struct {
	Rows       int           // rows read from the store
	Partitions int           // partitions rebuilt
	Total      int           // partitions in the model
	Took       time.Duration // reading and rebuilding
}

// New returns an engine over st. It reads nothing until first asked.
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
	e := &Engine{st: st, cfg: cfg, refresh: make(chan struct{}, 1), m: newModel(), rules: map[string]*policy.Rule{}}
	e.policies, e.policyErr = policy.Compile(cfg.Policies, cfg.Policy)
	if e.policyErr != nil {
		e.policyErr = fmt.Errorf("policies: %w", e.policyErr)
	} else {
		for _, r := range e.policies.Rules() {
			e.rules[r.Name] = &r
		}
	}
	return e
}

// PolicyError reports why the configured policies did not compile (nil
// when they did). Config validation catches this earlier; deviations are
// not available while it is not nil.
func (e *Engine) PolicyError() error { return e.policyErr }

// Settings returns the engine's settings.
func (e *Engine) Settings() Settings { return e.cfg }

// LastRefresh says what the last refresh did.
func (e *Engine) LastRefresh() RefreshStats {
	e.refresh <- struct{}{}
	defer func() { <-e.refresh }()
	return e.stats
}

// current returns a view that holds every change committed to the store
// before the call: the one of a refresh that started after the call
// arrived, or a new one.
func (e *Engine) current(ctx context.Context) (*view, error) {
	arrived := e.started.Load()
	select {
	case e.refresh <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-e.refresh }()
	if e.lastOK > arrived {
		return e.cur.Load(), nil
	}
	n := e.started.Add(1)
	v, err := e.update(ctx)
	if err != nil {
		return nil, err
	}
	e.lastOK = n
	return v, nil
}

// bigLoad is the number of rows above which a first load returns its
// garbage to the operating system at once.
const bigLoad = 1_000_000

// update reads what changed in the store, rebuilds the partitions it
// touches (and those whose build the clock made stale) and publishes the
// new view.
func (e *Engine) update(ctx context.Context) (*view, error) {
	start := time.Now()
	m, old := e.m, e.cur.Load()
	now := e.cfg.Now()
	var c *store.ModelChanges
	var err error
	if !m.loaded {
		c, err = e.st.ModelChanges(ctx, 0, modelTables)
	} else {
		var changed bool
		if changed, err = e.st.ModelChanged(ctx, m.horizon, modelTables); err == nil && changed {
			c, err = e.st.ModelChanges(ctx, m.horizon, modelTables)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	dirty := map[appEnv]bool{}
	changes, lists := false, false          // merged pull requests; incidents or scale samples
	var routes map[nsKey]*efficiency.Routes // when some changed
	if c != nil {
		cs := m.apply(c)
		m.horizon, m.loaded = c.Horizon, true
		dirty, changes, lists = cs.parts, cs.changes, cs.incidents || cs.scale
		if len(cs.ns) > 0 {
			routes = map[nsKey]*efficiency.Routes{}
			if old != nil {
				maps.Copy(routes, old.routes)
			}
			for k := range cs.ns {
				if list := m.traffic[k]; len(list) > 0 {
					routes[k] = efficiency.PrepareRoutes(k.cluster, k.ns, values(list), func(name string) *delivery.RevisionRecord {
						return m.revisions[revKey{k.cluster, k.ns, name}]
					})
				} else {
					delete(routes, k)
				}
			}
		}
		if old != nil && len(cs.links) > 0 {
			hashes := make([]uint64, len(cs.links))
			for i, l := range cs.links {
				hashes[i] = linkHash(l)
			}
			for ae, p := range old.parts {
				if dirty[ae] {
					continue
				}
				for _, h := range hashes {
					if p.links.has(h) {
						dirty[ae] = true
						break
					}
				}
			}
		}
	}
	if old != nil {
		for ae, p := range old.parts {
			if !p.valid(now) {
				dirty[ae] = true
			}
		}
	}
	e.stats = RefreshStats{Took: time.Since(start)}
	if c != nil {
		e.stats.Rows = c.Rows()
	}
	if old != nil && len(dirty) == 0 && !changes && !lists && routes == nil && !m.open.dirty {
		e.stats.Total = len(old.parts)
		if c != nil && c.Horizon != old.horizon {
			v := &view{horizon: c.Horizon, parts: old.parts, keys: old.keys, merged: old.merged, routes: old.routes, routeList: old.routeList,
				inFlight: old.inFlight, incidents: old.incidents, scale: old.scale}
			e.cur.Store(v)
			return v, nil
		}
		return old, nil
	}
	v := &view{horizon: m.horizon, parts: map[appEnv]*part{}, merged: m.merged, incidents: m.incidentList, scale: m.scale}
	if old == nil || m.open.dirty {
		v.inFlight = m.open.list()
	} else {
		v.inFlight = old.inFlight
	}
	if routes != nil {
		v.routes = routes
		for _, r := range routes {
			v.routeList = append(v.routeList, r)
		}
		slices.SortFunc(v.routeList, func(a, b *efficiency.Routes) int {
			return cmp.Or(strings.Compare(a.Cluster, b.Cluster), strings.Compare(a.Namespace, b.Namespace))
		})
	} else if old != nil {
		v.routes, v.routeList = old.routes, old.routeList
	}
	if old == nil {
		for ae := range m.parts {
			dirty[ae] = true
		}
	} else {
		for ae, p := range old.parts {
			if !dirty[ae] {
				v.parts[ae] = p
			}
		}
	}
	var todo []appEnv
	for ae := range dirty {
		if m.parts[ae] != nil {
			todo = append(todo, ae)
		}
	}
	built := make([]*part, len(todo))
	var wg sync.WaitGroup
	var next atomic.Int64
	for range min(runtime.GOMAXPROCS(0), len(todo)) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(todo); i = int(next.Add(1) - 1) {
				built[i] = e.build(todo[i], m.parts[todo[i]], now)
			}
		})
	}
	wg.Wait()
	for _, p := range built {
		v.parts[p.ae] = p
	}
	for ae := range v.parts {
		v.keys = append(v.keys, ae)
	}
	slices.SortFunc(v.keys, compareAE)
	e.stats.Partitions, e.stats.Total, e.stats.Took = len(todo), len(v.parts), time.Since(start)
	e.cur.Store(v)
	if old == nil && e.stats.Rows > bigLoad {
		// A first read of a large store leaves gigabytes of garbage (the rows
		// as read, the builds' scratch): give it back now rather than at the
		// runtime's pace.
		debug.FreeOSMemory()
	}
	return v, nil
}

// build builds one partition: its history, the policy facts and checks of
// each deployment, and its efficiency figures.
func (e *Engine) build(ae appEnv, r *rows, now time.Time) *part {
	rec := &recorder{}
	l := e.m.idx.With(rec)
	p := &part{ae: ae, rows: *r}
	p.rows.owned = 0
	p.deps = history.BuildPartition(history.Partition{App: ae.app, Env: ae.env, Deployments: values(r.deployments), Syncs: values(r.syncs),
		Health: values(r.health), Revisions: values(r.revisions)}, l, history.Config{Teams: e.cfg.Teams, Now: now})
	p.at = make([]int64, len(p.deps))
	for i := range p.deps {
		p.at[i] = p.deps[i].LiveAt.UnixNano()
	}
	p.validFrom, p.validUntil = validity(r.deployments, now)
	px := policy.NewIndexOn(l, r.revisions)
	prod := e.isProduction(ae.env)
	p.missing = make([]uint8, len(p.deps))
	for i := range p.deps {
		d := &p.deps[i]
		for _, f := range d.Failures {
			if f.Reason == history.FailIncident {
				p.blamed = append(p.blamed, f.Ref)
			}
		}
		f := px.Facts(d)
		p.missing[i] = linkBits(f.Missing)
		if e.policyErr != nil {
			continue
		}
		v := policy.Variables(d, &f, prod)
		if devs, errs := e.policies.Check(d, &v, nil); len(devs) > 0 || len(errs) > 0 {
			p.checks = append(p.checks, depCheck{i: int32(i), deviations: devs, errors: errs})
		}
	}
	p.eff = efficiency.Prepare(efficiency.Input{Deployments: p.deps, Syncs: values(r.syncs), SyncStatuses: values(r.statuses),
		ManifestChanges: values(r.manifests)}, e.cfg.Efficiency)
	p.revs = make(map[revKey]*delivery.RevisionRecord, len(r.revisions))
	ns := map[nsKey]bool{}
	for _, rv := range r.revisions {
		p.revs[revKey{rv.Cluster, rv.Namespace, rv.Name}] = rv
		ns[nsKey{rv.Cluster, rv.Namespace}] = true
	}
	p.namespaces = slices.SortedFunc(maps.Keys(ns), func(a, b nsKey) int {
		return cmp.Or(strings.Compare(a.cluster, b.cluster), strings.Compare(a.ns, b.ns))
	})
	p.repos = sourceRepos(l, p.deps)
	p.links = newLinkSet(rec.hashes)
	p.shas = newShipIndex(p.deps)
	return p
}

// linkBits and missingLinks turn a list of policy.Links into bits and back.
func linkBits(missing []string) uint8 {
	var b uint8
	for _, m := range missing {
		if i := slices.Index(policy.Links, m); i >= 0 {
			b |= 1 << i
		}
	}
	return b
}

func missingLinks(b uint8) []string {
	var out []string
	for i, l := range policy.Links {
		if b&(1<<i) != 0 {
			out = append(out, l)
		}
	}
	return out
}

// History returns the deployment history of every app and environment, in
// live-time order. The slice is shared: callers must not change it.
func (e *Engine) History(ctx context.Context) ([]history.Deployment, error) {
	v, err := e.current(ctx)
	if err != nil {
		return nil, err
	}
	return v.history(), nil
}

// Query selects the deployments a metrics computation counts.
type Query struct {
	App   string
	Team  string
	Envs  []string // empty: the production environments
	Since time.Time
	Until time.Time // zero: now
	// Allow, when set, keeps only the apps and environments it allows:
	// the scope of the principal asking (docs/security.md).
	Allow func(app, team, env string) bool
	// Summary has Efficiency leave out its item lists, and the work of
	// making them: its report is then efficiency.Report.Summary's.
	Summary bool
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

// partitions returns the partitions of v that app, team and envs (empty:
// every one) and allow (nil: everything) keep, in partition order.
func (e *Engine) partitions(v *view, app, team string, envs []string, allow func(app, team, env string) bool) []*part {
	var out []*part
	for _, k := range v.keys {
		if (app == "" || k.app == app) && (team == "" || e.cfg.Teams[k.app] == team) && (len(envs) == 0 || slices.Contains(envs, k.env)) &&
			(allow == nil || allow(k.app, e.cfg.Teams[k.app], k.env)) {
			out = append(out, v.parts[k])
		}
	}
	return out
}

// windows returns each partition's deployments that went live in [since, until).
func windows(parts []*part, since, until time.Time) [][]history.Deployment {
	out := make([][]history.Deployment, len(parts))
	for i, p := range parts {
		out[i] = p.window(since, until)
	}
	return out
}

// liveTimes returns the live times of each partition's deployments of
// [since, until), for mergeRefs.
func liveTimes(parts []*part, since, until time.Time) [][]int64 {
	out := make([][]int64, len(parts))
	for i, p := range parts {
		lo, hi := p.bounds(since, until)
		out[i] = p.at[lo:hi]
	}
	return out
}

// mergeWindows merges the windows of parts into Build's order.
func mergeWindows(parts []*part, w [][]history.Deployment, since, until time.Time) []history.Deployment {
	refs := mergeRefs(liveTimes(parts, since, until))
	out := make([]history.Deployment, len(refs))
	for i, r := range refs {
		out[i] = w[r[0]][r[1]]
	}
	return out
}

// Metrics computes the KPIs of q, and returns the deployments q selects
// (its app, team and environments, live in its window) in live-time order.
func (e *Engine) Metrics(ctx context.Context, q Query) (metrics.Report, []history.Deployment, error) {
	v, err := e.current(ctx)
	if err != nil {
		return metrics.Report{}, nil, err
	}
	f, until := e.filter(q)
	parts := e.partitions(v, f.App, f.Team, f.Envs, q.Allow)
	w := windows(parts, q.Since, until)
	return metrics.ComputeParts(w, f, q.Since, until, e.cfg.Thresholds), mergeWindows(parts, w, q.Since, until), nil
}

// Compare computes the KPIs of q before and after at.
func (e *Engine) Compare(ctx context.Context, q Query, at time.Time) (metrics.Comparison, error) {
	v, err := e.current(ctx)
	if err != nil {
		return metrics.Comparison{}, err
	}
	f, until := e.filter(q)
	parts := e.partitions(v, f.App, f.Team, f.Envs, q.Allow)
	th := e.cfg.Thresholds
	return metrics.Comparison{At: at, Before: metrics.ComputeParts(windows(parts, q.Since, at), f, q.Since, at, th),
		After: metrics.ComputeParts(windows(parts, at, until), f, at, until, th)}, nil
}

// DeploymentQuery selects deployments to list.
type DeploymentQuery struct {
	App   string
	Team  string
	Envs  []string // empty: every environment
	Since time.Time
	Until time.Time // zero: no end
	// Failed keeps only failed deployments (true) or those that did not
	// fail (false); nil keeps both.
	Failed *bool
	Offset int
	Limit  int // 0: no limit
	// Allow, when set, keeps only the apps and environments it allows:
	// the scope of the principal asking (docs/security.md).
	Allow func(app, team, env string) bool
}

// Deployments lists the deployments q selects, newest first: a page of an
// app's history costs what the page holds, not what the store holds.
func (e *Engine) Deployments(ctx context.Context, q DeploymentQuery) ([]history.Deployment, error) {
	v, err := e.current(ctx)
	if err != nil {
		return nil, err
	}
	w := windows(e.partitions(v, q.App, q.Team, q.Envs, q.Allow), q.Since, q.Until)
	var out []history.Deployment
	for _, d := range walkBack(w, func(d *history.Deployment) bool { return q.Failed == nil || d.Failed() == *q.Failed }, q.Offset, q.Limit) {
		out = append(out, *d)
	}
	return out, nil
}

// walkBack returns the page [offset, offset+limit) (limit ≤ 0: to the
// end) of the deployments of w (windows of partitions, in partition order)
// that keep keeps, newest first: the history's order reversed, merged on
// the fly from the windows' ends (among deployments live at the same
// time, the later partition first), so that a page costs its offset and
// size, not the windows'.
func walkBack(w [][]history.Deployment, keep func(*history.Deployment) bool, offset, limit int) []*history.Deployment {
	pos := make([]int, len(w))
	for i := range w {
		pos[i] = len(w[i]) - 1
	}
	var out []*history.Deployment
	for seen := 0; limit <= 0 || len(out) < limit; {
		best := -1
		for i := range w {
			if pos[i] >= 0 && (best < 0 || !w[i][pos[i]].LiveAt.Before(w[best][pos[best]].LiveAt)) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		d := &w[best][pos[best]]
		pos[best]--
		if !keep(d) {
			continue
		}
		if seen++; seen > offset {
			out = append(out, d)
		}
	}
	return out
}

// Rules returns the compiled policies.
func (e *Engine) Rules() ([]policy.Rule, error) {
	if e.policyErr != nil {
		return nil, e.policyErr
	}
	return e.policies.Rules(), nil
}

func (e *Engine) isProduction(env string) bool { return slices.Contains(e.cfg.ProductionEnvs, env) }

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
	// Allow, when set, keeps only the apps and environments it allows:
	// the scope of the principal asking (docs/security.md).
	Allow func(app, team, env string) bool
}

// newestFirst calls keep with each deployment of parts (windows of
// partitions, in partition order) that went live in the window, in
// partition order, then f with those keep selected, newest first: in
// Build's order reversed. Only the selected are ordered, so that counting
// a window costs no merge of its partitions.
func newestFirst(parts []*part, w [][]history.Deployment, since time.Time, keep func(p *part, i int, d *history.Deployment) bool,
	f func(p *part, i int, d *history.Deployment)) {
	type ref struct {
		at        int64
		part, pos int32
	}
	var sel []ref
	for k, p := range parts {
		off := p.offset(since) // where w[k] starts in p.deps
		for j := range w[k] {
			if keep(p, off+j, &w[k][j]) {
				sel = append(sel, ref{p.at[off+j], int32(k), int32(off + j)})
			}
		}
	}
	// mergeRefs' order: live time, then partition, then position.
	slices.SortFunc(sel, func(a, b ref) int {
		return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.part, b.part), cmp.Compare(a.pos, b.pos))
	})
	for j := len(sel) - 1; j >= 0; j-- {
		r := sel[j]
		p := parts[r.part]
		f(p, int(r.pos), &p.deps[r.pos])
	}
}

// Deviations evaluates the policies over the deployments q selects.
func (e *Engine) Deviations(ctx context.Context, q DeviationQuery) (policy.Result, error) {
	if e.policyErr != nil {
		return policy.Result{}, e.policyErr
	}
	v, err := e.current(ctx)
	if err != nil {
		return policy.Result{}, err
	}
	until := q.Until
	if until.IsZero() {
		until = e.cfg.Now()
	}
	keep := func(name string) bool {
		r := e.rules[name]
		return r != nil && (len(q.Rules) == 0 || slices.Contains(q.Rules, r.Name)) && (q.Severity == "" || r.Severity == q.Severity)
	}
	parts := e.partitions(v, q.App, q.Team, q.Envs, q.Allow)
	w := windows(parts, q.Since, until)
	res := policy.Result{Deviations: []policy.Deviation{}, Errors: []policy.EvalError{}}
	newestFirst(parts, w, q.Since, func(p *part, i int, d *history.Deployment) bool {
		if d.Rewritten {
			return false
		}
		res.Deployments++
		return p.check(i) != nil
	}, func(p *part, i int, d *history.Deployment) {
		c := p.check(i)
		for _, dv := range c.deviations {
			if keep(dv.Rule) {
				res.Deviations = append(res.Deviations, dv)
			}
		}
		for _, er := range c.errors {
			if keep(er.Rule) {
				res.Errors = append(res.Errors, er)
			}
		}
	})
	return res, nil
}

// Report is every KPI of one query, computed from one view of the model.
type Report struct {
	Metrics      metrics.Report
	Traceability policy.Traceability
	Efficiency   efficiency.Report
	Incidents    IncidentStats
	// Deployments are the deployments the query selects (its app, team and
	// environments, live in its window) in live-time order, for trends and
	// comparisons within the window.
	Deployments []history.Deployment
}

// ScaleLookback is how far before a window's start Knative scale samples
// are read, to know the replica count at the start: shiplog re-samples a
// nonzero count every minute, so a revision with no sample in that time
// was at zero.
const ScaleLookback = 24 * time.Hour

// Report computes the DORA metrics, traceability and efficiency of q.
func (e *Engine) Report(ctx context.Context, q Query) (Report, error) {
	v, err := e.current(ctx)
	if err != nil {
		return Report{}, err
	}
	mf, until := e.filter(q)
	parts := e.partitions(v, mf.App, mf.Team, mf.Envs, q.Allow)
	w := windows(parts, q.Since, until)
	r := Report{Metrics: metrics.ComputeParts(w, mf, q.Since, until, e.cfg.Thresholds), Deployments: mergeWindows(parts, w, q.Since, until)}
	r.Traceability = traceability(parts, w, q.Since)
	r.Efficiency = e.efficiency(v, q, mf.Envs, until)
	r.Incidents = incidents(v, parts, q.Since, until)
	return r, nil
}

// Traceability computes the share of q's deployments traceable to a
// reviewed change, with the untraceable ones.
func (e *Engine) Traceability(ctx context.Context, q Query) (policy.Traceability, error) {
	v, err := e.current(ctx)
	if err != nil {
		return policy.Traceability{}, err
	}
	mf, until := e.filter(q)
	parts := e.partitions(v, mf.App, mf.Team, mf.Envs, q.Allow)
	return traceability(parts, windows(parts, q.Since, until), q.Since), nil
}

func traceability(parts []*part, w [][]history.Deployment, since time.Time) policy.Traceability {
	t := policy.Traceability{Missing: map[string]int{}}
	for _, l := range policy.Links {
		t.Missing[l] = 0
	}
	newestFirst(parts, w, since, func(p *part, i int, d *history.Deployment) bool {
		if d.Rewritten {
			return false
		}
		t.Deployments++
		if p.missing[i] == 0 {
			t.Traceable++
			return false
		}
		return true
	}, func(p *part, i int, d *history.Deployment) {
		missing := missingLinks(p.missing[i])
		for _, l := range missing {
			t.Missing[l]++
		}
		t.Untraceable = append(t.Untraceable, policy.Untraceable{Deployment: d.Ref(), Missing: missing})
	})
	t.Rate = ratio(t.Traceable, t.Deployments)
	return t
}

// Efficiency computes the efficiency figures of q.
func (e *Engine) Efficiency(ctx context.Context, q Query) (efficiency.Report, error) {
	v, err := e.current(ctx)
	if err != nil {
		return efficiency.Report{}, err
	}
	mf, until := e.filter(q)
	return e.efficiency(v, q, mf.Envs, until), nil
}

// efficiency combines the efficiency figures of the partitions q selects,
// with the view's scale samples of its window.
func (e *Engine) efficiency(v *view, q Query, envs []string, until time.Time) efficiency.Report {
	var from time.Time
	if !q.Since.IsZero() {
		from = q.Since.Add(-ScaleLookback)
	}
	samples := v.scaleWindow(from, until)
	parts := e.partitions(v, q.App, q.Team, envs, q.Allow)
	w := windows(parts, q.Since, until)
	in := efficiency.Parts{Summary: q.Summary, Scale: samples, Cost: efficiency.CostInput{
		RevisionOf: func(s *delivery.ScaleRecord) *delivery.RevisionRecord {
			if p := v.parts[appEnv{s.App, s.Env}]; p != nil {
				return p.revs[revKey{s.Cluster, s.Namespace, s.Revision}]
			}
			return nil
		},
		Routes:       func(cluster, ns string) *efficiency.Routes { return v.routes[nsKey{cluster, ns}] },
		OwnRevisions: true,
	}}
	for _, p := range parts {
		in.Interventions = append(in.Interventions, p.eff.Interventions...)
	}
	if q.App == "" && q.Team == "" && len(envs) == 0 {
		in.Cost.Namespaces = v.routeList // revisions only traffic names count too
	} else {
		ns := map[nsKey]bool{}
		for _, p := range parts {
			for _, k := range p.namespaces {
				ns[k] = true
			}
		}
		for _, r := range v.routeList { // in namespace order
			if ns[nsKey{r.Cluster, r.Namespace}] {
				in.Cost.Namespaces = append(in.Cost.Namespaces, r)
			}
		}
	}
	refs := mergeRefs(liveTimes(parts, q.Since, until))
	in.Deployments = make([]*history.Deployment, len(refs))
	in.Steps = make([]efficiency.Steps, len(refs))
	offs := make([]int, len(parts))
	for i, p := range parts {
		offs[i] = p.offset(q.Since)
	}
	for j, r := range refs {
		in.Deployments[j] = &w[r[0]][r[1]]
		in.Steps[j] = parts[r[0]].eff.Steps[offs[r[0]]+int(r[1])]
	}
	s := e.cfg.Efficiency
	from, to := efficiency.SprintRange(q.Since, until, s)
	lo, _ := slices.BinarySearchFunc(v.merged, from, func(c *delivery.ChangeRecord, t time.Time) int { return c.MergedAt.Compare(t) })
	hi, _ := slices.BinarySearchFunc(v.merged, to, func(c *delivery.ChangeRecord, t time.Time) int { return c.MergedAt.Compare(t) })
	if from.IsZero() {
		lo = 0
	}
	in.Changes = v.merged[lo:max(lo, hi)]
	if q.App != "" || q.Team != "" || q.Allow != nil {
		// Pull requests count when an app the filter keeps shipped them, in
		// any environment (the scope's environments, when it limits them).
		sh := &efficiency.Shipped{}
		for _, p := range e.partitions(v, q.App, "", nil, q.Allow) {
			if q.Team != "" && s.Teams[p.ae.app] != q.Team && e.cfg.Teams[p.ae.app] != q.Team {
				continue
			}
			for i := range p.deps {
				sh.Add(&p.deps[i])
			}
		}
		in.Shipped = sh.Has
	}
	f := efficiency.Filter{App: q.App, Team: q.Team, Envs: envs}
	return efficiency.Combine(in, f, q.Since, until, e.cfg.Now(), s)
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
