package web

import (
	"strconv"
	"strings"

	"github.com/shiplog-dev/shiplog/internal/engine/trace"
)

// The "Where is my change" page: a search for a commit SHA, a pull request
// (#123), a branch or an author, answered with each change's trace.

// maxTraces bounds the traces a search shows.
const maxTraces = 20

type changesData struct {
	Q        string
	Searched bool
	Traces   []trace.Trace
	More     int
}

// parseChangeQuery reads what the search box holds: "#123" is a pull
// request; hexadecimal of at least 4 digits may be a SHA (and a branch or
// author name: all are tried); anything else is a branch or an author.
func parseChangeQuery(q string) (trace.Query, bool) {
	q = strings.TrimSpace(q)
	if q == "" {
		return trace.Query{}, false
	}
	if n, ok := strings.CutPrefix(q, "#"); ok {
		pr, err := strconv.ParseInt(n, 10, 64)
		if err != nil || pr <= 0 {
			return trace.Query{}, false
		}
		return trace.Query{PR: pr}, true
	}
	tq := trace.Query{Branch: q, Author: q}
	lower := strings.ToLower(q)
	if len(q) >= 4 && len(q) <= 64 && strings.Trim(lower, "0123456789abcdef") == "" {
		tq.SHA = lower
	}
	return tq, true
}

func (w *Web) changes(r *request) (any, error) {
	d := &changesData{Q: r.URL.Query().Get("q")}
	if strings.TrimSpace(d.Q) == "" {
		return d, nil
	}
	q, ok := parseChangeQuery(d.Q)
	if !ok {
		return nil, badInput{"error.query"}
	}
	d.Searched = true
	if r.snap.allow == nil {
		traces, total, err := w.eng.TracesPage(r.Context(), q, maxTraces)
		if err != nil {
			return nil, err
		}
		d.Traces, d.More = traces, total-len(traces)
		return d, nil
	}
	all, err := w.eng.ScopedTraces(r.Context(), q, r.snap.allow)
	if err != nil {
		return nil, err
	}
	d.Traces = all[:min(len(all), maxTraces)]
	d.More = len(all) - len(d.Traces)
	return d, nil
}
