// Package api is shiplog's JSON API (/api/v1): apps, deployments, traces,
// metrics and the audit trail, read through the engine. Errors are JSON
// objects with a message; lists are paged. docs/api/openapi.yaml describes it.
package api

import (
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shiplog-dev/shiplog/internal/access"
	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine"
	"github.com/shiplog-dev/shiplog/internal/engine/efficiency"
	"github.com/shiplog-dev/shiplog/internal/engine/history"
	"github.com/shiplog-dev/shiplog/internal/engine/metrics"
	"github.com/shiplog-dev/shiplog/internal/engine/policy"
	rollbackplan "github.com/shiplog-dev/shiplog/internal/engine/rollback"
	"github.com/shiplog-dev/shiplog/internal/engine/trace"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// API serves /api/v1.
type API struct {
	eng *engine.Engine
	st  *store.Store
	log *slog.Logger
	now func() time.Time
}

// New returns the API over an engine and its store.
func New(eng *engine.Engine, st *store.Store, log *slog.Logger) *API {
	return &API{eng: eng, st: st, log: log, now: eng.Settings().Now}
}

// Routes lists the API's routes, method and pattern, for the router and
// for access control.
var Routes = []string{
	"GET /api/v1/apps",
	"GET /api/v1/deployments",
	"GET /api/v1/traces",
	"GET /api/v1/metrics",
	"GET /api/v1/audit",
	"GET /api/v1/deviations",
	"GET /api/v1/status",
	"GET /api/v1/report",
	"GET /api/v1/deployment-records",
	"POST /api/v1/rollbacks",
}

// Router is where routes are mounted: an *http.ServeMux, or the access
// controlled router of package auth.
type Router interface {
	Handle(pattern string, h http.Handler)
}

// Register mounts the API on mux.
func (a *API) Register(mux Router) {
	handlers := map[string]func(*http.Request) (any, error){
		"GET /api/v1/apps":               a.apps,
		"GET /api/v1/deployments":        a.deployments,
		"GET /api/v1/traces":             a.traces,
		"GET /api/v1/metrics":            a.metrics,
		"GET /api/v1/deviations":         a.deviations,
		"GET /api/v1/status":             a.status,
		"GET /api/v1/report":             a.report,
		"GET /api/v1/deployment-records": a.deploymentRecords,
	}
	for _, r := range Routes {
		if h, ok := handlers[r]; ok {
			mux.Handle(r, a.json(h))
		}
	}
	mux.Handle("GET /api/v1/audit", http.HandlerFunc(a.audit))
	mux.Handle("POST /api/v1/rollbacks", http.HandlerFunc(a.rollback))
}

// badRequest marks an error caused by the request.
type badRequest struct{ error }

func bad(format string, args ...any) error { return badRequest{fmt.Errorf(format, args...)} }

// json runs h and writes its result or error as JSON.
func (a *API) json(h func(*http.Request) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := h(r)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
}

func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var br badRequest
	if errors.As(err, &br) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	if errors.Is(err, context.Canceled) {
		return
	}
	a.log.Error("api request failed", "path", r.URL.Path, "err", err)
	writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal error: " + err.Error()})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// window reads since (default 90d) and until (default now).
func (a *API) window(r *http.Request) (time.Time, time.Time, error) {
	now := a.now()
	since, err := parseSince(cmp.Or(r.URL.Query().Get("since"), "90d"), now)
	if err != nil {
		return since, now, err
	}
	until := now
	if u := r.URL.Query().Get("until"); u != "" {
		if until, err = parseTime(u); err != nil {
			return since, now, bad("until: %v", err)
		}
	}
	if !since.Before(until) {
		return since, until, bad("since must be before until")
	}
	return since, until, nil
}

func parseSince(s string, now time.Time) (time.Time, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if v, err := strconv.Atoi(n); err == nil && v >= 0 {
			return now.AddDate(0, 0, -v), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	t, err := parseTime(s)
	if err != nil {
		return t, bad("since: want a duration (90d, 12h) or a date, got %q", s)
	}
	return t, nil
}

// BeforeAfterAdoption is the before_after value that splits each app at
// its own GitOps adoption date (engine.CompareAdoption).
const BeforeAfterAdoption = "adoption"

// parseBeforeAfter reads a before_after date, which must be inside the window.
func parseBeforeAfter(v string, since, until time.Time) (time.Time, error) {
	at, err := parseTime(v)
	if err != nil || !at.After(since) || !at.Before(until) {
		return at, bad("before_after: want a date inside the window or %q, got %q", BeforeAfterAdoption, v)
	}
	return at, nil
}

func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, s)
}

// page reads limit (default 100, at most 1000) and offset.
func page(r *http.Request) (limit, offset int, err error) {
	limit, offset = 100, 0
	if v := r.URL.Query().Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 1000 {
			return 0, 0, bad("limit: want 1–1000, got %q", v)
		}
	}
	if v := r.URL.Query().Get("offset"); v != "" {
		if offset, err = strconv.Atoi(v); err != nil || offset < 0 {
			return 0, 0, bad("offset: want a non-negative number, got %q", v)
		}
	}
	return limit, offset, nil
}

// Page is a slice of a list with what is needed to fetch the next one.
type Page[T any] struct {
	Items      []T  `json:"items"`
	Total      int  `json:"total"`
	Offset     int  `json:"offset"`
	Limit      int  `json:"limit"`
	NextOffset *int `json:"next_offset"`
}

func paged[T any](items []T, limit, offset int) Page[T] {
	p := Page[T]{Total: len(items), Offset: offset, Limit: limit, Items: []T{}}
	if offset < len(items) {
		end := min(offset+limit, len(items))
		p.Items = items[offset:end]
		if end < len(items) {
			p.NextOffset = &end
		}
	}
	return p
}

// AppStatus is one app in one environment.
type AppStatus struct {
	delivery.App
	Latest      *history.Deployment `json:"latest_deployment"`
	Deployments int                 `json:"deployments"`
}

func (a *API) apps(r *http.Request) (any, error) {
	apps, err := a.st.Apps(r.Context(), store.ModelFilter{Env: r.URL.Query().Get("env")})
	if err != nil {
		return nil, err
	}
	deps, err := a.eng.History(r.Context())
	if err != nil {
		return nil, err
	}
	team := r.URL.Query().Get("team")
	teams := a.eng.Settings().Teams
	view := access.ViewOf(r.Context())
	var out []AppStatus
	for _, ap := range apps {
		if ap.Team == "" {
			ap.Team = teams[ap.Name]
		}
		if (team != "" && ap.Team != team) || !view.Allows(ap.Name, ap.Team, ap.Env) {
			continue
		}
		s := AppStatus{App: ap}
		for i := range deps {
			if deps[i].App == ap.Name && deps[i].Env == ap.Env {
				s.Deployments++
				s.Latest = &deps[i]
			}
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(x, y AppStatus) int {
		return cmp.Or(strings.Compare(x.Name, y.Name), strings.Compare(x.Env, y.Env))
	})
	limit, offset, err := page(r)
	if err != nil {
		return nil, err
	}
	return paged(out, limit, offset), nil
}

func (a *API) filteredDeployments(r *http.Request) ([]history.Deployment, error) {
	deps, err := a.eng.History(r.Context())
	if err != nil {
		return nil, err
	}
	return a.filter(r, deps)
}

// filter keeps the deployments the request's window and filters select,
// newest first.
func (a *API) filter(r *http.Request, deps []history.Deployment) ([]history.Deployment, error) {
	since, until, err := a.window(r)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	app, env, team := q.Get("app"), q.Get("env"), q.Get("team")
	failed := q.Get("failed")
	view := access.ViewOf(r.Context())
	var out []history.Deployment
	for _, d := range deps {
		if !view.Allows(d.App, d.Team, d.Env) || (app != "" && d.App != app) || (env != "" && d.Env != env) || (team != "" && d.Team != team) ||
			d.LiveAt.Before(since) || !d.LiveAt.Before(until) || (failed == "true" && !d.Failed()) || (failed == "false" && d.Failed()) {
			continue
		}
		out = append(out, d)
	}
	slices.Reverse(out) // newest first
	return out, nil
}

func (a *API) deployments(r *http.Request) (any, error) {
	out, err := a.filteredDeployments(r)
	if err != nil {
		return nil, err
	}
	limit, offset, err := page(r)
	if err != nil {
		return nil, err
	}
	return paged(out, limit, offset), nil
}

func (a *API) traces(r *http.Request) (any, error) {
	q := r.URL.Query()
	tq := trace.Query{SHA: q.Get("sha"), Branch: q.Get("branch"), Author: q.Get("author")}
	if v := strings.TrimPrefix(q.Get("pr"), "#"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return nil, bad("pr: want a pull request number, got %q", q.Get("pr"))
		}
		tq.PR = n
	}
	if tq == (trace.Query{}) {
		return nil, bad("give sha, pr, branch or author")
	}
	if tq.SHA != "" && (len(tq.SHA) < 4 || strings.Trim(strings.ToLower(tq.SHA), "0123456789abcdef") != "") {
		return nil, bad("sha: want at least 4 hexadecimal digits, got %q", tq.SHA)
	}
	limit, offset, err := page(r)
	if err != nil {
		return nil, err
	}
	if view := access.ViewOf(r.Context()); !view.All() {
		traces, err := a.eng.ScopedTraces(r.Context(), tq, view.Allows)
		if err != nil {
			return nil, err
		}
		return paged(traces, limit, offset), nil
	}
	// Only the traces up to the page's end are built.
	traces, total, err := a.eng.TracesPage(r.Context(), tq, offset+limit)
	if err != nil {
		return nil, err
	}
	p := paged(traces, limit, offset)
	p.Total = total
	if end := offset + len(p.Items); end < total && len(p.Items) > 0 {
		p.NextOffset = &end
	}
	return p, nil
}

// team is an app's configured team.
func (a *API) team(app string) string { return a.eng.Settings().Teams[app] }

// MetricsResponse is /api/v1/metrics.
type MetricsResponse struct {
	metrics.Report
	Trend       []metrics.Point     `json:"trend"`
	BeforeAfter *metrics.Comparison `json:"before_after,omitempty"`
	// TraceableRate is Traceability.Rate: the share of deployments
	// traceable to a reviewed change.
	TraceableRate *float64            `json:"traceable_rate"`
	Traceability  policy.Traceability `json:"traceability"`
	Efficiency    efficiency.Report   `json:"efficiency"`
	// Incidents are the window's incidents and how many shiplog linked to
	// a deployment; the unlinked ones are listed with detail=true.
	Incidents engine.IncidentStats `json:"incidents"`
}

func (a *API) metrics(r *http.Request) (any, error) {
	since, until, err := a.window(r)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	eq := a.scopeQuery(r, engine.Query{App: q.Get("app"), Team: q.Get("team"), Envs: q["env"], Since: since, Until: until})
	full, err := a.eng.Report(r.Context(), eq)
	if err != nil {
		return nil, err
	}
	rep, deps := full.Metrics, full.Deployments
	resp := MetricsResponse{Report: rep, Trend: metrics.Trend(deps, rep.Filter, since, until, 7*24*time.Hour, a.eng.Settings().Thresholds),
		TraceableRate: full.Traceability.Rate, Traceability: full.Traceability, Efficiency: full.Efficiency, Incidents: full.Incidents}
	// The items behind the traceability and efficiency figures come with detail=true.
	switch q.Get("detail") {
	case "true":
	case "", "false":
		resp.Traceability.Untraceable = nil
		resp.Efficiency = full.Efficiency.Summary()
		resp.Incidents.Unlinked = nil
	default:
		return nil, bad("detail: want true or false, got %q", q.Get("detail"))
	}
	switch v := q.Get("before_after"); v {
	case "":
	case BeforeAfterAdoption:
		c, err := a.eng.CompareAdoption(r.Context(), eq)
		if err != nil {
			return nil, err
		}
		resp.BeforeAfter = &c
	default:
		at, err := parseBeforeAfter(v, since, until)
		if err != nil {
			return nil, err
		}
		c := metrics.Compare(deps, rep.Filter, since, at, until, a.eng.Settings().Thresholds)
		resp.BeforeAfter = &c
	}
	return resp, nil
}

// RollbackRequest is the body of POST /api/v1/rollbacks.
type RollbackRequest struct {
	App string `json:"app"`
	Env string `json:"environment"`
	To  string `json:"to,omitempty"` // an image or a manifest commit prefix; empty: the last good deployment
}

// RollbackPlan is what the server prepares: the deployments, the method
// and the command that makes the rollback commit in a GitOps clone. The
// server changes neither Git nor a cluster.
type RollbackPlan struct {
	rollbackplan.Plan
	Method  string `json:"method"` // "revert" or "bump"
	Command string `json:"command"`
}

// rollback prepares a rollback plan; the operator role is checked by the
// router, its scope here: an operator of one team cannot roll back
// another's app.
func (a *API) rollback(w http.ResponseWriter, r *http.Request) {
	var req RollbackRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		a.fail(w, r, bad("body: %v", err))
		return
	}
	if req.App == "" || req.Env == "" {
		a.fail(w, r, bad("app and environment are required"))
		return
	}
	p := access.From(r.Context())
	if !p.CanOn(access.Operator, req.App, a.team(req.App), req.Env) {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": fmt.Sprintf("%s may not roll back %s in %s", p.Name, req.App, req.Env)})
		return
	}
	deps, err := a.eng.History(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	plan, err := rollbackplan.Choose(deps, req.App, req.Env, req.To)
	if err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": err.Error()})
		return
	}
	out := RollbackPlan{Plan: plan, Method: "bump"}
	if plan.Revert {
		out.Method = "revert"
	}
	out.Command = fmt.Sprintf("shiplog rollback %s --env %s --to %s --repo <gitops-clone>", req.App, req.Env, plan.Target.ManifestCommit)
	if plan.Target.ManifestCommit == "" {
		out.Command = fmt.Sprintf("shiplog rollback %s --env %s --to %s --repo <gitops-clone>", req.App, req.Env, plan.Target.Artifact)
	}
	writeJSON(w, http.StatusOK, out)
}

// AuditEntry is one deployment in the audit trail.
type AuditEntry struct {
	DeployedAt     time.Time `json:"deployed_at"`
	App            string    `json:"app"`
	Environment    string    `json:"environment"`
	Artifact       string    `json:"artifact"`
	Digest         string    `json:"digest,omitempty"`
	ManifestCommit string    `json:"manifest_commit,omitempty"`
	Author         string    `json:"author,omitempty"`
	Bot            bool      `json:"bot"`
	PR             int64     `json:"pr,omitempty"`
	Approvers      []string  `json:"approvers"`
	CIRun          string    `json:"ci_run,omitempty"`
	Initiator      string    `json:"initiator,omitempty"` // Argo CD sync: a username, or "automated"
	InferredFrom   string    `json:"inferred_from"`
	Failed         bool      `json:"failed"`
}

// AuditReport is /api/v1/audit.
type AuditReport struct {
	GeneratedAt      time.Time    `json:"generated_at"`
	GenerationMillis float64      `json:"generation_ms"`
	Since            time.Time    `json:"since"`
	Until            time.Time    `json:"until"`
	Entries          []AuditEntry `json:"entries"`
}

func (a *API) audit(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rep, err := a.auditReport(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	rep.GenerationMillis = float64(time.Since(start).Microseconds()) / 1000
	if r.URL.Query().Get("format") != "csv" {
		writeJSON(w, http.StatusOK, rep)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="shiplog-audit.csv"`)
	_ = WriteAuditCSV(w, rep.Entries)
}

// WriteAuditCSV writes audit entries as CSV with a header row; cells a
// spreadsheet would run as formulas are defused.
func WriteAuditCSV(w io.Writer, entries []AuditEntry) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"deployed_at", "app", "environment", "artifact", "digest", "manifest_commit", "author", "bot", "pr", "approvers", "ci_run", "initiator", "inferred_from", "failed"})
	for _, e := range entries {
		pr := ""
		if e.PR != 0 {
			pr = strconv.FormatInt(e.PR, 10)
		}
		_ = cw.Write([]string{e.DeployedAt.UTC().Format(time.RFC3339), e.App, e.Environment, csvSafe(e.Artifact), e.Digest, e.ManifestCommit,
			csvSafe(e.Author), strconv.FormatBool(e.Bot), pr, csvSafe(strings.Join(e.Approvers, " ")), csvSafe(e.CIRun), csvSafe(e.Initiator), e.InferredFrom, strconv.FormatBool(e.Failed)})
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe keeps a spreadsheet from running a cell as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func (a *API) auditReport(r *http.Request) (AuditReport, error) {
	all, err := a.eng.History(r.Context())
	if err != nil {
		return AuditReport{}, err
	}
	deps, err := a.filter(r, all)
	if err != nil {
		return AuditReport{}, err
	}
	since, until, _ := a.window(r)
	in, err := a.eng.AuditInput(r.Context(), deps)
	if err != nil {
		return AuditReport{}, err
	}
	rep := AuditReport{GeneratedAt: a.now().UTC(), Since: since, Until: until, Entries: AuditEntries(deps, in)}
	return rep, nil
}

// AuditEntries builds the audit trail entry of each deployment, in the
// order of deps, from the model in (engine.AuditInput loads what deps
// link to): the pull request merged as its source commit, the last
// successful CI run of that commit, the last sync of its manifest commit.
func AuditEntries(deps []history.Deployment, in trace.Input) []AuditEntry {
	merged := bySHA(len(in.Changes), func(i int) string { return in.Changes[i].MergeSHA })
	runs := bySHA(len(in.PipelineRuns), func(i int) string { return in.PipelineRuns[i].SHA })
	type syncKey struct{ app, env, rev string }
	syncs := map[syncKey]*delivery.SyncRecord{}
	for i := range in.Syncs { // the last one counts
		s := &in.Syncs[i]
		syncs[syncKey{s.App, s.Env, s.Revision}] = s
	}
	entries := make([]AuditEntry, 0, len(deps))
	for _, d := range deps {
		e := AuditEntry{DeployedAt: d.LiveAt, App: d.App, Environment: d.Env, Artifact: d.Artifact, ManifestCommit: d.ManifestCommit,
			Author: d.Author, Bot: d.Bot, PR: d.PR, InferredFrom: d.InferredFrom, Failed: d.Failed(), Approvers: []string{}}
		if i := strings.Index(d.Artifact, "@sha256:"); i >= 0 {
			e.Digest = d.Artifact[i+1:]
		}
		if d.SourceCommit != "" {
			for _, i := range merged.candidates(d.SourceCommit) {
				c := &in.Changes[i]
				if strings.HasPrefix(c.MergeSHA, d.SourceCommit) || (c.MergeSHA != "" && strings.HasPrefix(d.SourceCommit, c.MergeSHA)) {
					e.Approvers = c.Approvers
					if e.PR == 0 {
						e.PR = c.Number
					}
				}
			}
			for _, i := range runs.candidates(d.SourceCommit) {
				if p := &in.PipelineRuns[i]; p.SHA != "" && strings.HasPrefix(p.SHA, d.SourceCommit) && p.Outcome == delivery.OutcomeSuccess {
					e.CIRun = cmp.Or(p.URL, p.RunID)
				}
			}
		}
		if s := syncs[syncKey{d.App, d.Env, d.ManifestCommit}]; d.ManifestCommit != "" && s != nil {
			e.Initiator = "automated"
			if !s.Automated && s.InitiatedBy != "" {
				e.Initiator = s.InitiatedBy
			}
		}
		entries = append(entries, e)
	}
	return entries
}

// shaIndex finds rows by a commit they name, full or abbreviated: the
// positions of rows by their SHA's first 7 characters, and those whose SHA
// is shorter.
type shaIndex struct {
	n     int
	by7   map[string][]int
	short []int
}

func bySHA(n int, sha func(i int) string) shaIndex {
	x := shaIndex{n: n, by7: map[string][]int{}}
	for i := range n {
		if s := sha(i); len(s) >= 7 {
			x.by7[s[:7]] = append(x.by7[s[:7]], i)
		} else if s != "" {
			x.short = append(x.short, i)
		}
	}
	return x
}

// candidates returns, in order, the positions of the rows that may match
// sha: those whose SHA shares its first 7 characters, or is shorter (all
// rows when sha is).
func (x shaIndex) candidates(sha string) []int {
	if len(sha) < 7 {
		out := make([]int, x.n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	if len(x.short) == 0 {
		return x.by7[sha[:7]]
	}
	out := append(slices.Clone(x.by7[sha[:7]]), x.short...)
	slices.Sort(out)
	return out
}
