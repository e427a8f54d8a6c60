package engine_test

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/config"
	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine"
	"github.com/shiplog-dev/shiplog/internal/engine/metrics"
)

// adoptionT0 is the start of the adoption scenario's 30-day window.
var adoptionT0 = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

// noon is day d of the scenario at 12:00.
func noon(d int) time.Time { return adoptionT0.AddDate(0, 0, d).Add(12 * time.Hour) }

// adoptionEvents is a hand-computed scenario, in prod over 30 days:
//
//   - alpha deploys by CDEvents on days 2 and 5, by the Git importer (a
//     manifest commit) on day 10 — its adoption, "manifest" — and by
//     CDEvents on day 15: 2 before, 2 after.
//   - beta deploys on days 3 and 12; its first Argo CD sync, in staging,
//     on day 20 is its adoption ("sync"); it deploys on day 22 and rolls
//     that back on day 23: 2 before, 2 after, one of them failed.
//   - gamma never adopts: days 4 and 18, rolled back on day 19; 3 before.
//   - delta has a manifest commit on day 1, but the configuration says it
//     adopted GitOps on day 16 (00:00); it deploys on day 8, 17 and 26:
//     2 before, 2 after.
//
// Each deployment but the rollbacks ships one commit made lead hours
// before it went live. The rollbacks name their image anew (a CDEvent of
// an image deployed before joins that earlier deployment).
func adoptionEvents() []delivery.Event {
	var evs []delivery.Event
	n := 0
	deploy := func(app string, day int, artifact string, lead float64, git bool, kind delivery.EventType) {
		n++
		live := noon(day)
		p := &delivery.Deployment{Artifact: artifact, InferredFrom: "cdevents"}
		src := "cdevents"
		if git {
			src, p.InferredFrom, p.ManifestCommit, p.Repo = "git", "git", fmt.Sprintf("%040x", 0xa000+n), "https://github.com/acme/gitops"
		}
		if lead > 0 {
			c := fmt.Sprintf("%040x", 0xc000+n)
			at := live.Add(-time.Duration(lead * float64(time.Hour)))
			evs = append(evs, delivery.Event{Source: "github", ID: "commit-" + c, Type: delivery.CommitAuthored, Time: at,
				Payload: &delivery.Commit{Repo: "https://github.com/acme/" + app, SHA: c, CommittedAt: at}})
			p.Changes, p.SourceCommit = []string{c}, c
		}
		evs = append(evs, delivery.Event{Source: src, ID: fmt.Sprintf("deploy-%d", n), Type: kind, Time: live, App: app, Env: "prod", Payload: p})
	}
	up, back := delivery.ServiceUpgraded, delivery.ServiceRolledBack
	deploy("alpha", 2, "alpha:1", 2, false, up)
	deploy("alpha", 5, "alpha:2", 4, false, up)
	deploy("alpha", 10, "alpha:3", 6, true, up)
	deploy("alpha", 15, "alpha:4", 1, false, up)
	deploy("beta", 3, "beta:1", 8, false, up)
	deploy("beta", 12, "beta:2", 10, false, up)
	deploy("beta", 22, "beta:3", 3, false, up)
	deploy("beta", 23, "beta:2-r", 0, false, back)
	deploy("gamma", 4, "gamma:1", 5, false, up)
	deploy("gamma", 18, "gamma:2", 7, false, up)
	deploy("gamma", 19, "gamma:1-r", 0, false, back)
	deploy("delta", 1, "delta:1", 12, true, up)
	deploy("delta", 8, "delta:2", 9, false, up)
	deploy("delta", 17, "delta:3", 11, false, up)
	deploy("delta", 26, "delta:4", 0.5, false, up)
	evs = append(evs, delivery.Event{Source: "argocd", ID: "sync-beta", Type: delivery.SyncFinished, Time: noon(20).Add(2 * time.Minute),
		App: "beta", Env: "staging", Payload: &delivery.Sync{Application: "beta-staging", StartedAt: noon(20), FinishedAt: noon(20).Add(2 * time.Minute),
			Revision: fmt.Sprintf("%040x", 0xbeef), Phase: delivery.PhaseSucceeded, Automated: true}})
	return evs
}

func TestCompareAdoption(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			s, _ := open(t)
			mustAppend(t, s, adoptionEvents()...)
			until := adoptionT0.AddDate(0, 0, 30)
			delta := adoptionT0.AddDate(0, 0, 16)
			e := engine.New(s, engine.Settings{Now: func() time.Time { return until }, Adoption: map[string]time.Time{"delta": delta}})

			dates, err := e.Adoption(ctx(t), nil)
			if err != nil {
				t.Fatal(err)
			}
			wantDates := map[string]engine.AdoptionDate{"alpha": {At: noon(10), Source: "manifest"}, "beta": {At: noon(20), Source: "sync"},
				"delta": {At: delta, Source: "config"}}
			if len(dates) != len(wantDates) {
				t.Errorf("Adoption = %v, want %v", dates, wantDates)
			}
			for app, w := range wantDates {
				if g := dates[app]; !g.At.Equal(w.At) || g.Source != w.Source {
					t.Errorf("Adoption[%s] = %+v, want %+v", app, g, w)
				}
			}

			c, err := e.CompareAdoption(ctx(t), engine.Query{Since: adoptionT0})
			if err != nil {
				t.Fatal(err)
			}
			if c.By != "adoption" || !c.At.IsZero() {
				t.Errorf("By %q At %v, want adoption and no date", c.By, c.At)
			}
			hours := func(h float64) *float64 { v := h * 3600; return &v }
			ratio := func(a, b float64) *float64 { v := a / b; return &v }
			for _, side := range []struct {
				name              string
				r                 metrics.Report
				deps, failed, chg int
				perDay            float64
				median            *float64
				cfr               *float64
			}{
				// Before: alpha 2, beta 2, gamma 3, delta 2 over 10.5 + 20.5 + 30 + 16 = 77 app-days;
				// lead times 2, 4, 5, 7, 8, 9, 10, 12 h; gamma:2 rolled back.
				{"before", c.Before, 9, 1, 8, 9.0 / 77, hours(7.5), ratio(1, 9)},
				// After: alpha 2, beta 2, delta 2 over 19.5 + 9.5 + 0 + 14 = 43 app-days;
				// lead times 0.5, 1, 3, 6, 11 h; beta:3 rolled back.
				{"after", c.After, 6, 1, 5, 6.0 / 43, hours(3), ratio(1, 6)},
			} {
				r := side.r
				if r.Deployments != side.deps || r.FailedDeployments != side.failed || r.LeadTimeChanges != side.chg {
					t.Errorf("%s: %d deployments, %d failed, %d changes; want %d, %d, %d", side.name, r.Deployments, r.FailedDeployments,
						r.LeadTimeChanges, side.deps, side.failed, side.chg)
				}
				if math.Abs(r.DeploymentFrequencyPerDay-side.perDay) > 1e-9 || math.Abs(r.DeploymentFrequencyPerWeek-7*side.perDay) > 1e-9 {
					t.Errorf("%s: %v per day, want %v", side.name, r.DeploymentFrequencyPerDay, side.perDay)
				}
				if !near(r.LeadTimeMedianSeconds, side.median) || !near(r.ChangeFailureRate, side.cfr) {
					t.Errorf("%s: median %v, CFR %v; want %v, %v", side.name, deref(r.LeadTimeMedianSeconds), deref(r.ChangeFailureRate), *side.median, *side.cfr)
				}
			}
			ptr := func(t time.Time) *time.Time { return &t }
			want := []metrics.AppSplit{
				{App: "alpha", AdoptedAt: ptr(noon(10)), Source: "manifest", BeforeDeployments: 2, AfterDeployments: 2, BeforeDays: 10.5, AfterDays: 19.5},
				{App: "beta", AdoptedAt: ptr(noon(20)), Source: "sync", BeforeDeployments: 2, AfterDeployments: 2, BeforeDays: 20.5, AfterDays: 9.5},
				{App: "delta", AdoptedAt: ptr(delta), Source: "config", BeforeDeployments: 2, AfterDeployments: 2, BeforeDays: 16, AfterDays: 14},
				{App: "gamma", BeforeDeployments: 3, BeforeDays: 30},
			}
			checkApps(t, c.Apps, want)

			// A scope that does not see staging does not see beta's sync:
			// beta has no adoption date and counts wholly before.
			c, err = e.CompareAdoption(ctx(t), engine.Query{Since: adoptionT0, Allow: func(app, _, env string) bool { return env == "prod" && app != "gamma" }})
			if err != nil {
				t.Fatal(err)
			}
			if c.Before.Deployments != 8 || c.After.Deployments != 4 {
				t.Errorf("scoped: %d before, %d after, want 8 and 4", c.Before.Deployments, c.After.Deployments)
			}
			want = []metrics.AppSplit{want[0], {App: "beta", BeforeDeployments: 4, BeforeDays: 30}, want[2]}
			checkApps(t, c.Apps, want)
		})
	}
}

func checkApps(t *testing.T, got, want []metrics.AppSplit) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("apps %+v, want %+v", got, want)
	}
	for i, w := range want {
		g := got[i]
		if g.App != w.App || g.Source != w.Source || g.BeforeDeployments != w.BeforeDeployments || g.AfterDeployments != w.AfterDeployments ||
			math.Abs(g.BeforeDays-w.BeforeDays) > 1e-9 || math.Abs(g.AfterDays-w.AfterDays) > 1e-9 ||
			(g.AdoptedAt == nil) != (w.AdoptedAt == nil) || g.AdoptedAt != nil && !g.AdoptedAt.Equal(*w.AdoptedAt) {
			t.Errorf("apps[%d] = %+v, want %+v", i, g, w)
		}
	}
}

func near(a, b *float64) bool { return a != nil && b != nil && math.Abs(*a-*b) < 1e-6 }

func deref(v *float64) any {
	if v == nil {
		return nil
	}
	return *v
}

func TestSettingsFromAdoption(t *testing.T) {
	cfg := config.Default()
	cfg.Metrics.GitOpsAdoption = map[string]string{"delta": "2026-01-21", "alpha": "2026-01-10T08:00:00+02:00"}
	got := engine.SettingsFrom(cfg).Adoption
	if !got["delta"].Equal(time.Date(2026, 1, 21, 0, 0, 0, 0, time.UTC)) || !got["alpha"].Equal(time.Date(2026, 1, 10, 6, 0, 0, 0, time.UTC)) || len(got) != 2 {
		t.Errorf("Adoption = %v", got)
	}
}
