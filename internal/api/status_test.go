package api_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/access"
	"github.com/shiplog-dev/shiplog/internal/api"
	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine"
	"github.com/shiplog-dev/shiplog/internal/store"
	"github.com/shiplog-dev/shiplog/internal/store/sqlite"
)

// twoTeams serves the API as p over two apps: "api" (team core) and
// "zebracat" (team zoo), each deployed once to prod, zebracat on Knative
// with a traffic split.
func twoTeams(t *testing.T, p access.Principal) *httptest.Server {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	deploy := func(app string, c byte, h float64) delivery.Event {
		return delivery.Event{Source: "git", ID: "d-" + app, Type: delivery.ServiceUpgraded, Time: at(h), App: app, Env: "prod",
			Payload: &delivery.Deployment{Artifact: app + ":1", ManifestCommit: sha(c + 1), SourceCommit: sha(c), Changes: []string{sha(c)}, InferredFrom: "git", Author: "ann"}}
	}
	events := []delivery.Event{
		{Source: "github", ID: "c1", Type: delivery.CommitAuthored, Time: at(0), Payload: &delivery.Commit{Repo: "r", SHA: sha('1'), CommittedAt: at(0)}},
		deploy("api", '1', 2),
		deploy("zebracat", '3', 3),
		{Source: "kube", ID: "t", Type: delivery.TrafficChanged, Time: at(4), App: "zebracat", Env: "prod",
			Payload: &delivery.Traffic{Service: "zebracat", Targets: []delivery.TrafficTarget{{Revision: "zebracat-2", Percent: 80}, {Revision: "zebracat-1", Percent: 20}}}},
		{Source: "kube", ID: "s", Type: delivery.ScaleSampled, Time: at(5), App: "zebracat", Env: "prod",
			Payload: &delivery.Scale{Revision: "zebracat-2", Actual: 3, Desired: 3}},
	}
	if _, err := st.Append(context.Background(), events...); err != nil {
		t.Fatal(err)
	}
	eng := engine.New(st, engine.Settings{Now: func() time.Time { return at(48) }, Teams: map[string]string{"api": "core", "zebracat": "zoo"}})
	mux := http.NewServeMux()
	api.New(eng, st, slog.New(slog.DiscardHandler)).Register(mux)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r.WithContext(access.With(r.Context(), p)))
	}))
	t.Cleanup(srv.Close)
	return srv
}

var coreViewer = access.Principal{Kind: access.KindToken, ID: "tok_core", Name: "core-viewer",
	Grants: []access.Grant{{Role: access.Viewer, Scope: access.Scope{Teams: []string{"core"}}}}}

func TestStatusReportRecords(t *testing.T) {
	all, core := twoTeams(t, access.Anonymous), twoTeams(t, coreViewer)
	tests := []struct {
		name     string
		srv      *httptest.Server
		path     string
		code     int
		contains []string
		lacks    []string
	}{
		{"status", all, "/api/v1/status", 200, []string{`"app": "api"`, `"app": "zebracat"`, `"revision": "zebracat-2"`, `"percent": 80`, `"replicas": 3`}, nil},
		{"status of a team", all, "/api/v1/status?team=zoo", 200, []string{`"app": "zebracat"`}, []string{`"app": "api"`}},
		{"status of an environment", all, "/api/v1/status?env=staging", 200, []string{`"items": []`}, nil},
		{"status in scope", core, "/api/v1/status", 200, []string{`"app": "api"`}, []string{"zebracat"}},
		{"report", all, "/api/v1/report?since=7d", 200, []string{`"scope": "all apps"`, `"deployments": 2`, `"trend": [`, `"deviations_by_rule": {`, `"generated_at": "2026-03-04T00:00:00Z"`}, nil},
		{"report of an app with before and after", all, "/api/v1/report?since=7d&app=api&before_after=2026-03-02T03:00:00Z", 200,
			[]string{`"scope": "app api"`, `"deployments": 1`, `"before_after": {`}, nil},
		{"report with a bad date", all, "/api/v1/report?since=7d&before_after=1999-01-01", 400, []string{`before_after: want a date inside the window`}, nil},
		{"report with a bad window", all, "/api/v1/report?since=soon", 400, []string{`since: want a duration`}, nil},
		{"records", all, "/api/v1/deployment-records", 200, []string{`"total": 2`, `"app": "api"`, `"app": "zebracat"`, `"lead_time_seconds": 7200`, `"kind": "service.upgraded"`}, nil},
		{"records of an app, paged", all, "/api/v1/deployment-records?app=zebracat&limit=1", 200, []string{`"total": 1`, `"next_offset": null`}, []string{`"app": "api"`}},
		{"records since", all, "/api/v1/deployment-records?since=2026-03-02T02:30:00Z", 200, []string{`"total": 1`, `"app": "zebracat"`}, nil},
		{"records in scope", core, "/api/v1/deployment-records", 200, []string{`"total": 1`, `"app": "api"`}, []string{"zebracat"}},
		{"records with a bad limit", all, "/api/v1/deployment-records?limit=0", 400, []string{`limit: want 1–1000`}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := get(t, tc.srv, tc.path)
			if code != tc.code {
				t.Errorf("status %d, want %d: %s", code, tc.code, body)
			}
			for _, c := range tc.contains {
				if !strings.Contains(body, c) {
					t.Errorf("body lacks %s:\n%.3000s", c, body)
				}
			}
			for _, c := range tc.lacks {
				if strings.Contains(body, c) {
					t.Errorf("body holds %s:\n%.3000s", c, body)
				}
			}
			var v any
			if err := json.Unmarshal([]byte(body), &v); err != nil {
				t.Errorf("body is not JSON: %v", err)
			}
		})
	}
}
