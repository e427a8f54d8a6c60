package web

import (
	"cmp"
	"html/template"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine"
	"github.com/shiplog-dev/shiplog/internal/engine/history"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// The Application page: one app's deployments across environments, its
// traffic and replicas over time, its failures, and what to roll back to.

type trafficStep struct {
	At    time.Time
	Bar   template.HTML
	Split []split
}

type appEnv struct {
	Env      string
	Current  *history.Deployment
	Rollback *history.Deployment // the latest earlier deployment that did not fail, of another artifact
	// RevertCommit is the current deployment's manifest commit when
	// reverting it restores the rollback target (the deployment just before).
	RevertCommit string
	Split        []split
	Traffic      []trafficStep // newest first
	Replicas     template.HTML
	Samples      int
	Scaled       *int // replicas now
	Cost         *envCost
}

// envCost is what an environment's Knative revisions cost over the window
// (efficiency.Cost, docs/metrics.md), summed over its revisions.
type envCost struct {
	Revisions                int
	ReplicaHours, SavedHours float64
	Cost, Saving             *float64
	Currency                 string
}

type appData struct {
	Name, Team  string
	Since       string
	SinceT      time.Time
	Timeline    template.HTML
	Envs        []appEnv
	Deployments []history.Deployment // newest first, at most pageSize
	Total       int
	Incidents   []delivery.IncidentRecord
	AllHref     string
}

// maxTrafficSteps bounds the traffic history drawn per environment.
const maxTrafficSteps = 12

func (w *Web) application(r *request) (any, error) {
	s := r.snap
	name := r.PathValue("app")
	since, until, sinceText, err := r.window("30d")
	if err != nil {
		return nil, err
	}
	parts := s.partsOf(name, nil)
	known := slices.ContainsFunc(s.apps, func(a delivery.App) bool { return a.Name == name }) ||
		slices.ContainsFunc(parts, func(p engine.Partition) bool { return len(p.Deployments) > 0 })
	if !known {
		return nil, errNotFound
	}
	r.live, r.title = name, "title.app"
	d := &appData{Name: name, Team: s.team(name), Since: sinceText, SinceT: since,
		AllHref: depFilter{App: name, Since: since, Until: until}.href()}
	envSet := map[string]bool{}
	for _, a := range s.apps {
		if a.Name == name {
			envSet[a.Env] = true
		}
	}
	byEnv := map[string]*engine.Partition{}
	for i := range parts {
		p := &parts[i]
		if slices.ContainsFunc(p.Deployments, func(d history.Deployment) bool { return !d.Rewritten }) {
			envSet[p.Env] = true
		}
		byEnv[p.Env] = p
	}
	envs := slices.SortedFunc(func(yield func(string) bool) {
		for e := range envSet {
			if !yield(e) {
				return
			}
		}
	}, compareEnvs)
	lane := map[string]int{}
	for i, e := range envs {
		lane[e] = i
	}
	var marks []mark
	var shown []*history.Deployment // live in the window
	for _, env := range envs {
		ae := appEnv{Env: env}
		p := byEnv[env]
		if p == nil {
			p = &engine.Partition{}
		}
		// Current and rollback target: from the newest deployment back.
		cur := -1
		for i := len(p.Deployments) - 1; i >= 0; i-- {
			dep := &p.Deployments[i]
			if dep.Rewritten {
				continue
			}
			if cur < 0 {
				cur, ae.Current = i, dep
				continue
			}
			if !dep.Failed() && dep.Artifact != ae.Current.Artifact {
				ae.Rollback = dep
				if nextKept(p.Deployments, i) == cur {
					ae.RevertCommit = ae.Current.ManifestCommit
				}
				break
			}
		}
		win := p.Window(since, until)
		for i := range win {
			dep := &win[i]
			if dep.Rewritten {
				continue
			}
			shown = append(shown, dep)
			cls, what := "pt-ok", r.t["app.deployed"]
			switch {
			case dep.Rollback || dep.Revert:
				cls, what = "pt-rollback", r.t["app.rollback"]
			case dep.Failed():
				cls, what = "pt-fail", r.t["app.failed"]
			}
			marks = append(marks, mark{Lane: lane[env], At: dep.LiveAt, Class: cls,
				Title: dep.LiveAt.UTC().Format("2006-01-02 15:04") + " · " + env + " · " + version(*dep) + " · " + what, Href: depHref(dep)})
		}
		targets, _ := latestSplit(p.Traffic)
		for _, t := range targets {
			ae.Split = append(ae.Split, split{t.Revision, t.Percent})
		}
		ae.Traffic = trafficHistory(p.Traffic, since, r.t["apps.traffic"])
		samples, err := w.st.ScaleSamples(r.Context(), store.ModelFilter{App: name, Env: env, Since: since, Until: until})
		if err != nil {
			return nil, err
		}
		ae.Replicas, ae.Samples, ae.Scaled = replicaChart(samples, r.t["app.replicas"])
		d.Envs = append(d.Envs, ae)
	}
	d.Total = len(shown)
	if err := w.replicaCosts(r, d, envs, since, until); err != nil {
		return nil, err
	}
	incidents, err := w.st.Incidents(r.Context(), store.ModelFilter{App: name})
	if err != nil {
		return nil, err
	}
	for _, inc := range incidents {
		if s.allow != nil && !s.allow(inc.App, s.team(inc.App), inc.Env) {
			continue
		}
		if !inc.DetectedAt.Before(since) {
			d.Incidents = append(d.Incidents, inc)
		}
		if l, ok := lane[inc.Env]; ok {
			marks = append(marks, mark{Lane: l, At: inc.DetectedAt, Class: "pt-incident", Title: inc.DetectedAt.UTC().Format("2006-01-02 15:04") + " · " + r.t["app.incident"] + " · " + inc.Title})
		}
	}
	slices.SortFunc(d.Incidents, func(a, b delivery.IncidentRecord) int { return b.DetectedAt.Compare(a.DetectedAt) })
	d.Timeline = timeline(envs, since, until, marks, r.t["app.timeline"])
	// Newest first; among deployments live at the same time, the later
	// environment in partition order first (the history's order, reversed).
	slices.SortStableFunc(shown, func(a, b *history.Deployment) int {
		return cmp.Or(b.LiveAt.Compare(a.LiveAt), strings.Compare(b.Env, a.Env))
	})
	for _, dep := range shown[:min(len(shown), pageSize)] {
		d.Deployments = append(d.Deployments, *dep)
	}
	return d, nil
}

// nextKept is the position of the first deployment after i that was not
// rewritten away (-1: none).
func nextKept(deps []history.Deployment, i int) int {
	for j := i + 1; j < len(deps); j++ {
		if !deps[j].Rewritten {
			return j
		}
	}
	return -1
}

// replicaCosts sets each environment's Knative cost over the window from
// the engine's efficiency report of the app, the figure the Delivery page
// and /api/v1/metrics sum.
func (w *Web) replicaCosts(r *request, d *appData, envs []string, since, until time.Time) error {
	rep, err := w.eng.Efficiency(r.Context(), engine.Query{App: d.Name, Envs: envs, Since: since, Until: until, Allow: r.snap.allow})
	if err != nil {
		return err
	}
	c := rep.Cost
	byEnv := map[string]*envCost{}
	for _, rc := range c.Revisions {
		e := byEnv[rc.Env]
		if e == nil {
			e = &envCost{Currency: c.Currency}
			if c.CostPerReplicaHour != nil {
				e.Cost, e.Saving = new(float64), new(float64)
			}
			byEnv[rc.Env] = e
		}
		e.Revisions++
		e.ReplicaHours += rc.ReplicaSeconds / 3600
		e.SavedHours += rc.SavedReplicaSeconds / 3600
		if e.Cost != nil && rc.Cost != nil && rc.Saving != nil {
			*e.Cost += *rc.Cost
			*e.Saving += *rc.Saving
		}
	}
	for i := range d.Envs {
		d.Envs[i].Cost = byEnv[d.Envs[i].Env]
	}
	return nil
}

// depHref links a deployment to the trace of its source commit.
func depHref(d *history.Deployment) string {
	if d.SourceCommit != "" {
		return changeLink(d.SourceCommit)
	}
	return ""
}

// trafficHistory is a partition's traffic splits (its records in time
// order) since a time, newest first.
func trafficHistory(traffic []*delivery.TrafficRecord, since time.Time, label string) []trafficStep {
	byTime := map[time.Time][]delivery.TrafficTarget{}
	for i := len(traffic) - 1; i >= 0 && !traffic[i].Time.Before(since); i-- { // time order: from the newest back
		if len(byTime) == maxTrafficSteps && byTime[traffic[i].Time] == nil {
			break
		}
		t := traffic[i]
		byTime[t.Time] = append(byTime[t.Time], t.TrafficTarget)
	}
	for _, targets := range byTime { // in record order
		slices.Reverse(targets)
	}
	times := slices.SortedFunc(func(yield func(time.Time) bool) {
		for t := range byTime {
			if !yield(t) {
				return
			}
		}
	}, func(a, b time.Time) int { return b.Compare(a) })
	var out []trafficStep
	for _, at := range times[:min(len(times), maxTrafficSteps)] {
		targets := byTime[at]
		slices.SortStableFunc(targets, func(a, b delivery.TrafficTarget) int { return b.Percent - a.Percent })
		st := trafficStep{At: at, Bar: stackedBar(splitSegments(targets), label, 10)}
		for _, t := range targets {
			st.Split = append(st.Split, split{t.Revision, t.Percent})
		}
		out = append(out, st)
	}
	return out
}

// replicaChart draws the replicas serving an app in one environment over
// time (the sum of the latest sample of each revision) from its scale
// samples over the window.
func replicaChart(rows []delivery.ScaleRecord, label string) (template.HTML, int, *int) {
	if len(rows) == 0 {
		return "", 0, nil
	}
	slices.SortStableFunc(rows, func(a, b delivery.ScaleRecord) int { return a.Time.Compare(b.Time) })
	cur := map[string]int{}
	var vals []float64
	total := 0
	for _, s := range rows {
		cur[s.Revision] = s.Actual
		total = 0
		for _, v := range cur {
			total += v
		}
		vals = append(vals, float64(total))
	}
	if len(vals) > 200 { // keep the drawing small: every nth sample
		step := int(math.Ceil(float64(len(vals)) / 200))
		var thin []float64
		for i := 0; i < len(vals); i += step {
			thin = append(thin, vals[i])
		}
		vals = append(thin, vals[len(vals)-1])
	}
	return sparkline(vals, label+": "+strconv.Itoa(total)), len(rows), &total
}
