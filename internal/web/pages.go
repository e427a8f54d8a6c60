package web

import (
	"cmp"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine/history"
	"github.com/shiplog-dev/shiplog/internal/engine/metrics"
)

// Shared helpers of the page builders.

// window reads since (a number of days "30d", a Go duration, or a date;
// default def) and until (a date or RFC 3339 time; default now).
func (r *request) window(def string) (since, until time.Time, sinceText string, err error) {
	q := r.URL.Query()
	sinceText = cmp.Or(strings.TrimSpace(q.Get("since")), def)
	until = r.now
	if u := strings.TrimSpace(q.Get("until")); u != "" {
		if until, err = parseTime(u); err != nil {
			return since, until, sinceText, badInput{"error.until"}
		}
	}
	if n, ok := strings.CutSuffix(sinceText, "d"); ok {
		if v, err := strconv.Atoi(n); err == nil && v > 0 && v <= 3660 {
			return until.AddDate(0, 0, -v), until, sinceText, nil
		}
	}
	if d, err := time.ParseDuration(sinceText); err == nil && d > 0 {
		return until.Add(-d), until, sinceText, nil
	}
	if since, err = parseTime(sinceText); err != nil || !since.Before(until) {
		return since, until, sinceText, badInput{"error.since"}
	}
	return since, until, sinceText, nil
}

func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, s)
}

// depFilter selects deployments the way the metrics count them
// (metrics.Filter): window [Since, Until), app, team, environments, and
// never a deployment rewritten away by a force-push.
type depFilter struct {
	App, Team    string
	Envs         []string
	Since, Until time.Time
	Failed       bool // only failed deployments
	Rework       bool // only rollbacks, reverts and hotfixes
}

func (f depFilter) keep(d *history.Deployment) bool {
	return (f.App == "" || d.App == f.App) && (f.Team == "" || d.Team == f.Team) &&
		(len(f.Envs) == 0 || slices.Contains(f.Envs, d.Env)) && !d.Rewritten &&
		!d.LiveAt.Before(f.Since) && d.LiveAt.Before(f.Until) && (!f.Failed || d.Failed()) && (!f.Rework || d.Rework())
}

// query is the filter as the deployments list's query string.
func (f depFilter) href() string {
	q := url.Values{}
	q.Set("since", f.Since.UTC().Format(time.RFC3339))
	q.Set("until", f.Until.UTC().Format(time.RFC3339))
	for k, v := range map[string]string{"app": f.App, "team": f.Team} {
		if v != "" {
			q.Set(k, v)
		}
	}
	for _, e := range f.Envs {
		q.Add("env", e)
	}
	if f.Failed {
		q.Set("failed", "true")
	}
	if f.Rework {
		q.Set("rework", "true")
	}
	return "/delivery/deployments?" + q.Encode()
}

func (f depFilter) metrics() metrics.Filter {
	return metrics.Filter{App: f.App, Team: f.Team, Envs: f.Envs}
}

// version names what a deployment runs: its source commit, else the
// image's tag or digest.
func version(d history.Deployment) string {
	if d.SourceCommit != "" {
		return short(d.SourceCommit)
	}
	return artifactRef(d.Artifact)
}

// artifactRef is the tag or short digest of an image reference.
func artifactRef(a string) string {
	if i := strings.Index(a, "@sha256:"); i >= 0 {
		return "sha256:" + short(a[i+8:])
	}
	if i := strings.LastIndex(a, ":"); i >= 0 && !strings.Contains(a[i:], "/") {
		return a[i+1:]
	}
	return a
}

// artifactShort is an image reference without its registry path.
func artifactShort(a string) string {
	name, ref := a, ""
	if i := strings.Index(a, "@"); i >= 0 {
		name, ref = a[:i], "@"+a[i+1:]
		if len(ref) > 16 {
			ref = ref[:16] + "…"
		}
	} else if i := strings.LastIndex(a, ":"); i >= 0 && !strings.Contains(a[i:], "/") {
		name, ref = a[:i], a[i:]
	}
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	return name + ref
}

func nanOr(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

func median(vals []float64) *float64 {
	if len(vals) == 0 {
		return nil
	}
	s := slices.Clone(vals)
	slices.Sort(s)
	m := metrics.Percentile(s, 0.5)
	return &m
}

// latestSplit is the newest traffic split of a partition's traffic
// records (in time order), largest share first.
func latestSplit(traffic []*delivery.TrafficRecord) ([]delivery.TrafficTarget, time.Time) {
	if len(traffic) == 0 {
		return nil, time.Time{}
	}
	at := traffic[len(traffic)-1].Time
	var out []delivery.TrafficTarget
	for i := len(traffic) - 1; i >= 0 && traffic[i].Time.Equal(at); i-- {
		out = append(out, traffic[i].TrafficTarget)
	}
	slices.Reverse(out)
	slices.SortStableFunc(out, func(a, b delivery.TrafficTarget) int { return b.Percent - a.Percent })
	return out, at
}

func splitSegments(targets []delivery.TrafficTarget) []segment {
	var segs []segment
	for _, t := range targets {
		segs = append(segs, segment{Label: t.Revision + " " + strconv.Itoa(t.Percent) + " %", Value: float64(t.Percent)})
	}
	return segs
}

// inBackground runs fn in a goroutine of its own; the wait it returns
// blocks until fn has returned and gives fn's error, as often as called.
func inBackground(fn func() error) (wait func() error) {
	done := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		err = fn()
	}()
	return func() error {
		<-done
		return err
	}
}

// page bounds the rows of a long list.
const pageSize = 100

func (r *request) offset() int {
	n, err := strconv.Atoi(r.URL.Query().Get("offset"))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// pager links to the previous and next pages of a list of total rows.
type pager struct {
	Offset, Total, Shown int
	Prev, Next           string
}

func (r *request) pager(offset, total, shown int) pager {
	p := pager{Offset: offset, Total: total, Shown: shown}
	link := func(off int) string {
		q := r.URL.Query()
		q.Del("fragment")
		q.Del("lang")
		q.Set("offset", strconv.Itoa(off))
		return r.URL.Path + "?" + q.Encode()
	}
	if offset > 0 {
		p.Prev = link(max(0, offset-pageSize))
	}
	if offset+shown < total {
		p.Next = link(offset + shown)
	}
	return p
}
