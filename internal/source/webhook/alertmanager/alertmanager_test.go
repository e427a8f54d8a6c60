package alertmanager

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

const (
	digest  = "sha256:2f1e3c9d6b8a7e5f4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e"
	apiURL  = "http://prometheus.monitoring:9090/graph?g0.expr=sum+by+%28app%29+%28rate%28http_requests_total%7Bcode%3D~%225..%22%7D%5B5m%5D%29%29&g0.tab=1"
	apiDesc = "5.3% of requests to api returned 5xx over the last 5 minutes (threshold 5%)."
)

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

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

// checkEvents compares events through their JSON form, which includes the
// payload, and checks that each one is valid.
func checkEvents(t *testing.T, got, want []delivery.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d:\ngot %s", len(got), len(want), asJSON(t, got))
	}
	for i := range want {
		if g, w := asJSON(t, got[i]), asJSON(t, want[i]); g != w {
			t.Errorf("event %d:\ngot  %s\nwant %s", i, g, w)
		}
		if err := got[i].Validate(); err != nil {
			t.Errorf("event %d: Validate: %v", i, err)
		}
	}
}

func TestParse(t *testing.T) {
	apiIncident := &delivery.Incident{
		IncidentID: "c5a2a1f5b3f3e8d1@2024-03-05T07:41:26Z", Title: "api error rate above 5%", Description: apiDesc,
		Service: "api", Artifact: digest, URL: apiURL, Severity: "critical",
	}
	apiFiring := delivery.Event{
		Source: Source, ID: "c5a2a1f5b3f3e8d1@2024-03-05T07:41:26Z/firing", Type: delivery.IncidentDetected,
		Time: mustTime(t, "2024-03-05T07:41:26.456Z"), App: "api", Env: "production", Cluster: "prod-eu-1", Namespace: "shop",
		Payload: apiIncident,
	}
	apiResolved := apiFiring
	apiResolved.ID, apiResolved.Type, apiResolved.Time = "c5a2a1f5b3f3e8d1@2024-03-05T07:41:26Z/resolved", delivery.IncidentResolved, mustTime(t, "2024-03-05T08:05:11.02Z")
	webFiring := delivery.Event{
		Source: Source, ID: "0d3b9f2e7a614c58@2024-03-05T06:42:56Z/firing", Type: delivery.IncidentDetected,
		Time: mustTime(t, "2024-03-05T06:42:56.123456789Z"), App: "web", Env: "staging", Namespace: "shop-staging",
		Payload: &delivery.Incident{
			IncidentID: "0d3b9f2e7a614c58@2024-03-05T06:42:56Z", Title: "HighErrorRate",
			URL: "http://prometheus.monitoring:9090/graph?g0.expr=sum+by+%28app%29&g0.tab=1", Severity: "warning",
		},
	}
	crashLoop := func(app, env string) delivery.Event {
		return delivery.Event{
			Source: Source, ID: "9a1c8e27d3b54f60@2024-03-05T07:36:11Z/firing", Type: delivery.IncidentDetected,
			Time: mustTime(t, "2024-03-05T07:36:11.81Z"), App: app, Env: env, Namespace: "shop",
			Payload: &delivery.Incident{
				IncidentID: "9a1c8e27d3b54f60@2024-03-05T07:36:11Z", Title: "Pod is crash looping.",
				Description: `Pod shop/api-7d9c6b8f5-x2x4q (api) is in waiting state (reason: "CrashLoopBackOff").`,
				Service:     "kube-state-metrics", Severity: "warning",
				URL: "http://prometheus-k8s-0:9090/graph?g0.expr=max_over_time%28kube_pod_container_status_waiting_reason%7Breason%3D%22CrashLoopBackOff%22%7D%5B5m%5D%29+%3E%3D+1&g0.tab=1",
			},
		}
	}
	replicas := func(app, env string) delivery.Event {
		return delivery.Event{
			Source: Source, ID: "44e0b6a2c1f7d938@2024-03-05T06:58:41Z/resolved", Type: delivery.IncidentResolved,
			Time: mustTime(t, "2024-03-05T07:38:41.81Z"), App: app, Env: env, Namespace: "shop",
			Payload: &delivery.Incident{
				IncidentID: "44e0b6a2c1f7d938@2024-03-05T06:58:41Z", Title: "Deployment has not matched the expected number of replicas.",
				URL: "http://prometheus-k8s-0:9090/graph?g0.expr=kube_deployment_spec_replicas&g0.tab=1", Severity: "warning",
			},
		}
	}
	tests := []struct {
		name    string
		file    string
		mapping Mapping
		want    []delivery.Event
	}{
		{"two firing alerts", "firing.json", Mapping{}, []delivery.Event{apiFiring, webFiring}},
		{"resolved alert", "resolved.json", Mapping{}, []delivery.Event{apiResolved}},
		{"kube-prometheus labels, default mapping", "kube-prometheus.json", Mapping{},
			// No app label: the service label (kube-state-metrics, the exporter)
			// wins for the first alert, the job label for the second.
			[]delivery.Event{crashLoop("kube-state-metrics", "shop"), replicas("kube-state-metrics", "shop")}},
		{"kube-prometheus labels, workload mapping", "kube-prometheus.json",
			Mapping{AppLabels: []string{"container", "deployment"}, EnvLabels: []string{"cluster_env"}},
			[]delivery.Event{crashLoop("api", ""), replicas("web", "")}},
		{"only the environment mapped", "firing.json", Mapping{EnvLabels: []string{"namespace"}},
			[]delivery.Event{
				func() delivery.Event { e := apiFiring; e.Env = "shop"; return e }(),
				func() delivery.Event { e := webFiring; e.Env = "shop-staging"; return e }(),
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(readFile(t, tt.file), tt.mapping)
			if err != nil {
				t.Fatalf("Parse: got error %v, want nil", err)
			}
			checkEvents(t, got, tt.want)
		})
	}
}

// TestParseSameIncident checks the keys: a firing alert sent again (after
// repeat_interval, with its group changed) is the same event, and its
// resolution belongs to the same incident.
func TestParseSameIncident(t *testing.T) {
	first, err := Parse(readFile(t, "firing.json"), Mapping{})
	if err != nil {
		t.Fatal(err)
	}
	again := editFiring(t, func(n map[string]any) {
		n["alerts"] = n["alerts"].([]any)[:1]
		n["truncatedAlerts"] = 0
		n["commonLabels"] = map[string]any{"alertname": "HighErrorRate", "app": "api"}
	})
	repeated, err := Parse(again, Mapping{})
	if err != nil {
		t.Fatal(err)
	}
	if repeated[0].Source != first[0].Source || repeated[0].ID != first[0].ID {
		t.Errorf("repeated firing: got key %s/%s, want %s/%s", repeated[0].Source, repeated[0].ID, first[0].Source, first[0].ID)
	}
	resolved, err := Parse(readFile(t, "resolved.json"), Mapping{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := resolved[0].Entity(), first[0].Entity(); got != want {
		t.Errorf("resolved alert: got entity %q, want %q", got, want)
	}
	if resolved[0].ID == first[0].ID {
		t.Errorf("resolved alert: got the firing alert's id %q", resolved[0].ID)
	}
}

// editFiring returns firing.json changed by edit.
func editFiring(t *testing.T, edit func(n map[string]any)) []byte {
	t.Helper()
	var n map[string]any
	if err := json.Unmarshal(readFile(t, "firing.json"), &n); err != nil {
		t.Fatal(err)
	}
	edit(n)
	b, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// alertAt returns alert i of a notification.
func alertAt(n map[string]any, i int) map[string]any {
	return n["alerts"].([]any)[i].(map[string]any)
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name            string
		body            []byte
		wantErr         string
		wantUnsupported bool
	}{
		{"not JSON", []byte(`{"version":"4",`), "alertmanager: not a webhook notification: unexpected end of JSON input", false},
		{"wrong JSON type", []byte(`{"version":4}`),
			"alertmanager: not a webhook notification: json: cannot unmarshal number into Go struct field notification.version of type string", false},
		{"version 3", editFiring(t, func(n map[string]any) { n["version"] = "3" }),
			`alertmanager: version: "3" is not supported (shiplog reads webhook version 4)`, false},
		{"no version", editFiring(t, func(n map[string]any) { delete(n, "version") }),
			`alertmanager: version: "" is not supported (shiplog reads webhook version 4)`, false},
		{"no alerts", editFiring(t, func(n map[string]any) { n["alerts"] = []any{} }),
			`unsupported event: alertmanager notification "{}/{severity=~\"critical|warning\"}:{alertname=\"HighErrorRate\"}" has no alerts`, true},
		{"missing fingerprint", editFiring(t, func(n map[string]any) { delete(alertAt(n, 1), "fingerprint") }),
			"alertmanager: alerts[1].fingerprint: missing", false},
		{"missing startsAt", editFiring(t, func(n map[string]any) { alertAt(n, 1)["startsAt"] = "" }),
			"alertmanager: alerts[1].startsAt: missing", false},
		{"bad startsAt", editFiring(t, func(n map[string]any) { alertAt(n, 0)["startsAt"] = "2024-03-05 07:41:26" }),
			`alertmanager: alerts[0].startsAt: "2024-03-05 07:41:26" is not an RFC 3339 timestamp`, false},
		{"missing status", editFiring(t, func(n map[string]any) { delete(alertAt(n, 0), "status") }),
			"alertmanager: alerts[0].status: missing", false},
		{"unknown status", editFiring(t, func(n map[string]any) { alertAt(n, 1)["status"] = "suppressed" }),
			`alertmanager: alerts[1].status: "suppressed" is neither firing nor resolved`, false},
		{"resolved with zero endsAt", editFiring(t, func(n map[string]any) { alertAt(n, 0)["status"] = "resolved" }),
			`alertmanager: alerts[0].endsAt: a resolved alert needs its end time, got "0001-01-01T00:00:00Z"`, false},
		{"resolved without endsAt", editFiring(t, func(n map[string]any) {
			a := alertAt(n, 1)
			a["status"] = "resolved"
			delete(a, "endsAt")
		}), `alertmanager: alerts[1].endsAt: a resolved alert needs its end time, got ""`, false},
		{"resolved with bad endsAt", editFiring(t, func(n map[string]any) {
			a := alertAt(n, 0)
			a["status"], a["endsAt"] = "resolved", "soon"
		}), `alertmanager: alerts[0].endsAt: "soon" is not an RFC 3339 timestamp`, false},
		{"start before 1970", editFiring(t, func(n map[string]any) { alertAt(n, 0)["startsAt"] = "1969-07-20T20:17:40Z" }),
			"alertmanager: alerts[0]: invalid event: time: timestamp 1969-07-20T20:17:40Z is outside 1970–2200", false},
		{"app label with a newline", editFiring(t, func(n map[string]any) {
			alertAt(n, 1)["labels"].(map[string]any)["app"] = "web\nfrontend"
		}), "alertmanager: alerts[1]: invalid event: app: contains invalid characters", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.body, Mapping{})
			if err == nil {
				t.Fatalf("Parse: got %s, nil error; want an error", asJSON(t, got))
			}
			if err.Error() != tt.wantErr {
				t.Errorf("Parse: got error\n%q, want\n%q", err, tt.wantErr)
			}
			if errors.Is(err, delivery.ErrUnsupported) != tt.wantUnsupported {
				t.Errorf("errors.Is(err, ErrUnsupported): got %v, want %v", !tt.wantUnsupported, tt.wantUnsupported)
			}
		})
	}
}

func TestDefaultMapping(t *testing.T) {
	m := DefaultMapping()
	if got, want := strings.Join(m.AppLabels, ","), "app,service,job"; got != want {
		t.Errorf("AppLabels: got %s, want %s", got, want)
	}
	if got, want := strings.Join(m.EnvLabels, ","), "env,environment,namespace"; got != want {
		t.Errorf("EnvLabels: got %s, want %s", got, want)
	}
	m.AppLabels[0] = "changed"
	if DefaultMapping().AppLabels[0] != "app" {
		t.Error("DefaultMapping: a caller's change leaked into the next call")
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	if len(files) == 0 {
		f.Fatal("no seed files in testdata")
	}
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "")
		f.Add(b, "severity")
	}
	f.Fuzz(func(t *testing.T, body []byte, label string) {
		events, err := Parse(body, Mapping{AppLabels: []string{label, "app"}, EnvLabels: []string{label}})
		if err != nil {
			return
		}
		for _, e := range events {
			if err := e.Validate(); err != nil {
				t.Fatalf("Parse returned an invalid event %#v: %v", e, err)
			}
			p := e.Payload.(*delivery.Incident)
			if want := p.IncidentID + "/firing"; e.Type == delivery.IncidentDetected && e.ID != want {
				t.Fatalf("event id: got %q, want %q", e.ID, want)
			}
			if want := p.IncidentID + "/resolved"; e.Type == delivery.IncidentResolved && e.ID != want {
				t.Fatalf("event id: got %q, want %q", e.ID, want)
			}
		}
	})
}
