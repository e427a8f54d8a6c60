package web

import (
	"context"
	"html/template"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine"
	"github.com/shiplog-dev/shiplog/internal/engine/history"
	"github.com/shiplog-dev/shiplog/internal/store"
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
	type cellKey [2]string
	parts := map[cellKey]*engine.Partition{}
	latest := map[cellKey]*history.Deployment{}
	for i := range s.parts {
		p := &s.parts[i]
		k := cellKey{p.App, p.Env}
		parts[k] = p
		for j := len(p.Deployments) - 1; j >= 0; j-- {
			if dep := &p.Deployments[j]; !dep.Rewritten {
				latest[k] = dep
				if names[p.App] == nil {
					names[p.App] = map[string]bool{}
				}
				names[p.App][p.Env] = true
				break
			}
		}
	}
	d.Empty = len(names) == 0
	for _, e := range s.envs {
		if d.Env == "" || d.Env == e {
			d.Columns = append(d.Columns, e)
		}
	}
	recent, err := s.recentScale(r.Context())
	if err != nil {
		return nil, err
	}
	scale := latestScale(recent)
	var cells []*appCell // whose pull request to look up
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
			k := cellKey{name, env}
			c := &appCell{Env: env, Dep: latest[k], Now: r.now}
			p := parts[k]
			if p == nil {
				p = &engine.Partition{}
			}
			var healthAt time.Time
			if h := p.Health; h != nil {
				c.Health, c.Sync, healthAt = string(h.Status), h.SyncStatus, h.Time
			}
			if ss := p.SyncStatus; ss != nil && (c.Sync == "" || ss.Time.After(healthAt)) {
				c.Sync = ss.Status
			}
			if d.Health != "" && c.Health != d.Health && !(d.Health == "none" && c.Health == "") {
				row.Cells = append(row.Cells, nil)
				continue
			}
			if c.Dep != nil {
				c.Version = version(*c.Dep)
				c.PR = c.Dep.PR
				cells = append(cells, c)
			}
			targets, _ := latestSplit(p.Traffic)
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
	if err := w.pullRequests(r.Context(), cells); err != nil {
		return nil, err
	}
	return d, nil
}

// pullRequests sets each cell's pull request: the one that shipped its
// deployment's source commit (merged as it, or headed by it), else the one
// of the deployment's number.
func (w *Web) pullRequests(ctx context.Context, cells []*appCell) error {
	var shas []string
	for _, c := range cells {
		if c.Dep.SourceCommit != "" {
			shas = append(shas, c.Dep.SourceCommit)
		}
	}
	found, err := w.st.FindChanges(ctx, store.ChangeLookup{SHAs: shas})
	if err != nil {
		return err
	}
	for _, c := range cells {
		ch := changeOf(found, c.Dep.SourceCommit)
		if ch == nil && c.Dep.PR != 0 {
			byNumber, err := w.st.FindChanges(ctx, store.ChangeLookup{Number: c.Dep.PR})
			if err != nil {
				return err
			}
			if len(byNumber) > 0 {
				ch = &byNumber[0]
			}
		}
		if ch != nil {
			c.PR, c.PRTitle = ch.Number, ch.Title
		}
	}
	return nil
}

// changeOf finds the pull request of changes merged as sha, or headed by it.
func changeOf(changes []delivery.ChangeRecord, sha string) *delivery.ChangeRecord {
	if sha == "" {
		return nil
	}
	for i := range changes {
		if c := &changes[i]; hasPrefix(c.MergeSHA, sha) || hasPrefix(c.HeadSHA, sha) {
			return c
		}
	}
	return nil
}

func hasPrefix(full, short string) bool {
	return short != "" && full != "" && (strings.HasPrefix(full, short) || strings.HasPrefix(short, full))
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
