package ingest_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestLogs checks that each failed request is logged once, with stable
// keys, and that no secret, token or signature reaches the log.
func TestLogs(t *testing.T) {
	s := newServer(t, nil)
	push := readFile(t, githubData, "push.main.json")
	badSig := sign("a guessed secret", push)
	requests := []struct {
		path string
		h    http.Header
		body []byte
		code int
	}{
		{"/ingest/github", withHeader(githubHeaders("push", "f00dfeed-0000-4000-8000-000000000001", push), "X-Hub-Signature-256", badSig), push, 401},
		{"/ingest/github", githubHeaders("push", "f00dfeed-0000-4000-8000-000000000002", []byte("{")), []byte("{"), 400},
		{"/ingest/gitlab", gitlabHeaders("Push Hook", "glpat-wrong-guess", ""), push, 401},
		{"/ingest/cloudevents", bearerHeaders("wrong-token-e1d2"), push, 401},
		{"/ingest/alertmanager", bearerHeaders(ingestToken), []byte(`{"version":"9"}`), 400},
		{"/ingest/github", githubHeaders("push", "f00dfeed-0000-4000-8000-000000000003", push), push, 202},
	}
	for _, r := range requests {
		if got := s.post(t, r.path, r.h, r.body); got.code != r.code {
			t.Fatalf("%s: got %d %s, want %d", r.path, got.code, got.raw, r.code)
		}
	}
	logs := s.logs.String()
	for _, secret := range []string{githubSecret, gitlabSecret, ingestToken, badSig, strings.TrimPrefix(badSig, "sha256="),
		sign(githubSecret, push), "glpat-wrong-guess", "wrong-token-e1d2"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log shows %q:\n%s", secret, logs)
		}
	}
	var failed []map[string]any
	for _, rec := range s.logs.records(t) {
		if rec["msg"] == "ingest request failed" {
			failed = append(failed, rec)
		}
	}
	if len(failed) != 5 {
		t.Fatalf("%d failure records, want one per failed request (5):\n%s", len(failed), logs)
	}
	for i, rec := range failed {
		for _, k := range []string{"endpoint", "status", "remote", "duration", "err"} {
			if _, ok := rec[k]; !ok {
				t.Errorf("record %d lacks %q: %v", i, k, rec)
			}
		}
		if rec["status"] != float64(requests[i].code) || rec["level"] != "WARN" {
			t.Errorf("record %d: %v, want status %d at WARN", i, rec, requests[i].code)
		}
	}
	if failed[0]["delivery"] != "f00dfeed-0000-4000-8000-000000000001" {
		t.Errorf("GitHub failure record lacks the delivery id: %v", failed[0])
	}
}
