package gitlab

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// fixture returns the contents of testdata/name.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// headers returns the headers of a JSON delivery of event, as GitLab 17.4
// and later send them. An empty idempotencyKey leaves Idempotency-Key and
// X-Gitlab-Event-UUID out, as older GitLab does.
func headers(event, idempotencyKey string) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "GitLab/17.9.2")
	h.Set("X-Gitlab-Instance", "https://gitlab.acme.example")
	h.Set("X-Gitlab-Webhook-UUID", "0d3c2b1a-9f8e-4d7c-8b6a-5f4e3d2c1b0a")
	if event != "" {
		h.Set(EventHeader, event)
	}
	if idempotencyKey != "" {
		h.Set(IdempotencyKeyHeader, idempotencyKey)
		h.Set(EventUUIDHeader, "e"+idempotencyKey[1:])
	}
	return h
}

// ts parses an RFC 3339 time for expectations.
func ts(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v.UTC()
}

// remove, as a patch value, deletes the key.
var remove = &struct{}{}

// patch returns body with the values at dotted paths replaced ("a.b.0.c";
// numbers index arrays). A value of remove deletes the key.
func patch(t testing.TB, body []byte, changes map[string]any) []byte {
	t.Helper()
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	for path, v := range changes {
		parts := strings.Split(path, ".")
		node := doc
		for i, p := range parts {
			last := i == len(parts)-1
			switch n := node.(type) {
			case map[string]any:
				if last {
					if v == remove {
						delete(n, p)
					} else {
						n[p] = v
					}
				}
				node = n[p]
			case []any:
				idx, err := strconv.Atoi(p)
				if err != nil || idx >= len(n) {
					t.Fatalf("patch %s: no index %q", path, p)
				}
				if last {
					n[idx] = v
				}
				node = n[idx]
			default:
				t.Fatalf("patch %s: %q is not in an object or array", path, p)
			}
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sameEvents fails the test when got and want differ, showing both as JSON.
func sameEvents(t *testing.T, got, want []delivery.Event) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	g, _ := json.MarshalIndent(got, "", "  ")
	w, _ := json.MarshalIndent(want, "", "  ")
	t.Errorf("events differ\ngot:\n%s\nwant:\n%s", g, w)
}

// validate fails the test for every event that does not pass Validate.
func validate(t testing.TB, events []delivery.Event) {
	t.Helper()
	for i := range events {
		if err := events[i].Validate(); err != nil {
			t.Errorf("event %d (%s): Validate: %v", i, events[i].ID, err)
		}
	}
}
