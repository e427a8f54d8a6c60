package argocd

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

const (
	revA = "ea8759964626a583667a2bfd08f334ec2070040a"
	revB = "b1946ac92492d2347c6235b4d2611184e2d2c5a7"
	revW = "0c7d5e8a1b2f3c4d5e6f7a8b9c0d1e2f3a4b5c6d"
)

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm.UTC()
}

func asJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParse(t *testing.T) {
	apiProd := func(e delivery.Event) delivery.Event {
		e.Source, e.App, e.Env, e.Cluster, e.Namespace = Source, "api-prod", "production", "prod-eu-1", "shop"
		return e
	}
	tests := []struct {
		body string
		want delivery.Event
	}{
		{"on-sync-running.json", apiProd(delivery.Event{
			ID: "api-prod/2024-03-05T07:33:03Z/Running", Type: delivery.SyncStarted, Time: mustTime(t, "2024-03-05T07:33:03Z"),
			Payload: &delivery.Sync{
				Application: "api-prod", StartedAt: mustTime(t, "2024-03-05T07:33:03Z"), Revision: revA,
				Phase: delivery.PhaseRunning, Message: "waiting for healthy state of apps/Deployment/api", Automated: true,
			},
		})},
		{"on-sync-succeeded.json", apiProd(delivery.Event{
			ID: "api-prod/2024-03-05T07:33:03Z/Succeeded", Type: delivery.SyncFinished, Time: mustTime(t, "2024-03-05T07:33:04Z"),
			Payload: &delivery.Sync{
				Application: "api-prod", StartedAt: mustTime(t, "2024-03-05T07:33:03Z"), FinishedAt: mustTime(t, "2024-03-05T07:33:04Z"),
				Revision: revA, Phase: delivery.PhaseSucceeded, Message: "successfully synced (all tasks run)", Automated: true,
			},
		})},
		{"on-sync-failed.json", apiProd(delivery.Event{
			ID: "api-prod/2024-03-05T09:12:30Z/Failed", Type: delivery.SyncFinished, Time: mustTime(t, "2024-03-05T09:13:02Z"),
			Payload: &delivery.Sync{
				Application: "api-prod", StartedAt: mustTime(t, "2024-03-05T09:12:30Z"), FinishedAt: mustTime(t, "2024-03-05T09:13:02Z"),
				Revision: revB, Phase: delivery.PhaseFailed, InitiatedBy: "alice@acme.dev", RetryCount: 2,
				Message: `one or more objects failed to apply, reason: Deployment.apps "api" is invalid: spec.template.spec.containers[0].image: Required value (retried 2 times).`,
			},
		})},
		{"on-sync-failed-multisource.json", delivery.Event{
			Source: Source, ID: "shop-staging/2024-03-05T10:01:00Z/Error", Type: delivery.SyncFinished, Time: mustTime(t, "2024-03-05T10:01:01Z"),
			App: "shop-staging", Env: "staging", Cluster: "prod-eu-1", Namespace: "shop-staging",
			Payload: &delivery.Sync{
				Application: "shop-staging", StartedAt: mustTime(t, "2024-03-05T10:01:00Z"), FinishedAt: mustTime(t, "2024-03-05T10:01:01Z"),
				Revisions: []string{"2.7.1", "6c1b2e9f0a3d4c5b6a7980e1f2d3c4b5a6978e0f"}, Phase: delivery.PhaseError, InitiatedBy: "ci-bot",
				Message: `ComparisonError: failed to load target state: rpc error: code = Unknown desc = Manifest generation error (cached): chart "shop" version "2.7.1" not found`,
			},
		}},
		// on-deployed: the health changed at 07:33:41, after the sync finished.
		{"on-deployed.json", apiProd(delivery.Event{
			ID: "api-prod/health/Healthy/" + revA + "/2024-03-05T07:33:41Z", Type: delivery.HealthChanged, Time: mustTime(t, "2024-03-05T07:33:41Z"),
			Payload: &delivery.Health{Application: "api-prod", Status: delivery.Healthy, SyncStatus: "Synced", Revision: revA},
		})},
		// No health_since (older Argo CD): the rendering time.
		{"on-health-degraded.json", delivery.Event{
			Source: Source, ID: "web-staging/health/Degraded/" + revW + "/2024-03-05T08:50:12Z", Type: delivery.HealthChanged,
			Time: mustTime(t, "2024-03-05T08:50:12Z"), App: "web-staging", Cluster: "prod-eu-1", Namespace: "web-staging",
			Payload: &delivery.Health{
				Application: "web-staging", Status: delivery.Degraded, Message: `Deployment "web" exceeded its progress deadline`,
				SyncStatus: "Synced", Revision: revW,
			},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			got, err := Parse(readFile(t, "bodies", tt.body), "prod-eu-1")
			if err != nil {
				t.Fatalf("Parse: got error %v, want nil", err)
			}
			if len(got) != 1 {
				t.Fatalf("Parse: got %d events, want 1", len(got))
			}
			if g, w := asJSON(t, got[0]), asJSON(t, tt.want); g != w {
				t.Errorf("Parse:\ngot  %s\nwant %s", g, w)
			}
			if err := got[0].Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

// TestParseDeployedAfterSync checks that an application counts as deployed
// no earlier than its sync finished, whatever its health's transition time.
func TestParseDeployedAfterSync(t *testing.T) {
	body := edit(t, "on-deployed.json", func(b map[string]any) { b["health_since"] = "2024-03-04T16:02:10Z" })
	got, err := Parse(body, "prod-eu-1")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if want := mustTime(t, "2024-03-05T07:33:04Z"); !got[0].Time.Equal(want) {
		t.Errorf("Time: got %v, want the sync's end %v", got[0].Time, want)
	}
	if want := "api-prod/health/Healthy/" + revA + "/2024-03-05T07:33:04Z"; got[0].ID != want {
		t.Errorf("ID: got %q, want %q", got[0].ID, want)
	}
}

// TestParseSyncFolds checks that the started and finished events of one
// operation are one entity, and the failed one another.
func TestParseSyncFolds(t *testing.T) {
	entity := func(body string) string {
		events, err := Parse(readFile(t, "bodies", body), "prod-eu-1")
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		return events[0].Entity()
	}
	running, succeeded, failed := entity("on-sync-running.json"), entity("on-sync-succeeded.json"), entity("on-sync-failed.json")
	if want := "sync:prod-eu-1/api-prod@2024-03-05T07:33:03Z"; running != want || succeeded != want {
		t.Errorf("entities: got running %q, succeeded %q; want both %q", running, succeeded, want)
	}
	if failed == running {
		t.Errorf("failed sync of another operation: got entity %q, the same as the first operation", failed)
	}
}

// edit returns a body from testdata/bodies changed by f.
func edit(t *testing.T, name string, f func(b map[string]any)) []byte {
	t.Helper()
	var b map[string]any
	if err := json.Unmarshal(readFile(t, "bodies", name), &b); err != nil {
		t.Fatal(err)
	}
	f(b)
	out, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func op(b map[string]any) map[string]any { return b["operation"].(map[string]any) }

func TestParseUnsupported(t *testing.T) {
	tests := []struct {
		name string
		body []byte
		want string
	}{
		{"on-sync-status-unknown", readFile(t, "bodies", "on-sync-status-unknown.json"),
			`unsupported event: Argo CD notification for trigger "on-sync-status-unknown" of application "web-staging"`},
		{"template copied for another trigger", edit(t, "on-sync-running.json", func(b map[string]any) { b["trigger"] = "on-created" }),
			`unsupported event: Argo CD notification for trigger "on-created" of application "api-prod"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.body, "prod-eu-1")
			if !errors.Is(err, delivery.ErrUnsupported) {
				t.Fatalf("Parse: got %v, error %v; want an error wrapping ErrUnsupported", got, err)
			}
			if err.Error() != tt.want {
				t.Errorf("Parse: got error %q, want %q", err, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		body []byte
		want string
	}{
		{"not JSON", []byte(`{"trigger": "on-sync-running", `), "argocd: not a shiplog notification body: unexpected end of JSON input"},
		{"not an object", []byte(`"on-sync-running"`), "argocd: not a shiplog notification body: json: cannot unmarshal string into Go value of type argocd.body"},
		{"operation of the wrong type", edit(t, "on-sync-running.json", func(b map[string]any) { b["operation"] = "Running" }),
			"argocd: not a shiplog notification body: json: cannot unmarshal string into Go struct field body.operation of type argocd.operation"},
		{"no trigger", edit(t, "on-sync-running.json", func(b map[string]any) { delete(b, "trigger") }), "argocd: trigger: missing"},
		{"no app", edit(t, "on-sync-running.json", func(b map[string]any) { b["app"] = nil }), "argocd: app: missing"},
		{"running trigger, finished phase", edit(t, "on-sync-running.json", func(b map[string]any) { op(b)["phase"] = "Succeeded" }),
			`argocd: operation.phase: "Succeeded" does not match trigger on-sync-running (want Running)`},
		{"succeeded trigger, failed phase", edit(t, "on-sync-succeeded.json", func(b map[string]any) { op(b)["phase"] = "Failed" }),
			`argocd: operation.phase: "Failed" does not match trigger on-sync-succeeded (want Succeeded)`},
		{"failed trigger, no phase", edit(t, "on-sync-failed.json", func(b map[string]any) { op(b)["phase"] = nil }),
			`argocd: operation.phase: "" does not match trigger on-sync-failed (want Failed or Error)`},
		{"no started_at", edit(t, "on-sync-running.json", func(b map[string]any) { op(b)["started_at"] = nil }),
			"argocd: operation.started_at: missing"},
		{"bad started_at", edit(t, "on-sync-failed.json", func(b map[string]any) { op(b)["started_at"] = "5 Mar 2024 09:12" }),
			`argocd: operation.started_at: "5 Mar 2024 09:12" is not an RFC 3339 timestamp`},
		{"no finished_at", edit(t, "on-sync-succeeded.json", func(b map[string]any) { op(b)["finished_at"] = nil }),
			"argocd: operation.finished_at: missing"},
		{"bad finished_at", edit(t, "on-sync-failed.json", func(b map[string]any) { op(b)["finished_at"] = "later" }),
			`argocd: operation.finished_at: "later" is not an RFC 3339 timestamp`},
		{"degraded trigger, healthy app", edit(t, "on-health-degraded.json", func(b map[string]any) { b["health_status"] = "Healthy" }),
			`argocd: health_status: "Healthy" does not match trigger on-health-degraded (want Degraded)`},
		{"deployed trigger, progressing app", edit(t, "on-deployed.json", func(b map[string]any) { b["health_status"] = "Progressing" }),
			`argocd: health_status: "Progressing" does not match trigger on-deployed (want Healthy)`},
		{"deployed trigger, running sync", edit(t, "on-deployed.json", func(b map[string]any) { op(b)["phase"] = "Running" }),
			`argocd: operation.phase: "Running" does not match trigger on-deployed (want Succeeded)`},
		{"degraded without any time", edit(t, "on-health-degraded.json", func(b map[string]any) { delete(b, "timestamp") }),
			"argocd: timestamp: missing"},
		{"bad timestamp", edit(t, "on-health-degraded.json", func(b map[string]any) { b["timestamp"] = "now" }),
			`argocd: timestamp: "now" is not an RFC 3339 timestamp`},
		{"bad health_since", edit(t, "on-deployed.json", func(b map[string]any) { b["health_since"] = "07:33:41" }),
			`argocd: health_since: "07:33:41" is not an RFC 3339 timestamp`},
		{"deployed, bad finished_at", edit(t, "on-deployed.json", func(b map[string]any) { op(b)["finished_at"] = "07:33:04" }),
			`argocd: operation.finished_at: "07:33:04" is not an RFC 3339 timestamp`},
		{"sync started before 1970", edit(t, "on-sync-running.json", func(b map[string]any) { op(b)["started_at"] = "0001-01-01T00:00:00Z" }),
			`argocd: on-sync-running of application "api-prod": invalid event: time: missing or zero timestamp`},
		{"app name with a newline", edit(t, "on-sync-running.json", func(b map[string]any) { b["app"] = "api\nprod" }),
			"argocd: on-sync-running of application \"api\\nprod\": invalid event: app: contains invalid characters"},
		{"environment too long", edit(t, "on-deployed.json", func(b map[string]any) { b["environment"] = strings.Repeat("p", 254) }),
			`argocd: on-deployed of application "api-prod": invalid event: environment: longer than 253 bytes`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.body, "prod-eu-1")
			if err == nil {
				t.Fatalf("Parse: got %s, nil error; want an error", asJSON(t, got))
			}
			if err.Error() != tt.want {
				t.Errorf("Parse: got error\n%q, want\n%q", err, tt.want)
			}
			if errors.Is(err, delivery.ErrUnsupported) {
				t.Errorf("Parse: got an error wrapping ErrUnsupported, want a plain error")
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "bodies", "*.json"))
	if len(files) == 0 {
		f.Fatal("no seed bodies in testdata/bodies")
	}
	for _, path := range files {
		f.Add(readFile(f, "bodies", filepath.Base(path)), "prod-eu-1")
	}
	f.Fuzz(func(t *testing.T, body []byte, cluster string) {
		events, err := Parse(body, cluster)
		if err != nil {
			return
		}
		if len(events) != 1 {
			t.Fatalf("Parse: got %d events, want 1", len(events))
		}
		e := events[0]
		if err := e.Validate(); err != nil {
			t.Fatalf("Parse returned an invalid event %#v: %v", e, err)
		}
		if e.Source != Source || e.Cluster != cluster || !strings.HasPrefix(e.ID, e.App+"/") {
			t.Fatalf("Parse: event %s/%q for app %q in cluster %q, want source %s, the app's name first, cluster %q", e.Source, e.ID, e.App, e.Cluster, Source, cluster)
		}
	})
}
