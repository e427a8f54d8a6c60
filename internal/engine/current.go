package engine

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine/history"
	"github.com/shiplog-dev/shiplog/internal/engine/trace"
)

// What the web pages read of the state of things now: each app and
// environment with its history, latest health, sync status and traffic,
// and the work in flight (pull requests open, CI runs, syncs and Knative
// revisions not finished). Both come from the view, so a page costs what
// it shows, not what the store holds.

// Partition is one app in one environment.
type Partition struct {
	App, Env, Team string
	// Deployments is the history, in live-time order. Shared: callers
	// must not change it.
	Deployments []history.Deployment
	Health      *delivery.HealthRecord     // the latest; nil when none
	SyncStatus  *delivery.SyncStatusRecord // the latest; nil when none
	// Traffic holds every traffic record naming the app and environment,
	// in time order. Shared.
	Traffic []*delivery.TrafficRecord
	p       *part
}

// Window returns the deployments that went live in [since, until) (zero
// until: no end), in live-time order; none for the zero Partition.
func (p Partition) Window(since, until time.Time) []history.Deployment {
	if p.p == nil {
		return nil
	}
	return p.p.window(since, until)
}

// NewestFirst returns the page [offset, offset+limit) (limit ≤ 0: to the
// end) of the deployments of parts live in [since, until) that keep keeps,
// newest first (the history's order, reversed), and how many there are in
// all: the walk of Deployments, for a caller's own selection.
func NewestFirst(parts []Partition, since, until time.Time, keep func(*history.Deployment) bool, offset, limit int) ([]*history.Deployment, int) {
	w := make([][]history.Deployment, len(parts))
	total := 0
	for i, p := range parts {
		w[i] = p.Window(since, until)
		for j := range w[i] {
			if keep(&w[i][j]) {
				total++
			}
		}
	}
	return walkBack(w, keep, offset, limit), total
}

// PartitionQuery selects partitions: app, team and environments (empty:
// every one), within the scope Allow permits (nil: everything).
type PartitionQuery struct {
	App   string
	Team  string
	Envs  []string
	Allow func(app, team, env string) bool
}

// Partitions returns the partitions q selects, in app then environment
// order.
func (e *Engine) Partitions(ctx context.Context, q PartitionQuery) ([]Partition, error) {
	v, err := e.current(ctx)
	if err != nil {
		return nil, err
	}
	parts := e.partitions(v, q.App, q.Team, q.Envs, q.Allow)
	out := make([]Partition, len(parts))
	for i, p := range parts {
		out[i] = Partition{App: p.ae.app, Env: p.ae.env, Team: e.cfg.Teams[p.ae.app], Deployments: p.deps, Traffic: p.rows.traffic, p: p}
		if n := len(p.rows.health); n > 0 {
			out[i].Health = p.rows.health[n-1]
		}
		if n := len(p.rows.statuses); n > 0 {
			out[i].SyncStatus = p.rows.statuses[n-1]
		}
	}
	return out, nil
}

// InFlight is the work started and not finished, newest first.
type InFlight struct {
	Changes   []delivery.ChangeRecord      // pull requests opened, neither merged nor closed
	Runs      []delivery.PipelineRunRecord // CI runs queued or started, not finished
	Syncs     []delivery.SyncRecord        // Argo CD syncs started, not finished
	Revisions []delivery.RevisionRecord    // Knative revisions created, not Ready, failed or deleted
}

// InFlight returns the work in flight within the scope allow permits (nil:
// everything). A scoped principal sees the syncs and revisions of the apps
// and environments it may see, and the pull requests and CI runs of source
// repositories that only those apps ship from (as trace.Scope decides for
// repositories).
func (e *Engine) InFlight(ctx context.Context, allow func(app, team, env string) bool) (InFlight, error) {
	v, err := e.current(ctx)
	if err != nil {
		return InFlight{}, err
	}
	f := v.inFlight
	if allow == nil {
		return f, nil
	}
	shown, hidden := map[string]bool{}, map[string]bool{}
	for _, k := range v.keys {
		set := hidden
		if allow(k.app, e.cfg.Teams[k.app], k.env) {
			set = shown
		}
		for _, r := range v.parts[k].repos {
			set[r] = true
		}
	}
	repo := func(r string) bool { return shown[r] && !hidden[r] }
	inScope := func(app, env string) bool { return allow(app, e.cfg.Teams[app], env) }
	var out InFlight
	out.Changes = keepIf(f.Changes, func(c *delivery.ChangeRecord) bool { return repo(c.Repo) })
	out.Runs = keepIf(f.Runs, func(r *delivery.PipelineRunRecord) bool { return repo(r.Repo) })
	out.Syncs = keepIf(f.Syncs, func(s *delivery.SyncRecord) bool { return inScope(s.App, s.Env) })
	out.Revisions = keepIf(f.Revisions, func(r *delivery.RevisionRecord) bool { return inScope(r.App, r.Env) })
	return out, nil
}

func keepIf[T any](list []T, ok func(*T) bool) []T {
	var out []T
	for i := range list {
		if ok(&list[i]) {
			out = append(out, list[i])
		}
	}
	return out
}

// sourceRepos returns the source repositories of the commits a
// partition's deployments shipped, sorted, as the index knows them.
func sourceRepos(l history.Lookup, deps []history.Deployment) []string {
	set := map[string]bool{}
	add := func(sha string) {
		if sha == "" {
			return
		}
		rows := l.SHA(history.Short(sha))
		if rows == nil {
			return
		}
		for _, c := range rows.Commits {
			set[c.Repo] = true
		}
		for _, c := range rows.Merged {
			set[c.Repo] = true
		}
	}
	last := ""
	for i := range deps {
		if s := deps[i].SourceCommit; s != last { // successive deployments of one commit
			add(s)
			last = s
		}
	}
	delete(set, "")
	return slices.Sorted(maps.Keys(set))
}

// openSet is the work in flight, kept up to date as rows change.
type openSet struct {
	changes   map[changeKey]*delivery.ChangeRecord
	runs      map[runKey]*delivery.PipelineRunRecord // as the store has them, not trimmed
	syncs     map[syncKey]*delivery.SyncRecord
	revisions map[revKey]*delivery.RevisionRecord
	dirty     bool // changed since the last list
}

func newOpenSet() openSet {
	return openSet{changes: map[changeKey]*delivery.ChangeRecord{}, runs: map[runKey]*delivery.PipelineRunRecord{},
		syncs: map[syncKey]*delivery.SyncRecord{}, revisions: map[revKey]*delivery.RevisionRecord{}}
}

// put keeps v under k in set when open, else removes k.
func put[K comparable, V any](o *openSet, set map[K]*V, k K, v *V, open bool) {
	if _, had := set[k]; had || open {
		o.dirty = true
	}
	if open {
		set[k] = v
	} else {
		delete(set, k)
	}
}

func (o *openSet) change(k changeKey, r *delivery.ChangeRecord) {
	put(o, o.changes, k, r, !r.OpenedAt.IsZero() && r.MergedAt.IsZero() && r.ClosedAt.IsZero())
}

// run keeps a copy of r: r points into the rows as read, which the
// model does not keep.
func (o *openSet) run(k runKey, r *delivery.PipelineRunRecord) {
	open := (!r.StartedAt.IsZero() || !r.QueuedAt.IsZero()) && r.FinishedAt.IsZero()
	if open {
		cp := *r
		r = &cp
	}
	put(o, o.runs, k, r, open)
}

func (o *openSet) sync(k syncKey, r *delivery.SyncRecord) {
	put(o, o.syncs, k, r, !r.StartedAt.IsZero() && r.FinishedAt.IsZero())
}

func (o *openSet) revision(k revKey, r *delivery.RevisionRecord) {
	put(o, o.revisions, k, r, !r.CreatedAt.IsZero() && r.ReadyAt.IsZero() && r.FailedAt.IsZero() && r.DeletedAt.IsZero())
}

// list returns the work in flight, newest first (ties in key order).
func (o *openSet) list() InFlight {
	f := InFlight{Changes: values(slices.Collect(maps.Values(o.changes))), Runs: values(slices.Collect(maps.Values(o.runs))),
		Syncs: values(slices.Collect(maps.Values(o.syncs))), Revisions: values(slices.Collect(maps.Values(o.revisions)))}
	slices.SortFunc(f.Changes, func(a, b delivery.ChangeRecord) int {
		return cmp.Or(b.OpenedAt.Compare(a.OpenedAt), strings.Compare(a.Repo, b.Repo), cmp.Compare(a.Number, b.Number))
	})
	slices.SortFunc(f.Runs, func(a, b delivery.PipelineRunRecord) int {
		return cmp.Or(cmp.Or(b.StartedAt, b.QueuedAt).Compare(cmp.Or(a.StartedAt, a.QueuedAt)), strings.Compare(a.Source, b.Source),
			strings.Compare(a.RunID, b.RunID))
	})
	slices.SortFunc(f.Syncs, func(a, b delivery.SyncRecord) int {
		return cmp.Or(b.StartedAt.Compare(a.StartedAt), strings.Compare(a.Cluster, b.Cluster), strings.Compare(a.Application, b.Application))
	})
	slices.SortFunc(f.Revisions, func(a, b delivery.RevisionRecord) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), strings.Compare(a.Cluster, b.Cluster), strings.Compare(a.Namespace, b.Namespace),
			strings.Compare(a.Name, b.Name))
	})
	o.dirty = false
	return f
}

// Revision returns the record of the partition's Knative revision of that
// name (the newest created when several clusters have one), else a record
// holding only the name.
func (p Partition) Revision(name string) delivery.RevisionRecord {
	revs := p.p.rows.revisions
	for i := len(revs) - 1; i >= 0; i-- {
		if revs[i].Name == name {
			return *revs[i]
		}
	}
	return delivery.RevisionRecord{Name: name}
}

// ScopedTraces returns the traces of the changes q selects among what
// allow permits (trace.Scope): the model as a whole is scoped first, so
// that a hidden app's deployments show in no trace.
func (e *Engine) ScopedTraces(ctx context.Context, q trace.Query, allow func(app, team, env string) bool) ([]trace.Trace, error) {
	deps, err := e.History(ctx)
	if err != nil {
		return nil, err
	}
	in, err := e.TraceInput(ctx, deps)
	if err != nil {
		return nil, err
	}
	return trace.Find(trace.Scope(in, allow, func(app string) string { return e.cfg.Teams[app] }), q), nil
}
