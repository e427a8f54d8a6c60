package app_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shiplog-dev/shiplog/internal/app"
	"github.com/shiplog-dev/shiplog/internal/config"
)

func post(t *testing.T, url string, h http.Header, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestIngestRoutes checks that serve mounts the /ingest endpoints with the
// configured secrets: read from a file, or set directly.
func TestIngestRoutes(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("from-a-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(migratedDB(t))
	cfg.Ingest.TokenFile = tokenFile
	cfg.Ingest.GitHub.Secret = config.Credential("gh-secret")
	_, base := start(t, cfg)

	ping := `{"zen": "Design for failure.", "hook_id": 1}`
	mac := hmac.New(sha256.New, []byte("gh-secret"))
	mac.Write([]byte(ping))
	gh := http.Header{
		"Content-Type":        {"application/json"},
		"X-Github-Event":      {"ping"},
		"X-Github-Delivery":   {"4f0e9f3a-cc78-11e3-81ab-4c9367dc0958"},
		"X-Hub-Signature-256": {"sha256=" + hex.EncodeToString(mac.Sum(nil))},
	}
	if code, body := post(t, base+"/ingest/github", gh, ping); code != 202 || !strings.Contains(body, `"status":"ignored"`) {
		t.Errorf("github ping: got %d %s, want 202 ignored", code, body)
	}
	bearer := func(tok string) http.Header {
		return http.Header{"Authorization": {"Bearer " + tok}, "Content-Type": {"application/json"}}
	}
	am := `{"version":"4","groupKey":"{}","status":"firing","alerts":[]}`
	if code, body := post(t, base+"/ingest/alertmanager", bearer("from-a-file"), am); code != 202 {
		t.Errorf("alertmanager with the token from ingest.token_file (newline trimmed): got %d %s, want 202", code, body)
	}
	if code, body := post(t, base+"/ingest/alertmanager", bearer("from-a-fil"), am); code != 401 {
		t.Errorf("alertmanager with a wrong token: got %d %s, want 401", code, body)
	}
	if code, body := post(t, base+"/ingest/gitlab", http.Header{"X-Gitlab-Token": {"x"}}, "{}"); code != 503 ||
		!strings.Contains(body, "gitlab webhook secret not configured: set ingest.gitlab.secret_file or SHIPLOG_GITLAB_WEBHOOK_SECRET") {
		t.Errorf("gitlab without a secret: got %d %s, want 503 naming the settings", code, body)
	}
	code, h, body := get(t, base+"/ingest/cloudevents")
	if code != 405 || h.Get("Allow") != "POST" {
		t.Errorf("GET /ingest/cloudevents: got %d %s (Allow %q), want 405 with Allow: POST", code, body, h.Get("Allow"))
	}
	_, _, metrics := get(t, base+"/metrics")
	for _, want := range []string{
		`shiplog_ingest_requests_total{code="202",endpoint="github"} 1`,
		`shiplog_ingest_requests_total{code="503",endpoint="gitlab"} 1`,
		`shiplog_ingest_ignored_total{endpoint="github",reason_kind="ping"} 1`,
		`shiplog_ingest_ignored_total{endpoint="alertmanager",reason_kind="no_alerts"} 1`,
		`shiplog_ingest_request_duration_seconds_count{endpoint="alertmanager"} 2`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestIngestSecretConflict(t *testing.T) {
	t.Setenv("SHIPLOG_GITHUB_WEBHOOK_SECRET", "from-env")
	cfg := testConfig(migratedDB(t))
	cfg.Ingest.GitHub.SecretFile = filepath.Join(t.TempDir(), "secret")
	_, err := newApp(cfg)
	if err == nil || !strings.Contains(err.Error(), "ingest.github.secret_file and $SHIPLOG_GITHUB_WEBHOOK_SECRET are both set") {
		t.Fatalf("New: %v, want an error naming both", err)
	}
}

func TestIngestUnreadableSecret(t *testing.T) {
	cfg := testConfig(migratedDB(t))
	cfg.Ingest.TokenFile = filepath.Join(t.TempDir(), "missing")
	_, err := newApp(cfg)
	if err == nil || !strings.Contains(err.Error(), "ingest.token_file:") {
		t.Fatalf("New: %v, want an error naming ingest.token_file", err)
	}
}

func newApp(cfg config.Config) (*app.App, error) {
	a, err := app.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err == nil {
		_ = a.Close()
	}
	return a, err
}
