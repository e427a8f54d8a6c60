package auth

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/shiplog-dev/shiplog/internal/access"
)

// Need is what a route requires of a request.
type Need int

// Needs, weakest first.
const (
	// Public routes answer anyone: probes, Prometheus metrics, static
	// assets, sign-in.
	Public Need = iota
	// Ingest routes check their own per-source secrets (docs/ingest.md),
	// independent of user access control.
	Ingest
	// Viewer, Operator and Admin routes need a principal with that role;
	// what they show is then limited to the principal's scope.
	Viewer
	Operator
	Admin
)

func (n Need) String() string {
	return [...]string{"public", "ingest", "viewer", "operator", "admin"}[n]
}

func (n Need) role() access.Role {
	switch n {
	case Viewer:
		return access.Viewer
	case Operator:
		return access.Operator
	case Admin:
		return access.Admin
	}
	return access.None
}

// Rule is one route of the server and what it requires.
type Rule struct {
	Pattern string // as given to http.ServeMux: "GET /api/v1/apps"
	Need    Need
	// Log names the access-log action written on each successful use:
	// "export" for routes that hand data out in bulk (the audit report),
	// "rollback.prepare" for rollback plans.
	Log string
	// API routes answer 401 with JSON; the others send a browser to the
	// sign-in page.
	API bool
}

// Router mounts handlers on a ServeMux, each wrapped in the access check
// its rule in the table requires. Mounting a pattern the table does not
// list is an error: no route can be added unprotected.
type Router struct {
	mux     *http.ServeMux
	a       *Auth
	table   map[string]Rule
	mounted []string
	errs    []error
}

// NewRouter returns a router over mux enforcing table.
func (a *Auth) NewRouter(mux *http.ServeMux, table []Rule) *Router {
	r := &Router{mux: mux, a: a, table: map[string]Rule{}}
	for _, rule := range table {
		if _, dup := r.table[rule.Pattern]; dup {
			r.errs = append(r.errs, fmt.Errorf("route table: %q listed twice", rule.Pattern))
		}
		r.table[rule.Pattern] = rule
	}
	return r
}

// Handle mounts h at pattern behind the check the table gives it.
func (r *Router) Handle(pattern string, h http.Handler) {
	rule, ok := r.table[pattern]
	if !ok {
		r.errs = append(r.errs, fmt.Errorf("route %q is not in the access-control route table", pattern))
		return
	}
	r.mounted = append(r.mounted, pattern)
	r.mux.Handle(pattern, r.a.guard(rule, h))
}

// HandleFunc is Handle for a function.
func (r *Router) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	r.Handle(pattern, http.HandlerFunc(h))
}

// Err reports routes mounted without a rule, and rules no route uses.
func (r *Router) Err() error {
	errs := slices.Clone(r.errs)
	var unused []string
	for p := range r.table {
		if !slices.Contains(r.mounted, p) {
			unused = append(unused, p)
		}
	}
	sort.Strings(unused)
	if len(unused) > 0 {
		errs = append(errs, fmt.Errorf("route table lists routes nothing mounts: %s", strings.Join(unused, ", ")))
	}
	return errors.Join(errs...)
}

// Mounted lists the patterns mounted so far, in order.
func (r *Router) Mounted() []string { return slices.Clone(r.mounted) }
