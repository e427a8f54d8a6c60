package app_test

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/access"
	"github.com/shiplog-dev/shiplog/internal/app"
	"github.com/shiplog-dev/shiplog/internal/auth/oidctest"
	"github.com/shiplog-dev/shiplog/internal/config"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// oidcServer starts shiplog in auth mode oidc against a provider running
// in the test (real RS256-signed ID tokens, JWKS, PKCE).
func oidcServer(t *testing.T) (*oidctest.Provider, *tokenServer) {
	t.Helper()
	p := oidctest.Start(t)
	secretFile := filepath.Join(t.TempDir(), "client-secret")
	if err := os.WriteFile(secretFile, []byte(p.ClientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := migratedDB(t)
	st, err := app.OpenStore(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	seedTwoTeams(t, st)
	_ = st.Close()
	cfg := testConfig(path)
	cfg.Teams = map[string][]string{"money": {"ledger"}, "zoo": {"zebracat"}}
	cfg.Auth.Mode = config.AuthOIDC
	cfg.Auth.RateLimit = config.RateLimit{PerMinute: 60, Burst: 60} // a dozen sign-ins from one address
	cfg.Auth.OIDC.Issuer = p.URL
	cfg.Auth.OIDC.ClientID = p.ClientID
	cfg.Auth.OIDC.ClientSecretFile = secretFile
	cfg.Auth.Groups = []config.GroupGrant{
		{Group: "platform", Role: "admin"},
		{Group: "money-devs", Role: "operator", Scope: access.Scope{Teams: []string{"money"}}},
		{Group: "everyone", Role: "viewer", Scope: access.Scope{Envs: []string{"staging"}}},
	}
	// The redirect URL names the server's address, known once it listens:
	// listen first on a free port, then configure it.
	cfg.Web.ListenAddress = freeAddr(t)
	cfg.Auth.OIDC.RedirectURL = "http://" + cfg.Web.ListenAddress + "/auth/callback"
	a, u := start(t, cfg)
	return p, &tokenServer{a: a, url: u, store: a.Store()}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// signIn runs the browser's side of an OIDC sign-in: shiplog's /auth/login,
// the provider's authorization endpoint, shiplog's callback. It returns
// the callback's response and the callback URL (to replay it).
func signIn(t *testing.T, s *tokenServer) (int, http.Header, string, string) {
	t.Helper()
	code, hdr, body := s.do(t, "GET", "/auth/login?return_to=/delivery", "", nil)
	if code != http.StatusFound {
		t.Fatalf("/auth/login: got %d %s, want a redirect to the provider", code, body)
	}
	authz, err := url.Parse(hdr.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	q := authz.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("state") == "" {
		t.Fatalf("authorization request %s lacks PKCE S256, nonce or state", authz)
	}
	resp, err := noRedirect.Get(authz.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	callback := resp.Header.Get("Location")
	if !strings.HasPrefix(callback, s.url+"/auth/callback?") {
		t.Fatalf("provider redirected to %q, want shiplog's callback", callback)
	}
	code, hdr, body = s.do(t, "GET", strings.TrimPrefix(callback, s.url), "", nil)
	return code, hdr, body, strings.TrimPrefix(callback, s.url)
}

func sessionCookie(h http.Header) string {
	for _, c := range h.Values("Set-Cookie") {
		if strings.HasPrefix(c, "__Host-shiplog_session=") {
			return strings.SplitN(c, ";", 2)[0]
		}
	}
	return ""
}

func TestOIDCSignIn(t *testing.T) {
	p, s := oidcServer(t)

	t.Run("group mapping", func(t *testing.T) {
		p.SignIn(oidctest.User{Subject: "u-ann", Email: "ann@example.com", Groups: []string{"money-devs", "everyone"}})
		code, hdr, body, _ := signIn(t, s)
		if code != http.StatusSeeOther || hdr.Get("Location") != "/delivery" {
			t.Fatalf("callback: got %d %s to %q, want 303 to /delivery", code, body, hdr.Get("Location"))
		}
		cookie := sessionCookie(hdr)
		code, _, body = s.do(t, "GET", "/api/v1/whoami", "", nil, "Cookie", cookie)
		if code != 200 || !strings.Contains(body, `"name": "ann@example.com"`) || !strings.Contains(body, `"role": "operator"`) ||
			!strings.Contains(body, `"money"`) || !strings.Contains(body, `"staging"`) {
			t.Errorf("whoami: %d %s, want ann, operator of team money and viewer of staging", code, body)
		}
		_, _, body = s.do(t, "GET", "/api/v1/apps", "", nil, "Cookie", cookie)
		if !strings.Contains(body, "ledger") || strings.Contains(body, "zebracat") {
			t.Errorf("apps for ann: %s, want ledger and not zebracat", clip(body))
		}
		if code, _, _ := s.do(t, "GET", "/api/v1/tokens", "", nil, "Cookie", cookie); code != 403 {
			t.Errorf("token list for an operator: got %d, want 403", code)
		}
	})

	t.Run("a team-scoped user sees only their team", func(t *testing.T) {
		p.SignIn(oidctest.User{Subject: "u-mo", Email: "mo@example.com", Groups: []string{"money-devs"}})
		_, hdr, _, _ := signIn(t, s)
		p.SignIn(oidctest.User{Subject: "u-pat", Email: "pat@example.com", Groups: []string{"platform"}})
		_, admin, _, _ := signIn(t, s)
		assertNoZoo(t, s, []string{"Cookie", sessionCookie(hdr)}, []string{"Cookie", sessionCookie(admin)})
	})

	t.Run("admin group", func(t *testing.T) {
		p.SignIn(oidctest.User{Subject: "u-pat", Email: "pat@example.com", Groups: []string{"platform"}})
		_, hdr, _, _ := signIn(t, s)
		if code, _, body := s.do(t, "GET", "/api/v1/tokens", "", nil, "Cookie", sessionCookie(hdr)); code != 200 {
			t.Errorf("token list for an admin: got %d %s", code, body)
		}
	})

	t.Run("no mapped group", func(t *testing.T) {
		p.SignIn(oidctest.User{Subject: "u-eve", Email: "eve@example.com", Groups: []string{"contractors"}})
		code, hdr, body, _ := signIn(t, s)
		if code != http.StatusForbidden || sessionCookie(hdr) != "" || !strings.Contains(body, "none of their groups") {
			t.Errorf("user without a mapped group: got %d %s, want 403 and no session", code, body)
		}
	})

	t.Run("replayed state", func(t *testing.T) {
		p.SignIn(oidctest.User{Subject: "u-ann", Email: "ann@example.com", Groups: []string{"everyone"}})
		code, _, _, callback := signIn(t, s)
		if code != http.StatusSeeOther {
			t.Fatalf("first use: got %d", code)
		}
		code, hdr, body := s.do(t, "GET", callback, "", nil)
		if code != http.StatusBadRequest || sessionCookie(hdr) != "" || !strings.Contains(body, "already used") {
			t.Errorf("replayed callback: got %d %s, want 400 and no session", code, body)
		}
	})

	for _, c := range []struct {
		name string
		set  func()
		want string
	}{
		{"expired token", func() { p.ExpiresIn(-time.Minute) }, "expired"},
		{"wrong audience", func() { p.Audience("someone-else") }, "audience"},
		{"tampered signature", func() { p.Tamper(true) }, "signature"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p.SignIn(oidctest.User{Subject: "u-ann", Email: "ann@example.com", Groups: []string{"platform"}})
			c.set()
			defer func() { p.ExpiresIn(0); p.Audience(""); p.Tamper(false) }()
			code, hdr, body, _ := signIn(t, s)
			if code != http.StatusUnauthorized || sessionCookie(hdr) != "" || !strings.Contains(strings.ToLower(body), c.want) {
				t.Errorf("got %d %s, want 401 mentioning %q and no session", code, body, c.want)
			}
		})
	}

	t.Run("access log", func(t *testing.T) {
		p.SignIn(oidctest.User{Subject: "u-pat", Email: "pat@example.com", Groups: []string{"platform"}})
		_, hdr, _, _ := signIn(t, s)
		cookie := sessionCookie(hdr)
		if code, _, _ := s.do(t, "GET", "/api/v1/audit?format=csv", "", nil, "Cookie", cookie); code != 200 {
			t.Fatalf("audit export: %d", code)
		}
		_, _, body := s.do(t, "GET", "/api/v1/access-log", "", nil, "Cookie", cookie)
		for _, want := range []string{`"actor": "user:ann@example.com"`, `"outcome": "denied"`, `"outcome": "failed"`, `"action": "export"`, `"actor": "user:pat@example.com"`, "format=csv"} {
			if !strings.Contains(body, want) {
				t.Errorf("access log lacks %s", want)
			}
		}
	})
}

func TestOIDCProviderDownAtStart(t *testing.T) {
	// shiplog starts while the provider is unreachable; sign-in says so.
	cfg := testConfig(migratedDB(t))
	cfg.Auth.Mode = config.AuthOIDC
	cfg.Auth.OIDC.Issuer = "http://127.0.0.1:1"
	cfg.Auth.OIDC.ClientID = "shiplog"
	cfg.Auth.OIDC.RedirectURL = "http://127.0.0.1:8080/auth/callback"
	cfg.Auth.Groups = []config.GroupGrant{{Group: "g", Role: "viewer"}}
	_, u := start(t, cfg)
	s := &tokenServer{url: u}
	code, _, body := s.do(t, "GET", "/auth/login", "", nil)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "identity provider") {
		t.Errorf("sign-in with the provider down: got %d %s, want 503 naming the provider", code, body)
	}
	if code, _, _ := s.do(t, "GET", "/healthz", "", nil); code != 200 {
		t.Errorf("healthz: got %d", code)
	}
}
