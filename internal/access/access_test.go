package access_test

import (
	"testing"

	"github.com/shiplog-dev/shiplog/internal/access"
)

func TestScopeAllows(t *testing.T) {
	tests := []struct {
		name           string
		scope          access.Scope
		app, team, env string
		want           bool
	}{
		{"unlimited", access.Scope{}, "a", "t", "prod", true},
		{"team match", access.Scope{Teams: []string{"t"}}, "a", "t", "prod", true},
		{"team mismatch", access.Scope{Teams: []string{"t"}}, "a", "u", "prod", false},
		{"app match", access.Scope{Apps: []string{"a"}}, "a", "", "dev", true},
		{"team or app", access.Scope{Teams: []string{"t"}, Apps: []string{"b"}}, "b", "u", "dev", true},
		{"env limit", access.Scope{Envs: []string{"staging"}}, "a", "t", "prod", false},
		{"env and team", access.Scope{Teams: []string{"t"}, Envs: []string{"prod"}}, "a", "t", "prod", true},
		{"no team known", access.Scope{Teams: []string{"t"}}, "a", "", "prod", false},
		{"envless data with env limit", access.Scope{Envs: []string{"prod"}}, "a", "t", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.scope.Allows(tt.app, tt.team, tt.env); got != tt.want {
				t.Errorf("%+v.Allows(%q, %q, %q) = %v, want %v", tt.scope, tt.app, tt.team, tt.env, got, tt.want)
			}
		})
	}
}

func TestPrincipalRolesAndViews(t *testing.T) {
	p := access.Principal{Grants: []access.Grant{
		{Role: access.Operator, Scope: access.Scope{Teams: []string{"money"}}},
		{Role: access.Viewer, Scope: access.Scope{Envs: []string{"staging"}}},
	}}
	if p.Role() != access.Operator || !p.Can(access.Viewer) || p.Can(access.Admin) {
		t.Errorf("Role = %s, want operator (viewer included, not admin)", p.Role())
	}
	if !p.CanOn(access.Operator, "ledger", "money", "prod") || p.CanOn(access.Operator, "zebra", "zoo", "staging") {
		t.Error("CanOn: operator on team money only")
	}
	v := p.View()
	if v.All() || !v.Allows("zebra", "zoo", "staging") || v.Allows("zebra", "zoo", "prod") || !v.Allows("ledger", "money", "prod") {
		t.Error("View: team money everywhere and anything in staging")
	}
	if (access.Principal{}).View().Allows("a", "t", "prod") {
		t.Error("a principal without grants sees nothing")
	}
	if !access.Anonymous.View().All() || !access.Anonymous.Can(access.Admin) {
		t.Error("anonymous (mode none) is an unscoped admin")
	}
}

func TestRoleText(t *testing.T) {
	for _, r := range []access.Role{access.Viewer, access.Operator, access.Admin} {
		b, _ := r.MarshalText()
		var back access.Role
		if err := back.UnmarshalText(b); err != nil || back != r {
			t.Errorf("%s round trip: %v %v", r, back, err)
		}
	}
	if _, err := access.ParseRole("none"); err == nil {
		t.Error(`ParseRole("none") must fail: none is not a role one can grant`)
	}
}

func TestTokensAreRandomAndHashed(t *testing.T) {
	s1, id1, h1 := access.NewToken()
	s2, id2, h2 := access.NewToken()
	if s1 == s2 || id1 == id2 || h1 == h2 || access.Hash(s1) != h1 || len(s1) < 50 {
		t.Errorf("tokens %q/%q ids %q/%q: want distinct random secrets hashed with Hash", s1, s2, id1, id2)
	}
}
