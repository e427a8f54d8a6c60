package gitlab

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// hookOf names the X-Gitlab-Event of each fixture by its file name prefix.
var hookOf = map[string]string{
	"merge_request": "Merge Request Hook",
	"push":          "Push Hook",
	"tag_push":      "Tag Push Hook",
	"pipeline":      "Pipeline Hook",
	"deployment":    "Deployment Hook",
	"system_hook":   "System Hook",
}

// FuzzParse checks that Parse never panics, never returns events with an
// error, returns only events that pass Validate, and is deterministic. The
// fixtures are the seed corpus. The key is the Idempotency-Key ("" for none).
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
		prefix, _, _ := strings.Cut(filepath.Base(file), ".")
		f.Add(hookOf[prefix], keyA, body)
	}
	// Small seeds reach the field checks faster than the full payloads.
	for hook, body := range map[string]string{
		"Merge Request Hook": `{"user":{"username":"u"},"project":{"web_url":"w"},"object_attributes":{"iid":1,"action":"merge",` +
			`"updated_at":"2024-01-01 00:00:00 UTC","merge_commit_sha":"abc1234","labels":[{"title":"l"}]}}`,
		"Push Hook": `{"ref":"refs/heads/main","after":"abc1234","project":{"web_url":"w"},` +
			`"commits":[{"id":"abc1234","timestamp":"2024-01-01T00:00:00+01:00","title":"t"}]}`,
		"Pipeline Hook": `{"object_attributes":{"id":1,"status":"running","created_at":"2024-01-01 00:00:00 +0100",` +
			`"queued_duration":1.5},"merge_request":{"iid":1},"project":{"web_url":"w"}}`,
		"Deployment Hook": `{"status":"success","status_changed_at":"2024-01-01 00:00:00 +0100","environment":"e",` +
			`"short_sha":"abc1234","commit_url":"x/abc1234","project":{"path_with_namespace":"g/p"}}`,
		"System Hook": `{"object_kind":"merge_request","project":{"web_url":"w"},"object_attributes":{"iid":1,"action":"open",` +
			`"created_at":"2024-01-01T00:00:00Z"}}`,
	} {
		f.Add(hook, "", []byte(body))
	}
	f.Fuzz(func(t *testing.T, hook, key string, body []byte) {
		h := headers(hook, "")
		if key != "" {
			h.Set(IdempotencyKeyHeader, key)
		}
		events, err := Parse(h, body)
		if err != nil {
			if events != nil {
				t.Fatalf("Parse: got %d events with error %v", len(events), err)
			}
			if errors.Is(err, delivery.ErrUnsupported) && !strings.Contains(err.Error(), "gitlab ") {
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
