package github

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// FuzzParse checks that Parse never panics, never returns events with an
// error, returns only events that pass Validate, and is deterministic.
// The fixtures are the seed corpus; the event name is the file name's first
// dotted part.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		body, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		event, _, _ := strings.Cut(filepath.Base(file), ".")
		f.Add(event, body)
	}
	// Small seeds reach the field checks faster than the full payloads.
	for event, body := range map[string]string{
		"push": `{"ref":"refs/heads/main","after":"abc1234","repository":{"html_url":"r"},"commits":[{"id":"abc1234","timestamp":1,"message":"m"}]}`,
		"pull_request": `{"action":"closed","pull_request":{"number":1,"merged":true,"merged_at":"2024-01-01T00:00:00Z",` +
			`"merge_commit_sha":"abc1234","head":{"sha":"abc1234"}},"repository":{"html_url":"r"}}`,
		"pull_request_review": `{"action":"dismissed","review":{"id":1,"user":{"login":"u"},"state":"approved",` +
			`"submitted_at":"2024-01-01T00:00:00Z"},"pull_request":{"number":1,"updated_at":0},"repository":{"html_url":"r"}}`,
		"workflow_run": `{"action":"completed","workflow_run":{"id":1,"run_attempt":1,"conclusion":"success",` +
			`"updated_at":"2024-01-01T00:00:00Z","pull_requests":[{"number":1}]},"repository":{"html_url":"r"}}`,
		"check_run": `{"action":"completed","check_run":{"id":1,"completed_at":"2024-01-01T00:00:00Z","app":{"slug":"ci"}},"repository":{"html_url":"r"}}`,
		"deployment_status": `{"deployment_status":{"id":1,"state":"success","created_at":"2024-01-01T00:00:00Z"},` +
			`"deployment":{"sha":"abc1234","environment":"e","payload":"{\"image\":\"i\"}"},"repository":{"name":"n","full_name":"o/n"}}`,
		"package": `{"action":"published","package":{"package_type":"container","updated_at":1,"package_version":{"id":1,` +
			`"package_url":"ghcr.io/o/n:t","container_metadata":{"tag":{"name":"t"}}}}}`,
	} {
		f.Add(event, []byte(body))
	}
	f.Fuzz(func(t *testing.T, event string, body []byte) {
		h := headers(event, deliveryA)
		events, err := Parse(h, body)
		if err != nil {
			if events != nil {
				t.Fatalf("Parse: got %d events with error %v", len(events), err)
			}
			if errors.Is(err, delivery.ErrUnsupported) && !strings.Contains(err.Error(), "github ") {
				t.Fatalf("Parse: unsupported error %q does not say what is unsupported", err)
			}
			return
		}
		for i := range events {
			if err := events[i].Validate(); err != nil {
				t.Fatalf("event %d: Validate: %v", i, err)
			}
			if events[i].Source != Source {
				t.Fatalf("event %d: Source %q, want %q", i, events[i].Source, Source)
			}
		}
		again, err := Parse(h, body)
		if err != nil || !reflect.DeepEqual(again, events) {
			t.Fatalf("Parse is not deterministic: %v", err)
		}
	})
}
