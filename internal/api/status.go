package api

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/shiplog-dev/shiplog/internal/access"
	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// TrafficTarget is one revision's share of traffic.
type TrafficTarget struct {
	Revision string `json:"revision"`
	Percent  int    `json:"percent"`
}

// StatusRow is one app in one environment now: its live artifact, since
// when and by whom, Argo CD sync and health, the latest Knative traffic
// split and the replicas serving it.
type StatusRow struct {
	App          string          `json:"app"`
	Environment  string          `json:"environment"`
	Team         string          `json:"team,omitempty"`
	Artifact     string          `json:"artifact,omitempty"`
	LiveSince    time.Time       `json:"live_since,omitzero"`
	DeployedBy   string          `json:"deployed_by,omitempty"`
	InferredFrom string          `json:"inferred_from,omitempty"`
	Failed       bool            `json:"failed"`
	Health       string          `json:"health,omitempty"`
	Sync         string          `json:"sync,omitempty"`
	Traffic      []TrafficTarget `json:"traffic,omitempty"`
	Replicas     *int            `json:"replicas,omitempty"` // of the revisions serving traffic; 0: scaled to zero
}

// StatusQuery selects the rows of a status.
type StatusQuery struct {
	Env  string // empty: every environment
	Team string // empty: every team
	// Now is the time of the status: replicas come from the scale samples
	// of the week before.
	Now time.Time
}

// StatusResponse is /api/v1/status.
type StatusResponse struct {
	Items []StatusRow `json:"items"`
}

// ScaleWindow is how far back a status looks for a revision's replica
// count: a revision not sampled in that time shows none.
const ScaleWindow = 7 * 24 * time.Hour

type statusKey struct{ app, env string }

// Status builds one row per app and environment known to the store that q
// keeps, by app then environment. `shiplog status` and /api/v1/status
// both show this.
func Status(ctx context.Context, eng *engine.Engine, st *store.Store, q StatusQuery) ([]StatusRow, error) {
	all := store.ModelFilter{}
	deps, err := eng.History(ctx)
	if err != nil {
		return nil, err
	}
	apps, err := st.Apps(ctx, all)
	if err != nil {
		return nil, err
	}
	health, err := st.HealthTransitions(ctx, all)
	if err != nil {
		return nil, err
	}
	syncs, err := st.SyncStatuses(ctx, all)
	if err != nil {
		return nil, err
	}
	traffic, err := st.Traffic(ctx, all)
	if err != nil {
		return nil, err
	}
	scale, err := st.ScaleSamples(ctx, store.ModelFilter{Since: q.Now.Add(-ScaleWindow)})
	if err != nil {
		return nil, err
	}
	teams := eng.Settings().Teams
	rows := map[statusKey]*StatusRow{}
	row := func(app, env string) *StatusRow {
		k := statusKey{app, env}
		if rows[k] == nil {
			rows[k] = &StatusRow{App: app, Environment: env, Team: teams[app]}
		}
		return rows[k]
	}
	for _, a := range apps {
		r := row(a.Name, a.Env)
		if r.Team == "" {
			r.Team = a.Team
		}
	}
	for _, d := range deps { // oldest first: the last one is live
		r := row(d.App, d.Env)
		r.Artifact, r.LiveSince, r.DeployedBy, r.InferredFrom, r.Failed = d.Artifact, d.LiveAt, d.Author, d.InferredFrom, d.Failed()
	}
	for _, h := range health { // by time
		row(h.App, h.Env).Health = string(h.Status)
	}
	for _, s := range syncs {
		row(s.App, s.Env).Sync = s.Status
	}
	latest := map[statusKey]time.Time{}
	for _, t := range traffic {
		k := statusKey{t.App, t.Env}
		if t.Time.After(latest[k]) {
			latest[k] = t.Time
			row(t.App, t.Env).Traffic = nil
		}
		if t.Time.Equal(latest[k]) && t.Percent > 0 {
			r := row(t.App, t.Env)
			r.Traffic = append(r.Traffic, TrafficTarget{Revision: t.Revision, Percent: t.Percent})
		}
	}
	lastScale := map[string]delivery.ScaleRecord{}
	for _, s := range scale {
		lastScale[s.App+"|"+s.Env+"|"+s.Revision] = s
	}
	for k, r := range rows {
		if len(r.Traffic) == 0 {
			continue
		}
		n, seen := 0, false
		for _, t := range r.Traffic {
			if s, ok := lastScale[k.app+"|"+k.env+"|"+t.Revision]; ok {
				n, seen = n+s.Actual, true
			}
		}
		if seen {
			r.Replicas = &n
		}
	}
	out := make([]StatusRow, 0, len(rows))
	for _, r := range rows {
		if (q.Env != "" && r.Environment != q.Env) || (q.Team != "" && r.Team != q.Team) {
			continue
		}
		slices.SortFunc(r.Traffic, func(a, b TrafficTarget) int {
			return cmp.Or(b.Percent-a.Percent, strings.Compare(a.Revision, b.Revision))
		})
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b StatusRow) int {
		return cmp.Or(strings.Compare(a.App, b.App), strings.Compare(a.Environment, b.Environment))
	})
	return out, nil
}

// status is /api/v1/status: env and team select rows; the principal sees
// the apps and environments in its scope only.
func (a *API) status(r *http.Request) (any, error) {
	q := r.URL.Query()
	rows, err := Status(r.Context(), a.eng, a.st, StatusQuery{Env: q.Get("env"), Team: q.Get("team"), Now: a.now()})
	if err != nil {
		return nil, err
	}
	view := access.ViewOf(r.Context())
	out := StatusResponse{Items: []StatusRow{}}
	for _, row := range rows {
		if view.Allows(row.App, row.Team, row.Environment) {
			out.Items = append(out.Items, row)
		}
	}
	return out, nil
}
