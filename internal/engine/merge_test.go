package engine_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine"
	"github.com/shiplog-dev/shiplog/internal/store"
	"github.com/shiplog-dev/shiplog/internal/store/sqlite"
)

// TestKnativeDigestMeetsGitTag: Git records the image as the manifest
// wrote it (a tag), the Knative source as the digest its revision resolved
// to. The revision's record links the two: one deployment, timed by
// Knative, not two.
func TestKnativeDigestMeetsGitTag(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	const digest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	events := []delivery.Event{
		{Source: "git", ID: "m1", Type: delivery.ServiceUpgraded, Time: t0, App: "checkout", Env: "prod",
			Payload: &delivery.Deployment{Artifact: "registry.example/checkout:1.4.0", ManifestCommit: "abcdef0123456789abcdef0123456789abcdef01", InferredFrom: "git"}},
		{Source: "knative", ID: "r-created", Type: delivery.RevisionCreated, Time: t0.Add(2 * time.Minute), App: "checkout", Env: "prod",
			Payload: &delivery.Revision{Name: "checkout-00007", Service: "checkout", Image: "registry.example/checkout:1.4.0", Digest: digest}},
		{Source: "knative", ID: "d-knative", Type: delivery.ServiceUpgraded, Time: t0.Add(6 * time.Minute), App: "checkout", Env: "prod",
			Payload: &delivery.Deployment{Artifact: "registry.example/checkout@" + digest, InferredFrom: "knative", Revision: "checkout-00007"}},
	}
	if _, err := st.Append(context.Background(), events...); err != nil {
		t.Fatal(err)
	}
	eng := engine.New(st, engine.Settings{Now: func() time.Time { return t0.Add(24 * time.Hour) }})
	deps, err := eng.History(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(deps) != 1 {
		t.Fatalf("got %d deployments, want the Git and Knative records merged into one: %+v", len(deps), deps)
	}
	d := deps[0]
	if d.InferredFrom != "knative" || !d.LiveAt.Equal(t0.Add(6*time.Minute)) || d.ManifestCommit == "" || len(d.Sources) != 2 {
		t.Errorf("deployment %+v: want it live at +6m from Knative, with Git's manifest commit and both sources", d)
	}
}

// TestRollbackSeenOnlyByKnativeIsItsOwnDeployment: without Git, a rollback
// to an image deployed days before is a deployment of its own, not the old
// one again; two rollouts minutes apart still merge with their records.
func TestRollbackSeenOnlyByKnativeIsItsOwnDeployment(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	kn := func(id string, kind delivery.EventType, at time.Time, app, image string) delivery.Event {
		return delivery.Event{Source: "knative", ID: id, Type: kind, Time: at, App: app, Env: "prod",
			Payload: &delivery.Deployment{Artifact: image, InferredFrom: "knative"}}
	}
	git := func(id string, at time.Time, app, image, commit string) delivery.Event {
		return delivery.Event{Source: "git", ID: id, Type: delivery.ServiceUpgraded, Time: at, App: app, Env: "prod",
			Payload: &delivery.Deployment{Artifact: image, ManifestCommit: commit, InferredFrom: "git"}}
	}
	day := 24 * time.Hour
	events := []delivery.Event{
		kn("x1", delivery.ServiceDeployed, t0, "api", "registry.example/api:1"),
		kn("y", delivery.ServiceUpgraded, t0.Add(4*day), "api", "registry.example/api:2"),
		kn("x2", delivery.ServiceRolledBack, t0.Add(8*day), "api", "registry.example/api:1"),
		// Two merges minutes apart; Knative reports the first rollout after the second commit.
		git("ga", t0, "web", "registry.example/web:1", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
		git("gb", t0.Add(10*time.Minute), "web", "registry.example/web:2", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"),
		kn("ka", delivery.ServiceUpgraded, t0.Add(30*time.Minute), "web", "registry.example/web:1"),
		kn("kb", delivery.ServiceUpgraded, t0.Add(40*time.Minute), "web", "registry.example/web:2"),
	}
	if _, err := st.Append(context.Background(), events...); err != nil {
		t.Fatal(err)
	}
	eng := engine.New(st, engine.Settings{Now: func() time.Time { return t0.Add(30 * day) }})
	deps, err := eng.History(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, d := range deps {
		count[d.App]++
		if d.App == "web" && (d.InferredFrom != "knative" || d.ManifestCommit == "") {
			t.Errorf("web deployment %+v: want the Git record and the Knative one merged", d)
		}
	}
	if count["api"] != 3 || count["web"] != 2 {
		t.Errorf("deployments per app %v, want api 3 (the rollback is one) and web 2", count)
	}
}
