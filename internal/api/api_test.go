package api_test

import (
	"context"
	"encoding/json"
	"github.com/shiplog-dev/shiplog/internal/access"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/api"
	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine"
	"github.com/shiplog-dev/shiplog/internal/store"
	"github.com/shiplog-dev/shiplog/internal/store/sqlite"
)

var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

func at(h float64) time.Time { return t0.Add(time.Duration(h * float64(time.Hour))) }

func sha(c byte) string { return strings.Repeat(string(c), 40) }

// server stores a small history through the append path and serves the API.
func server(t *testing.T) *httptest.Server {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	deploy := func(id string, kind delivery.EventType, h float64, env, image, manifest string, changes ...string) delivery.Event {
		return delivery.Event{Source: "git", ID: id, Type: kind, Time: at(h), App: "api", Env: env, Team: "core",
			Payload: &delivery.Deployment{Artifact: image, ManifestCommit: manifest, Changes: changes, SourceCommit: changes[0], InferredFrom: "git", Author: "=cmd|x"}}
	}
	events := []delivery.Event{
		{Source: "github", ID: "c1", Type: delivery.CommitAuthored, Time: at(0), Payload: &delivery.Commit{Repo: "r", SHA: sha('1'), CommittedAt: at(0), Subject: "feat: x", AuthorName: "ann"}},
		{Source: "github", ID: "pr", Type: delivery.ChangeMerged, Time: at(1), Payload: &delivery.Change{Repo: "r", Number: 5, MergeSHA: sha('1'), HeadRef: "feat-x"}},
		{Source: "github", ID: "rv", Type: delivery.ChangeReviewed, Time: at(0.5), Payload: &delivery.Change{Repo: "r", Number: 5, Reviewer: "bob", ReviewState: delivery.ReviewApproved}},
		deploy("d1", delivery.ServiceUpgraded, 2, "staging", "api:1", sha('a'), sha('1')),
		deploy("d2", delivery.ServiceUpgraded, 4, "prod", "api:1", sha('b'), sha('1')),
	}
	if _, err := st.Append(context.Background(), events...); err != nil {
		t.Fatal(err)
	}
	eng := engine.New(st, engine.Settings{Now: func() time.Time { return at(48) }})
	mux := http.NewServeMux()
	api.New(eng, st, slog.New(slog.DiscardHandler)).Register(mux)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r.WithContext(access.With(r.Context(), access.Anonymous))) // as auth mode none
	}))
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, srv *httptest.Server, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestEndpoints(t *testing.T) {
	srv := server(t)
	tests := []struct {
		path     string
		code     int
		contains []string
	}{
		{"/api/v1/apps", 200, []string{`"name": "api"`, `"environment": "prod"`, `"environment": "staging"`, `"total": 2`}},
		{"/api/v1/deployments?env=prod", 200, []string{`"total": 1`, `"artifact": "api:1"`, `"lead_time": 14400000000000`}},
		{"/api/v1/deployments?limit=1", 200, []string{`"total": 2`, `"next_offset": 1`, `"environment": "prod"`}},
		{"/api/v1/deployments?limit=0", 400, []string{`"error": "limit: want 1–1000, got \"0\""`}},
		{"/api/v1/deployments?since=yesterday", 400, []string{`since: want a duration`}},
		{"/api/v1/traces?pr=%235", 200, []string{`"pr": 5`, `"environment": "staging"`, `"environment": "prod"`}},
		{"/api/v1/traces?sha=1111", 200, []string{`"sha": "` + sha('1') + `"`}},
		{"/api/v1/traces?sha=zz", 400, []string{`sha: want at least 4 hexadecimal digits`}},
		{"/api/v1/traces", 400, []string{`give sha, pr, branch or author`}},
		{"/api/v1/metrics?since=7d", 200, []string{`"deployments": 1`, `"lead_time_median_seconds": 14400`, `"trend": [`, `"deployment_frequency": "high"`}},
		{"/api/v1/metrics?since=7d&env=staging&env=prod", 200, []string{`"deployments": 2`}},
		{"/api/v1/metrics?since=7d&before_after=1999-01-01", 400, []string{`before_after: want a date inside the window`}},
		// api adopted GitOps with its first manifest commit (staging, 02:00):
		// its prod deployment (04:00) counts after, over 46 of the window's
		// 168 hours.
		{"/api/v1/metrics?since=7d&before_after=adoption", 200, []string{`"by": "adoption"`, `"app": "api"`, `"adopted_at": "2026-03-02T02:00:00Z"`,
			`"source": "manifest"`, `"before_deployments": 0`, `"after_deployments": 1`, `"before_days": 5.083333333333333`,
			`"after_days": 1.9166666666666667`, `"deployment_frequency_per_day": 0.5217391304347826`}},
		{"/api/v1/report?since=7d&before_after=adoption", 200, []string{`"before_after": {`, `"by": "adoption"`, `"after_deployments": 1`}},
		{"/api/v1/report?since=7d&before_after=never", 400, []string{`before_after: want a date inside the window or \"adoption\"`}},
		{"/api/v1/audit?since=7d", 200, []string{`"approvers": [`, `"bob"`, `"pr": 5`, `"generation_ms":`}},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			code, body := get(t, srv, tc.path)
			if code != tc.code {
				t.Errorf("status %d, want %d: %s", code, tc.code, body)
			}
			for _, c := range tc.contains {
				if !strings.Contains(body, c) {
					t.Errorf("body lacks %s:\n%.3000s", c, body)
				}
			}
			var v any
			if err := json.Unmarshal([]byte(body), &v); err != nil {
				t.Errorf("body is not JSON: %v", err)
			}
		})
	}
}

func TestAuditCSV(t *testing.T) {
	srv := server(t)
	code, body := get(t, srv, "/api/v1/audit?since=7d&format=csv")
	lines := strings.Split(strings.TrimSpace(body), "\n")
	if code != 200 || len(lines) != 3 || !strings.HasPrefix(lines[0], "deployed_at,app,environment,artifact") {
		t.Fatalf("CSV: %d %q", code, body)
	}
	// A cell that a spreadsheet would run as a formula is defused.
	if !strings.Contains(lines[1], ",'=cmd|x,") {
		t.Errorf("formula-like author not escaped: %s", lines[1])
	}
}
