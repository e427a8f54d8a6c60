package argocd

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/bodies from the template")

// toJSON is Sprig's toJson, which Argo CD Notifications gives templates.
func toJSON(v any) string {
	out, _ := json.Marshal(v)
	return string(out)
}

// render renders the body template of a trigger the way Argo CD
// Notifications does: text/template with Sprig functions, over the
// Application as an unstructured object and Argo CD's time functions.
func render(t *testing.T, trigger, appFile string, now time.Time) []byte {
	t.Helper()
	tmpl, err := template.New(trigger).Funcs(template.FuncMap{"toJson": toJSON}).Parse(BodyTemplate(trigger))
	if err != nil {
		t.Fatalf("parse template: %v", err)
	}
	d := json.NewDecoder(bytes.NewReader(readFile(t, "apps", appFile)))
	d.UseNumber() // whole numbers stay whole, as in an unstructured object
	var app map[string]any
	if err := d.Decode(&app); err != nil {
		t.Fatalf("%s: %v", appFile, err)
	}
	vars := map[string]any{
		"app":     app,
		"context": map[string]string{"argocdUrl": "https://argocd.acme.dev"},
		"time":    map[string]any{"Now": func() time.Time { return now }, "RFC3339": time.RFC3339},
	}
	var out bytes.Buffer
	if err := tmpl.Execute(&out, vars); err != nil {
		t.Fatalf("render %s over %s: %v", trigger, appFile, err)
	}
	return out.Bytes()
}

func readFile(t testing.TB, path ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"testdata"}, path...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// renderings lists the bodies in testdata/bodies: which trigger's template
// rendered over which Application, and when.
var renderings = []struct {
	body, trigger, app string
	now                time.Time
}{
	{"on-sync-running.json", TriggerSyncRunning, "api-prod-running.json", time.Date(2024, 3, 5, 7, 33, 3, 600e6, time.UTC)},
	{"on-sync-succeeded.json", TriggerSyncSucceeded, "api-prod-succeeded.json", time.Date(2024, 3, 5, 7, 33, 4, 200e6, time.UTC)},
	{"on-deployed.json", TriggerDeployed, "api-prod-succeeded.json", time.Date(2024, 3, 5, 7, 33, 41, 500e6, time.UTC)},
	{"on-sync-failed.json", TriggerSyncFailed, "api-prod-failed.json", time.Date(2024, 3, 5, 9, 13, 2, 400e6, time.UTC)},
	{"on-sync-failed-multisource.json", TriggerSyncFailed, "shop-multisource-error.json", time.Date(2024, 3, 5, 11, 1, 1, 300e6, time.FixedZone("CET", 3600))},
	{"on-health-degraded.json", TriggerHealthDegraded, "web-staging-degraded.json", time.Date(2024, 3, 5, 8, 50, 12, 0, time.UTC)},
	{"on-sync-status-unknown.json", TriggerSyncStatusUnknown, "web-staging-degraded.json", time.Date(2024, 3, 5, 8, 55, 0, 0, time.UTC)},
}

// TestTemplateRendersBodies checks that the bodies Parse is tested with are
// what the template renders.
func TestTemplateRendersBodies(t *testing.T) {
	for _, r := range renderings {
		t.Run(r.body, func(t *testing.T) {
			got := render(t, r.trigger, r.app, r.now)
			if !json.Valid(got) {
				t.Fatalf("rendered body is not JSON:\n%s", got)
			}
			path := filepath.Join("testdata", "bodies", r.body)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if want := readFile(t, "bodies", r.body); !bytes.Equal(got, want) {
				t.Errorf("rendered body differs from %s (go test -update rewrites it):\ngot\n%s\nwant\n%s", path, got, want)
			}
		})
	}
}

// TestTemplateOverSparseApplication checks that an Application without
// labels, operation or status still renders valid JSON, nulls included.
func TestTemplateOverSparseApplication(t *testing.T) {
	tmpl := template.Must(template.New("t").Funcs(template.FuncMap{"toJson": toJSON}).Parse(BodyTemplate(TriggerHealthDegraded)))
	vars := map[string]any{
		"app":  map[string]any{"metadata": map[string]any{"name": "bare"}},
		"time": map[string]any{"Now": func() time.Time { return time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC) }, "RFC3339": time.RFC3339},
	}
	var out bytes.Buffer
	if err := tmpl.Execute(&out, vars); err != nil {
		t.Fatalf("render: %v", err)
	}
	var b map[string]any
	if err := json.Unmarshal(out.Bytes(), &b); err != nil {
		t.Fatalf("rendered body is not JSON: %v\n%s", err, out.Bytes())
	}
	for _, k := range []string{"environment", "destination", "health_status", "revisions", "images"} {
		if v, ok := b[k]; !ok || v != nil {
			t.Errorf("%s: got %v (present %v), want null", k, v, ok)
		}
	}
	if got := b["app"]; got != "bare" {
		t.Errorf("app: got %v, want bare", got)
	}
}

func TestBodyTemplate(t *testing.T) {
	for _, trigger := range append(Triggers(), TriggerSyncStatusUnknown) {
		got := BodyTemplate(trigger)
		if want := `"trigger": "` + trigger + `",`; !strings.Contains(got, want) {
			t.Errorf("BodyTemplate(%q): got no %s line", trigger, want)
		}
		if strings.Contains(got, "TRIGGER") {
			t.Errorf("BodyTemplate(%q): placeholder left in", trigger)
		}
	}
}

// TestDocsCarryTemplate checks that the ConfigMap in the documentation has
// one template per trigger, with the body BodyTemplate returns, and a
// trigger that sends it.
func TestDocsCarryTemplate(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "docs", "sources", "argocd-notifications.md"))
	if err != nil {
		t.Fatal(err)
	}
	const indent = "          " // body lines inside template.<name>.webhook.shiplog.body
	for _, trigger := range Triggers() {
		var body strings.Builder
		for line := range strings.Lines(BodyTemplate(trigger)) {
			body.WriteString(indent + line)
		}
		want := "  template.shiplog-" + trigger + ": |\n    webhook:\n      shiplog:\n        method: POST\n        body: |\n" + body.String()
		if !strings.Contains(string(doc), want) {
			t.Errorf("docs: no template.shiplog-%s with the body of BodyTemplate(%q):\n%s", trigger, trigger, want)
		}
		if send := "send: [shiplog-" + trigger + "]"; !strings.Contains(string(doc), send) {
			t.Errorf("docs: no trigger that does %s", send)
		}
	}
	if example := readFile(t, "bodies", "on-sync-failed.json"); !strings.Contains(string(doc), "```json\n"+string(example)+"```") {
		t.Errorf("docs: the example body is not testdata/bodies/on-sync-failed.json")
	}
}
