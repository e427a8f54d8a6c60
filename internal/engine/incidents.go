package engine

import (
	"context"
	"time"
)

// IncidentStats is how many incidents of a window shiplog linked to a
// deployment (docs/metrics.md, "Incidents linked to deployments").
type IncidentStats struct {
	// Total counts the incidents detected in the window that name a
	// selected app (and environment, when they name one), plus those that
	// name none but were attributed to a selected deployment.
	Total int `json:"total"`
	// Linked counts those attributed to a deployment (a failure of kind
	// "incident"): by the artifact digest the incident names, else by app,
	// environment and time.
	Linked int `json:"linked"`
	// LinkedRate is Linked ÷ Total; null without incidents.
	LinkedRate *float64 `json:"linked_rate"`
	// Unlinked lists the others, newest first, for drill-down.
	Unlinked []IncidentRef `json:"unlinked"`
}

// IncidentRef names an incident.
type IncidentRef struct {
	Ref        string    `json:"ref"` // source/id, as deployments' failures name it
	App        string    `json:"app,omitempty"`
	Env        string    `json:"environment,omitempty"`
	Title      string    `json:"title,omitempty"`
	DetectedAt time.Time `json:"detected_at"`
}

// incidents counts the incidents of q's window among parts, and how many
// a deployment of parts took the blame for.
func incidents(v *view, parts []*part, since, until time.Time) IncidentStats {
	recs := v.incidentWindow(since, until)
	linked := map[string]bool{}
	apps, appEnvs := map[string]bool{}, map[appEnv]bool{}
	for _, p := range parts {
		apps[p.ae.app], appEnvs[p.ae] = true, true
		for _, ref := range p.blamed {
			linked[ref] = true
		}
	}
	s := IncidentStats{Unlinked: []IncidentRef{}}
	for i := len(recs) - 1; i >= 0; i-- {
		r := recs[i]
		ref := r.Source + "/" + r.IncidentID
		selected := linked[ref] || (r.App != "" && (appEnvs[appEnv{r.App, r.Env}] || (r.Env == "" && apps[r.App])))
		if !selected {
			continue
		}
		s.Total++
		if linked[ref] {
			s.Linked++
			continue
		}
		s.Unlinked = append(s.Unlinked, IncidentRef{Ref: ref, App: r.App, Env: r.Env, Title: r.Title, DetectedAt: r.DetectedAt})
	}
	s.LinkedRate = ratio(s.Linked, s.Total)
	return s
}

// Incidents counts the incidents of q's window and how many a deployment
// q selects took the blame for: Report's Incidents alone.
func (e *Engine) Incidents(ctx context.Context, q Query) (IncidentStats, error) {
	v, err := e.current(ctx)
	if err != nil {
		return IncidentStats{}, err
	}
	mf, until := e.filter(q)
	return incidents(v, e.partitions(v, mf.App, mf.Team, mf.Envs, q.Allow), q.Since, until), nil
}
