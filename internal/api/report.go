package api

import (
	"context"
	"net/http"
	"time"

	"github.com/shiplog-dev/shiplog/internal/engine"
	"github.com/shiplog-dev/shiplog/internal/engine/efficiency"
	"github.com/shiplog-dev/shiplog/internal/engine/metrics"
	"github.com/shiplog-dev/shiplog/internal/engine/policy"
)

// Report is the manager's report of a window: what `shiplog report
// --format json` prints and /api/v1/report answers.
type Report struct {
	GeneratedAt      time.Time            `json:"generated_at"`
	GenerationMillis float64              `json:"generation_ms"`
	Scope            string               `json:"scope"`
	Metrics          metrics.Report       `json:"metrics"`
	Trend            []metrics.Point      `json:"trend"`
	BeforeAfter      *metrics.Comparison  `json:"before_after,omitempty"`
	Traceability     policy.Traceability  `json:"traceability"`
	Efficiency       efficiency.Report    `json:"efficiency"`
	Incidents        engine.IncidentStats `json:"incidents"`
	Deviations       map[string]int       `json:"deviations_by_rule"`
}

// ReportQuery selects what a report covers.
type ReportQuery struct {
	// Query is the app, team, environments and window; Since and Until
	// must be set.
	engine.Query
	// BeforeAfter, when set, adds the KPIs before and after it; it must be
	// inside the window.
	BeforeAfter time.Time
	// BeforeAfterAdoption, instead, adds the KPIs before and after each
	// app's own GitOps adoption date (engine.CompareAdoption).
	BeforeAfterAdoption bool
}

// BuildReport computes the report of q, generated at now: the DORA
// metrics with tiers, the weekly trend, before and after a date,
// traceability, the efficiency summary and the policy deviations by rule.
func BuildReport(ctx context.Context, eng *engine.Engine, q ReportQuery, now time.Time) (Report, error) {
	start := time.Now()
	full, err := eng.Report(ctx, q.Query)
	if err != nil {
		return Report{}, err
	}
	r := Report{GeneratedAt: now.UTC(), Scope: reportScope(q.Query), Metrics: full.Metrics, Traceability: full.Traceability,
		Efficiency: full.Efficiency.Summary(), Incidents: full.Incidents, Deviations: map[string]int{}}
	r.Traceability.Untraceable = nil
	th := eng.Settings().Thresholds
	r.Trend = metrics.Trend(full.Deployments, r.Metrics.Filter, q.Since, q.Until, 7*24*time.Hour, th)
	switch {
	case q.BeforeAfterAdoption:
		c, err := eng.CompareAdoption(ctx, q.Query)
		if err != nil {
			return Report{}, err
		}
		r.BeforeAfter = &c
	case !q.BeforeAfter.IsZero():
		c := metrics.Compare(full.Deployments, r.Metrics.Filter, q.Since, q.BeforeAfter, q.Until, th)
		r.BeforeAfter = &c
	}
	devs, err := eng.Deviations(ctx, engine.DeviationQuery{App: q.App, Team: q.Team, Envs: r.Metrics.Filter.Envs, Since: q.Since, Until: q.Until, Allow: q.Allow})
	if err != nil {
		return Report{}, err
	}
	for _, d := range devs.Deviations {
		r.Deviations[d.Rule]++
	}
	r.GenerationMillis = float64(time.Since(start).Microseconds()) / 1000
	return r, nil
}

func reportScope(q engine.Query) string {
	switch {
	case q.App != "":
		return "app " + q.App
	case q.Team != "":
		return "team " + q.Team
	}
	return "all apps"
}

// report is /api/v1/report: since, until, app, team, env (repeatable;
// default the production environments) and before_after (a date or
// "adoption"), as the flags of
// `shiplog report`.
func (a *API) report(r *http.Request) (any, error) {
	since, until, err := a.window(r)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	rq := ReportQuery{Query: a.scopeQuery(r, engine.Query{App: q.Get("app"), Team: q.Get("team"), Envs: q["env"], Since: since, Until: until})}
	switch v := q.Get("before_after"); v {
	case "":
	case BeforeAfterAdoption:
		rq.BeforeAfterAdoption = true
	default:
		if rq.BeforeAfter, err = parseBeforeAfter(v, since, until); err != nil {
			return nil, err
		}
	}
	return BuildReport(r.Context(), a.eng, rq, a.now())
}
