package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/store"
	"github.com/shiplog-dev/shiplog/internal/store/storetest"
)

// fixedNow is the clock of the handler tests: a while after the generated
// history ends.
var fixedNow = time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)

func hex40(prefix string) string { return (prefix + strings.Repeat("0", 40))[:40] }

// seedEvents is a realistic store: n generated flows (commit → PR → CI →
// image → manifest → sync → revision → traffic, with failures), moved so
// that they end shortly before now, and a few hand-written situations: work
// in flight in every phase, an app scaled to zero, and an app with a
// failed deployment, an incident and a rollback.
func seedEvents(n int, now time.Time) []delivery.Event {
	gen := storetest.NewGenerator(7, "demo").Events(n)
	shift := now.Add(-90 * time.Minute).Sub(gen[len(gen)-1].Time)
	for i := range gen {
		e := &gen[i]
		e.Time = e.Time.Add(shift)
		switch p := e.Payload.(type) {
		case *delivery.Commit:
			p.AuthoredAt, p.CommittedAt = p.AuthoredAt.Add(shift), p.CommittedAt.Add(shift)
		case *delivery.Sync:
			p.StartedAt = p.StartedAt.Add(shift)
			if !p.FinishedAt.IsZero() {
				p.FinishedAt = p.FinishedAt.Add(shift)
			}
		}
	}
	at := func(d time.Duration) time.Time { return now.Add(-d) }
	ev := func(id string, typ delivery.EventType, t time.Time, app, env string, p delivery.Payload) delivery.Event {
		e := delivery.Event{Source: "seed", ID: id, Type: typ, Time: t, App: app, Env: env, Payload: p}
		if app != "" {
			e.Team = map[string]string{"ledger": "money", "nightly-reports": "data"}[app]
			if e.Team == "" {
				e.Team = "team-" + app[:1]
			}
		}
		return e
	}
	repo := "https://git.example.com/acme/ledger"
	gitops := "https://git.example.com/acme/gitops"
	live, s1, s2 := hex40("c0ffee"), hex40("1ed9e1"), hex40("1ed9e2")
	m0, m1, m2, m3 := hex40("aa0"), hex40("aa1"), hex40("aa2"), hex40("aa3")
	deploy := func(id string, kind delivery.EventType, t time.Time, image, manifest, src, from, author string, revert bool) delivery.Event {
		return ev(id, kind, t, "ledger", "prod", &delivery.Deployment{Artifact: image, Repo: gitops, ManifestCommit: manifest, SourceCommit: src,
			Changes: []string{src}, InferredFrom: from, Author: author, Revert: revert})
	}
	extra := []delivery.Event{
		// In flight: an open pull request, a running CI run, a running sync,
		// a revision not yet Ready, a canary split.
		ev("pr-open", delivery.ChangeCreated, at(2*time.Hour), "", "", &delivery.Change{Repo: "https://git.example.com/acme/checkout", Number: 9001,
			Title: "Add dark mode to checkout", Author: "ann", HeadSHA: hex40("d4a7"), HeadRef: "feature/dark-mode", BaseRef: "main"}),
		ev("c-live", delivery.CommitAuthored, at(40*time.Minute), "", "", &delivery.Commit{Repo: "https://git.example.com/acme/checkout", SHA: live,
			AuthorName: "Ann Lee", AuthorEmail: "ann@example.com", AuthoredAt: at(40 * time.Minute), CommittedAt: at(40 * time.Minute), Subject: "feat: faster checkout"}),
		ev("run-live", delivery.PipelineRunStarted, at(10*time.Minute), "", "", &delivery.PipelineRun{RunID: "run-live-1", Name: "build", SHA: live, Branch: "main"}),
		ev("sync-live", delivery.SyncStarted, at(5*time.Minute), "checkout", "prod", &delivery.Sync{Application: "checkout-prod", StartedAt: at(5 * time.Minute),
			Revision: hex40("5ca1ab1e"), Automated: true, Phase: delivery.PhaseRunning}),
		ev("rev-live", delivery.RevisionCreated, at(2*time.Minute), "payments", "prod", &delivery.Revision{Name: "payments-00999", Service: "payments", Image: "ghcr.io/acme/payments:sha-0ff1ce0"}),
		ev("traffic-canary", delivery.TrafficChanged, at(3*time.Minute), "search", "prod", &delivery.Traffic{Service: "search", Targets: []delivery.TrafficTarget{
			{Revision: "search-canary", Percent: 25, Latest: true}, {Revision: "search-stable", Percent: 75}}}),
		// Scaled to zero.
		ev("nr-deploy", delivery.ServiceDeployed, at(72*time.Hour), "nightly-reports", "dev", &delivery.Deployment{Artifact: "ghcr.io/acme/nightly-reports:2.0.0", InferredFrom: "knative", Revision: "nightly-reports-00001"}),
		ev("nr-traffic", delivery.TrafficChanged, at(72*time.Hour), "nightly-reports", "dev", &delivery.Traffic{Service: "nightly-reports", Targets: []delivery.TrafficTarget{{Revision: "nightly-reports-00001", Percent: 100, Latest: true}}}),
		ev("nr-scale-up", delivery.ScaleSampled, at(2*time.Hour), "nightly-reports", "dev", &delivery.Scale{Revision: "nightly-reports-00001", Service: "nightly-reports", Actual: 2, Desired: 2}),
		ev("nr-scale", delivery.ScaleSampled, at(30*time.Minute), "nightly-reports", "dev", &delivery.Scale{Revision: "nightly-reports-00001", Service: "nightly-reports", Actual: 0, Desired: 0}),
		// ledger in prod: good, good, failed (degraded, incident), rolled back by bob.
		ev("l-c2", delivery.CommitAuthored, at(60*time.Hour), "", "", &delivery.Commit{Repo: repo, SHA: s2, AuthorName: "Carol", CommittedAt: at(60 * time.Hour), Subject: "perf: faster balance"}),
		ev("l-pr-open", delivery.ChangeCreated, at(59*time.Hour), "", "", &delivery.Change{Repo: repo, Number: 77, Title: "Ledger: faster balance", Author: "carol", HeadSHA: s2, HeadRef: "perf/balance"}),
		ev("l-pr-rev", delivery.ChangeReviewed, at(58*time.Hour), "", "", &delivery.Change{Repo: repo, Number: 77, Reviewer: "dave", ReviewState: delivery.ReviewApproved}),
		ev("l-pr-merge", delivery.ChangeMerged, at(57*time.Hour), "", "", &delivery.Change{Repo: repo, Number: 77, MergeSHA: s2}),
		deploy("l-d0", delivery.ServiceDeployed, at(8*24*time.Hour), "ghcr.io/acme/ledger:0.9.0", m0, hex40("1ed9e0"), "argocd", "ann", false),
		deploy("l-d1", delivery.ServiceUpgraded, at(5*24*time.Hour), "ghcr.io/acme/ledger:1.0.0", m1, s1, "argocd", "ann", false),
		deploy("l-d2", delivery.ServiceUpgraded, at(48*time.Hour), "ghcr.io/acme/ledger:1.1.0", m2, s2, "argocd", "shiplog-bot[bot]", false),
		ev("l-h1", delivery.HealthChanged, at(47*time.Hour+30*time.Minute), "ledger", "prod", &delivery.Health{Application: "ledger-prod", Status: delivery.Degraded, SyncStatus: "Synced", Revision: m2}),
		ev("l-inc", delivery.IncidentDetected, at(47*time.Hour+20*time.Minute), "ledger", "prod", &delivery.Incident{IncidentID: "INC-42", Title: "Ledger answers 500"}),
		ev("l-inc-r", delivery.IncidentResolved, at(44*time.Hour), "ledger", "prod", &delivery.Incident{IncidentID: "INC-42"}),
		ev("l-sync3s", delivery.SyncStarted, at(24*time.Hour+5*time.Minute), "ledger", "prod", &delivery.Sync{Application: "ledger-prod", StartedAt: at(24*time.Hour + 5*time.Minute), Revision: m3, InitiatedBy: "bob", Phase: delivery.PhaseRunning}),
		ev("l-sync3f", delivery.SyncFinished, at(24*time.Hour+time.Minute), "ledger", "prod", &delivery.Sync{Application: "ledger-prod", StartedAt: at(24*time.Hour + 5*time.Minute), FinishedAt: at(24*time.Hour + time.Minute),
			Revision: m3, InitiatedBy: "bob", Phase: delivery.PhaseSucceeded}),
		deploy("l-d3", delivery.ServiceRolledBack, at(24*time.Hour), "ghcr.io/acme/ledger:1.0.0", m3, s1, "argocd", "bob", true),
		ev("l-h2", delivery.HealthChanged, at(23*time.Hour), "ledger", "prod", &delivery.Health{Application: "ledger-prod", Status: delivery.Healthy, SyncStatus: "Synced", Revision: m3}),
	}
	return append(gen, extra...)
}

// seed appends events in batches the size webhooks and imports use.
func seed(t testing.TB, st *store.Store, events []delivery.Event) {
	t.Helper()
	for i := 0; i < len(events); i += 500 {
		if _, err := st.Append(context.Background(), events[i:min(i+500, len(events))]...); err != nil {
			t.Fatal(err)
		}
	}
}
