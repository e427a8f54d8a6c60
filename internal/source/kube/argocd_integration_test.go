package kube_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// rev returns a distinct Git commit SHA for n.
func rev(n int) string {
	return strings.Repeat(fmt.Sprintf("%x", n%16), 40)[:38] + fmt.Sprintf("%02x", n)
}

// argoApp is the status of an Application, as the test drives it.
type argoApp struct {
	history   []map[string]any
	op        map[string]any
	health    string
	healthAt  time.Time
	sync      string
	syncRev   string
	images    []string
	histLimit int
}

func (a *argoApp) status() map[string]any {
	st := map[string]any{
		"sync":      map[string]any{"status": a.sync, "revision": a.syncRev},
		"health":    map[string]any{"status": a.health, "lastTransitionTime": ts(a.healthAt)},
		"summary":   map[string]any{"images": toAny(a.images)},
		"resources": []any{map[string]any{"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "shop-prod", "name": "api"}},
	}
	if len(a.history) > 0 {
		h := make([]any, len(a.history))
		for i := range a.history {
			h[i] = a.history[i]
		}
		st["history"] = h
	}
	if a.op != nil {
		st["operationState"] = a.op
	}
	return st
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// addHistory appends a successful sync to status.history and truncates it
// to the limit, as Argo CD does.
func (a *argoApp) addHistory(id int, revision string, started, deployed time.Time, user string) {
	ini := map[string]any{"automated": true}
	if user != "" {
		ini = map[string]any{"username": user}
	}
	a.history = append(a.history, map[string]any{
		"id": int64(id), "revision": revision, "deployStartedAt": ts(started), "deployedAt": ts(deployed),
		"source":      map[string]any{"repoURL": "https://github.com/acme/gitops", "path": "apps/api/overlays/prod", "targetRevision": "main"},
		"initiatedBy": ini,
	})
	if len(a.history) > a.histLimit {
		a.history = a.history[len(a.history)-a.histLimit:]
	}
}

func operation(revision, user, phase string, started, finished time.Time, retries int64, msg string) map[string]any {
	ini := map[string]any{"automated": true}
	if user != "" {
		ini = map[string]any{"username": user}
	}
	op := map[string]any{
		"operation": map[string]any{"sync": map[string]any{"revision": revision}, "initiatedBy": ini},
		"phase":     phase, "message": msg, "startedAt": ts(started),
	}
	if !finished.IsZero() {
		op["finishedAt"] = ts(finished)
		op["syncResult"] = map[string]any{"revision": revision, "source": map[string]any{"repoURL": "https://github.com/acme/gitops"}}
	}
	if retries > 0 {
		op["retryCount"] = retries
	}
	return op
}

// appEvents builds the expected events of the Application api-prod.
type appEvents struct {
	cluster string
	out     []delivery.Event
}

const appPrefix = "argocd/prod-eu/argocd/api-prod"

func (x *appEvents) add(id string, t delivery.EventType, at time.Time, p delivery.Payload) {
	x.out = append(x.out, delivery.Event{Source: "kube", ID: appPrefix + "/" + id, Type: t, Time: at, App: "api", Env: "prod",
		Cluster: x.cluster, Namespace: "shop-prod", Payload: p})
}

func (x *appEvents) sync(started time.Time, phase delivery.SyncPhase, finished time.Time, revision, user string, retries int64, msg string, recovered bool, idSuffix string) {
	p := &delivery.Sync{Application: "api-prod", StartedAt: started, FinishedAt: finished, Revision: revision, Phase: phase,
		InitiatedBy: user, Automated: user == "", RetryCount: retries, Message: msg, Recovered: recovered}
	if phase == delivery.PhaseRunning {
		x.add(ts(started)+"/Running", delivery.SyncStarted, started, p)
		return
	}
	x.add(ts(started)+"/"+string(phase)+idSuffix, delivery.SyncFinished, finished, p)
}

func (x *appEvents) history(started, deployed time.Time, revision, user string) {
	x.sync(started, delivery.PhaseRunning, time.Time{}, revision, user, 0, "", true, "")
	x.sync(started, delivery.PhaseSucceeded, deployed, revision, user, 0, "", true, "")
}

func (x *appEvents) health(s delivery.HealthStatus, at time.Time, syncStatus, revision string) {
	x.add("health/"+string(s)+"/"+ts(at), delivery.HealthChanged, at, &delivery.Health{Application: "api-prod", Status: s, SyncStatus: syncStatus, Revision: revision})
}

func (x *appEvents) syncStatus(s string, at time.Time, revision string, drift bool) {
	x.add("syncstatus/"+s+"/"+ts(at), delivery.SyncStatusChanged, at, &delivery.SyncStatus{Application: "api-prod", Status: s, Revision: revision, Drift: drift})
}

func (x *appEvents) deployment(t delivery.EventType, started, at time.Time, artifact, previous, revision, author string) {
	x.add(ts(started)+"/deployment", t, at, &delivery.Deployment{Artifact: artifact, PreviousArtifact: previous, Repo: "https://github.com/acme/gitops",
		ManifestCommit: revision, InferredFrom: "argocd", Author: author})
}

const (
	msgOK     = "successfully synced (all tasks run)"
	msgFailed = "one or more objects failed to apply, reason: Deployment.apps \"api\" is invalid"
)

// TestArgoCDLifecycle drives an Application through syncs (failed, retried,
// succeeded, rolled back), health and sync-status changes, history
// truncation, a restart of shiplog with changes while it was down, and
// deletion, and checks every event recorded.
func TestArgoCDLifecycle(t *testing.T) {
	e := newEnv(t, crdArgo, rbacRole, rbacBind)
	img := func(v string) string { return "ghcr.io/acme/api:" + v }
	x := &appEvents{cluster: "prod-eu"}

	// Before shiplog: nine successful syncs in the history, the last one
	// the current operation; Healthy, Synced.
	a := &argoApp{health: "Healthy", sync: "Synced", histLimit: 10, images: []string{img("1.9.0")}}
	start := func(i int) time.Time { return base.Add(time.Duration(i-10) * time.Hour) }
	for i := 1; i <= 9; i++ {
		user := ""
		if i%3 == 0 {
			user = "bob@example.com"
		}
		a.addHistory(i, rev(i), start(i), start(i).Add(30*time.Second), user)
		if i < 9 {
			x.history(start(i), start(i).Add(30*time.Second), rev(i), user)
		}
	}
	a.syncRev = rev(9)
	a.op = operation(rev(9), "bob@example.com", "Succeeded", start(9), start(9).Add(30*time.Second), 0, msgOK)
	a.healthAt = start(9).Add(time.Minute)
	e.create(gvrApp, map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
		"metadata": map[string]any{"name": "api-prod", "namespace": "argocd"},
		"spec": map[string]any{
			"project":     "default",
			"source":      map[string]any{"repoURL": "https://github.com/acme/gitops", "path": "apps/api/overlays/prod", "targetRevision": "main"},
			"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": "shop-prod"},
		},
		"status": a.status(),
	})
	e.startSource()
	// First sight: the history backfilled, Recovered; the operation (the
	// newest history entry) from operationState, Recovered as it ended
	// before shiplog watched; health and sync status; the live deployment.
	x.sync(start(9), delivery.PhaseRunning, time.Time{}, rev(9), "bob@example.com", 0, "", true, "")
	x.sync(start(9), delivery.PhaseSucceeded, start(9).Add(30*time.Second), rev(9), "bob@example.com", 0, msgOK, true, "")
	x.health(delivery.Healthy, a.healthAt, "Synced", rev(9))
	x.syncStatus("Synced", base, rev(9), false)
	x.deployment(delivery.ServiceUpgraded, start(9), a.healthAt, img("1.9.0"), "", rev(9), "bob@example.com")
	e.expectStored(x.out)

	// A new commit: OutOfSync at a new revision (no drift); an automated
	// sync starts, and fails.
	t1 := base.Add(time.Minute)
	e.clock.Set(t1)
	a.sync, a.syncRev = "OutOfSync", rev(10)
	a.op = operation(rev(10), "", "Running", t1, time.Time{}, 0, "one or more tasks are running")
	e.setStatus(gvrApp, "argocd", "api-prod", a.status())
	x.syncStatus("OutOfSync", t1, rev(10), false)
	x.sync(t1, delivery.PhaseRunning, time.Time{}, rev(10), "", 0, "", false, "")
	e.expectStored(x.out)

	e.clock.Set(base.Add(2 * time.Minute))
	a.op = operation(rev(10), "", "Failed", t1, t1.Add(30*time.Second), 0, msgFailed)
	e.setStatus(gvrApp, "argocd", "api-prod", a.status())
	x.sync(t1, delivery.PhaseFailed, t1.Add(30*time.Second), rev(10), "", 0, msgFailed, false, "")
	e.expectStored(x.out)

	// Retried by a user: the first attempt fails and is retried by Argo CD
	// (phase Running, finishedAt and retryCount set), the second succeeds
	// while the app is Progressing, then Healthy: a deployment.
	t2 := base.Add(3 * time.Minute)
	e.clock.Set(t2)
	a.op = operation(rev(10), "alice@example.com", "Running", t2, time.Time{}, 0, "one or more tasks are running")
	e.setStatus(gvrApp, "argocd", "api-prod", a.status())
	x.sync(t2, delivery.PhaseRunning, time.Time{}, rev(10), "alice@example.com", 0, "", false, "")
	e.expectStored(x.out)

	retryMsg := msgFailed + ". Retrying attempt #1 at 10:03AM."
	a.op = operation(rev(10), "alice@example.com", "Running", t2, t2.Add(20*time.Second), 1, retryMsg)
	e.setStatus(gvrApp, "argocd", "api-prod", a.status())
	x.sync(t2, delivery.PhaseFailed, t2.Add(20*time.Second), rev(10), "alice@example.com", 0, retryMsg, false, "")
	e.expectStored(x.out)

	a.op = operation(rev(10), "alice@example.com", "Running", t2, time.Time{}, 1, "one or more tasks are running")
	e.setStatus(gvrApp, "argocd", "api-prod", a.status())
	e.expectStored(x.out)

	e.clock.Set(base.Add(4 * time.Minute))
	done2 := base.Add(4 * time.Minute)
	a.op = operation(rev(10), "alice@example.com", "Succeeded", t2, done2, 1, msgOK)
	a.addHistory(10, rev(10), t2, done2, "alice@example.com")
	a.sync, a.syncRev = "Synced", rev(10)
	a.health, a.healthAt = "Progressing", done2
	a.images = []string{img("1.10.0")}
	e.setStatus(gvrApp, "argocd", "api-prod", a.status())
	x.sync(t2, delivery.PhaseSucceeded, done2, rev(10), "alice@example.com", 1, msgOK, false, "")
	x.syncStatus("Synced", done2, rev(10), false)
	x.health(delivery.Progressing, done2, "Synced", rev(10))
	e.expectStored(x.out)

	e.clock.Set(base.Add(5 * time.Minute))
	a.health, a.healthAt = "Healthy", base.Add(5*time.Minute)
	e.setStatus(gvrApp, "argocd", "api-prod", a.status())
	x.health(delivery.Healthy, a.healthAt, "Synced", rev(10))
	x.deployment(delivery.ServiceUpgraded, t2, a.healthAt, img("1.10.0"), img("1.9.0"), rev(10), "alice@example.com")
	e.expectStored(x.out)

	// Drift: OutOfSync at the revision last Synced; then Synced again.
	e.clock.Set(base.Add(6 * time.Minute))
	a.sync = "OutOfSync"
	e.setStatus(gvrApp, "argocd", "api-prod", a.status())
	x.syncStatus("OutOfSync", base.Add(6*time.Minute), rev(10), true)
	e.expectStored(x.out)
	e.clock.Set(base.Add(6*time.Minute + 30*time.Second))
	a.sync = "Synced"
	e.setStatus(gvrApp, "argocd", "api-prod", a.status())
	x.syncStatus("Synced", base.Add(6*time.Minute+30*time.Second), rev(10), false)
	e.expectStored(x.out)

	// Degraded.
	e.clock.Set(base.Add(7 * time.Minute))
	a.health, a.healthAt = "Degraded", base.Add(7*time.Minute)
	e.setStatus(gvrApp, "argocd", "api-prod", a.status())
	x.health(delivery.Degraded, a.healthAt, "Synced", rev(10))
	e.expectStored(x.out)

	// A fix: the eleventh history entry; Argo CD truncates the history to
	// ten, dropping the first, which shiplog keeps.
	t3 := base.Add(8 * time.Minute)
	e.clock.Set(t3.Add(time.Minute))
	a.op = operation(rev(11), "", "Succeeded", t3, t3.Add(40*time.Second), 0, msgOK)
	a.addHistory(11, rev(11), t3, t3.Add(40*time.Second), "")
	a.syncRev, a.images = rev(11), []string{img("1.11.0")}
	a.health, a.healthAt = "Healthy", t3.Add(50*time.Second)
	e.setStatus(gvrApp, "argocd", "api-prod", a.status())
	x.sync(t3, delivery.PhaseRunning, time.Time{}, rev(11), "", 0, "", false, "")
	x.sync(t3, delivery.PhaseSucceeded, t3.Add(40*time.Second), rev(11), "", 0, msgOK, false, "")
	x.health(delivery.Healthy, a.healthAt, "Synced", rev(11))
	x.deployment(delivery.ServiceUpgraded, t3, a.healthAt, img("1.11.0"), img("1.10.0"), rev(11), "")
	e.expectStored(x.out)
	if n := len(a.history); n != 10 || a.history[0]["revision"] != rev(2) {
		t.Fatalf("test setup: history has %d entries from %v, want 10 from %s", n, a.history[0]["revision"], rev(2))
	}

	// Rollback: a sync back to revision 10, live before.
	t4 := base.Add(10 * time.Minute)
	e.clock.Set(t4.Add(time.Minute))
	a.op = operation(rev(10), "alice@example.com", "Succeeded", t4, t4.Add(30*time.Second), 0, msgOK)
	a.addHistory(12, rev(10), t4, t4.Add(30*time.Second), "alice@example.com")
	a.syncRev, a.images = rev(10), []string{img("1.10.0")}
	e.setStatus(gvrApp, "argocd", "api-prod", a.status())
	x.sync(t4, delivery.PhaseRunning, time.Time{}, rev(10), "alice@example.com", 0, "", false, "")
	x.sync(t4, delivery.PhaseSucceeded, t4.Add(30*time.Second), rev(10), "alice@example.com", 0, msgOK, false, "")
	x.deployment(delivery.ServiceRolledBack, t4, t4.Add(30*time.Second), img("1.10.0"), img("1.11.0"), rev(10), "alice@example.com")
	e.expectStored(x.out)

	// shiplog stops; meanwhile a sync runs and succeeds, the app goes
	// Progressing and back to Healthy. On restart, what happened is
	// recovered from the operation and the history, marked Recovered, and
	// nothing recorded before is recorded again.
	e.stopSource()
	t5 := base.Add(20 * time.Minute)
	a.op = operation(rev(12), "", "Succeeded", t5, t5.Add(time.Minute), 0, msgOK)
	a.addHistory(13, rev(12), t5, t5.Add(time.Minute), "")
	a.syncRev, a.images = rev(12), []string{img("1.12.0")}
	a.health, a.healthAt = "Healthy", t5.Add(2*time.Minute)
	e.setStatus(gvrApp, "argocd", "api-prod", a.status())
	e.clock.Set(base.Add(30 * time.Minute))
	e.startSource()
	x.sync(t5, delivery.PhaseRunning, time.Time{}, rev(12), "", 0, "", true, "")
	x.sync(t5, delivery.PhaseSucceeded, t5.Add(time.Minute), rev(12), "", 0, msgOK, true, "")
	x.deployment(delivery.ServiceUpgraded, t5, a.healthAt, img("1.12.0"), img("1.10.0"), rev(12), "")
	e.expectStored(x.out)

	// Deleted: the deployment is removed.
	e.clock.Set(base.Add(31 * time.Minute))
	e.delete(gvrApp, "argocd", "api-prod")
	x.out = append(x.out, delivery.Event{Source: "kube", ID: appPrefix + "/removed/" + ts(t5), Type: delivery.ServiceRemoved,
		Time: base.Add(31 * time.Minute), App: "api", Env: "prod", Cluster: "prod-eu", Namespace: "shop-prod",
		Payload: &delivery.Deployment{PreviousArtifact: img("1.12.0"), InferredFrom: "argocd"}})
	e.expectStored(x.out)

	// The derived model keeps every sync, including those Argo CD no
	// longer lists, and the deployments with what they were inferred from.
	ctx := context.Background()
	syncs, err := e.st.Syncs(ctx, store.ModelFilter{App: "api", Env: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range syncs {
		got = append(got, fmt.Sprintf("%s %s %s recovered=%v", ts(s.StartedAt), s.Phase, s.Revision[:4], s.Recovered))
	}
	var want []string
	for i := 1; i <= 9; i++ {
		want = append(want, fmt.Sprintf("%s Succeeded %s recovered=true", ts(start(i)), rev(i)[:4]))
	}
	want = append(want,
		fmt.Sprintf("%s Failed %s recovered=false", ts(t1), rev(10)[:4]),
		fmt.Sprintf("%s Succeeded %s recovered=false", ts(t2), rev(10)[:4]),
		fmt.Sprintf("%s Succeeded %s recovered=false", ts(t3), rev(11)[:4]),
		fmt.Sprintf("%s Succeeded %s recovered=false", ts(t4), rev(10)[:4]),
		fmt.Sprintf("%s Succeeded %s recovered=true", ts(t5), rev(12)[:4]))
	if !slices.Equal(got, want) {
		t.Errorf("syncs:\n got %q\nwant %q", got, want)
	}
	deps, err := e.st.Deployments(ctx, store.ModelFilter{App: "api", Env: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	for _, d := range deps {
		got = append(got, fmt.Sprintf("%s %s %s", d.Kind, d.InferredFrom, d.Artifact))
	}
	want = []string{
		"service.upgraded argocd " + img("1.9.0"), "service.upgraded argocd " + img("1.10.0"), "service.upgraded argocd " + img("1.11.0"),
		"service.rolledback argocd " + img("1.10.0"), "service.upgraded argocd " + img("1.12.0"), "service.removed argocd ",
	}
	if !slices.Equal(got, want) {
		t.Errorf("deployments:\n got %q\nwant %q", got, want)
	}
}
