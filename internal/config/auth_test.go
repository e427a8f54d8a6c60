package config

import (
	"strings"
	"testing"
)

func TestAuthConfig(t *testing.T) {
	cfg, err := Parse("shiplog.yaml", []byte(`
auth:
  mode: oidc
  session_ttl: 8h
  oidc:
    issuer: https://dex.example.com
    client_id: shiplog
    client_secret_file: /etc/shiplog/oidc
    redirect_url: https://shiplog.example.com/auth/callback
  groups:
    - {group: platform, role: admin}
    - {group: payments-devs, role: operator, teams: [payments], environments: [prod]}
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("valid oidc config: %v", err)
	}
	g := cfg.Auth.Grants([]string{"payments-devs", "unknown"})
	if len(g) != 1 || g[0].Role.String() != "operator" || g[0].Scope.String() != "teams=payments envs=prod" {
		t.Errorf("Grants = %+v, want operator of team payments in prod", g)
	}

	bad, err := Parse("shiplog.yaml", []byte(`
auth:
  mode: oidc
  oidc: {issuer: "http://dex.example.com", redirect_url: "https://x/callback"}
  groups: [{group: "", role: boss}]
`))
	if err != nil {
		t.Fatal(err)
	}
	err = bad.Validate()
	for _, want := range []string{"auth.oidc.issuer", "auth.oidc.client_id", "auth.oidc.redirect_url", "auth.groups[0].group", "auth.groups[0].role"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v, want it to name %s", err, want)
		}
	}
	if _, err := Parse("shiplog.yaml", []byte("auth:\n  oidc:\n    client_secret: hunter2\n")); err == nil || !strings.Contains(err.Error(), "not read from the configuration file") {
		t.Errorf("a client secret in the file: got %v, want a refusal", err)
	}
	if _, err := Parse("shiplog.yaml", []byte("auth:\n  mode: token\n  typo: 1\n")); err == nil || !strings.Contains(err.Error(), "typo") {
		t.Errorf("unknown auth key: got %v, want an error naming it", err)
	}
}

func TestCheckExposure(t *testing.T) {
	for _, c := range []struct {
		mode, addr string
		allow, ok  bool
	}{
		{AuthNone, "127.0.0.1:8080", false, true},
		{AuthNone, "localhost:8080", false, true},
		{AuthNone, "[::1]:8080", false, true},
		{AuthNone, ":8080", false, false},
		{AuthNone, "0.0.0.0:8080", false, false},
		{AuthNone, "0.0.0.0:8080", true, true},
		{AuthToken, "0.0.0.0:8080", false, true},
	} {
		a := Auth{Mode: c.mode, InsecureAllowAnonymous: c.allow}
		if err := a.CheckExposure(c.addr); (err == nil) != c.ok {
			t.Errorf("mode %s on %s (allow %v): got %v, want ok=%v", c.mode, c.addr, c.allow, err, c.ok)
		}
	}
}
