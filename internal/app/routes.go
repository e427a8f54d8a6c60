package app

import (
	"net/http"

	"github.com/shiplog-dev/shiplog/internal/access"
	"github.com/shiplog-dev/shiplog/internal/auth"
	"github.com/shiplog-dev/shiplog/internal/engine"
	"github.com/shiplog-dev/shiplog/internal/live"
)

// routeTable is every route the server mounts and what it requires
// (docs/security.md). Mounting a route missing here fails at start-up, and
// TestRouteTable fails on a rule nothing mounts: no route is added
// unprotected.
var routeTable = []auth.Rule{
	// Probes and Prometheus: no user data (counts by source and event
	// type only, never by app or team).
	{Pattern: "GET /healthz", Need: auth.Public},
	{Pattern: "GET /readyz", Need: auth.Public},
	{Pattern: "GET /metrics", Need: auth.Public},

	// Ingestion: each endpoint checks its source's own secret.
	{Pattern: "/ingest/github", Need: auth.Ingest},
	{Pattern: "/ingest/gitlab", Need: auth.Ingest},
	{Pattern: "/ingest/cloudevents", Need: auth.Ingest},
	{Pattern: "/ingest/argocd", Need: auth.Ingest},
	{Pattern: "/ingest/alertmanager", Need: auth.Ingest},

	// Live updates: filtered to the principal's scope.
	{Pattern: "GET /events", Need: auth.Viewer, API: true},

	// JSON API: read-only, filtered to the principal's scope.
	{Pattern: "GET /api/v1/apps", Need: auth.Viewer, API: true},
	{Pattern: "GET /api/v1/deployments", Need: auth.Viewer, API: true},
	{Pattern: "GET /api/v1/traces", Need: auth.Viewer, API: true},
	{Pattern: "GET /api/v1/metrics", Need: auth.Viewer, API: true},
	{Pattern: "GET /api/v1/audit", Need: auth.Viewer, API: true, Log: access.ActionExport},
	{Pattern: "GET /api/v1/deviations", Need: auth.Viewer, API: true},
	{Pattern: "GET /api/v1/status", Need: auth.Viewer, API: true},
	{Pattern: "GET /api/v1/report", Need: auth.Viewer, API: true},
	{Pattern: "GET /api/v1/deployment-records", Need: auth.Viewer, API: true},
	{Pattern: "POST /api/v1/rollbacks", Need: auth.Operator, API: true, Log: access.ActionRollback},

	// Web UI.
	{Pattern: "GET /{$}", Need: auth.Viewer},
	{Pattern: "GET /apps", Need: auth.Viewer},
	{Pattern: "GET /apps/{app}", Need: auth.Viewer},
	{Pattern: "GET /changes", Need: auth.Viewer},
	{Pattern: "GET /delivery", Need: auth.Viewer},
	{Pattern: "GET /delivery/deployments", Need: auth.Viewer},
	{Pattern: "GET /audit", Need: auth.Viewer, Log: access.ActionExport},
	{Pattern: "GET /policies", Need: auth.Viewer},
	{Pattern: "GET /static/{file}", Need: auth.Public},
	{Pattern: "/", Need: auth.Viewer},
}

// RouteTable is every route's rule: the table above plus the
// access-control routes themselves.
func RouteTable() []auth.Rule { return routes() }

func routes() []auth.Rule {
	return append(append([]auth.Rule{}, routeTable...), auth.Routes...)
}

// events is the live stream, limited to what the principal may see: a
// scoped principal is told about the apps in its scope only, without the
// store-wide event counts and sequence numbers.
func (a *App) events() http.Handler {
	teams := engine.SettingsFrom(a.cfg).Teams
	return a.hub.Filtered(func(r *http.Request, b live.Batch) (live.Batch, bool) {
		view := access.ViewOf(r.Context())
		if view.All() {
			return b, true
		}
		out := live.Batch{Types: []string{}, Apps: []string{}}
		for _, app := range b.Apps {
			if view.AllowsApp(app, teams[app]) {
				out.Apps = append(out.Apps, app)
			}
		}
		if len(out.Apps) == 0 && !b.AnyApp {
			return out, false
		}
		out.AnyApp = b.AnyApp
		return out, true
	})
}
