package web

import (
	"html/template"
	"strconv"
	"time"

	"github.com/shiplog-dev/shiplog/internal/engine"
	"github.com/shiplog-dev/shiplog/internal/engine/efficiency"
	"github.com/shiplog-dev/shiplog/internal/engine/history"
	"github.com/shiplog-dev/shiplog/internal/engine/metrics"
)

// The Delivery page: the DORA metrics with their tiers and trends, before
// and after a date, where lead time goes, and the same per team and app.
// Every number links to the deployments list it counts.

type tile struct {
	Key   string // metric.<key> names it
	Kind  string // rate, duration, frequency
	Value *float64
	Tier  metrics.Tier
	Spark template.HTML
	Href  string
	N     int // deployments (frequency), failed (rates), changes (lead time), recovered
	Of    int // deployments, for rates
	Extra *float64
}

type cmpRow struct {
	Key           string
	Kind          string
	Before, After *float64
	TierB, TierA  metrics.Tier
	HrefB, HrefA  string
}

type groupRow struct {
	Label      string
	IsTeam     bool
	Report     metrics.Report
	Href       string
	FailedHref string
}

type deliveryData struct {
	Empty                 bool
	Since, Team, App, Env string
	At                    string
	Teams, Apps, Envs     []string
	CountedEnvs           []string
	Report                metrics.Report
	Tiles                 []tile
	Compare               []cmpRow
	CompareAt             time.Time
	Breakdown             template.HTML
	Stages                []metrics.StageStat
	StageMean             *float64
	Dist                  template.HTML
	Groups                []groupRow
	Href                  string
	Eff                   *effData
}

// effData is the Delivery page's efficiency and compliance panel: what the
// engine's report says of the same selection (docs/metrics.md).
type effData struct {
	Automation                     *float64
	Automated, Manual              int
	Interventions                  int
	EngineerSeconds                float64
	ReplicaHours, SavedHours       float64
	Cost, Saving                   *float64
	Currency                       string
	Traceable                      *float64
	TraceableN, TraceableOf        int
	IncidentsLinked                *float64
	Linked, Incidents              int
	Deviations, DeviationsDeployed int
	PoliciesHref                   string
}

// efficiency builds the panel from the engine's report and deviations
// for the page's selection, within the principal's scope.
func (w *Web) efficiency(r *request, f depFilter) (*effData, error) {
	ctx := r.Context()
	q := engine.Query{App: f.App, Team: f.Team, Envs: f.Envs, Since: f.Since, Until: f.Until, Allow: r.snap.allow}
	// The efficiency figures (the longest: the Knative cost of the window)
	// in parallel with the compliance counts; together, what engine.Report
	// and engine.Deviations compute, without their lists.
	var e efficiency.Report
	sq := q
	sq.Summary = true // the panel shows no list
	effWait := inBackground(func() (err error) { e, err = w.eng.Efficiency(ctx, sq); return })
	defer effWait() // on an early return too
	c, err := w.eng.Compliance(ctx, q, engine.DeviationQuery{App: f.App, Team: f.Team, Envs: f.Envs, Since: f.Since, Until: f.Until, Allow: r.snap.allow})
	if err != nil {
		return nil, err
	}
	d := &effData{Traceable: c.Rate, TraceableN: c.Traceable, TraceableOf: c.Deployments,
		IncidentsLinked: c.Incidents.LinkedRate, Linked: c.Incidents.Linked, Incidents: c.Incidents.Total,
		Deviations: c.Deviations, DeviationsDeployed: c.DeviationDeployments}
	d.PoliciesHref = "/policies?since=" + f.Since.UTC().Format(time.DateOnly)
	if err := effWait(); err != nil {
		return nil, err
	}
	d.Automation, d.Automated, d.Manual = e.Automation.Level, e.Automation.Automated, e.Automation.Manual
	d.Interventions, d.EngineerSeconds = e.Interventions.Total, e.Interventions.EngineerMinutes*60
	d.ReplicaHours, d.SavedHours = e.Cost.ReplicaSeconds/3600, e.Cost.SavedReplicaSeconds/3600
	d.Cost, d.Saving, d.Currency = e.Cost.Cost, e.Cost.Saving, e.Cost.Currency
	return d, nil
}

func (w *Web) delivery(r *request) (any, error) {
	s := r.snap
	since, until, sinceText, err := r.window("90d")
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	d := &deliveryData{Since: sinceText, Team: q.Get("team"), App: q.Get("app"), Env: q.Get("env"), At: q.Get("at"), Teams: s.depTeams, Envs: s.envs}
	d.Apps = s.deployedApps()
	d.Empty = len(d.Apps) == 0
	envs := s.settings.ProductionEnvs
	if d.Env != "" {
		envs = []string{d.Env}
	}
	d.CountedEnvs = envs
	f := depFilter{App: d.App, Team: d.Team, Envs: envs, Since: since, Until: until}
	// The efficiency panel asks the engine while this goroutine computes
	// the rest of the page from the partitions.
	effWait := inBackground(func() (err error) { d.Eff, err = w.efficiency(r, f); return })
	defer effWait() // on an early return too
	th := s.settings.Thresholds
	parts := s.partsOf(f.App, f.Envs)
	win := partWindows(parts, since, until)
	// The team and app table on another core meanwhile.
	groupsWait := inBackground(func() error {
		d.Groups = groupRows(parts, win, f, s.depTeams, d.Apps, th)
		return nil
	})
	defer groupsWait() // on an early return too
	rep := metrics.ComputeParts(win, f.metrics(), since, until, th)
	d.Report, d.Href = rep, f.href()
	trend := metrics.TrendParts(func(from, to time.Time) [][]history.Deployment { return partWindows(parts, from, to) },
		f.metrics(), since, until, 7*24*time.Hour, th)
	series := func(get func(metrics.Point) *float64) []float64 {
		out := make([]float64, len(trend))
		for i, p := range trend {
			out[i] = nanOr(get(p))
		}
		return out
	}
	failed, rework := f, f
	failed.Failed, rework.Rework = true, true
	perWeek := rep.DeploymentFrequencyPerWeek
	d.Tiles = []tile{
		{Key: "deployment_frequency", Kind: "frequency", Value: &rep.DeploymentFrequencyPerDay, Extra: &perWeek, Tier: rep.Tiers["deployment_frequency"], N: rep.Deployments, Of: rep.DeployDays, Href: f.href(),
			Spark: sparkline(series(func(p metrics.Point) *float64 { v := float64(p.Deployments); return &v }), r.t["metric.deployment_frequency"])},
		{Key: "lead_time", Kind: "duration", Value: rep.LeadTimeMedianSeconds, Extra: rep.LeadTimeP90Seconds, Tier: rep.Tiers["lead_time"], N: rep.LeadTimeChanges, Of: rep.ChangesWithoutTime, Href: f.href(),
			Spark: sparkline(series(func(p metrics.Point) *float64 { return p.LeadTimeMedianSeconds }), r.t["metric.lead_time"])},
		{Key: "change_failure_rate", Kind: "rate", Value: rep.ChangeFailureRate, Tier: rep.Tiers["change_failure_rate"], N: rep.FailedDeployments, Of: rep.Deployments, Href: failed.href(),
			Spark: sparkline(series(func(p metrics.Point) *float64 { return p.ChangeFailureRate }), r.t["metric.change_failure_rate"])},
		{Key: "recovery_time", Kind: "duration", Value: rep.RecoveryTimeMedianSeconds, Tier: rep.Tiers["recovery_time"], N: rep.Recovered, Of: rep.Unrecovered, Href: failed.href(),
			Spark: sparkline(series(func(p metrics.Point) *float64 { return p.RecoveryTimeMedianSeconds }), r.t["metric.recovery_time"])},
		{Key: "rework_rate", Kind: "rate", Value: rep.ReworkRate, N: rep.ReworkDeployments, Of: rep.Deployments, Href: rework.href()},
	}
	if d.At != "" {
		at, err := parseTime(d.At)
		if err != nil || !at.After(since) || !at.Before(until) {
			return nil, badInput{"error.at"}
		}
		c := metrics.Comparison{At: at, Before: metrics.SummaryParts(partWindows(parts, since, at), f.metrics(), since, at, th),
			After: metrics.SummaryParts(partWindows(parts, at, until), f.metrics(), at, until, th)}
		d.CompareAt = at
		fb, fa := f, f
		fb.Until, fa.Since = at, at
		fbf, faf := fb, fa
		fbf.Failed, faf.Failed = true, true
		fpd := func(r metrics.Report) *float64 { v := r.DeploymentFrequencyPerDay; return &v }
		d.Compare = []cmpRow{
			{"deployment_frequency", "frequency", fpd(c.Before), fpd(c.After), c.Before.Tiers["deployment_frequency"], c.After.Tiers["deployment_frequency"], fb.href(), fa.href()},
			{"lead_time", "duration", c.Before.LeadTimeMedianSeconds, c.After.LeadTimeMedianSeconds, c.Before.Tiers["lead_time"], c.After.Tiers["lead_time"], fb.href(), fa.href()},
			{"change_failure_rate", "rate", c.Before.ChangeFailureRate, c.After.ChangeFailureRate, c.Before.Tiers["change_failure_rate"], c.After.Tiers["change_failure_rate"], fbf.href(), faf.href()},
			{"recovery_time", "duration", c.Before.RecoveryTimeMedianSeconds, c.After.RecoveryTimeMedianSeconds, c.Before.Tiers["recovery_time"], c.After.Tiers["recovery_time"], fbf.href(), faf.href()},
			{"rework_rate", "rate", c.Before.ReworkRate, c.After.ReworkRate, "", "", fb.href(), fa.href()},
		}
	}
	d.Stages, d.StageMean = rep.Stages, rep.LeadTimeMeanSeconds
	var segs []segment
	for i, st := range rep.Stages {
		segs = append(segs, segment{Label: r.t["stage."+st.Name], Value: st.MeanSeconds, Class: "seg-" + strconv.Itoa(i%8)})
	}
	d.Breakdown = stackedBar(segs, r.t["delivery.breakdown"], 28)
	var labels []string
	var counts []int
	for _, b := range rep.LeadTimeDistribution {
		labels, counts = append(labels, b.Label), append(counts, b.Count)
	}
	d.Dist = bars(labels, counts, r.t["delivery.distribution"])
	groupsWait()
	if err := effWait(); err != nil {
		return nil, err
	}
	return d, nil
}

// groupRows are the team and app table of the Delivery page: per team
// (when f selects no app), then per app, within f's team and app; each
// group counts the windows (win, of parts) that have its deployments.
func groupRows(parts []engine.Partition, win [][]history.Deployment, f depFilter, teams, apps []string, th metrics.Thresholds) []groupRow {
	var rows []groupRow
	byTeam, byApp := map[string][][]history.Deployment{}, map[string][][]history.Deployment{}
	for i, p := range parts {
		w := win[i]
		byApp[p.App] = append(byApp[p.App], w)
		prev := ""
		for j := range w {
			if t := w[j].Team; j == 0 || t != prev {
				if l := byTeam[t]; len(l) == 0 || !sameList(l[len(l)-1], w) {
					byTeam[t] = append(byTeam[t], w)
				}
				prev = t
			}
		}
	}
	if f.App == "" {
		for _, t := range teams {
			if f.Team != "" && t != f.Team {
				continue
			}
			g := f
			g.Team = t
			if row := group(byTeam[t], g, t, true, th); row.Report.Deployments > 0 || f.Team == t {
				rows = append(rows, row)
			}
		}
	}
	for _, a := range apps {
		if f.App != "" && a != f.App {
			continue
		}
		g := f
		g.App = a
		row := group(byApp[a], g, a, false, th)
		if row.Report.Deployments > 0 || f.App == a {
			rows = append(rows, row)
		}
	}
	return rows
}

func group(w [][]history.Deployment, f depFilter, label string, team bool, th metrics.Thresholds) groupRow {
	ff := f
	ff.Failed = true
	return groupRow{Label: label, IsTeam: team, Report: metrics.SummaryParts(w, f.metrics(), f.Since, f.Until, th), Href: f.href(), FailedHref: ff.href()}
}

// partWindows returns the deployments of each partition live in [since, until).
func partWindows(parts []engine.Partition, since, until time.Time) [][]history.Deployment {
	out := make([][]history.Deployment, len(parts))
	for i, p := range parts {
		out[i] = p.Window(since, until)
	}
	return out
}

// sameList reports whether a and b are the same window of one partition.
func sameList(a, b []history.Deployment) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// The deployments list behind a number.

type deploymentsData struct {
	Since, Until time.Time
	App, Team    string
	Envs         []string
	Failed       bool
	Rework       bool
	Total        int
	Rows         []history.Deployment
	Pager        pager
}

func (w *Web) deployments(r *request) (any, error) {
	s := r.snap
	since, until, _, err := r.window("90d")
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	f := depFilter{App: q.Get("app"), Team: q.Get("team"), Envs: q["env"], Since: since, Until: until,
		Failed: q.Get("failed") == "true", Rework: q.Get("rework") == "true"}
	if len(f.Envs) == 0 {
		f.Envs = s.settings.ProductionEnvs
	}
	d := &deploymentsData{Since: since, Until: until, App: f.App, Team: f.Team, Envs: f.Envs, Failed: f.Failed, Rework: f.Rework}
	off := r.offset()
	rows, total := engine.NewestFirst(s.partsOf(f.App, f.Envs), since, until, f.keep, off, pageSize)
	d.Total = total
	for _, dep := range rows {
		d.Rows = append(d.Rows, *dep)
	}
	d.Pager = r.pager(off, d.Total, len(d.Rows))
	return d, nil
}
