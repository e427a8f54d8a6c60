package policy_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine/history"
	"github.com/shiplog-dev/shiplog/internal/engine/policy"
)

func sha(c byte) string { return strings.Repeat(string(c), 40) }

func hoursAfter(base time.Time, h float64) time.Time {
	return base.Add(time.Duration(h * float64(time.Hour)))
}

// traceScenario is four production deployments and one in staging:
//
//	D1 Mon 10:00  fully traced: PR #1 by alice approved by bob, CI on the
//	              merge commit, artifact by digest built from it (the
//	              deployment names the commit by a 7-digit prefix),
//	              manifest m1, automated Argo CD sync.
//	D2 Mon 20:00  PR #2 by carol approved only by carol; by tag; served by
//	              Knative (no Argo CD).                  → missing approval
//	D3 Tue 09:00  commit pushed without a PR, no CI; image from docker.io;
//	              synced by hand by dave.   → missing pull_request, approval, ci
//	D4 Sat 11:00  only Git saw it: no source commit, no artifact record, no
//	              sync.            → missing pull_request, approval, ci, artifact, sync
//	D5 Sat 12:00  staging, like D1 but not synced: not counted in production.
func traceScenario() ([]history.Deployment, policy.Input) {
	s1, s2, s3 := sha('1'), sha('2'), sha('3')
	in := policy.Input{
		Changes: []delivery.ChangeRecord{
			{Repo: "api", Number: 1, Author: "alice", MergeSHA: s1, MergedAt: hoursAfter(monday10, -5), Approvers: []string{"bob"}},
			{Repo: "api", Number: 2, Author: "carol", MergeSHA: s2, MergedAt: hoursAfter(monday10, 5), Approvers: []string{"Carol"}},
		},
		PipelineRuns: []delivery.PipelineRunRecord{
			{RunID: "1", SHA: s1, Outcome: delivery.OutcomeSuccess, FinishedAt: hoursAfter(monday10, -4)},
			{RunID: "2", SHA: s2, Outcome: delivery.OutcomeSuccess, FinishedAt: hoursAfter(monday10, 6)},
			{RunID: "3", SHA: s3, Outcome: delivery.OutcomeFailure, FinishedAt: hoursAfter(monday10, 20)},
		},
		Artifacts: []delivery.ArtifactRecord{
			{Name: "ghcr.io/acme/api", Tag: "1.0", Digest: "sha256:aaaa", SourceCommit: s1},
			{Name: "ghcr.io/acme/api", Tag: "2.0", SourceCommit: s2},
			{Name: "docker.io/acme/api", Digest: "sha256:cccc", SourceCommit: s3},
		},
		Syncs: []delivery.SyncRecord{
			{Application: "api-prod", App: "api", Env: "prod", Revision: sha('a'), Phase: delivery.PhaseSucceeded, Automated: true, StartedAt: hoursAfter(monday10, -0.2)},
			{Application: "api-prod", App: "api", Env: "prod", Revision: sha('c'), Phase: delivery.PhaseSucceeded, InitiatedBy: "dave", StartedAt: hoursAfter(monday10, 22.8)},
			// A sync of D5's manifest commit, but in another environment.
			{Application: "api-prod", App: "api", Env: "prod", Revision: sha('e'), Phase: delivery.PhaseSucceeded, Automated: true, StartedAt: hoursAfter(monday10, 121)},
		},
	}
	dep := func(env string, h float64, artifact, src, manifest string, sources ...string) history.Deployment {
		return history.Deployment{App: "api", Env: env, Team: "core", LiveAt: hoursAfter(monday10, h), Artifact: artifact, SourceCommit: src,
			ManifestCommit: manifest, Sources: sources, InferredFrom: sources[0], EventIDs: []string{"x/" + manifest[:1]}}
	}
	deps := []history.Deployment{
		dep("prod", 0, "ghcr.io/acme/api:1.0@sha256:aaaa", s1[:7], sha('a'), "argocd", "git"),
		dep("prod", 10, "ghcr.io/acme/api:2.0", s2, sha('b'), "knative", "git"),
		dep("prod", 23, "docker.io/acme/api@sha256:cccc", s3, sha('c'), "argocd", "git"),
		dep("prod", 121, "ghcr.io/acme/api:4.0", "", sha('d'), "git"),
		dep("staging", 122, "ghcr.io/acme/api:1.0@sha256:aaaa", s1, sha('e'), "git"),
	}
	return deps, in
}

func TestTraceability(t *testing.T) {
	deps, in := traceScenario()
	x := policy.NewIndex(in)
	wantMissing := [][]string{
		nil,
		{policy.LinkApproval},
		{policy.LinkPullRequest, policy.LinkApproval, policy.LinkCI},
		{policy.LinkPullRequest, policy.LinkApproval, policy.LinkCI, policy.LinkArtifact, policy.LinkSync},
		{policy.LinkSync},
	}
	for i := range deps {
		f := x.Facts(&deps[i])
		if !slices.Equal(f.Missing, wantMissing[i]) {
			t.Errorf("D%d missing %v, want %v", i+1, f.Missing, wantMissing[i])
		}
	}
	f3 := x.Facts(&deps[2])
	if !f3.ManualSync() || f3.SyncInitiator() != "dave" || f3.SourceCommit != sha('3') {
		t.Errorf("D3 facts: manual %v initiator %q source %s", f3.ManualSync(), f3.SyncInitiator(), f3.SourceCommit)
	}
	if f1 := x.Facts(&deps[0]); f1.SyncInitiator() != "automated" || !f1.Approved || !slices.Equal(f1.Approvers, []string{"bob"}) {
		t.Errorf("D1 facts: %+v", f1)
	}

	// Production: 4 deployments, 1 traceable.
	tr := policy.Trace(deps, x, policy.Filter{Envs: []string{"prod"}})
	if tr.Deployments != 4 || tr.Traceable != 1 || tr.Rate == nil || *tr.Rate != 0.25 {
		t.Fatalf("traceability %d/%d rate %v, want 1/4 = 0.25", tr.Traceable, tr.Deployments, tr.Rate)
	}
	wantCounts := map[string]int{policy.LinkPullRequest: 2, policy.LinkApproval: 3, policy.LinkCI: 2, policy.LinkArtifact: 1, policy.LinkManifest: 0, policy.LinkSync: 1}
	for l, n := range wantCounts {
		if tr.Missing[l] != n {
			t.Errorf("missing %s: %d, want %d", l, tr.Missing[l], n)
		}
	}
	if len(tr.Untraceable) != 3 || !tr.Untraceable[0].Deployment.LiveAt.Equal(deps[3].LiveAt) {
		t.Errorf("untraceable %+v, want D4, D3, D2 (newest first)", tr.Untraceable)
	}
	if tr := policy.Trace(deps, x, policy.Filter{Envs: []string{"qa"}}); tr.Rate != nil || tr.Deployments != 0 {
		t.Errorf("no deployments: rate %v, want null", tr.Rate)
	}
}

// TestEvaluateScenario checks the starter rules over traceScenario, with
// allowed registries ghcr.io/acme and hours Mon-Fri 08:00-18:00 UTC:
//
//	D1  compliant
//	D2  image-not-pinned, no-approval, outside-allowed-hours (Mon 20:00)
//	D3  registry-not-allowed, no-approval, manual-sync-in-production
//	D4  image-not-pinned, no-approval, outside-allowed-hours (Saturday)
//	D5  staging: only registry-not-allowed could apply, and it does not
//
// 9 deviations: image-not-pinned 2, registry-not-allowed 1, no-approval 3,
// manual-sync-in-production 1, outside-allowed-hours 2.
func TestEvaluateScenario(t *testing.T) {
	deps, in := traceScenario()
	s := mustCompile(t, policy.Starter(), policy.Config{AllowedRegistries: []string{"ghcr.io/acme"}, AllowedHours: "Mon-Fri 08:00-18:00 UTC"})
	prod := func(env string) bool { return env == "prod" }
	res := s.Evaluate(deps, policy.NewIndex(in), policy.Filter{}, prod, nil)
	if res.Deployments != 5 || len(res.Errors) != 0 {
		t.Fatalf("evaluated %d deployments, errors %v; want 5, none", res.Deployments, res.Errors)
	}
	byRule := map[string]int{}
	var d3 []string
	for _, d := range res.Deviations {
		byRule[d.Rule]++
		if d.Deployment.LiveAt.Equal(deps[2].LiveAt) {
			d3 = append(d3, d.Rule)
		}
	}
	want := map[string]int{policy.RuleImageNotPinned: 2, policy.RuleRegistryNotAllowed: 1, policy.RuleNoApproval: 3, policy.RuleManualSyncProd: 1, policy.RuleOutsideHours: 2}
	if len(res.Deviations) != 9 || fmt.Sprint(byRule) != fmt.Sprint(want) {
		t.Errorf("%d deviations %v, want 9 %v", len(res.Deviations), byRule, want)
	}
	if !slices.Equal(d3, []string{policy.RuleRegistryNotAllowed, policy.RuleNoApproval, policy.RuleManualSyncProd}) {
		t.Errorf("D3 deviations %v", d3)
	}
	if !res.Deviations[0].Deployment.LiveAt.Equal(deps[3].LiveAt) {
		t.Errorf("first deviation is of %s, want the newest deployment with one (D4)", res.Deviations[0].Deployment.LiveAt)
	}
	// Filters: a window, an environment, one rule.
	win := s.Evaluate(deps, policy.NewIndex(in), policy.Filter{Envs: []string{"prod"}, Since: monday10.Add(time.Hour), Until: monday10.Add(24 * time.Hour)}, prod,
		func(r *policy.Rule) bool { return r.Name == policy.RuleNoApproval })
	if win.Deployments != 2 || len(win.Deviations) != 2 {
		t.Errorf("window Mon 11:00–Tue 10:00, no-approval only: %d deployments, %d deviations; want 2, 2", win.Deployments, len(win.Deviations))
	}
}

// TestTraceabilityProperties checks, over random models, that the rate is
// in [0, 1], traceable and untraceable deployments add up, and no link is
// missing more often than there are deployments.
func TestTraceabilityProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		deps, in := randomModel(rng, 1+rng.IntN(40))
		tr := policy.Trace(deps, policy.NewIndex(in), policy.Filter{})
		if tr.Deployments != len(deps) || tr.Traceable+len(tr.Untraceable) != tr.Deployments {
			t.Fatalf("round %d: %d traceable + %d untraceable ≠ %d deployments", round, tr.Traceable, len(tr.Untraceable), tr.Deployments)
		}
		if tr.Rate == nil || *tr.Rate < 0 || *tr.Rate > 1 {
			t.Fatalf("round %d: rate %v outside [0, 1]", round, tr.Rate)
		}
		for l, n := range tr.Missing {
			if n < 0 || n > len(tr.Untraceable) {
				t.Fatalf("round %d: link %s missing %d times for %d untraceable deployments", round, l, n, len(tr.Untraceable))
			}
		}
	}
}

// randomModel makes n deployments over a small pool of commits, PRs, runs,
// artifacts and syncs, each present or not at random.
func randomModel(rng *rand.Rand, n int) ([]history.Deployment, policy.Input) {
	var in policy.Input
	var deps []history.Deployment
	hexSHA := func() string { return fmt.Sprintf("%016x%016x%08x", rng.Uint64(), rng.Uint64(), rng.Uint32()) }
	for i := range n {
		src, man := hexSHA(), hexSHA()
		d := history.Deployment{App: "app", Env: []string{"prod", "dev"}[rng.IntN(2)], LiveAt: monday10.Add(time.Duration(i) * time.Hour),
			Artifact: fmt.Sprintf("ghcr.io/acme/app:%d", i), Sources: []string{"git"}, InferredFrom: "git"}
		if rng.IntN(4) > 0 {
			d.SourceCommit = src
		}
		if rng.IntN(4) > 0 {
			d.ManifestCommit = man
		}
		if rng.IntN(2) == 0 {
			approvers := []string{"author"}
			if rng.IntN(2) == 0 {
				approvers = append(approvers, "reviewer")
			}
			in.Changes = append(in.Changes, delivery.ChangeRecord{Number: int64(i + 1), Author: "author", MergeSHA: src, MergedAt: d.LiveAt.Add(-time.Hour), Approvers: approvers})
		}
		if rng.IntN(2) == 0 {
			in.PipelineRuns = append(in.PipelineRuns, delivery.PipelineRunRecord{SHA: src, Outcome: delivery.OutcomeSuccess})
		}
		if rng.IntN(2) == 0 {
			in.Artifacts = append(in.Artifacts, delivery.ArtifactRecord{Name: "ghcr.io/acme/app", Tag: fmt.Sprint(i), SourceCommit: src})
		}
		if rng.IntN(2) == 0 {
			in.Syncs = append(in.Syncs, delivery.SyncRecord{App: "app", Env: d.Env, Revision: man, Phase: delivery.PhaseSucceeded, Automated: rng.IntN(2) == 0, InitiatedBy: "u"})
		}
		deps = append(deps, d)
	}
	return deps, in
}

// BenchmarkEvaluate evaluates the starter rules over 100,000 deployments
// (facts, variables and five programs each), the way the engine does.
func BenchmarkEvaluate(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	deps, in := randomModel(rng, 100_000)
	s := mustCompile(b, policy.Starter(), policy.Config{AllowedRegistries: []string{"ghcr.io/acme"}, AllowedHours: "Mon-Fri 08:00-18:00 UTC"})
	prod := func(env string) bool { return env == "prod" }
	b.ResetTimer()
	var devs int
	for b.Loop() {
		x := policy.NewIndex(in)
		res := s.Evaluate(deps, x, policy.Filter{}, prod, nil)
		devs = len(res.Deviations)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/100k-deployments")
	b.ReportMetric(float64(devs), "deviations")
}

// BenchmarkRule is one compiled rule's evaluation for one deployment.
func BenchmarkRule(b *testing.B) {
	s := mustCompile(b, policy.Starter()[1:2], policy.Config{AllowedRegistries: []string{"ghcr.io/acme", "quay.io"}})
	v := compliant()
	v.ImageRegistry = "docker.io"
	d := &history.Deployment{}
	b.ReportAllocs()
	for b.Loop() {
		s.Check(d, &v, nil)
	}
}
