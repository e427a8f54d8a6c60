package metrics_test

import (
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine/history"
	"github.com/shiplog-dev/shiplog/internal/engine/metrics"
)

var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

func at(h float64) time.Time { return t0.Add(time.Duration(h * float64(time.Hour))) }

const (
	c1 = "1111111111111111111111111111111111111111"
	c2 = "2222222222222222222222222222222222222222"
	c3 = "3333333333333333333333333333333333333333"
	m1 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1"
	m2 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2"
	m3 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa3"
	m4 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa4"
	m5 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa5"
)

func dep(id string, h float64, kind delivery.EventType, from, artifact, manifest string, changes ...string) delivery.DeploymentRecord {
	return delivery.DeploymentRecord{Source: from, EventID: id, Kind: kind, App: "api", Env: "prod", Time: at(h),
		Deployment: delivery.Deployment{Artifact: artifact, ManifestCommit: manifest, Changes: changes, InferredFrom: from}}
}

// scenario is the hand-computed history of docs/metrics.md's worked example.
func scenario() history.Input {
	in := history.Input{
		Commits: map[string]delivery.CommitRecord{
			c1: {Commit: delivery.Commit{SHA: c1, CommittedAt: at(0)}},
			c2: {Commit: delivery.Commit{SHA: c2, CommittedAt: at(1)}},
			c3: {Commit: delivery.Commit{SHA: c3, CommittedAt: at(10)}},
		},
		Changes:      []delivery.ChangeRecord{{Repo: "r", Number: 7, Title: "Add cache", OpenedAt: at(1), MergedAt: at(2), MergeSHA: c2}},
		PipelineRuns: []delivery.PipelineRunRecord{{Source: "github", RunID: "9/1", SHA: c2, FinishedAt: at(2.5), Outcome: delivery.OutcomeSuccess}},
		Artifacts:    []delivery.ArtifactRecord{{Key: "a", Name: "ghcr.io/acme/api", Tag: "1", SourceCommit: c2, PublishedAt: at(3)}},
		Syncs: []delivery.SyncRecord{
			{Application: "api-prod", App: "api", Env: "prod", StartedAt: at(3.8), FinishedAt: at(3.9), Revision: m1, Phase: delivery.PhaseSucceeded},
			{Application: "api-prod", App: "api", Env: "prod", StartedAt: at(50.5), FinishedAt: at(51), Revision: m5, Phase: delivery.PhaseFailed},
		},
		Health: []delivery.HealthRecord{
			{App: "api", Env: "prod", Time: at(21), Health: delivery.Health{Application: "api-prod", Status: delivery.Degraded}},
			{App: "api", Env: "prod", Time: at(21.5), Health: delivery.Health{Application: "api-prod", Status: delivery.Healthy}},
		},
		Incidents: []delivery.IncidentRecord{{Source: "alertmanager", IncidentID: "x", App: "api", Env: "prod", DetectedAt: at(21.2), ResolvedAt: at(22)}},
		Deployments: []delivery.DeploymentRecord{
			dep("k1", 4.2, delivery.ServiceUpgraded, "knative", "ghcr.io/acme/api:1", ""),
			dep("g1", 3.5, delivery.ServiceUpgraded, "git", "ghcr.io/acme/api:1", m1, c2, c1),
			dep("a1", 4, delivery.ServiceUpgraded, "argocd", "ghcr.io/acme/api:1", m1),
			dep("g2", 20, delivery.ServiceUpgraded, "git", "ghcr.io/acme/api:2", m2, c3),
			dep("a2", 20.5, delivery.ServiceUpgraded, "argocd", "ghcr.io/acme/api:2", m2),
			dep("g3", 29, delivery.ServiceRolledBack, "git", "ghcr.io/acme/api:1", m3),
			dep("a3", 30, delivery.ServiceUpgraded, "argocd", "ghcr.io/acme/api:1", m3),
			dep("g5", 50, delivery.ServiceUpgraded, "git", "ghcr.io/acme/api:4", m5),
		},
	}
	rewritten := dep("g4", 40, delivery.ServiceUpgraded, "git", "ghcr.io/acme/api:3", m4)
	rewritten.Rewritten = true
	in.Deployments = append(in.Deployments, rewritten)
	return in
}

func hours(d time.Duration) float64 { return d.Hours() }

func TestHistoryScenario(t *testing.T) {
	deps := history.Build(scenario(), history.Config{Now: at(72)})
	if len(deps) != 5 {
		t.Fatalf("%d deployments, want 5", len(deps))
	}
	d1 := deps[0]
	if !d1.LiveAt.Equal(at(4.2)) || d1.InferredFrom != "knative" || !slices.Equal(d1.Sources, []string{"argocd", "git", "knative"}) || d1.ManifestCommit != m1 {
		t.Errorf("first deployment: live %s from %s sources %v manifest %s; want %s knative [argocd git knative] %s",
			d1.LiveAt, d1.InferredFrom, d1.Sources, d1.ManifestCommit, at(4.2), m1)
	}
	// c2: review 1→2, ci 2→2.5, artifact 2.5→3, manifest 3→3.5, sync 3.5→3.9, rollout 3.9→4.2.
	var got []float64
	var names []string
	for _, s := range d1.Changes[0].Stages {
		got = append(got, math.Round(hours(s.Duration)*10)/10)
		names = append(names, s.Name)
	}
	if !slices.Equal(names, history.Stages) || !slices.Equal(got, []float64{1, 0.5, 0.5, 0.5, 0.4, 0.3}) {
		t.Errorf("c2 stages %v %v, want %v [1 0.5 0.5 0.5 0.4 0.3]", names, got, history.Stages)
	}
	// c1 has no pull request, CI run or artifact of its own: its first known
	// checkpoint is the manifest commit, which absorbs the earlier stages.
	c1s := d1.Changes[1].Stages
	if len(c1s) != 3 || c1s[0].Name != history.StageManifest || !slices.Equal(c1s[0].Includes, []string{"review", "ci", "artifact"}) || hours(c1s[0].Duration) != 3.5 {
		t.Errorf("c1 stages: %+v", c1s)
	}
	d2 := deps[1]
	reasons := []string{}
	for _, f := range d2.Failures {
		reasons = append(reasons, f.Reason)
	}
	if !slices.Equal(reasons, []string{history.FailDegraded, history.FailIncident, history.FailRollback}) {
		t.Errorf("second deployment failures %v", reasons)
	}
	if rt := d2.RecoveryTime(); rt == nil || *rt != 30*time.Minute {
		t.Errorf("second deployment recovery %v, want 30m (Degraded 21:00 → Healthy 21:30)", rt)
	}
	if !deps[2].Rollback || deps[2].Failed() {
		t.Errorf("third deployment: rollback %v failed %v; want a rollback that did not fail", deps[2].Rollback, deps[2].Failed())
	}
	if !deps[3].Rewritten {
		t.Errorf("fourth deployment should be marked rewritten")
	}
	d5 := deps[4]
	if len(d5.Failures) != 1 || d5.Failures[0].Reason != history.FailSync || d5.RecoveryTime() != nil {
		t.Errorf("last deployment: failures %+v, recovery %v; want one sync failure, not recovered", d5.Failures, d5.RecoveryTime())
	}
}

func TestMetricsScenario(t *testing.T) {
	deps := history.Build(scenario(), history.Config{Now: at(72)})
	r := metrics.Compute(deps, metrics.Filter{Envs: []string{"prod"}}, at(0), at(72), metrics.DefaultThresholds())
	f := func(p *float64) float64 {
		if p == nil {
			return math.NaN()
		}
		return math.Round(*p*1000) / 1000
	}
	checks := []struct {
		name      string
		got, want float64
	}{
		{"deployments (rewritten excluded)", float64(r.Deployments), 4},
		{"deploy days", float64(r.DeployDays), 3},
		{"deployments per day", math.Round(r.DeploymentFrequencyPerDay*1000) / 1000, 1.333},
		{"lead time median (h)", f(r.LeadTimeMedianSeconds) / 3600, 4.2},
		{"lead time p90 (h)", math.Round(f(r.LeadTimeP90Seconds)/3600*100) / 100, 9.24},
		{"lead time changes", float64(r.LeadTimeChanges), 3},
		{"change failure rate", f(r.ChangeFailureRate), 0.5},
		{"recovery median (s)", f(r.RecoveryTimeMedianSeconds), 1800},
		{"unrecovered", float64(r.Unrecovered), 1},
		{"rework rate", f(r.ReworkRate), 0.25},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	want := map[string]metrics.Tier{"deployment_frequency": metrics.Elite, "lead_time": metrics.Elite, "change_failure_rate": metrics.Low, "recovery_time": metrics.Elite}
	if !reflect.DeepEqual(r.Tiers, want) {
		t.Errorf("tiers %v, want %v", r.Tiers, want)
	}
	// Where the time goes: the stage means add up to the mean lead time.
	sum := 0.0
	for _, s := range r.Stages {
		sum += s.MeanSeconds
	}
	if math.Abs(sum-*r.LeadTimeMeanSeconds) > 1e-6 {
		t.Errorf("stage means add up to %v s, mean lead time is %v s", sum, *r.LeadTimeMeanSeconds)
	}
	// Before and after the rollback day.
	cmp := metrics.Compare(deps, metrics.Filter{Envs: []string{"prod"}}, at(0), at(24), at(72), metrics.DefaultThresholds())
	if cmp.Before.Deployments != 2 || cmp.After.Deployments != 2 || f(cmp.Before.ChangeFailureRate) != 0.5 || f(cmp.After.ChangeFailureRate) != 0.5 {
		t.Errorf("before/after: %d/%d deployments, CFR %v/%v", cmp.Before.Deployments, cmp.After.Deployments, f(cmp.Before.ChangeFailureRate), f(cmp.After.ChangeFailureRate))
	}
}

func TestUnifyIgnoresRecordOrder(t *testing.T) {
	in := scenario()
	want := history.Build(in, history.Config{Now: at(72)})
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20 {
		r.Shuffle(len(in.Deployments), func(a, b int) { in.Deployments[a], in.Deployments[b] = in.Deployments[b], in.Deployments[a] })
		got := history.Build(in, history.Config{Now: at(72)})
		for j := range got {
			slices.Sort(got[j].EventIDs)
			slices.Sort(want[j].EventIDs)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("shuffle %d: the history depends on record order", i)
		}
	}
}

func TestPercentile(t *testing.T) {
	tests := []struct {
		vals []float64
		p    float64
		want float64
	}{
		{[]float64{1, 2, 3, 4}, 0.5, 2.5},
		{[]float64{1, 2, 3, 4, 5}, 0.5, 3},
		{[]float64{10}, 0.9, 10},
		{[]float64{0, 10}, 0.9, 9},
	}
	for _, tc := range tests {
		if got := metrics.Percentile(tc.vals, tc.p); got != tc.want {
			t.Errorf("Percentile(%v, %v) = %v, want %v", tc.vals, tc.p, got, tc.want)
		}
	}
}

func TestEdgeCases(t *testing.T) {
	th := metrics.DefaultThresholds()
	t.Run("no deployments", func(t *testing.T) {
		r := metrics.Compute(nil, metrics.Filter{}, at(0), at(24), th)
		if r.ChangeFailureRate != nil || r.LeadTimeMedianSeconds != nil || r.Tiers["lead_time"] != metrics.Unknown || r.Tiers["deployment_frequency"] != metrics.Low {
			t.Errorf("empty window: %+v", r)
		}
	})
	t.Run("first deployment with no changes and clock skew", func(t *testing.T) {
		in := history.Input{
			Commits: map[string]delivery.CommitRecord{c1: {Commit: delivery.Commit{SHA: c1, CommittedAt: at(5)}}},
			Deployments: []delivery.DeploymentRecord{
				dep("g1", 1, delivery.ServiceDeployed, "git", "i:1", m1),
				dep("g2", 4, delivery.ServiceUpgraded, "git", "i:2", m2, c1), // committed "after" it went live
			},
		}
		deps := history.Build(in, history.Config{Now: at(24)})
		r := metrics.Compute(deps, metrics.Filter{}, at(0), at(24), th)
		if r.Deployments != 2 || r.LeadTimeChanges != 1 || r.ClockSkewChanges != 1 || *r.LeadTimeMedianSeconds != 0 {
			t.Errorf("got %d deployments, %d lead times, %d skewed, median %v; want 2, 1, 1, 0", r.Deployments, r.LeadTimeChanges, r.ClockSkewChanges, *r.LeadTimeMedianSeconds)
		}
	})
	t.Run("a failure with no later deployment stays unrecovered", func(t *testing.T) {
		in := history.Input{
			Deployments: []delivery.DeploymentRecord{dep("g1", 1, delivery.ServiceUpgraded, "git", "i:1", m1)},
			Incidents:   []delivery.IncidentRecord{{Source: "am", IncidentID: "1", App: "api", Env: "prod", DetectedAt: at(2)}},
		}
		r := metrics.Compute(history.Build(in, history.Config{Now: at(24)}), metrics.Filter{}, at(0), at(24), th)
		if r.FailedDeployments != 1 || r.Unrecovered != 1 || r.RecoveryTimeMedianSeconds != nil {
			t.Errorf("got %+v", r)
		}
	})
	t.Run("incident attributed by digest, whatever the time", func(t *testing.T) {
		digest := "sha256:" + c1 + c1[:24]
		in := history.Input{
			Deployments: []delivery.DeploymentRecord{
				dep("k1", 1, delivery.ServiceUpgraded, "knative", "ghcr.io/acme/api@"+digest, ""),
				dep("k2", 2, delivery.ServiceUpgraded, "knative", "ghcr.io/acme/api@sha256:"+c2+c2[:24], ""),
			},
			Incidents: []delivery.IncidentRecord{{Source: "am", IncidentID: "1", Artifact: digest, DetectedAt: at(3), ResolvedAt: at(4)}},
		}
		deps := history.Build(in, history.Config{Now: at(24)})
		if !deps[0].Failed() || deps[1].Failed() {
			t.Errorf("failed: %v %v; want the first deployment only", deps[0].Failed(), deps[1].Failed())
		}
	})
}

// TestProperties checks invariants on random histories: rates within
// [0, 1], no negative duration, stage breakdowns adding up.
func TestProperties(t *testing.T) {
	th := metrics.DefaultThresholds()
	for seed := range uint64(300) {
		r := rand.New(rand.NewPCG(seed, 7))
		in := history.Input{Commits: map[string]delivery.CommitRecord{}}
		sources := []string{"git", "argocd", "knative", "cdevents"}
		for i := range 5 + r.IntN(40) {
			h := r.Float64() * 500
			sha := shaN(i)
			in.Commits[sha] = delivery.CommitRecord{Commit: delivery.Commit{SHA: sha, CommittedAt: at(h - r.Float64()*100 + 10)}}
			kind := delivery.ServiceUpgraded
			if r.IntN(8) == 0 {
				kind = delivery.ServiceRolledBack
			}
			d := dep(sha, h, kind, sources[r.IntN(4)], "img:"+string(rune('a'+r.IntN(5))), m1[:39]+string(rune('0'+r.IntN(10))), sha)
			d.Env = []string{"dev", "prod"}[r.IntN(2)]
			in.Deployments = append(in.Deployments, d)
			if r.IntN(5) == 0 {
				in.Incidents = append(in.Incidents, delivery.IncidentRecord{Source: "s", IncidentID: sha, App: "api", Env: d.Env, DetectedAt: at(h + 1), ResolvedAt: at(h + 1 + r.Float64()*5)})
			}
			if r.IntN(4) == 0 {
				in.Syncs = append(in.Syncs, delivery.SyncRecord{App: "api", Env: d.Env, StartedAt: at(h + 2), FinishedAt: at(h + 2.5), Phase: delivery.PhaseFailed})
			}
		}
		deps := history.Build(in, history.Config{Now: at(1000)})
		for _, d := range deps {
			if rt := d.RecoveryTime(); rt != nil && *rt < 0 {
				t.Fatalf("seed %d: negative recovery time", seed)
			}
			for _, c := range d.Changes {
				if c.LeadTime == nil || *c.LeadTime < 0 {
					t.Fatalf("seed %d: change %s lead time %v", seed, c.SHA, c.LeadTime)
				}
				var sum time.Duration
				for _, s := range c.Stages {
					if s.Duration < 0 {
						t.Fatalf("seed %d: negative stage", seed)
					}
					sum += s.Duration
				}
				if !c.ClockSkew && sum != *c.LeadTime {
					t.Fatalf("seed %d: stages add up to %s, lead time %s", seed, sum, *c.LeadTime)
				}
			}
		}
		rep := metrics.Compute(deps, metrics.Filter{}, at(0), at(600), th)
		for _, v := range []*float64{rep.ChangeFailureRate, rep.ReworkRate} {
			if v != nil && (*v < 0 || *v > 1) {
				t.Fatalf("seed %d: rate %v outside [0, 1]", seed, *v)
			}
		}
		total := 0
		for _, b := range rep.LeadTimeDistribution {
			total += b.Count
		}
		if total != rep.LeadTimeChanges {
			t.Fatalf("seed %d: distribution holds %d changes, %d have a lead time", seed, total, rep.LeadTimeChanges)
		}
		if rep.LeadTimeMeanSeconds != nil {
			sum := 0.0
			for _, s := range rep.Stages {
				sum += s.MeanSeconds
			}
			if math.Abs(sum-*rep.LeadTimeMeanSeconds) > 1e-3 {
				t.Fatalf("seed %d: stage means %v ≠ mean lead time %v", seed, sum, *rep.LeadTimeMeanSeconds)
			}
		}
		if rep.Recovered+rep.Unrecovered != rep.FailedDeployments {
			t.Fatalf("seed %d: recovered %d + unrecovered %d ≠ failed %d", seed, rep.Recovered, rep.Unrecovered, rep.FailedDeployments)
		}
		// The summary is the report without the lead time's breakdown.
		for _, f := range []metrics.Filter{{}, {Envs: []string{"prod"}}} {
			full := metrics.ComputeParts([][]history.Deployment{deps[:len(deps)/2], deps[len(deps)/2:]}, f, at(0), at(600), th)
			sum := metrics.SummaryParts([][]history.Deployment{deps[:len(deps)/2], deps[len(deps)/2:]}, f, at(0), at(600), th)
			want := full
			want.LeadTimeDistribution, want.LeadTimeP90Seconds, want.LeadTimeMeanSeconds, want.Stages = nil, nil, nil, nil
			if !reflect.DeepEqual(sum, want) {
				t.Fatalf("seed %d, %+v: SummaryParts = %+v, want %+v", seed, f, sum, want)
			}
		}
	}
}

func shaN(i int) string {
	const hex = "0123456789abcdef"
	b := []byte(c1)
	b[0], b[1], b[2] = hex[i%16], hex[(i/16)%16], hex[(i/256)%16]
	return string(b)
}

func TestSourceCommitStandsForChanges(t *testing.T) {
	in := history.Input{
		Commits: map[string]delivery.CommitRecord{c1: {Commit: delivery.Commit{SHA: c1, CommittedAt: at(0)}}, c2: {Commit: delivery.Commit{SHA: c2, CommittedAt: at(5)}}},
		Deployments: []delivery.DeploymentRecord{
			{Source: "github", EventID: "1", Kind: delivery.ServiceDeployed, App: "api", Env: "prod", Time: at(10), Deployment: delivery.Deployment{Artifact: "r@" + c1, SourceCommit: c1, InferredFrom: "github-deployment"}},
			{Source: "github", EventID: "2", Kind: delivery.ServiceDeployed, App: "api", Env: "prod", Time: at(11), Deployment: delivery.Deployment{Artifact: "r@" + c1, SourceCommit: c1, InferredFrom: "github-deployment"}},
			{Source: "github", EventID: "3", Kind: delivery.ServiceDeployed, App: "api", Env: "prod", Time: at(20), Deployment: delivery.Deployment{Artifact: "r@" + c2, SourceCommit: c2, InferredFrom: "github-deployment"}},
		},
	}
	deps := history.Build(in, history.Config{Now: at(48)})
	var leads []time.Duration
	for _, d := range deps {
		for _, c := range d.Changes {
			leads = append(leads, *c.LeadTime)
		}
	}
	// The second report of c1 within the hour is the same deployment; c1 took 10 h, c2 15 h.
	if !reflect.DeepEqual(leads, []time.Duration{10 * time.Hour, 15 * time.Hour}) {
		t.Errorf("lead times %v, want [10h 15h]", leads)
	}
}

func TestSucceededSyncTimesAGitDeployment(t *testing.T) {
	in := history.Input{
		Commits: map[string]delivery.CommitRecord{c1: {Commit: delivery.Commit{SHA: c1, CommittedAt: at(0)}}},
		Deployments: []delivery.DeploymentRecord{
			dep("g1", 2, delivery.ServiceUpgraded, "git", "api:1", m1, c1),
			dep("g2", 6, delivery.ServiceUpgraded, "git", "api:2", m2),
		},
		Syncs: []delivery.SyncRecord{
			{Application: "api", App: "api", Env: "prod", StartedAt: at(2.9), FinishedAt: at(3), Revision: m1, Phase: delivery.PhaseFailed},
			{Application: "api", App: "api", Env: "prod", StartedAt: at(3.4), FinishedAt: at(3.5), Revision: m1, Phase: delivery.PhaseSucceeded},
			{Application: "api", App: "api", Env: "staging", StartedAt: at(2.2), FinishedAt: at(2.3), Revision: m2, Phase: delivery.PhaseSucceeded},
		},
	}
	deps := history.Build(in, history.Config{Now: at(24)})
	if !deps[0].LiveAt.Equal(at(3.5)) || deps[0].InferredFrom != "argocd" || !slices.Equal(deps[0].Sources, []string{"argocd", "git"}) {
		t.Errorf("first deployment: live %s from %s %v; want the succeeded sync at %s", deps[0].LiveAt, deps[0].InferredFrom, deps[0].Sources, at(3.5))
	}
	if *deps[0].Changes[0].LeadTime != 3*time.Hour+30*time.Minute {
		t.Errorf("lead time %s, want 3h30m (commit → sync)", *deps[0].Changes[0].LeadTime)
	}
	// A sync of another environment does not time this one.
	if !deps[1].LiveAt.Equal(at(6)) || deps[1].InferredFrom != "git" {
		t.Errorf("second deployment: live %s from %s; want the commit time, from git", deps[1].LiveAt, deps[1].InferredFrom)
	}
}
