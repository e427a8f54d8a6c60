// Package metrics computes delivery KPIs — the DORA metrics with their
// performance tiers, and the stage breakdown of lead time — from a
// deployment history. Definitions are in docs/metrics.md; every function
// here is pure.
package metrics

import (
	"math"
	"math/bits"
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
	return ComputeParts([][]history.Deployment{deps}, f, since, until, th)
}

// ComputeParts is Compute over the deployments of several lists (the
// partitions of a history): the result does not depend on their order.
func ComputeParts(parts [][]history.Deployment, f Filter, since, until time.Time, th Thresholds) Report {
	return computeParts(parts, f, since, until, th, true)
}

// SummaryParts is ComputeParts without what only a breakdown of lead
// time shows: its stages, distribution, 90th percentile and mean (left
// empty), which cost most of the computation. Tables and trends of
// several groups read the rest.
func SummaryParts(parts [][]history.Deployment, f Filter, since, until time.Time, th Thresholds) Report {
	return computeParts(parts, f, since, until, th, false)
}

func computeParts(parts [][]history.Deployment, f Filter, since, until time.Time, th Thresholds, breakdown bool) Report {
	r := Report{Since: since, Until: until, Filter: f}
	days := dayCounter{from: dayOf(since)}
	if span := dayOf(until) - days.from; span >= 0 && span < 1<<20 {
		days.seen = make([]bool, span+1)
	} else {
		days.other = map[int64]bool{}
	}
	// Sized once: an upper bound of the changes counted.
	n := 0
	for _, deps := range parts {
		for i := range deps {
			n += len(deps[i].Changes)
		}
	}
	leads := make([]float64, 0, n)
	var recoveries []float64
	var leadSum sum128
	stageVals := make([][]float64, len(history.Stages))
	stageSums := make([]sum128, len(history.Stages))
	for _, deps := range parts {
		for i := range deps {
			d := &deps[i]
			if !f.keep(d) || d.LiveAt.Before(since) || !d.LiveAt.Before(until) {
				continue
			}
			r.Deployments++
			days.add(dayOf(d.LiveAt))
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
				if !breakdown {
					continue
				}
				leadSum.add(int64(*c.LeadTime))
				for _, s := range c.Stages {
					if k := stageIndex(s.Name); k >= 0 {
						if stageVals[k] == nil {
							stageVals[k] = make([]float64, 0, n)
						}
						stageVals[k] = append(stageVals[k], s.Duration.Seconds())
						stageSums[k].add(int64(s.Duration))
					}
				}
			}
		}
	}
	r.DeployDays = days.n
	if span := until.Sub(since).Hours() / 24; span > 0 {
		r.DeploymentFrequencyPerDay = float64(r.Deployments) / span
		r.DeploymentFrequencyPerWeek = r.DeploymentFrequencyPerDay * 7
	}
	r.LeadTimeChanges = len(leads)
	if len(leads) > 0 {
		r.LeadTimeMedianSeconds = ptr(percentile(leads, 0.5))
	}
	if breakdown {
		r.LeadTimeDistribution = distribution(leads)
	}
	if len(leads) > 0 && breakdown {
		r.LeadTimeP90Seconds = ptr(percentile(leads, 0.9))
		r.LeadTimeMeanSeconds = ptr(leadSum.seconds() / float64(len(leads)))
		for k, name := range history.Stages {
			vals := stageVals[k]
			st := StageStat{Name: name, MeanSeconds: stageSums[k].seconds() / float64(len(leads)), Known: len(vals)}
			if len(vals) > 0 {
				st.MedianSeconds = percentile(vals, 0.5)
			}
			r.Stages = append(r.Stages, st)
		}
	}
	if r.Deployments > 0 {
		r.ChangeFailureRate = ptr(float64(r.FailedDeployments) / float64(r.Deployments))
		r.ReworkRate = ptr(float64(r.ReworkDeployments) / float64(r.Deployments))
	}
	if len(recoveries) > 0 {
		r.RecoveryTimeMedianSeconds = ptr(percentile(recoveries, 0.5))
	}
	r.Tiers = tiers(r, th)
	return r
}

// dayOf is the UTC day of t, as a day number.
func dayOf(t time.Time) int64 {
	s := t.Unix()
	d := s / 86400
	if s%86400 < 0 {
		d--
	}
	return d
}

func stageIndex(name string) int {
	switch name { // history.Stages, in order
	case history.StageReview:
		return 0
	case history.StageCI:
		return 1
	case history.StageArtifact:
		return 2
	case history.StageManifest:
		return 3
	case history.StageSync:
		return 4
	case history.StageRollout:
		return 5
	}
	return -1
}

// dayCounter counts distinct days: in a slice over the window's days, or
// a map for days outside it.
type dayCounter struct {
	from  int64
	seen  []bool
	other map[int64]bool
	n     int
}

func (c *dayCounter) add(day int64) {
	if i := day - c.from; i >= 0 && i < int64(len(c.seen)) {
		if !c.seen[i] {
			c.seen[i] = true
			c.n++
		}
		return
	}
	if c.other == nil {
		c.other = map[int64]bool{}
	}
	if !c.other[day] {
		c.other[day] = true
		c.n++
	}
}

// sum128 adds durations exactly (in 128 bits, so no order of addition
// changes the result), for means.
type sum128 struct{ hi, lo uint64 }

func (s *sum128) add(d int64) {
	var c uint64
	s.lo, c = bits.Add64(s.lo, uint64(d), 0)
	s.hi += c
	if d < 0 {
		s.hi-- // sign extension of d
	}
}

// seconds converts the sum of nanoseconds to seconds.
func (s sum128) seconds() float64 {
	if int64(s.hi) < 0 { // negative: not for durations here, but exact anyway
		n := sum128{^s.hi, ^s.lo}
		n.add(1)
		return -n.seconds()
	}
	if s.hi == 0 {
		return float64(s.lo) / 1e9
	}
	return (float64(s.hi)*(1<<64) + float64(s.lo)) / 1e9
}

// percentile is Percentile of unsorted values, which it reorders: it
// selects the two order statistics it needs instead of sorting.
func percentile(v []float64, p float64) float64 {
	pos := p * float64(len(v)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(v)-1)
	a := selectNth(v, lo)
	b := a
	if hi != lo {
		b = slices.Min(v[lo+1:]) // the next order statistic: the least of those above
	}
	return a + (b-a)*(pos-float64(lo))
}

// selectNth reorders v so that v[k] is the value a sort would put there,
// with no greater value before it and no smaller one after, and returns it.
func selectNth(v []float64, k int) float64 {
	lo, hi := 0, len(v)-1
	for lo < hi {
		// Median of three as the pivot, then a three-way partition.
		m := lo + (hi-lo)/2
		a, b, c := v[lo], v[m], v[hi]
		pivot := max(min(a, b), min(max(a, b), c))
		lt, i, gt := lo, lo, hi
		for i <= gt {
			switch x := v[i]; {
			case x < pivot:
				v[lt], v[i] = v[i], v[lt]
				lt++
				i++
			case x > pivot:
				v[gt], v[i] = v[i], v[gt]
				gt--
			default:
				i++
			}
		}
		switch {
		case k < lt:
			hi = lt - 1
		case k > gt:
			lo = gt + 1
		default:
			return v[k]
		}
	}
	return v[k]
}

func ptr(v float64) *float64 { return &v }

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

// Comparison is the KPIs before and after a date or, By "adoption",
// before and after each app's own GitOps adoption date (At is then zero
// and Apps says where each app was split).
type Comparison struct {
	At     time.Time `json:"at,omitzero"`
	By     string    `json:"by,omitempty"` // "adoption" for the per-app split; empty: at a date
	Before Report    `json:"before"`
	After  Report    `json:"after"`
	// Apps are the apps of a per-app split, by name.
	Apps []AppSplit `json:"apps,omitempty"`
}

// AppSplit is one app of a comparison split at each app's GitOps adoption.
type AppSplit struct {
	App string `json:"app"`
	// AdoptedAt is the app's adoption date, nil when it has none (it
	// counts wholly before); Source says where it comes from: "manifest",
	// "sync" or "config".
	AdoptedAt         *time.Time `json:"adopted_at"`
	Source            string     `json:"source,omitempty"`
	BeforeDeployments int        `json:"before_deployments"`
	AfterDeployments  int        `json:"after_deployments"`
	// BeforeDays and AfterDays are the days of the window on each side of
	// the app's adoption date.
	BeforeDays float64 `json:"before_days"`
	AfterDays  float64 `json:"after_days"`
}

// PerAppDays makes r's deployment frequency deployments per app-day —
// its deployments divided by appDays, the days each app spent on r's side
// of its adoption date, summed over apps — and re-tiers it.
func PerAppDays(r *Report, appDays float64, th Thresholds) {
	r.DeploymentFrequencyPerDay, r.DeploymentFrequencyPerWeek = 0, 0
	if appDays > 0 {
		r.DeploymentFrequencyPerDay = float64(r.Deployments) / appDays
		r.DeploymentFrequencyPerWeek = r.DeploymentFrequencyPerDay * 7
	}
	r.Tiers = tiers(*r, th)
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
	all := [][]history.Deployment{deps}
	return TrendParts(func(time.Time, time.Time) [][]history.Deployment { return all }, f, since, until, period, th)
}

// TrendParts is Trend over the deployments of several lists (the
// partitions of a history): windows returns those of a period [from, to),
// or more.
func TrendParts(windows func(from, to time.Time) [][]history.Deployment, f Filter, since, until time.Time, period time.Duration, th Thresholds) []Point {
	var out []Point
	for start := since; start.Before(until); start = start.Add(period) {
		end := start.Add(period)
		if end.After(until) {
			end = until
		}
		r := SummaryParts(windows(start, end), f, start, end, th)
		out = append(out, Point{Start: start, Deployments: r.Deployments, LeadTimeMedianSeconds: r.LeadTimeMedianSeconds,
			ChangeFailureRate: r.ChangeFailureRate, RecoveryTimeMedianSeconds: r.RecoveryTimeMedianSeconds})
	}
	return out
}
