package api

import (
	"net/http"

	"github.com/shiplog-dev/shiplog/internal/access"
	"github.com/shiplog-dev/shiplog/internal/engine"
)

// allow is what the request's principal may see, as the engine's filters
// take it: nil when it may see everything (no filtering cost).
func allow(r *http.Request) func(app, team, env string) bool {
	v := access.ViewOf(r.Context())
	if v.All() {
		return nil
	}
	return v.Allows
}

// scopeQuery limits an engine query to what the request's principal may
// see (docs/security.md). Every handler that computes from an engine.Query
// builds it through here.
func (a *API) scopeQuery(r *http.Request, q engine.Query) engine.Query {
	q.Allow = allow(r)
	return q
}
