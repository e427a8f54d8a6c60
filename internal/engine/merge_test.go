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
