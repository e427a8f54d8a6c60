package trace_test

import (
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine/history"
	"github.com/shiplog-dev/shiplog/internal/engine/trace"
)

var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

func at(h float64) time.Time { return t0.Add(time.Duration(h * float64(time.Hour))) }

const (
	sha = "4d09b7bd4d09b7bd4d09b7bd4d09b7bd4d09b7bd"
	m1  = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1"
	m2  = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2"
)

func input() trace.Input {
	hin := history.Input{
		Commits: map[string]delivery.CommitRecord{sha: {Commit: delivery.Commit{SHA: sha, CommittedAt: at(0)}}},
		Deployments: []delivery.DeploymentRecord{
			{Source: "git", EventID: "1", Kind: delivery.ServiceUpgraded, App: "api", Env: "staging", Time: at(3),
				Deployment: delivery.Deployment{Artifact: "ghcr.io/acme/api:sha-4d09b7b", ManifestCommit: m1, Changes: []string{sha}, SourceCommit: sha, InferredFrom: "git"}},
			{Source: "kube", EventID: "2", Kind: delivery.ServiceUpgraded, App: "api", Env: "staging", Time: at(3.5),
				Deployment: delivery.Deployment{Artifact: "ghcr.io/acme/api:sha-4d09b7b", InferredFrom: "knative", Revision: "api-00002"}},
			{Source: "git", EventID: "3", Kind: delivery.ServiceUpgraded, App: "api", Env: "prod", Time: at(5),
				Deployment: delivery.Deployment{Artifact: "ghcr.io/acme/api:sha-4d09b7b", ManifestCommit: m2, Changes: []string{sha}, SourceCommit: sha, InferredFrom: "git"}},
		},
	}
	return trace.Input{
		Deployments:  history.Build(hin, history.Config{Now: at(48)}),
		Commits:      []delivery.CommitRecord{{Commit: delivery.Commit{Repo: "r", SHA: sha, CommittedAt: at(0), Subject: "feat: cache", AuthorName: "Ann"}}},
		Changes:      []delivery.ChangeRecord{{Repo: "r", Number: 12, Author: "ann", HeadRef: "cache", MergedAt: at(1), MergeSHA: sha}},
		PipelineRuns: []delivery.PipelineRunRecord{{RunID: "1", SHA: sha, FinishedAt: at(1.5), Outcome: delivery.OutcomeSuccess, URL: "https://ci/1"}},
		Syncs:        []delivery.SyncRecord{{App: "api", Env: "staging", Application: "api-staging", StartedAt: at(3.1), FinishedAt: at(3.2), Revision: m1, Phase: delivery.PhaseSucceeded, Automated: true}},
		Revisions:    []delivery.RevisionRecord{{App: "api", Env: "staging", Name: "api-00002", Image: "ghcr.io/acme/api:sha-4d09b7b", CreatedAt: at(3.25), ReadyAt: at(3.3)}},
		Traffic: []delivery.TrafficRecord{
			{Service: "api", Time: at(3.4), TrafficTarget: delivery.TrafficTarget{Revision: "api-00002", Percent: 10}},
			{Service: "api", Time: at(3.5), TrafficTarget: delivery.TrafficTarget{Revision: "api-00002", Percent: 100}},
		},
	}
}

func TestFindByEachKey(t *testing.T) {
	in := input()
	for _, q := range []trace.Query{{SHA: "4d09b7b"}, {PR: 12}, {Branch: "cache"}, {Author: "ann"}} {
		got := trace.Find(in, q)
		if len(got) != 1 || got[0].SHA != sha || got[0].PR != 12 {
			t.Errorf("Find(%+v): %+v", q, got)
		}
	}
	if got := trace.Find(in, trace.Query{SHA: "ffff"}); len(got) != 0 {
		t.Errorf("unknown SHA: %d traces", len(got))
	}
}

func TestTraceStages(t *testing.T) {
	tr := trace.Find(input(), trace.Query{SHA: sha})[0]
	states := func(st []trace.Stage) (out []string) {
		for _, s := range st {
			out = append(out, s.Name+":"+s.State)
		}
		return out
	}
	if got := states(tr.Stages); len(got) != 4 || got[0] != "code:known" || got[1] != "review:known" || got[2] != "ci:known" || got[3] != "artifact:unknown" {
		t.Errorf("change stages %v", got)
	}
	if len(tr.Envs) != 2 || tr.Envs[0].Env != "staging" || tr.Envs[1].Env != "prod" {
		t.Fatalf("environments: %+v", tr.Envs)
	}
	st := tr.Envs[0]
	if got := states(st.Stages); got[0] != "manifest:known" || got[1] != "sync:known" || got[2] != "revision:known" || got[3] != "live:known" {
		t.Errorf("staging stages %v", got)
	}
	if st.Revision != "api-00002" || st.TrafficPercent == nil || *st.TrafficPercent != 100 || !st.Live {
		t.Errorf("staging: revision %q traffic %v live %v", st.Revision, st.TrafficPercent, st.Live)
	}
	if d := st.Stages[3].Duration; d == nil || *d != 12*time.Minute {
		t.Errorf("staging live stage duration %v, want 12m (ready 03:18 → live 03:30)", d)
	}
	prod := tr.Envs[1]
	if got := states(prod.Stages); got[1] != "sync:unknown" || got[3] != "live:inferred" {
		t.Errorf("prod stages %v: without Argo CD or Knative records the live time is inferred from Git", got)
	}
}
