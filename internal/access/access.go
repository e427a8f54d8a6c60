// Package access is shiplog's access-control model: roles, the scope a
// grant is limited to (teams, apps, environments), and the principal — a
// signed-in user or an API token — a request acts as. It imports only the
// standard library; enforcement lives in package auth (HTTP) and in the
// surfaces that filter what they show.
package access

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Role is what a principal may do. Each role includes the ones below it.
type Role int

// Roles, weakest first. None is "no access"; Public and Ingest mark routes
// that need no user role (see package auth's route table).
const (
	None Role = iota
	Viewer
	Operator
	Admin
)

var roleNames = map[Role]string{None: "none", Viewer: "viewer", Operator: "operator", Admin: "admin"}

func (r Role) String() string {
	if n, ok := roleNames[r]; ok {
		return n
	}
	return fmt.Sprintf("role(%d)", int(r))
}

// ParseRole reads "viewer", "operator" or "admin".
func ParseRole(s string) (Role, error) {
	for r, n := range roleNames {
		if r != None && n == strings.ToLower(strings.TrimSpace(s)) {
			return r, nil
		}
	}
	return None, fmt.Errorf("unknown role %q: want viewer, operator or admin", s)
}

// MarshalText writes the role's name.
func (r Role) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads a role's name.
func (r *Role) UnmarshalText(b []byte) error {
	v, err := ParseRole(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Scope limits a grant to some teams, apps and environments. An empty list
// does not limit: the zero Scope is everything. A deployment is in scope
// when its app (or the app's team) and its environment are.
type Scope struct {
	Teams []string `json:"teams,omitempty" yaml:"teams,omitempty"`
	Apps  []string `json:"apps,omitempty" yaml:"apps,omitempty"`
	Envs  []string `json:"environments,omitempty" yaml:"environments,omitempty"`
}

// Unlimited reports whether the scope is everything.
func (s Scope) Unlimited() bool { return len(s.Teams) == 0 && len(s.Apps) == 0 && len(s.Envs) == 0 }

// Allows reports whether data of app (owned by team) in env is in scope.
// With both Teams and Apps set, an app is in scope when either names it.
// An empty env is data not tied to an environment: it is in scope when the
// scope does not limit environments.
func (s Scope) Allows(app, team, env string) bool {
	if len(s.Envs) > 0 && !slices.Contains(s.Envs, env) {
		return false
	}
	if len(s.Teams) == 0 && len(s.Apps) == 0 {
		return true
	}
	return (app != "" && slices.Contains(s.Apps, app)) || (team != "" && slices.Contains(s.Teams, team))
}

// String is "teams=a,b apps=c envs=prod", or "all".
func (s Scope) String() string {
	if s.Unlimited() {
		return "all"
	}
	var parts []string
	for _, p := range []struct {
		k string
		v []string
	}{{"teams", s.Teams}, {"apps", s.Apps}, {"envs", s.Envs}} {
		if len(p.v) > 0 {
			parts = append(parts, p.k+"="+strings.Join(p.v, ","))
		}
	}
	return strings.Join(parts, " ")
}

// Grant is a role over a scope.
type Grant struct {
	Role  Role  `json:"role"`
	Scope Scope `json:"scope"`
}

// Kinds of principal.
const (
	KindAnonymous = "anonymous" // auth mode none: everyone is an unscoped admin
	KindUser      = "user"      // signed in through OIDC
	KindToken     = "token"     // an API token
)

// Principal is who a request acts as.
type Principal struct {
	Kind   string  `json:"kind"`
	ID     string  `json:"id"`   // OIDC subject, or token id
	Name   string  `json:"name"` // e-mail or name; the token's name
	Grants []Grant `json:"grants"`
	// CSRF is the token a signed-in browser sends back with requests that
	// change state; empty for tokens and in mode none.
	CSRF string `json:"-"`
}

// Anonymous is the principal of every request in auth mode none.
var Anonymous = Principal{Kind: KindAnonymous, ID: "anonymous", Name: "anonymous", Grants: []Grant{{Role: Admin}}}

// Actor names the principal in logs and the access log: "user:alice@example.com".
func (p Principal) Actor() string { return p.Kind + ":" + p.Name }

// Role is the principal's strongest role, whatever its scope.
func (p Principal) Role() Role {
	r := None
	for _, g := range p.Grants {
		r = max(r, g.Role)
	}
	return r
}

// Can reports whether some grant gives at least role.
func (p Principal) Can(role Role) bool { return p.Role() >= role }

// CanOn reports whether some grant gives at least role over data of app
// (owned by team) in env.
func (p Principal) CanOn(role Role, app, team, env string) bool {
	for _, g := range p.Grants {
		if g.Role >= role && g.Scope.Allows(app, team, env) {
			return true
		}
	}
	return false
}

// View is what a principal may read: the union of its grants' scopes.
type View struct{ grants []Scope }

// View returns what p may read.
func (p Principal) View() View {
	var v View
	for _, g := range p.Grants {
		if g.Role >= Viewer {
			v.grants = append(v.grants, g.Scope)
		}
	}
	return v
}

// All reports whether the view is everything (no filtering needed).
func (v View) All() bool {
	return slices.ContainsFunc(v.grants, Scope.Unlimited)
}

// Allows reports whether data of app (owned by team) in env is visible.
func (v View) Allows(app, team, env string) bool {
	for _, s := range v.grants {
		if s.Allows(app, team, env) {
			return true
		}
	}
	return false
}

// AllowsApp reports whether some environment of app is visible: for data
// tied to an app but not to an environment.
func (v View) AllowsApp(app, team string) bool {
	for _, s := range v.grants {
		if len(s.Teams) == 0 && len(s.Apps) == 0 || slices.Contains(s.Apps, app) || (team != "" && slices.Contains(s.Teams, team)) {
			return true
		}
	}
	return false
}

type ctxKey struct{}

// With returns ctx carrying p.
func With(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// From returns the principal ctx carries. A context without one gets no
// grant at all: code that forgets to authenticate shows nothing.
func From(ctx context.Context) Principal {
	if p, ok := ctx.Value(ctxKey{}).(Principal); ok {
		return p
	}
	return Principal{Kind: "none"}
}

// ViewOf is From(ctx).View().
func ViewOf(ctx context.Context) View { return From(ctx).View() }

// Key identifies the view, for caches of scoped data.
func (v View) Key() string {
	parts := make([]string, len(v.grants))
	for i, s := range v.grants {
		parts[i] = s.String()
	}
	return strings.Join(parts, "|")
}
