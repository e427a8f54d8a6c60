// Package storetest is the conformance suite every shiplog store passes, and
// the event generator its tests and benchmarks share.
package storetest

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// Base is the time generated histories start at.
var Base = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// Generator makes realistic event streams: each change flows through commit,
// pull request, CI, artifact, manifest change, sync, health, revision and
// traffic, with some failures. Same seed, same events.
type Generator struct {
	rng    *rand.Rand
	source string
	t      time.Time
	n      int
	flows  int // successful flows so far
	apps   []string
	envs   []string
}

// NewGenerator returns a generator for events of the given source kind.
func NewGenerator(seed uint64, source string) *Generator {
	return &Generator{
		rng:    rand.New(rand.NewPCG(seed, seed^0x5eed)),
		source: source,
		t:      Base,
		apps:   []string{"checkout", "catalog", "payments", "search", "accounts", "notifications", "gateway", "reports", "inventory", "pricing"},
		envs:   []string{"dev", "staging", "prod"},
	}
}

func (g *Generator) sha() string {
	return fmt.Sprintf("%016x%016x%08x", g.rng.Uint64(), g.rng.Uint64(), g.rng.Uint32())
}

func (g *Generator) digest() string {
	return fmt.Sprintf("sha256:%016x%016x%016x%016x", g.rng.Uint64(), g.rng.Uint64(), g.rng.Uint64(), g.rng.Uint64())
}

func (g *Generator) step(max time.Duration) time.Time {
	g.t = g.t.Add(time.Second + time.Duration(g.rng.Int64N(int64(max))))
	return g.t
}

func (g *Generator) ev(typ delivery.EventType, at time.Time, app, env string, p delivery.Payload) delivery.Event {
	g.n++
	e := delivery.Event{Source: g.source, ID: fmt.Sprintf("%s-%d", typ, g.n), Type: typ, Time: at, App: app, Env: env, Payload: p}
	if app != "" {
		e.Team, e.Cluster, e.Namespace = "team-"+app[:1], "prod-eu", app
	}
	return e
}

// Flow returns the events of one change moving from commit to traffic: 12
// to 16 events.
func (g *Generator) Flow() []delivery.Event {
	app := g.apps[g.rng.IntN(len(g.apps))]
	env := g.envs[g.rng.IntN(len(g.envs))]
	repo := "https://git.example.com/acme/" + app
	sha, merge := g.sha(), g.sha()
	pr := int64(g.n + 1)
	var out []delivery.Event
	add := func(typ delivery.EventType, at time.Time, app, env string, p delivery.Payload) {
		out = append(out, g.ev(typ, at, app, env, p))
	}
	add(delivery.CommitAuthored, g.step(time.Hour), "", "", &delivery.Commit{Repo: repo, SHA: sha, AuthorName: "Dev", AuthorEmail: "dev@example.com",
		AuthoredAt: g.t, CommittedAt: g.t, Subject: "feat: change " + sha[:7], Branch: "feature"})
	add(delivery.ChangeCreated, g.step(10*time.Minute), "", "", &delivery.Change{Repo: repo, Number: pr, Title: "Change " + sha[:7], Author: "dev", HeadSHA: sha, HeadRef: "feature", BaseRef: "main"})
	add(delivery.ChangeReviewed, g.step(2*time.Hour), "", "", &delivery.Change{Repo: repo, Number: pr, Reviewer: "lead", ReviewState: delivery.ReviewApproved})
	add(delivery.ChangeMerged, g.step(30*time.Minute), "", "", &delivery.Change{Repo: repo, Number: pr, MergeSHA: merge})
	run := fmt.Sprintf("run-%d", g.n)
	add(delivery.PipelineRunStarted, g.step(time.Minute), "", "", &delivery.PipelineRun{RunID: run, Name: "build", Repo: repo, SHA: merge, Branch: "main"})
	outcome := delivery.OutcomeSuccess
	if g.rng.IntN(10) == 0 {
		outcome = delivery.OutcomeFailure
	}
	add(delivery.PipelineRunFinished, g.step(10*time.Minute), "", "", &delivery.PipelineRun{RunID: run, Outcome: outcome})
	if outcome != delivery.OutcomeSuccess {
		return out
	}
	image := "ghcr.io/acme/" + app
	tag := "sha-" + merge[:7]
	dg := g.digest()
	add(delivery.ArtifactPublished, g.step(time.Minute), "", "", &delivery.Artifact{Name: image, Tag: tag, Digest: dg, SourceRepo: repo, SourceCommit: merge, PipelineRun: run})
	mcommit := g.sha()
	add(delivery.ManifestChanged, g.step(5*time.Minute), app, env, &delivery.ManifestChange{Repo: "https://git.example.com/acme/gitops", Commit: mcommit,
		Path: "apps/" + app + "/envs/" + env + "/service.yaml", Location: "Service/" + app + "/" + app, Op: delivery.ManifestUpdated,
		OldImage: image + ":old", NewImage: image + ":" + tag, Author: "shiplog-bot[bot]", Bot: true, SourceCommit: merge})
	add(delivery.SyncStatusChanged, g.step(time.Minute), app, env, &delivery.SyncStatus{Application: app + "-" + env, Status: "OutOfSync", Revision: mcommit})
	started := g.step(3 * time.Minute)
	add(delivery.SyncStarted, started, app, env, &delivery.Sync{Application: app + "-" + env, StartedAt: started, Revision: mcommit, Automated: true, Phase: delivery.PhaseRunning})
	phase := delivery.PhaseSucceeded
	if g.rng.IntN(12) == 0 {
		phase = delivery.PhaseFailed
	}
	add(delivery.SyncFinished, g.step(time.Minute), app, env, &delivery.Sync{Application: app + "-" + env, StartedAt: started, FinishedAt: g.t, Revision: mcommit, Automated: true, Phase: phase, Message: "sync " + string(phase)})
	rev := fmt.Sprintf("%s-%05d", app, g.n)
	add(delivery.RevisionCreated, g.step(time.Second*20), app, env, &delivery.Revision{Name: rev, Service: app, Image: image + ":" + tag, Digest: dg})
	if phase != delivery.PhaseSucceeded {
		add(delivery.RevisionFailed, g.step(time.Minute), app, env, &delivery.Revision{Name: rev, Reason: "ProgressDeadlineExceeded"})
		add(delivery.HealthChanged, g.t, app, env, &delivery.Health{Application: app + "-" + env, Status: delivery.Degraded, SyncStatus: "Synced", Revision: mcommit})
		add(delivery.IncidentDetected, g.step(5*time.Minute), app, env, &delivery.Incident{IncidentID: "inc-" + rev, Title: "errors on " + app, Artifact: dg})
		add(delivery.IncidentResolved, g.step(time.Hour), app, env, &delivery.Incident{IncidentID: "inc-" + rev})
		return out
	}
	add(delivery.RevisionReady, g.step(30*time.Second), app, env, &delivery.Revision{Name: rev})
	add(delivery.HealthChanged, g.t, app, env, &delivery.Health{Application: app + "-" + env, Status: delivery.Healthy, SyncStatus: "Synced", Revision: mcommit})
	for _, pct := range []int{10, 50, 100} {
		targets := []delivery.TrafficTarget{{Revision: rev, Percent: pct, Latest: true}}
		if pct < 100 {
			targets = append(targets, delivery.TrafficTarget{Revision: app + "-prev", Percent: 100 - pct})
		}
		add(delivery.TrafficChanged, g.step(2*time.Minute), app, env, &delivery.Traffic{Service: app, Targets: targets})
	}
	add(delivery.ScaleSampled, g.step(time.Minute), app, env, &delivery.Scale{Revision: rev, Service: app, Actual: 2, Desired: 2})
	g.flows++
	add(delivery.ServiceUpgraded, g.t, app, env, &delivery.Deployment{Artifact: image + "@" + dg, Repo: "https://git.example.com/acme/gitops",
		ManifestCommit: mcommit, SourceCommit: merge, Changes: []string{merge, sha}, InferredFrom: "knative", Revision: rev, Author: "shiplog-bot[bot]", Bot: true, PR: pr})
	if g.flows%8 == 0 { // every eighth successful flow's manifest commit is later force-pushed away
		add(delivery.ManifestRewritten, g.step(time.Hour), "", "", &delivery.RewrittenCommit{Repo: "https://git.example.com/acme/gitops", Commit: mcommit, Branch: "main"})
	}
	return out
}

// Events returns exactly n events: whole flows, the last one cut short.
func (g *Generator) Events(n int) []delivery.Event {
	out := make([]delivery.Event, 0, n+16)
	for len(out) < n {
		out = append(out, g.Flow()...)
	}
	return out[:n]
}
