// Package metrics computes delivery KPIs — the DORA metrics with their
// performance tiers, and the stage breakdown of lead time — from a
// deployment history. Definitions are in docs/metrics.md; every function
// here is pure.
package metrics

import (
	"math"
	"slices"
	"time"

	"github.com/shiplog-dev/shiplog/internal/engine/history"
)

// Tier is a DORA performance tier.
type Tier string

// Tiers, best first. Unknown when a metric has no data.
const (
	Elite   Tier = "elite"
	High    Tier = "high"
	Medium  Tier = "medium"
	Low     Tier = "low"
	Unknown Tier = "unknown"
)

// Thresholds place a metric value in a tier. For "higher is better"
// metrics (deployment frequency) a value at or above Elite is elite; for
// the others a value at or below Elite is elite, and so on.
type Thresholds struct {
	DeploymentsPerDay struct{ Elite, High, Medium float64 }
	LeadTime          struct{ Elite, High, Medium time.Duration }
	ChangeFailureRate struct{ Elite, High, Medium float64 }
	RecoveryTime      struct{ Elite, High, Medium time.Duration }
}

// DefaultThresholds follow the clusters of the 2024 DORA report: elite
// teams deploy on demand (several times a day) with lead times under a day
// and recover within an hour; high teams deploy between daily and weekly
// with lead times under a week and recover within a day; medium teams deploy
// between weekly and monthly with lead times under a month. The report's
// change failure rates are not monotonic across clusters (elite 5 %, high
// 20 %, medium 10 %, low 40 %), so the per-metric tiers use 5 %, 10 % and
// 20 %.
func DefaultThresholds() Thresholds {
	var t Thresholds
	t.DeploymentsPerDay.Elite, t.DeploymentsPerDay.High, t.DeploymentsPerDay.Medium = 1, 1.0/7, 1.0/30
	t.LeadTime.Elite, t.LeadTime.High, t.LeadTime.Medium = 24*time.Hour, 7*24*time.Hour, 30*24*time.Hour
	t.ChangeFailureRate.Elite, t.ChangeFailureRate.High, t.ChangeFailureRate.Medium = 0.05, 0.10, 0.20
	t.RecoveryTime.Elite, t.RecoveryTime.High, t.RecoveryTime.Medium = time.Hour, 24*time.Hour, 7*24*time.Hour
	return t
}

// Filter selects deployments. Empty fields do not filter; Envs lists the
// environments counted (typically production).
type Filter struct {
	App  string   `json:"app,omitempty"`
	Team string   `json:"team,omitempty"`
	Envs []string `json:"environments,omitempty"`
}

func (f Filter) keep(d *history.Deployment) bool {
	return (f.App == "" || d.App == f.App) && (f.Team == "" || d.Team == f.Team) &&
		(len(f.Envs) == 0 || slices.Contains(f.Envs, d.Env)) && !d.Rewritten
}

// StageStat is where lead time goes: a stage's share of the mean lead time.
type StageStat struct {
	Name string `json:"name"`
	// MeanSeconds is the stage's total time over all changes with a lead
	// time, divided by their number: the stages' means add up to the mean
	// lead time.
	MeanSeconds   float64 `json:"mean_seconds"`
	MedianSeconds float64 `json:"median_seconds"` // over the changes where the stage is known
	Known         int     `json:"known"`          // changes where the stage's end is known
}

// Bucket is one bar of the lead time distribution: changes with a lead time
// at most UpToSeconds (and above the previous bucket's bound).
type Bucket struct {
	UpToSeconds float64 `json:"up_to_seconds"` // +Inf for the last one, encoded as -1 in JSON
	Label       string  `json:"label"`
	Count       int     `json:"count"`
}

// Report is the KPI set for one window.
type Report struct {
	Since  time.Time `json:"since"`
	Until  time.Time `json:"until"`
	Filter Filter    `json:"filter"`

	Deployments                int     `json:"deployments"`
	DeployDays                 int     `json:"deploy_days"`
	DeploymentFrequencyPerDay  float64 `json:"deployment_frequency_per_day"`
	DeploymentFrequencyPerWeek float64 `json:"deployment_frequency_per_week"`

	LeadTimeMedianSeconds *float64    `json:"lead_time_median_seconds"`
	LeadTimeP90Seconds    *float64    `json:"lead_time_p90_seconds"`
	LeadTimeMeanSeconds   *float64    `json:"lead_time_mean_seconds"`
	LeadTimeChanges       int         `json:"lead_time_changes"`
	ChangesWithoutTime    int         `json:"changes_without_commit_time"`
	ClockSkewChanges      int         `json:"clock_skew_changes"`
	LeadTimeDistribution  []Bucket    `json:"lead_time_distribution"`
	Stages                []StageStat `json:"stages"`

	FailedDeployments         int      `json:"failed_deployments"`
	ChangeFailureRate         *float64 `json:"change_failure_rate"`
	RecoveryTimeMedianSeconds *float64 `json:"recovery_time_median_seconds"`
	Recovered                 int      `json:"recovered"`
	Unrecovered               int      `json:"unrecovered"`
	ReworkDeployments         int      `json:"rework_deployments"`
	ReworkRate                *float64 `json:"rework_rate"`

	Tiers map[string]Tier `json:"tiers"`
}

// Compute returns the KPIs of the deployments in [since, until) that f keeps.
func Compute(deps []history.Deployment, f Filter, since, until time.Time, th Thresholds) Report {
	r := Report{Since: since, Until: until, Filter: f}
	days := map[string]bool{}
	var leads, recoveries []float64
	stageSum := map[string]float64{}
	stageVals := map[string][]float64{}
	for i := range deps {
		d := &deps[i]
		if !f.keep(d) || d.LiveAt.Before(since) || !d.LiveAt.Before(until) {
			continue
		}
		r.Deployments++
		days[d.LiveAt.UTC().Format("2006-01-02")] = true
		if d.Failed() {
			r.FailedDeployments++
			if rt := d.RecoveryTime(); rt != nil {
				r.Recovered++
				recoveries = append(recoveries, rt.Seconds())
			} else {
				r.Unrecovered++
			}
		}
		if d.Rework() {
			r.ReworkDeployments++
		}
		for _, c := range d.Changes {
			if c.LeadTime == nil {
				r.ChangesWithoutTime++
				continue
			}
			if c.ClockSkew {
				r.ClockSkewChanges++
			}
			leads = append(leads, c.LeadTime.Seconds())
			for _, s := range c.Stages {
				stageSum[s.Name] += s.Duration.Seconds()
				stageVals[s.Name] = append(stageVals[s.Name], s.Duration.Seconds())
			}
		}
	}
	r.DeployDays = len(days)
	if span := until.Sub(since).Hours() / 24; span > 0 {
		r.DeploymentFrequencyPerDay = float64(r.Deployments) / span
		r.DeploymentFrequencyPerWeek = r.DeploymentFrequencyPerDay * 7
	}
	r.LeadTimeChanges = len(leads)
	if len(leads) > 0 {
		slices.Sort(leads)
		r.LeadTimeMedianSeconds = ptr(Percentile(leads, 0.5))
		r.LeadTimeP90Seconds = ptr(Percentile(leads, 0.9))
		r.LeadTimeMeanSeconds = ptr(mean(leads))
		for _, name := range history.Stages {
			vals := stageVals[name]
			st := StageStat{Name: name, MeanSeconds: stageSum[name] / float64(len(leads)), Known: len(vals)}
			if len(vals) > 0 {
				slices.Sort(vals)
				st.MedianSeconds = Percentile(vals, 0.5)
			}
			r.Stages = append(r.Stages, st)
		}
	}
	r.LeadTimeDistribution = distribution(leads)
	if r.Deployments > 0 {
		r.ChangeFailureRate = ptr(float64(r.FailedDeployments) / float64(r.Deployments))
		r.ReworkRate = ptr(float64(r.ReworkDeployments) / float64(r.Deployments))
	}
	if len(recoveries) > 0 {
		slices.Sort(recoveries)
		r.RecoveryTimeMedianSeconds = ptr(Percentile(recoveries, 0.5))
	}
	r.Tiers = tiers(r, th)
	return r
}

func ptr(v float64) *float64 { return &v }

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// Percentile of sorted values by linear interpolation between the closest
// ranks (the method of numpy's default and spreadsheets' PERCENTILE.INC):
// the median of 1, 2, 3, 4 is 2.5.
func Percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	pos := p * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	return sorted[lo] + (sorted[hi]-sorted[lo])*(pos-float64(lo))
}

var bucketBounds = []struct {
	upTo  time.Duration
	label string
}{
	{time.Hour, "< 1 h"}, {24 * time.Hour, "1 h – 1 d"}, {7 * 24 * time.Hour, "1 d – 1 w"},
	{30 * 24 * time.Hour, "1 w – 1 mo"}, {182 * 24 * time.Hour, "1 – 6 mo"}, {-1, "> 6 mo"},
}

func distribution(leads []float64) []Bucket {
	out := make([]Bucket, len(bucketBounds))
	for i, b := range bucketBounds {
		out[i] = Bucket{UpToSeconds: b.upTo.Seconds(), Label: b.label}
		if b.upTo < 0 {
			out[i].UpToSeconds = -1
		}
	}
	for _, l := range leads {
		for i, b := range bucketBounds {
			if b.upTo < 0 || l < b.upTo.Seconds() {
				out[i].Count++
				break
			}
		}
	}
	return out
}

func tiers(r Report, th Thresholds) map[string]Tier {
	t := map[string]Tier{}
	if r.Deployments == 0 {
		t["deployment_frequency"] = Low
	} else {
		t["deployment_frequency"] = higherBetter(r.DeploymentFrequencyPerDay, th.DeploymentsPerDay.Elite, th.DeploymentsPerDay.High, th.DeploymentsPerDay.Medium)
	}
	t["lead_time"] = lowerBetterDur(r.LeadTimeMedianSeconds, th.LeadTime.Elite, th.LeadTime.High, th.LeadTime.Medium)
	t["change_failure_rate"] = lowerBetter(r.ChangeFailureRate, th.ChangeFailureRate.Elite, th.ChangeFailureRate.High, th.ChangeFailureRate.Medium)
	t["recovery_time"] = lowerBetterDur(r.RecoveryTimeMedianSeconds, th.RecoveryTime.Elite, th.RecoveryTime.High, th.RecoveryTime.Medium)
	return t
}

func higherBetter(v, elite, high, medium float64) Tier {
	switch {
	case v >= elite:
		return Elite
	case v >= high:
		return High
	case v >= medium:
		return Medium
	}
	return Low
}

func lowerBetter(v *float64, elite, high, medium float64) Tier {
	switch {
	case v == nil:
		return Unknown
	case *v <= elite:
		return Elite
	case *v <= high:
		return High
	case *v <= medium:
		return Medium
	}
	return Low
}

func lowerBetterDur(v *float64, elite, high, medium time.Duration) Tier {
	switch {
	case v == nil:
		return Unknown
	case *v < elite.Seconds():
		return Elite
	case *v < high.Seconds():
		return High
	case *v < medium.Seconds():
		return Medium
	}
	return Low
}

// Comparison is the KPIs before and after a date.
type Comparison struct {
	At     time.Time `json:"at"`
	Before Report    `json:"before"`
	After  Report    `json:"after"`
}

// Compare computes the KPIs in [since, at) and [at, until).
func Compare(deps []history.Deployment, f Filter, since, at, until time.Time, th Thresholds) Comparison {
	return Comparison{At: at, Before: Compute(deps, f, since, at, th), After: Compute(deps, f, at, until, th)}
}

// Point is one period of a trend.
type Point struct {
	Start                     time.Time `json:"start"`
	Deployments               int       `json:"deployments"`
	LeadTimeMedianSeconds     *float64  `json:"lead_time_median_seconds"`
	ChangeFailureRate         *float64  `json:"change_failure_rate"`
	RecoveryTimeMedianSeconds *float64  `json:"recovery_time_median_seconds"`
}

// Trend computes the KPIs per period of the window (a week: 7 days),
// periods aligned on since.
func Trend(deps []history.Deployment, f Filter, since, until time.Time, period time.Duration, th Thresholds) []Point {
	var out []Point
	for start := since; start.Before(until); start = start.Add(period) {
		end := start.Add(period)
		if end.After(until) {
			end = until
		}
		r := Compute(deps, f, start, end, th)
		out = append(out, Point{Start: start, Deployments: r.Deployments, LeadTimeMedianSeconds: r.LeadTimeMedianSeconds,
			ChangeFailureRate: r.ChangeFailureRate, RecoveryTimeMedianSeconds: r.RecoveryTimeMedianSeconds})
	}
	return out
}
