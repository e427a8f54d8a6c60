package kube_test

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/source/kube"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

var convertNow = time.Date(2025, 6, 10, 0, 0, 0, 0, time.UTC)

func loadObject(t testing.TB, name string) *unstructured.Unstructured {
	t.Helper()
	if name == "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join("testdata", "objects", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(j); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return u
}

// golden compares got with testdata/golden/<name>.txt, or rewrites it.
func golden(t *testing.T, name string, evs []delivery.Event) {
	t.Helper()
	var b strings.Builder
	for _, e := range evs {
		b.WriteString(line(e) + "\n")
	}
	path := filepath.Join("testdata", "golden", name+".txt")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("events differ from %s:\n--- got\n%s--- want\n%s", path, got, want)
	}
}

func TestConvertObject(t *testing.T) {
	tests := []struct {
		name      string
		obj, prev string
		wantErr   string
	}{
		{name: "application first seen", obj: "app-first-seen"},
		{name: "application retrying", obj: "app-retrying"},
		{name: "application error", obj: "app-error"},
		{name: "application multi-source", obj: "app-multisource"},
		{name: "application managing a knative service", obj: "app-knative"},
		{name: "application deleted", prev: "app-first-seen"},
		{name: "service canary", obj: "service-canary"},
		{name: "service promoted", obj: "service-promoted", prev: "service-canary"},
		{name: "service deleted", prev: "service-promoted"},
		{name: "route standalone", obj: "route-standalone"},
		{name: "route owned by a service", obj: "route-owned"},
		{name: "revision ready", obj: "revision-ready"},
		{name: "revision failed", obj: "revision-failed"},
		{name: "revision garbage-collected", prev: "revision-ready"},
		{name: "podautoscaler desired unknown", obj: "pa-unknown"},
		{name: "application bad time", obj: "app-bad-time", wantErr: `argo cd application argocd/broken: status.operationState.startedAt: "yesterday" is not an RFC 3339 timestamp`},
		{name: "application bad phase", obj: "app-bad-phase", wantErr: `status.operationState.phase: "Exploded" is not an Argo CD operation phase`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj, prev := loadObject(t, tt.obj), loadObject(t, tt.prev)
			evs, err := kube.ConvertObject("prod-eu", obj, prev, convertNow)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				if evs != nil {
					t.Errorf("events returned with the error: %v", evs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range evs {
				if err := e.Validate(); err != nil {
					t.Errorf("%s: %v", e.ID, err)
				}
			}
			golden(t, strings.ReplaceAll(tt.name, " ", "-"), evs)
			if obj == nil {
				return
			}
			// Level-triggered: what an object shows, once recorded, gives nothing more.
			again, err := kube.ConvertObject("prod-eu", obj, obj, convertNow.Add(time.Second))
			if err != nil || len(again) != 0 {
				t.Errorf("converting the recorded state again = %d events, %v; want none:\n%s", len(again), err, strings.Join(lines(again), "\n"))
			}
		})
	}
}

func TestConvertObjectUnsupported(t *testing.T) {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "x"}}}
	_, err := kube.ConvertObject("c", u, nil, convertNow)
	if !errors.Is(err, delivery.ErrUnsupported) {
		t.Fatalf("error = %v, want delivery.ErrUnsupported", err)
	}
}

func TestConvertApplicationDrift(t *testing.T) {
	const synced, next = "1111111111111111111111111111111111111111", "2222222222222222222222222222222222222222"
	o := kube.Origin{Source: "kube", Cluster: "c"}
	tests := []struct {
		name      string
		prev      kube.AppState
		status    string
		revision  string
		history   string // revision of the newest history entry
		wantDrift bool
		wantEvent bool
	}{
		{"out of sync at the synced revision", kube.AppState{SyncStatus: "Synced", SyncedRevision: synced}, "OutOfSync", synced, "", true, true},
		{"out of sync at a new revision", kube.AppState{SyncStatus: "Synced", SyncedRevision: synced}, "OutOfSync", next, "", false, true},
		{"first sight, out of sync at the last history revision", kube.AppState{}, "OutOfSync", synced, synced, true, true},
		{"first sight, out of sync, no history", kube.AppState{}, "OutOfSync", synced, "", false, true},
		{"unchanged", kube.AppState{SyncStatus: "OutOfSync", SyncedRevision: synced}, "OutOfSync", synced, "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := &kube.Application{}
			app.Metadata.Name, app.Metadata.Namespace = "api-prod", "argocd"
			app.Status.Sync.Status, app.Status.Sync.Revision = tt.status, tt.revision
			if tt.history != "" {
				app.Status.History = []kube.HistoryEntry{{ID: 1, Revision: tt.history, DeployedAt: "2025-01-01T00:00:00Z"}}
			}
			prev := tt.prev
			evs, err := kube.ConvertApplication(o, app, &prev, convertNow)
			if err != nil {
				t.Fatal(err)
			}
			var got *delivery.SyncStatus
			for _, e := range evs {
				if p, ok := e.Payload.(*delivery.SyncStatus); ok {
					got = p
				}
			}
			switch {
			case !tt.wantEvent && got != nil:
				t.Errorf("got %+v, want no syncstatus.changed", got)
			case tt.wantEvent && got == nil:
				t.Errorf("no syncstatus.changed")
			case got != nil && got.Drift != tt.wantDrift:
				t.Errorf("drift = %v, want %v", got.Drift, tt.wantDrift)
			}
		})
	}
}

func TestConvertServiceTargetPercent(t *testing.T) {
	u := loadObject(t, "service-canary")
	var svc kube.KService
	b, _ := u.MarshalJSON()
	if err := json.Unmarshal(b, &svc); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		target int
		want   string // revision deployed, "" for none
	}{{100, ""}, {60, "checkout-00007"}, {50, "checkout-00007"}, {40, "checkout-00007"}}
	for _, tt := range tests {
		evs, err := kube.ConvertService(kube.Origin{Source: "kube", Cluster: "c", TargetPercent: tt.target}, &svc, nil, nil, convertNow)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, e := range evs {
			if p, ok := e.Payload.(*delivery.Deployment); ok {
				got = p.Revision
			}
		}
		if got != tt.want {
			t.Errorf("target %d%%: deployed %q, want %q", tt.target, got, tt.want)
		}
	}
}

func FuzzConvertObject(f *testing.F) {
	entries, err := os.ReadDir(filepath.Join("testdata", "objects"))
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		u := loadObject(f, strings.TrimSuffix(e.Name(), ".yaml"))
		b, err := u.MarshalJSON()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(data); err != nil {
			return
		}
		for _, prev := range []*unstructured.Unstructured{nil, u} {
			evs, err := kube.ConvertObject("fuzz", u, prev, convertNow)
			if err != nil && evs != nil {
				t.Fatalf("events with an error: %v", err)
			}
			for _, e := range evs {
				if err := e.Validate(); err != nil {
					t.Fatalf("invalid event %s: %v", e.ID, err)
				}
			}
		}
		evs, _ := kube.ConvertObject("fuzz", nil, u, convertNow) // deleted
		for _, e := range evs {
			if err := e.Validate(); err != nil {
				t.Fatalf("invalid event %s: %v", e.ID, err)
			}
		}
	})
}
