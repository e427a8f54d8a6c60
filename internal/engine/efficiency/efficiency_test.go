package efficiency_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine/efficiency"
	"github.com/shiplog-dev/shiplog/internal/engine/history"
)

// t0 is Monday 2 March 2026, 00:00 UTC.
var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

func at(h float64) time.Time { return t0.Add(time.Duration(h * float64(time.Hour))) }

func sha(s string) string { return s + strings.Repeat("0", 40-len(s)) }

var prod = efficiency.Filter{Envs: []string{"prod"}}

func sync(app, env, rev string, h float64, phase delivery.SyncPhase, initiator string) delivery.SyncRecord {
	return delivery.SyncRecord{Application: app + "-" + env, App: app, Env: env, Revision: sha(rev), StartedAt: at(h), FinishedAt: at(h + 0.05),
		Phase: phase, Automated: initiator == "", InitiatedBy: initiator}
}

func manifest(app, env, commit string, h float64, op delivery.ManifestOp, author string, bot bool) delivery.ManifestChangeRecord {
	return delivery.ManifestChangeRecord{App: app, Env: env, Time: at(h), ManifestChange: delivery.ManifestChange{
		Commit: sha(commit), Op: op, Author: author, Bot: bot, OldImage: "x:1", NewImage: "x:2"}}
}

func status(app, env, rev string, h float64, st string, drift bool) delivery.SyncStatusRecord {
	return delivery.SyncStatusRecord{App: app, Env: env, Time: at(h), SyncStatus: delivery.SyncStatus{Application: app + "-" + env, Status: st, Revision: sha(rev), Drift: drift}}
}

func dep(app, env, commit string, h float64, author string, bot bool, sources ...string) history.Deployment {
	d := history.Deployment{App: app, Env: env, LiveAt: at(h), Author: author, Bot: bot, Sources: sources, InferredFrom: sources[0], Artifact: app + ":" + commit}
	if commit != "" {
		d.ManifestCommit = sha(commit)
	}
	return d
}

// interventionScenario is one week of two apps (api in prod and staging,
// web in prod):
//
//	D1 api  1.2h  bump by renovate (bot), automated sync S1       → automated
//	D2 api  5.2h  bump m2 by bob, sync S2 by alice                → manual; human_image_bump m2, manual_sync S2
//	D3 api 10.2h  rollback m3 by a bot, sync S3 by carol          → manual; manual_rollback (S3 absorbed)
//	   api 29h    drift on m3, S4 by dave at 30h, Synced 30.2h    → drift_fix (S4 absorbed)
//	D4 api 40h    revert m8 by hank, Git only                     → manual; manual_rollback (bump m8 absorbed)
//	   api 49.9h  drift on m3, self-heal S5 at 50h                → drift_fix (automated)
//	   api 60h    S6 by erin, failed                              → manual_sync
//	D7 api staging: bump m7 by bob, S7 by frank                   → not production
//	D5 web 80.2h  bump w1 by a bot, sync S8 by gina               → manual; manual_sync S8
//	   web 100h   drift on w1 ended by a Git change (w2) at 101h  → no drift fix
//	D6 web 101.2h bump w2 by a bot, automated sync S9             → automated
//	   api 120h   an image added by a person (mx)                → not a bump
//	D8 api 130h   Knative only, no manifest commit               → unknown
//
// Production: manual_sync 3 (S2, S6, S8), manual_rollback 2 (D3, D4),
// human_image_bump 1 (m2), drift_fix 2 (S4, S5): 8 interventions,
// 3×10 + 2×30 + 1×15 + 2×20 = 145 engineer minutes. Automation: 7
// deployments, 2 automated, 4 manual, 1 unknown: level 2/6.
func interventionScenario() efficiency.Input {
	in := efficiency.Input{
		Syncs: []delivery.SyncRecord{
			sync("api", "prod", "m1", 1, delivery.PhaseSucceeded, ""),
			sync("api", "prod", "m2", 5, delivery.PhaseSucceeded, "alice"),
			sync("api", "prod", "m3", 10, delivery.PhaseSucceeded, "carol"),
			sync("api", "prod", "m3", 30, delivery.PhaseSucceeded, "dave"),
			sync("api", "prod", "m3", 50, delivery.PhaseSucceeded, ""),
			sync("api", "prod", "m3", 60, delivery.PhaseFailed, "erin"),
			sync("api", "staging", "m7", 20.2, delivery.PhaseSucceeded, "frank"),
			sync("web", "prod", "w1", 80, delivery.PhaseSucceeded, "gina"),
			sync("web", "prod", "w2", 101.1, delivery.PhaseSucceeded, ""),
			// Recovered from history without an initiator: not manual.
			{Application: "web-prod", App: "web", Env: "prod", Revision: sha("w2"), StartedAt: at(110), Phase: delivery.PhaseSucceeded, Recovered: true},
		},
		SyncStatuses: []delivery.SyncStatusRecord{
			status("api", "prod", "m3", 10.1, "Synced", false),
			status("api", "prod", "m3", 29, "OutOfSync", true),
			status("api", "prod", "m3", 30.2, "Synced", false),
			status("api", "prod", "m3", 49.9, "OutOfSync", true),
			status("api", "prod", "m3", 50.01, "Synced", false),
			status("web", "prod", "w1", 100, "OutOfSync", true),
			status("web", "prod", "w2", 101, "OutOfSync", false),
			status("web", "prod", "w2", 101.15, "Synced", false),
		},
		ManifestChanges: []delivery.ManifestChangeRecord{
			manifest("api", "prod", "m1", 0.5, delivery.ManifestUpdated, "renovate[bot]", true),
			manifest("api", "prod", "m2", 4, delivery.ManifestUpdated, "bob", false),
			manifest("api", "prod", "m3", 9.5, delivery.ManifestUpdated, "shiplog[bot]", true),
			manifest("api", "staging", "m7", 20, delivery.ManifestUpdated, "bob", false),
			manifest("api", "prod", "m8", 39.5, delivery.ManifestUpdated, "hank", false),
			manifest("web", "prod", "w1", 79, delivery.ManifestUpdated, "renovate[bot]", true),
			manifest("web", "prod", "w2", 100.5, delivery.ManifestUpdated, "renovate[bot]", true),
			manifest("api", "prod", "mx", 120, delivery.ManifestAdded, "ivy", false),
		},
	}
	d3 := dep("api", "prod", "m3", 10.2, "shiplog[bot]", true, "argocd", "git")
	d3.Rollback = true
	d4 := dep("api", "prod", "m8", 40, "hank", false, "git")
	d4.Revert = true
	in.Deployments = []history.Deployment{
		dep("api", "prod", "m1", 1.2, "renovate[bot]", true, "argocd", "git"),
		dep("api", "prod", "m2", 5.2, "bob", false, "argocd", "git"),
		d3,
		dep("api", "staging", "m7", 20.5, "bob", false, "argocd", "git"),
		d4,
		dep("web", "prod", "w1", 80.2, "renovate[bot]", true, "argocd", "git"),
		dep("web", "prod", "w2", 101.2, "renovate[bot]", true, "argocd", "git"),
		dep("api", "prod", "", 130, "", false, "knative"),
	}
	return in
}

func TestInterventions(t *testing.T) {
	in := interventionScenario()
	r := efficiency.Compute(in, prod, t0, at(168), at(168), efficiency.Settings{})
	iv := r.Interventions
	want := map[string][]string{
		efficiency.ManualSync:     {"api-prod@2026-03-02T05:00:00Z", "api-prod@2026-03-04T12:00:00Z", "web-prod@2026-03-05T08:00:00Z"},
		efficiency.ManualRollback: {sha("m3"), sha("m8")},
		efficiency.HumanImageBump: {sha("m2")},
		efficiency.DriftFix:       {"api-prod@2026-03-03T06:00:00Z", "api-prod@2026-03-04T02:00:00Z"},
	}
	for _, k := range iv.ByKind {
		var refs []string
		for _, it := range k.Items {
			refs = append(refs, it.Ref)
		}
		if !slices.Equal(refs, want[k.Kind]) || k.Count != len(want[k.Kind]) {
			t.Errorf("%s: %d %v, want %v", k.Kind, k.Count, refs, want[k.Kind])
		}
	}
	if iv.Total != 8 || iv.EngineerMinutes != 145 {
		t.Errorf("total %d, engineer minutes %g; want 8, 145", iv.Total, iv.EngineerMinutes)
	}
	rb := iv.ByKind[1].Items
	if rb[0].Actor != "carol" || rb[1].Actor != "hank" || rb[0].Deployment == nil || !rb[0].Deployment.LiveAt.Equal(at(10.2)) {
		t.Errorf("manual rollbacks: %+v", rb)
	}
	if df := iv.ByKind[3].Items; df[0].Actor != "dave" || df[1].Actor != "automated" {
		t.Errorf("drift fixes: %+v", df)
	}

	// Configured minutes; a narrower window (day 2: the first drift fix and D4).
	custom := efficiency.Settings{Minutes: map[string]float64{efficiency.ManualSync: 5, efficiency.DriftFix: 0}}
	r = efficiency.Compute(in, prod, at(24), at(48), at(168), custom)
	if r.Interventions.Total != 2 || r.Interventions.EngineerMinutes != 30 {
		t.Errorf("day 2: %d interventions, %g minutes; want 2 (drift fix 0 min, rollback 30 min), 30", r.Interventions.Total, r.Interventions.EngineerMinutes)
	}
	// Staging only: S7 and m7.
	r = efficiency.Compute(in, efficiency.Filter{Envs: []string{"staging"}}, t0, at(168), at(168), efficiency.Settings{})
	if r.Interventions.Total != 2 || r.Interventions.EngineerMinutes != 25 {
		t.Errorf("staging: %d interventions, %g minutes; want 2, 25", r.Interventions.Total, r.Interventions.EngineerMinutes)
	}
}

func TestAutomation(t *testing.T) {
	r := efficiency.Compute(interventionScenario(), prod, t0, at(168), at(168), efficiency.Settings{})
	a := r.Automation
	if a.Deployments != 7 || a.Automated != 2 || a.Manual != 4 || a.Unknown != 1 || a.Level == nil || math.Abs(*a.Level-1.0/3) > 1e-12 {
		t.Fatalf("automation %+v level %v, want 7 deployments: 2 automated, 4 manual, 1 unknown, level 1/3", a, a.Level)
	}
	var steps []string
	for _, it := range a.ManualItems {
		for _, s := range it.Steps {
			steps = append(steps, s.Step+":"+s.Actor)
		}
	}
	want := []string{"sync:gina", "manifest_commit:hank", "sync:carol", "manifest_commit:bob", "sync:alice"}
	if !slices.Equal(steps, want) {
		t.Errorf("manual steps %v, want %v (newest deployment first)", steps, want)
	}
	if len(a.UnknownItems) != 1 || !a.UnknownItems[0].LiveAt.Equal(at(130)) {
		t.Errorf("unknown: %+v", a.UnknownItems)
	}
	none := efficiency.Compute(interventionScenario(), efficiency.Filter{Envs: []string{"qa"}}, t0, at(168), at(168), efficiency.Settings{})
	if none.Automation.Level != nil {
		t.Errorf("no deployments: level %v, want null", *none.Automation.Level)
	}
}

// costScenario is one day of Knative service api in cluster c1 (the
// worked example of docs/metrics.md), plus:
//
//   - api-00000, deleted at 01:00 with 1 replica and no traffic: 1 replica-hour;
//   - web-00001 at 1 replica all day, its service's traffic never recorded:
//     24 replica-hours, no saving claimed;
//   - x-00001 in cluster c2, routable, but no scale sample from c2: not counted.
//
// api-00001 serves 100 % from 22:00 the day before until 12:00, then
// api-00002 does. Scale: api-00001 2 replicas (sampled 21:00 the day
// before), 0 at 02:00, 3 at 08:00 (re-sampled 10:00), 0 at 12:30; api-00002
// 1 at 11:54, 0 at 14:00, 2 at 18:00, 0 at 20:00.
//
//	api-00001 actual   2×2 + 3×4.5                    = 17.5 replica-hours
//	          baseline 2×2 + 1×6 + 3×4 + 3×0.5         = 23.5 (not routable after 12:00: actual)
//	api-00002 actual   1×0.1 + 1×2 + 2×2               =  6.1
//	          baseline 1×0.1 + 1×2 + 1×4 + 2×2 + 1×4   = 14.1
//
// Total actual 1 + 24 + 17.5 + 6.1 = 48.6 replica-hours, baseline 62.6,
// saved 14; at 0.05 per replica-hour: cost 2.43, baseline 3.13, saving 0.70.
func costScenario() efficiency.Input {
	scale := func(cluster, rev string, h float64, n int) delivery.ScaleRecord {
		return delivery.ScaleRecord{Cluster: cluster, Namespace: "shop", App: strings.Split(rev, "-")[0], Env: "prod", Time: at(h),
			Scale: delivery.Scale{Revision: rev, Service: strings.Split(rev, "-")[0], Actual: n, Desired: n}}
	}
	traffic := func(cluster, svc, rev string, h float64, pct int) delivery.TrafficRecord {
		return delivery.TrafficRecord{Cluster: cluster, Namespace: "shop", Service: svc, App: svc, Env: "prod", Time: at(h),
			TrafficTarget: delivery.TrafficTarget{Revision: rev, Percent: pct}}
	}
	return efficiency.Input{
		Scale: []delivery.ScaleRecord{
			scale("c1", "api-00001", -3, 2), scale("c1", "api-00001", 2, 0), scale("c1", "api-00001", 8, 3),
			scale("c1", "api-00001", 10, 3), scale("c1", "api-00001", 12.5, 0),
			scale("c1", "api-00002", 11.9, 1), scale("c1", "api-00002", 14, 0), scale("c1", "api-00002", 18, 2), scale("c1", "api-00002", 20, 0),
			scale("c1", "api-00000", -1, 1),
			scale("c1", "web-00001", 0, 1),
		},
		Traffic: []delivery.TrafficRecord{
			traffic("c1", "api", "api-00001", -2, 100),
			traffic("c1", "api", "api-00002", 12, 100),
			traffic("c2", "x", "x-00001", -2, 100),
		},
		Revisions: []delivery.RevisionRecord{
			{Cluster: "c1", Namespace: "shop", Name: "api-00000", App: "api", Env: "prod", Service: "api", DeletedAt: at(1)},
			{Cluster: "c1", Namespace: "shop", Name: "api-00001", App: "api", Env: "prod", Service: "api"},
			{Cluster: "c2", Namespace: "shop", Name: "x-00001", App: "x", Env: "prod", Service: "x"},
		},
	}
}

func round(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}

func val(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

func TestKnativeCost(t *testing.T) {
	s := efficiency.Settings{CostPerReplicaHour: 0.05, Currency: "EUR"}
	c := efficiency.Compute(costScenario(), prod, t0, at(24), at(24), s).Cost
	checks := []struct {
		name      string
		got, want float64
	}{
		{"replica-hours", round(c.ReplicaSeconds/3600, 6), 48.6},
		{"baseline replica-hours", round(c.BaselineReplicaSeconds/3600, 6), 62.6},
		{"saved replica-hours", round(c.SavedReplicaSeconds/3600, 6), 14},
		{"cost", round(val(c.Cost), 6), 2.43},
		{"baseline cost", round(val(c.BaselineCost), 6), 3.13},
		{"saving", round(val(c.Saving), 6), 0.70},
		{"saving rate", round(val(c.SavingRate), 6), round(14/62.6, 6)},
		{"revisions without traffic", float64(c.RevisionsWithoutTraffic), 1},
		{"revisions", float64(len(c.Revisions)), 4},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s: got %v, want %v", ck.name, ck.got, ck.want)
		}
	}
	if c.Currency != "EUR" || val(c.CostPerReplicaHour) != 0.05 {
		t.Errorf("currency %q price %v", c.Currency, c.CostPerReplicaHour)
	}
	byName := map[string]efficiency.RevisionCost{}
	for _, r := range c.Revisions {
		byName[r.Revision] = r
	}
	want := map[string][3]float64{"api-00001": {17.5, 23.5, 12}, "api-00002": {6.1, 14.1, 12}, "api-00000": {1, 1, 0}, "web-00001": {24, 24, 0}}
	for name, w := range want {
		r := byName[name]
		if got := [3]float64{round(r.ReplicaSeconds/3600, 6), round(r.BaselineReplicaSeconds/3600, 6), round(r.RoutableSeconds/3600, 6)}; got != w {
			t.Errorf("%s: actual, baseline, routable hours %v, want %v", name, got, w)
		}
	}
	// docs/metrics.md's worked example: api-00001 and api-00002 together.
	a, b := byName["api-00001"], byName["api-00002"]
	if got := [5]float64{round((a.ReplicaSeconds+b.ReplicaSeconds)/3600, 6), round((a.BaselineReplicaSeconds+b.BaselineReplicaSeconds)/3600, 6),
		round((a.SavedReplicaSeconds+b.SavedReplicaSeconds)/3600, 6), round(val(a.Cost)+val(b.Cost), 6), round(val(a.Saving)+val(b.Saving), 6)}; got != [5]float64{23.6, 37.6, 14, 1.18, 0.7} {
		t.Errorf("worked example: actual, baseline, saved replica-hours, cost, saving %v, want [23.6 37.6 14 1.18 0.7]", got)
	}
	if c.Revisions[0].Revision != "api-00002" {
		t.Errorf("revisions are not sorted by saving: %s first", c.Revisions[0].Revision)
	}
	if r := byName["api-00001"]; r.Samples != 4 || !r.TrafficKnown || val(r.Cost) != 17.5*0.05 {
		t.Errorf("api-00001: %+v", r)
	}

	// No price: replica-seconds without costs. Two replicas minimum.
	c = efficiency.Compute(costScenario(), efficiency.Filter{App: "api"}, t0, at(24), at(24), efficiency.Settings{BaselineMinReplicas: 2}).Cost
	// api-00001 baseline 2×2 + 2×6 + 3×4 + 3×0.5 = 29.5; api-00002 0.1 + 2×2 + 2×4 + 2×2 + 2×4 = 24.1.
	if c.Cost != nil || c.Saving != nil || round(c.ReplicaSeconds/3600, 6) != 24.6 || round(c.BaselineReplicaSeconds/3600, 6) != 54.6 {
		t.Errorf("api, min 2: cost %v, actual %v h, baseline %v h; want null, 24.6, 54.6", c.Cost, c.ReplicaSeconds/3600, c.BaselineReplicaSeconds/3600)
	}
	// Before the first sample of a cluster nothing is counted.
	c = efficiency.Compute(costScenario(), prod, at(-48), at(-24), at(24), s).Cost
	if c.ReplicaSeconds != 0 || c.BaselineReplicaSeconds != 0 || len(c.Revisions) != 0 {
		t.Errorf("before observation: %+v", c)
	}
}

// featureScenario: sprints of 14 days from Monday 5 January 2026; the
// window is sprints 3 (16 Feb–2 Mar, over) and 4 (2–16 Mar, running on 10
// March).
//
//	#1 "feat: search"          17 Feb  sprint 3  feature (title)
//	#2 "fix: crash" [bug]      20 Feb  sprint 3
//	#3 "Add export" [enhancement] 25 Feb sprint 3 feature (label)
//	#4 "feat(ui)!: new nav"     3 Mar  sprint 4  feature (title)
//	#5 "chore: deps" [kind/feature] 4 Mar sprint 4 feature (label)
//	#6 "feature flag cleanup"   5 Mar  sprint 4  not a conventional feat title
//	#7 "feat: old"             10 Feb  sprint 2: outside the window
//	#8 "feat: wip"             not merged
//	#9 "feat: future"          12 Mar  after now
//
// Sprint 3: 3 merged, 2 features; sprint 4: 3 merged, 2 features. One
// complete sprint: 2 features per sprint.
func featureScenario() efficiency.Input {
	day := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 12, 0, 0, 0, time.UTC) }
	pr := func(n int64, title string, merged time.Time, labels ...string) delivery.ChangeRecord {
		return delivery.ChangeRecord{Repo: "acme/api", Number: n, Title: title, Labels: labels, MergedAt: merged, MergeSHA: sha(fmt.Sprintf("%d", n*111))}
	}
	return efficiency.Input{
		Changes: []delivery.ChangeRecord{
			pr(1, "feat: search", day(2, 17)), pr(2, "fix: crash", day(2, 20), "bug"), pr(3, "Add export", day(2, 25), "enhancement"),
			pr(4, "feat(ui)!: new nav", day(3, 3)), pr(5, "chore: deps", day(3, 4), "kind/feature"), pr(6, "feature flag cleanup", day(3, 5)),
			pr(7, "feat: old", day(2, 10)), pr(8, "feat: wip", time.Time{}), pr(9, "feat: future", day(3, 12)),
		},
		Deployments: []history.Deployment{
			{App: "api", Env: "prod", LiveAt: day(2, 18), Changes: []history.Change{{SHA: sha("111")}}},
			{App: "web", Env: "prod", LiveAt: day(3, 4), Changes: []history.Change{{SHA: sha("444")}}},
		},
	}
}

func TestFeaturesPerSprint(t *testing.T) {
	s := efficiency.Settings{SprintStart: time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC), SprintLength: 14 * 24 * time.Hour}
	since, until, now := time.Date(2026, 2, 16, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 16, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	f := efficiency.Compute(featureScenario(), efficiency.Filter{}, since, until, now, s).Features
	if f == nil || len(f.Sprints) != 2 {
		t.Fatalf("sprints %+v, want 2", f)
	}
	got := fmt.Sprintf("%d %s %v %d/%d; %d %s %v %d/%d", f.Sprints[0].Number, f.Sprints[0].Start.Format(time.DateOnly), f.Sprints[0].Complete, f.Sprints[0].Features, f.Sprints[0].MergedPRs,
		f.Sprints[1].Number, f.Sprints[1].Start.Format(time.DateOnly), f.Sprints[1].Complete, f.Sprints[1].Features, f.Sprints[1].MergedPRs)
	if want := "3 2026-02-16 true 2/3; 4 2026-03-02 false 2/3"; got != want {
		t.Errorf("sprints %s, want %s", got, want)
	}
	if f.CompleteSprints != 1 || val(f.FeaturesPerSprint) != 2 || f.SprintLengthDays != 14 {
		t.Errorf("complete %d, per sprint %v, length %g", f.CompleteSprints, val(f.FeaturesPerSprint), f.SprintLengthDays)
	}
	var by []string
	for _, sp := range f.Sprints {
		for _, it := range sp.Items {
			by = append(by, fmt.Sprintf("#%d %s", it.Number, it.By))
		}
	}
	if want := []string{`#1 title`, `#3 label "enhancement"`, `#4 title`, `#5 label "kind/feature"`}; !slices.Equal(by, want) {
		t.Errorf("features %v, want %v", by, want)
	}
	// One app: only the pull requests its deployments shipped.
	f = efficiency.Compute(featureScenario(), efficiency.Filter{App: "api"}, since, until, now, s).Features
	if f.Sprints[0].MergedPRs != 1 || f.Sprints[0].Features != 1 || f.Sprints[1].MergedPRs != 0 {
		t.Errorf("api only: %+v", f.Sprints)
	}
	if r := efficiency.Compute(featureScenario(), efficiency.Filter{}, since, until, now, efficiency.Settings{}); r.Features != nil {
		t.Errorf("no sprint length: features %+v, want none", r.Features)
	}
}

func TestIsFeature(t *testing.T) {
	tests := []struct {
		title  string
		labels []string
		want   bool
	}{
		{"feat: x", nil, true}, {"FEAT: x", nil, true}, {"feat(api): x", nil, true}, {"feat!: x", nil, true}, {"  feat(a)!: x", nil, true},
		{"feature: x", nil, false}, {"fix: x", nil, false}, {"feat x", nil, false}, {"defeat: x", nil, false},
		{"x", []string{"Feature"}, true}, {"x", []string{"type: enhancement"}, true}, {"x", []string{"kind/feature"}, true},
		{"x", []string{"feature-flag"}, false}, {"x", []string{"bug"}, false},
	}
	for _, tc := range tests {
		if got, _ := efficiency.IsFeature(tc.title, tc.labels); got != tc.want {
			t.Errorf("IsFeature(%q, %v) = %v, want %v", tc.title, tc.labels, got, tc.want)
		}
	}
}

// TestProperties checks, over random models: rates in [0, 1], costs and
// replica-seconds ≥ 0, baseline ≥ actual, saving = baseline − actual, and
// engineer time = the sum of its parts.
func TestProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for round := range 300 {
		in := randomInput(rng)
		s := efficiency.Settings{CostPerReplicaHour: rng.Float64(), BaselineMinReplicas: rng.IntN(3),
			Minutes: map[string]float64{efficiency.DriftFix: float64(rng.IntN(60))}}
		r := efficiency.Compute(in, efficiency.Filter{}, at(0), at(48), at(48), s)
		iv := r.Interventions
		sum, n := 0.0, 0
		for _, k := range iv.ByKind {
			if k.Minutes != float64(k.Count)*k.MinutesEach || k.Count != len(k.Items) {
				t.Fatalf("round %d: %s: %d × %g ≠ %g or %d items", round, k.Kind, k.Count, k.MinutesEach, k.Minutes, len(k.Items))
			}
			sum += k.Minutes
			n += k.Count
		}
		if math.Abs(sum-iv.EngineerMinutes) > 1e-9 || n != iv.Total {
			t.Fatalf("round %d: engineer minutes %g ≠ sum %g, total %d ≠ %d", round, iv.EngineerMinutes, sum, iv.Total, n)
		}
		a := r.Automation
		if a.Automated+a.Manual+a.Unknown != a.Deployments || a.Level != nil && (*a.Level < 0 || *a.Level > 1) {
			t.Fatalf("round %d: automation %+v", round, a)
		}
		c := r.Cost
		if c.ReplicaSeconds < 0 || c.BaselineReplicaSeconds < c.ReplicaSeconds-1e-6 || math.Abs(c.SavedReplicaSeconds-(c.BaselineReplicaSeconds-c.ReplicaSeconds)) > 1e-6 {
			t.Fatalf("round %d: actual %g baseline %g saved %g", round, c.ReplicaSeconds, c.BaselineReplicaSeconds, c.SavedReplicaSeconds)
		}
		if val(c.Cost) < 0 || val(c.Saving) < -1e-9 || c.SavingRate != nil && (*c.SavingRate < 0 || *c.SavingRate > 1) {
			t.Fatalf("round %d: cost %v saving %v rate %v", round, val(c.Cost), val(c.Saving), val(c.SavingRate))
		}
		for _, rc := range c.Revisions {
			if rc.SavedReplicaSeconds < -1e-6 || rc.RoutableSeconds > rc.To.Sub(rc.From).Seconds()+1e-6 {
				t.Fatalf("round %d: revision %+v", round, rc)
			}
		}
	}
}

func randomInput(rng *rand.Rand) efficiency.Input {
	var in efficiency.Input
	revs := []string{"a-1", "a-2", "b-1"}
	hr := func() float64 { return rng.Float64()*60 - 6 }
	for range rng.IntN(40) {
		rev := revs[rng.IntN(len(revs))]
		in.Scale = append(in.Scale, delivery.ScaleRecord{Cluster: "c", Namespace: "n", App: rev[:1], Env: "prod", Time: at(hr()),
			Scale: delivery.Scale{Revision: rev, Service: rev[:1], Actual: rng.IntN(5)}})
	}
	for range rng.IntN(6) {
		rev := revs[rng.IntN(len(revs))]
		in.Traffic = append(in.Traffic, delivery.TrafficRecord{Cluster: "c", Namespace: "n", Service: rev[:1], Time: at(float64(rng.IntN(50) - 2)),
			TrafficTarget: delivery.TrafficTarget{Revision: rev, Percent: rng.IntN(2) * 100}})
	}
	initiators := []string{"", "", "u"}
	commits := []string{"c1", "c2", "c3"}
	for range rng.IntN(15) {
		c := commits[rng.IntN(3)]
		in.Syncs = append(in.Syncs, sync("a", "prod", c, hr(), []delivery.SyncPhase{delivery.PhaseSucceeded, delivery.PhaseFailed}[rng.IntN(2)], initiators[rng.IntN(3)]))
		in.SyncStatuses = append(in.SyncStatuses, status("a", "prod", c, hr(), []string{"Synced", "OutOfSync", "Unknown"}[rng.IntN(3)], rng.IntN(2) == 0))
		in.ManifestChanges = append(in.ManifestChanges, manifest("a", "prod", c, hr(), delivery.ManifestUpdated, "p", rng.IntN(2) == 0))
		d := dep("a", "prod", c, hr(), "p", rng.IntN(2) == 0, "git")
		d.Rollback = rng.IntN(3) == 0
		in.Deployments = append(in.Deployments, d)
	}
	return in
}
