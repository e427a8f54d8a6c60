package web

import (
	"html/template"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine/history"
)

// The Applications page: every app in every environment, as it runs now.

type split struct {
	Revision string
	Percent  int
}

type appCell struct {
	Env        string
	Dep        *history.Deployment // the latest deployment; nil if none seen
	Version    string
	PR         int64
	PRTitle    string
	Sync       string // Synced, OutOfSync, Unknown; "" when not reported
	Health     string // Argo CD health; "" when not reported
	Split      []split
	TrafficBar template.HTML
	Replicas   *int // nil when unknown
	Now        time.Time
}

type appRow struct {
	Name, Team string
	Cells      []*appCell // one per column; nil where the app is not in that environment
}

type appsData struct {
	Empty                bool
	Teams, Envs, Healths []string
	Team, Env, Health    string
	Columns              []string
	Rows                 []appRow
}

var healthFilters = []string{"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown", "none"}

func (w *Web) apps(r *request) (any, error) {
	s := r.snap
	q := r.URL.Query()
	d := &appsData{Teams: s.teams, Envs: s.envs, Healths: healthFilters, Team: q.Get("team"), Env: q.Get("env"), Health: q.Get("health")}
	if d.Health != "" && !slices.Contains(healthFilters, d.Health) {
		return nil, badInput{"error.health"}
	}
	names := map[string]map[string]bool{} // app → envs
	for _, a := range s.apps {
		if names[a.Name] == nil {
			names[a.Name] = map[string]bool{}
		}
		names[a.Name][a.Env] = true
	}
	latest := map[[2]string]*history.Deployment{}
	for i := range s.deps {
		dep := &s.deps[i]
		if dep.Rewritten {
			continue
		}
		if names[dep.App] == nil {
			names[dep.App] = map[string]bool{}
		}
		names[dep.App][dep.Env] = true
		latest[[2]string{dep.App, dep.Env}] = dep
	}
	d.Empty = len(names) == 0
	for _, e := range s.envs {
		if d.Env == "" || d.Env == e {
			d.Columns = append(d.Columns, e)
		}
	}
	health := latestHealth(s.health)
	syncs := latestSyncStatus(s.syncStatus)
	scale := latestScale(s.scale)
	for _, name := range slices.Sorted(maps.Keys(names)) {
		row := appRow{Name: name, Team: s.team(name)}
		if d.Team != "" && row.Team != d.Team {
			continue
		}
		any := false
		for _, env := range d.Columns {
			if !names[name][env] {
				row.Cells = append(row.Cells, nil)
				continue
			}
			k := [2]string{name, env}
			c := &appCell{Env: env, Dep: latest[k], Now: r.now}
			if h, ok := health[k]; ok {
				c.Health, c.Sync = string(h.Status), h.SyncStatus
			}
			if ss, ok := syncs[k]; ok && (c.Sync == "" || ss.Time.After(health[k].Time)) {
				c.Sync = ss.Status
			}
			if d.Health != "" && c.Health != d.Health && !(d.Health == "none" && c.Health == "") {
				row.Cells = append(row.Cells, nil)
				continue
			}
			if c.Dep != nil {
				c.Version = version(*c.Dep)
				c.PR = c.Dep.PR
				if ch := s.change(c.Dep.SourceCommit, c.Dep.PR); ch != nil {
					c.PR, c.PRTitle = ch.Number, ch.Title
				}
			}
			targets, _ := latestSplit(s.in.Traffic, name, env)
			for _, t := range targets {
				c.Split = append(c.Split, split{t.Revision, t.Percent})
			}
			if len(targets) > 0 {
				c.TrafficBar = stackedBar(splitSegments(targets), r.t["apps.traffic"], 12)
			}
			c.Replicas = replicas(scale, name, env, targets)
			row.Cells = append(row.Cells, c)
			any = true
		}
		if any {
			d.Rows = append(d.Rows, row)
		}
	}
	return d, nil
}

func latestHealth(rows []delivery.HealthRecord) map[[2]string]delivery.HealthRecord {
	out := map[[2]string]delivery.HealthRecord{}
	for _, h := range rows {
		k := [2]string{h.App, h.Env}
		if old, ok := out[k]; !ok || !h.Time.Before(old.Time) {
			out[k] = h
		}
	}
	return out
}

func latestSyncStatus(rows []delivery.SyncStatusRecord) map[[2]string]delivery.SyncStatusRecord {
	out := map[[2]string]delivery.SyncStatusRecord{}
	for _, h := range rows {
		k := [2]string{h.App, h.Env}
		if old, ok := out[k]; !ok || !h.Time.Before(old.Time) {
			out[k] = h
		}
	}
	return out
}

// latestScale is the newest replica count per app, environment and revision.
func latestScale(rows []delivery.ScaleRecord) map[[3]string]delivery.ScaleRecord {
	out := map[[3]string]delivery.ScaleRecord{}
	for _, r := range rows {
		k := [3]string{r.App, r.Env, r.Revision}
		if old, ok := out[k]; !ok || !r.Time.Before(old.Time) {
			out[k] = r
		}
	}
	return out
}

// replicas adds up the ready replicas of the revisions serving traffic, or
// of the revision last sampled when the split is unknown; nil when no
// sample says.
func replicas(scale map[[3]string]delivery.ScaleRecord, app, env string, targets []delivery.TrafficTarget) *int {
	n, known := 0, false
	for _, t := range targets {
		if sc, ok := scale[[3]string{app, env, t.Revision}]; ok && t.Percent > 0 {
			n += sc.Actual
			known = true
		}
	}
	if !known && len(targets) == 0 {
		var newest time.Time
		for k, sc := range scale {
			if k[0] == app && k[1] == env && sc.Time.After(newest) {
				newest, n, known = sc.Time, sc.Actual, true
			}
		}
	}
	if !known {
		return nil
	}
	return &n
}

// prTitle shortens a pull request title for a cell.
func prTitle(s string) string {
	if r := []rune(s); len(r) > 48 {
		return strings.TrimSpace(string(r[:47])) + "…"
	}
	return s
}
