package web

import (
	"maps"
	"net/url"
	"slices"
	"time"

	"github.com/shiplog-dev/shiplog/internal/api"
)

// The Audit page: who deployed what and when, with the approvals, CI run,
// digest and initiator behind each deployment; the same entries as
// /api/v1/audit (the export links carry the page's filters), and a
// print-ready report.

type auditData struct {
	Since, App, Env, Team string
	Failed                string
	Apps, Envs, Teams     []string
	SinceT, UntilT        time.Time
	Total                 int
	Entries               []api.AuditEntry
	Pager                 pager
	CSV, JSON, PrintHref  string
	BackHref              string
	GeneratedAt           time.Time
	Millis                float64
}

func (w *Web) audit(r *request) (any, error) {
	s := r.snap
	since, until, sinceText, err := r.window("90d")
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	d := &auditData{Since: sinceText, App: q.Get("app"), Env: q.Get("env"), Team: q.Get("team"), Failed: q.Get("failed"),
		Envs: s.envs, Teams: s.depTeams, SinceT: since, UntilT: until, GeneratedAt: r.now}
	r.print = q.Get("view") == "print"
	apps := map[string]bool{}
	entries := s.auditEntries()
	// The same selection as /api/v1/audit: window, app, env, team, failed; newest first.
	for i := len(s.deps) - 1; i >= 0; i-- {
		dep := &s.deps[i]
		apps[dep.App] = true
		if (d.App != "" && dep.App != d.App) || (d.Env != "" && dep.Env != d.Env) || (d.Team != "" && dep.Team != d.Team) ||
			dep.LiveAt.Before(since) || !dep.LiveAt.Before(until) || (d.Failed == "true" && !dep.Failed()) || (d.Failed == "false" && dep.Failed()) {
			continue
		}
		d.Entries = append(d.Entries, entries[i])
	}
	d.Apps = slices.Sorted(maps.Keys(apps))
	d.Total = len(d.Entries)
	exp := url.Values{}
	for k, v := range map[string]string{"app": d.App, "env": d.Env, "team": d.Team, "failed": d.Failed} {
		if v != "" {
			exp.Set(k, v)
		}
	}
	exp.Set("since", since.UTC().Format(time.RFC3339))
	exp.Set("until", until.UTC().Format(time.RFC3339))
	d.JSON = "/api/v1/audit?" + exp.Encode()
	exp.Set("format", "csv")
	d.CSV = "/api/v1/audit?" + exp.Encode()
	page := r.URL.Query()
	page.Del("offset")
	page.Del("fragment")
	page.Del("lang")
	page.Set("view", "print")
	d.PrintHref = "/audit?" + page.Encode()
	page.Del("view")
	d.BackHref = "/audit?" + page.Encode()
	if !r.print {
		off := r.offset()
		all := d.Entries
		d.Entries = pageOf(all, off)
		d.Pager = r.pager(off, len(all), len(d.Entries))
	}
	d.Millis = float64(time.Since(r.start).Microseconds()) / 1000
	return d, nil
}
