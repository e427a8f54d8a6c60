package policy

import (
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/shiplog-dev/shiplog/internal/engine/history"
)

// Filter selects deployments: those that went live in [Since, Until) in
// an app, team and environment it keeps. Empty fields do not filter.
// Deployments whose manifest commit was rewritten away are never kept.
type Filter struct {
	App   string
	Team  string
	Envs  []string
	Since time.Time
	Until time.Time // zero: no end
}

// Keep reports whether f keeps d.
func (f Filter) Keep(d *history.Deployment) bool {
	return !d.Rewritten && (f.App == "" || d.App == f.App) && (f.Team == "" || d.Team == f.Team) &&
		(len(f.Envs) == 0 || slices.Contains(f.Envs, d.Env)) &&
		!d.LiveAt.Before(f.Since) && (f.Until.IsZero() || d.LiveAt.Before(f.Until))
}

// Result is the outcome of evaluating rules over deployments.
type Result struct {
	Deployments int         `json:"deployments"` // deployments evaluated
	Deviations  []Deviation `json:"deviations"`  // newest deployment first, then in rule order
	Errors      []EvalError `json:"errors"`
}

// Evaluate checks the deployments f keeps against the rules only keeps
// (nil: all). production says whether an environment is a production one.
// The deployments are split among GOMAXPROCS workers; the result is in the
// same order as with one.
func (s *Set) Evaluate(deps []history.Deployment, x *Index, f Filter, production func(env string) bool, only func(*Rule) bool) Result {
	var kept []*history.Deployment
	for i := len(deps) - 1; i >= 0; i-- {
		if f.Keep(&deps[i]) {
			kept = append(kept, &deps[i])
		}
	}
	workers := max(1, min(runtime.GOMAXPROCS(0), len(kept)/minPerWorker))
	parts := make([]Result, workers)
	size := (len(kept) + workers - 1) / workers
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			part := &parts[w]
			for _, d := range kept[min(w*size, len(kept)):min((w+1)*size, len(kept))] {
				facts := x.Facts(d)
				v := Variables(d, &facts, production(d.Env))
				s.check(part, d, &v, only)
			}
		})
	}
	wg.Wait()
	res := Result{Deployments: len(kept), Deviations: []Deviation{}, Errors: []EvalError{}}
	for _, p := range parts {
		res.Deviations = append(res.Deviations, p.Deviations...)
		res.Errors = append(res.Errors, p.Errors...)
	}
	return res
}

// minPerWorker is the fewest deployments worth a goroutine of their own.
const minPerWorker = 2000

// Traceability is the share of deployments traceable to a reviewed change.
type Traceability struct {
	Deployments int      `json:"deployments"`
	Traceable   int      `json:"traceable"`
	Rate        *float64 `json:"rate"` // traceable ÷ deployments; null without deployments
	// Missing counts, per link, the deployments that lack it.
	Missing map[string]int `json:"missing"`
	// Untraceable lists the deployments that are not, newest first, with
	// the links they lack.
	Untraceable []Untraceable `json:"untraceable,omitempty"`
}

// Untraceable is a deployment with missing links.
type Untraceable struct {
	Deployment history.Ref `json:"deployment"`
	Missing    []string    `json:"missing"`
}

// Trace computes the traceability of the deployments f keeps.
func Trace(deps []history.Deployment, x *Index, f Filter) Traceability {
	t := Traceability{Missing: map[string]int{}}
	for _, l := range Links {
		t.Missing[l] = 0
	}
	for i := len(deps) - 1; i >= 0; i-- {
		d := &deps[i]
		if !f.Keep(d) {
			continue
		}
		t.Deployments++
		facts := x.Facts(d)
		if facts.Traceable() {
			t.Traceable++
			continue
		}
		for _, l := range facts.Missing {
			t.Missing[l]++
		}
		t.Untraceable = append(t.Untraceable, Untraceable{Deployment: d.Ref(), Missing: facts.Missing})
	}
	if t.Deployments > 0 {
		r := float64(t.Traceable) / float64(t.Deployments)
		t.Rate = &r
	}
	return t
}
