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

// TestIncidentsLinkedToDeployments is a hand-computed scenario: which of a
// window's incidents count for checkout in prod, and which shiplog linked
// to a deployment.
func TestIncidentsLinkedToDeployments(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	const digest = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	inc := func(id, app, env, artifact string, at time.Time) delivery.Event {
		return delivery.Event{Source: "alertmanager", ID: id, Type: delivery.IncidentDetected, Time: at, App: app, Env: env,
			Payload: &delivery.Incident{IncidentID: id, Title: "incident " + id, Artifact: artifact}}
	}
	events := []delivery.Event{
		inc("before", "checkout", "prod", "", t0.Add(-time.Hour)), // checkout in prod, but nothing was live yet: unlinked
		{Source: "argocd", ID: "d1", Type: delivery.ServiceUpgraded, Time: t0, App: "checkout", Env: "prod",
			Payload: &delivery.Deployment{Artifact: "registry.example/checkout@" + digest, ManifestCommit: "cccccccccccccccccccccccccccccccccccccccc", InferredFrom: "argocd"}},
		inc("by-time", "checkout", "prod", "", t0.Add(30*time.Minute)),    // linked by app, env and time
		inc("by-digest", "", "", digest, t0.Add(40*time.Minute)),          // names no app: counts because it is linked by digest
		inc("other-app", "search", "prod", "", t0.Add(50*time.Minute)),    // another app: not counted
		inc("anonymous", "", "", "", t0.Add(55*time.Minute)),              // names nothing: not counted
		inc("staging", "checkout", "staging", "", t0.Add(58*time.Minute)), // another environment: not counted
		inc("late", "checkout", "prod", "", t0.Add(48*time.Hour)),         // after the window
	}
	if _, err := st.Append(context.Background(), events...); err != nil {
		t.Fatal(err)
	}
	eng := engine.New(st, engine.Settings{Now: func() time.Time { return t0.Add(72 * time.Hour) }})
	rep, err := eng.Report(context.Background(), engine.Query{App: "checkout", Envs: []string{"prod"}, Since: t0.Add(-24 * time.Hour), Until: t0.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	got := rep.Incidents
	if got.Total != 3 || got.Linked != 2 || got.LinkedRate == nil || *got.LinkedRate != 2.0/3 ||
		len(got.Unlinked) != 1 || got.Unlinked[0].Ref != "alertmanager/before" {
		t.Errorf("incidents = %+v, want 3 counted, 2 linked (by time, by digest), unlinked: before", got)
	}
	// A principal scoped to staging sees staging's incident only.
	rep, err = eng.Report(context.Background(), engine.Query{App: "checkout", Envs: []string{"staging"}, Since: t0.Add(-24 * time.Hour), Until: t0.Add(24 * time.Hour),
		Allow: func(app, team, env string) bool { return env == "staging" }})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Incidents.Total != 0 {
		t.Errorf("staging has no deployment partition: incidents = %+v, want none counted", rep.Incidents)
	}
}
