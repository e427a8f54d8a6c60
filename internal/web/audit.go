package web

import (
	"net/url"
	"time"

	"github.com/shiplog-dev/shiplog/internal/api"
	"github.com/shiplog-dev/shiplog/internal/engine"
	"github.com/shiplog-dev/shiplog/internal/engine/history"
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
	Truncated             bool // the print view shows the newest maxPrint only
	Entries               []api.AuditEntry
	Pager                 pager
	CSV, JSON, PrintHref  string
	BackHref              string
	GeneratedAt           time.Time
	Millis                float64
}

// maxPrint bounds the entries of the print view: a report longer than
// that is for the CSV or JSON export, which hold every entry.
const maxPrint = 500

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
	d.Apps = s.deployedApps()
	// The same selection as /api/v1/audit: window, app, env, team, failed; newest first.
	var envs []string
	if d.Env != "" {
		envs = []string{d.Env}
	}
	keep := func(dep *history.Deployment) bool {
		return (d.Team == "" || dep.Team == d.Team) && (d.Failed != "true" || dep.Failed()) && (d.Failed != "false" || !dep.Failed())
	}
	off, limit := r.offset(), pageSize
	if r.print {
		off, limit = 0, maxPrint
	}
	shown, total := engine.NewestFirst(s.partsOf(d.App, envs), since, until, keep, off, limit)
	d.Total = total
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
	if r.print {
		d.Truncated = len(shown) < total
	} else {
		d.Pager = r.pager(off, total, len(shown))
	}
	list := make([]history.Deployment, len(shown))
	for i, dep := range shown {
		list[i] = *dep
	}
	in, err := w.eng.AuditInput(r.Context(), list)
	if err != nil {
		return nil, err
	}
	d.Entries = api.AuditEntries(list, in)
	d.Millis = float64(time.Since(r.start).Microseconds()) / 1000
	return d, nil
}
