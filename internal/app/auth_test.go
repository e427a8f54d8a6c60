package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/shiplog-dev/shiplog/internal/access"
	"github.com/shiplog-dev/shiplog/internal/app"
	"github.com/shiplog-dev/shiplog/internal/auth"
	"github.com/shiplog-dev/shiplog/internal/config"
	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// Two teams, one app each, with distinctive names a page could not
// contain by accident: "ledger" (team money) and "zebracat" (team zoo).
var authT0 = time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Hour)

func shaOf(c byte) string { return strings.Repeat(string(c), 40) }

func seedTwoTeams(t *testing.T, st *store.Store) {
	t.Helper()
	at := func(h int) time.Time { return authT0.Add(time.Duration(h) * time.Hour) }
	var events []delivery.Event
	for i, a := range []struct {
		app, team, repo, author string
		c                       byte
	}{{"ledger", "money", "git.example/money/ledger", "ann", '1'}, {"zebracat", "zoo", "git.example/zoo/zebracat", "zed", '2'}} {
		sha := shaOf(a.c)
		n := int64(10 + i)
		events = append(events,
			delivery.Event{Source: "github", ID: "c-" + a.app, Type: delivery.CommitAuthored, Time: at(0), Payload: &delivery.Commit{Repo: a.repo, SHA: sha, CommittedAt: at(0), Subject: "feat: " + a.app + " thing", AuthorName: a.author}},
			delivery.Event{Source: "github", ID: "rv-" + a.app, Type: delivery.ChangeReviewed, Time: at(1), Payload: &delivery.Change{Repo: a.repo, Number: n, Reviewer: "rita", ReviewState: delivery.ReviewApproved}},
			delivery.Event{Source: "github", ID: "pr-" + a.app, Type: delivery.ChangeMerged, Time: at(2), Payload: &delivery.Change{Repo: a.repo, Number: n, MergeSHA: sha, HeadRef: "feat-" + a.app, Author: a.author}},
			delivery.Event{Source: "git", ID: "d-" + a.app, Type: delivery.ServiceUpgraded, Time: at(3), App: a.app, Env: "prod", Team: a.team,
				Payload: &delivery.Deployment{Artifact: "registry.example/" + a.app + ":1", ManifestCommit: shaOf('a' + byte(i)), Changes: []string{sha}, SourceCommit: sha, InferredFrom: "git", Author: a.author}},
		)
	}
	if _, err := st.Append(context.Background(), events...); err != nil {
		t.Fatal(err)
	}
}

// tokenServer starts shiplog in auth mode token over a store holding the
// two teams, and returns tokens for: an admin, a viewer scoped to team
// money, an operator scoped to team money, an unscoped viewer.
type tokenServer struct {
	a     *app.App
	url   string
	store *store.Store
	tok   map[string]string
}

func startTokenServer(t *testing.T, mutate ...func(*config.Config)) *tokenServer {
	t.Helper()
	path := migratedDB(t)
	st, err := app.OpenStore(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	seedTwoTeams(t, st)
	toks := map[string]string{}
	for name, req := range map[string]auth.CreateTokenRequest{
		"admin":          {Name: "admin", Role: access.Admin},
		"money-viewer":   {Name: "money-viewer", Role: access.Viewer, Scope: access.Scope{Teams: []string{"money"}}},
		"money-operator": {Name: "money-operator", Role: access.Operator, Scope: access.Scope{Teams: []string{"money"}}},
		"viewer":         {Name: "viewer", Role: access.Viewer},
		"expired":        {Name: "expired", Role: access.Admin, ExpiresIn: "1h"},
	} {
		now := time.Now()
		if name == "expired" {
			now = now.Add(-2 * time.Hour)
		}
		ct, err := auth.NewTokenRecord(req, "test", now)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateToken(context.Background(), ct.Token); err != nil {
			t.Fatal(err)
		}
		toks[name] = ct.Secret
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(path)
	cfg.Auth.Mode = config.AuthToken
	cfg.Teams = map[string][]string{"money": {"ledger"}, "zoo": {"zebracat"}}
	for _, m := range mutate {
		m(&cfg)
	}
	a, u := start(t, cfg)
	return &tokenServer{a: a, url: u, store: a.Store(), tok: toks}
}

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func (s *tokenServer) do(t *testing.T, method, path, token string, body io.Reader, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// concrete turns a route pattern into a method and a path to request.
func concrete(pattern string) (string, string) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = http.MethodPost, pattern
	}
	path = strings.NewReplacer("{$}", "", "{app}", "ledger", "{id}", "tok_unknown", "{file}", "missing.css").Replace(path)
	if path == "/" && pattern == "/" {
		path = "/no-such-page"
	}
	return method, path
}

// TestRouteTable walks every route the server mounts: each one is in the
// table (and the table lists nothing else), and each is enforced — without
// credentials, with a token of too weak a role, and with one strong enough.
func TestRouteTable(t *testing.T) {
	s := startTokenServer(t)
	table := app.RouteTable()
	var patterns []string
	for _, r := range table {
		patterns = append(patterns, r.Pattern)
	}
	mounted := s.a.Routes()
	slices.Sort(patterns)
	slices.Sort(mounted)
	if !slices.Equal(patterns, mounted) {
		t.Fatalf("mounted routes and route table differ:\nmounted %v\ntable   %v", mounted, patterns)
	}
	roleToken := map[auth.Need]string{auth.Viewer: "viewer", auth.Operator: "money-operator", auth.Admin: "admin"}
	weaker := map[auth.Need]string{auth.Operator: "viewer", auth.Admin: "money-operator"}
	for _, r := range table {
		t.Run(r.Pattern, func(t *testing.T) {
			method, path := concrete(r.Pattern)
			code, hdr, body := s.do(t, method, path, "", strings.NewReader("{}"))
			switch r.Need {
			case auth.Public:
				// Open to anyone; the sign-in form still checks its own CSRF cookie.
				if code == http.StatusUnauthorized || (code == http.StatusForbidden && !strings.Contains(body, "CSRF")) {
					t.Errorf("public route without credentials: got %d %s", code, body)
				}
				return
			case auth.Ingest:
				// The ingest endpoints check their own secrets: none is
				// configured, so they are closed (503), not signed-in.
				if code != http.StatusServiceUnavailable {
					t.Errorf("ingest route without its secret: got %d %s, want 503", code, body)
				}
				return
			}
			if r.API || method != http.MethodGet || path == "/events" {
				if code != http.StatusUnauthorized || !strings.Contains(hdr.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("without credentials: got %d %q, want 401 with WWW-Authenticate", code, body)
				}
			} else if code != http.StatusSeeOther || !strings.HasPrefix(hdr.Get("Location"), "/auth/login?return_to=") {
				t.Errorf("page without credentials: got %d Location %q, want 303 to the sign-in page", code, hdr.Get("Location"))
			}
			if w, ok := weaker[r.Need]; ok {
				if code, _, body := s.do(t, method, path, s.tok[w], strings.NewReader("{}")); code != http.StatusForbidden {
					t.Errorf("with a %s token: got %d %s, want 403", w, code, body)
				}
			}
			if path == "/events" {
				return // a stream: the scoping test reads it
			}
			code, _, body = s.do(t, method, path, s.tok[roleToken[r.Need]], strings.NewReader(`{"app":"ledger","environment":"prod"}`))
			if code == http.StatusUnauthorized || code == http.StatusForbidden {
				t.Errorf("with a %s token: got %d %s", roleToken[r.Need], code, body)
			}
		})
	}
}

func TestTokens(t *testing.T) {
	s := startTokenServer(t)
	check := func(name, token string, want int) {
		t.Helper()
		if code, _, body := s.do(t, "GET", "/api/v1/whoami", token, nil); code != want {
			t.Errorf("%s: whoami got %d %s, want %d", name, code, body, want)
		}
	}
	check("no token", "", 401)
	check("unknown token", "shiplog_nope", 401)
	check("expired token", s.tok["expired"], 401)
	check("basic auth instead of bearer", "", 401)

	// An admin creates a scoped token through the API; the secret is shown once.
	code, _, body := s.do(t, "POST", "/api/v1/tokens", s.tok["admin"],
		strings.NewReader(`{"name":"ci","role":"viewer","scope":{"apps":["zebracat"]},"expires_in":"7d"}`))
	if code != http.StatusCreated {
		t.Fatalf("create token: %d %s", code, body)
	}
	var created auth.CreatedToken
	if err := json.Unmarshal([]byte(body), &created); err != nil || !strings.HasPrefix(created.Secret, access.TokenPrefix) {
		t.Fatalf("create token: %v %s", err, body)
	}
	code, _, body = s.do(t, "GET", "/api/v1/whoami", created.Secret, nil)
	if code != 200 || !strings.Contains(body, `"role": "viewer"`) || !strings.Contains(body, `"zebracat"`) {
		t.Errorf("whoami with the new token: %d %s", code, body)
	}
	code, _, body = s.do(t, "GET", "/api/v1/tokens", s.tok["admin"], nil)
	if code != 200 || strings.Contains(body, created.Secret) || strings.Contains(body, access.Hash(created.Secret)) || !strings.Contains(body, created.ID) {
		t.Errorf("token list must name the token and never its secret or hash: %d %s", code, body)
	}
	// Bad requests name the problem.
	for _, bad := range []string{`{"name":"","role":"viewer"}`, `{"name":"x","role":"boss"}`, `{"name":"x","role":"viewer","expires_in":"-3d"}`, `{"name":"x","role":"viewer","extra":1}`, `not json`} {
		if code, _, body := s.do(t, "POST", "/api/v1/tokens", s.tok["admin"], strings.NewReader(bad)); code != 400 || !strings.Contains(body, "error") {
			t.Errorf("create token %s: got %d %s, want 400 with an error", bad, code, body)
		}
	}
	// Revoked: refused at once.
	if code, _, body := s.do(t, "DELETE", "/api/v1/tokens/"+created.ID, s.tok["admin"], nil); code != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", code, body)
	}
	code, _, body = s.do(t, "GET", "/api/v1/whoami", created.Secret, nil)
	if code != 401 || !strings.Contains(body, "revoked") {
		t.Errorf("revoked token: got %d %s, want 401 saying revoked", code, body)
	}
	if code, _, _ := s.do(t, "DELETE", "/api/v1/tokens/tok_missing", s.tok["admin"], nil); code != 404 {
		t.Errorf("revoke unknown token: got %d, want 404", code)
	}
	// The access log holds the creation, the uses and the revocation.
	_, _, body = s.do(t, "GET", "/api/v1/access-log", s.tok["admin"], nil)
	for _, want := range []string{`"action": "token.create"`, `"action": "token.use"`, `"action": "token.revoke"`, `"actor": "token:admin"`} {
		if !strings.Contains(body, want) {
			t.Errorf("access log lacks %s:\n%s", want, body)
		}
	}
}

func TestRateLimitOnBadCredentials(t *testing.T) {
	s := startTokenServer(t, func(c *config.Config) { c.Auth.RateLimit = config.RateLimit{PerMinute: 1, Burst: 3} })
	var codes []int
	for range 5 {
		code, _, _ := s.do(t, "GET", "/api/v1/apps", "shiplog_guess", nil)
		codes = append(codes, code)
	}
	if !slices.Equal(codes, []int{401, 401, 401, 429, 429}) {
		t.Errorf("5 bad tokens from one address: got %v, want 3×401 then 429", codes)
	}
	// Good credentials are not rate limited.
	if code, _, _ := s.do(t, "GET", "/api/v1/apps", s.tok["viewer"], nil); code != 200 {
		t.Errorf("a valid token after the limit: got %d, want 200", code)
	}
}

// scopedPaths are every read route a money-scoped principal is checked on.
var scopedPaths = []string{
	"/api/v1/apps", "/api/v1/deployments?since=30d", "/api/v1/traces?author=zed", "/api/v1/traces?sha=" + shaOf('2')[:8],
	"/api/v1/traces?author=ann", "/api/v1/metrics?since=30d&detail=true", "/api/v1/audit?since=30d", "/api/v1/audit?since=30d&format=csv",
	"/api/v1/deviations?since=30d", "/api/v1/status", "/api/v1/report?since=30d", "/api/v1/deployment-records?since=30d", "/", "/apps",
	"/apps/zebracat", "/changes?q=" + shaOf('2')[:8], "/delivery?since=30d", "/delivery/deployments?since=30d", "/audit?since=30d",
	"/policies?since=30d",
}

// assertNoZoo requests every scoped path with the scoped principal's
// credentials (header name, value) and an unscoped one's: nothing of team
// zoo may show to the first.
func assertNoZoo(t *testing.T, s *tokenServer, scoped, unscoped []string) {
	t.Helper()
	for _, p := range scopedPaths {
		unscopedCode, _, unscopedBody := s.do(t, "GET", p, "", nil, unscoped...)
		code, _, body := s.do(t, "GET", p, "", nil, scoped...)
		if code >= 400 && p != "/apps/zebracat" {
			t.Errorf("%s: got %d %s", p, code, clip(body))
			continue
		}
		if p == "/apps/zebracat" { // a hidden app is not found, like one that does not exist
			if code != http.StatusNotFound || unscopedCode != http.StatusOK {
				t.Errorf("%s: got %d for the scoped principal and %d for the unscoped one, want 404 and 200", p, code, unscopedCode)
			}
			continue
		}
		if strings.Contains(body, "zebracat") || strings.Contains(body, shaOf('2')[:12]) || strings.Contains(body, "zoo/") {
			t.Errorf("%s: the money-scoped principal sees team zoo's data:\n%s", p, clip(body))
		}
		if p == "/api/v1/apps" && (!strings.Contains(body, "ledger") || !strings.Contains(unscopedBody, "zebracat")) {
			t.Errorf("%s: scoped %s / unscoped %s: want ledger for the scoped principal, both for the unscoped one", p, clip(body), clip(unscopedBody))
		}
	}
}

// TestScopedPrincipalSeesOnlyItsTeam checks every API endpoint, the
// exports, the pages and the live stream with a token limited to team
// money: nothing of team zoo's app shows, not even in a count.
func TestScopedPrincipalSeesOnlyItsTeam(t *testing.T) {
	s := startTokenServer(t)
	scoped, all := s.tok["money-viewer"], s.tok["viewer"]
	assertNoZoo(t, s, []string{"Authorization", "Bearer " + scoped}, []string{"Authorization", "Bearer " + all})
	// Counts: the scoped metrics count one deployment, the unscoped two.
	for tok, want := range map[string]int{scoped: 1, all: 2} {
		_, _, body := s.do(t, "GET", "/api/v1/deployments?since=30d", tok, nil)
		var page struct{ Total int }
		if err := json.Unmarshal([]byte(body), &page); err != nil || page.Total != want {
			t.Errorf("deployments total: got %d (%v), want %d", page.Total, err, want)
		}
	}

	for tok, want := range map[string]int{scoped: 1, all: 2} {
		for _, p := range []string{"/api/v1/metrics?since=30d", "/api/v1/report?since=30d"} {
			_, _, body := s.do(t, "GET", p, tok, nil)
			var m struct {
				Deployments int `json:"deployments"`
				Metrics     struct {
					Deployments int `json:"deployments"`
				} `json:"metrics"`
			}
			if err := json.Unmarshal([]byte(body), &m); err != nil || max(m.Deployments, m.Metrics.Deployments) != want {
				t.Errorf("%s: deployments %d/%d (%v), want %d", p, m.Deployments, m.Metrics.Deployments, err, want)
			}
		}
	}

	// The live stream: a change to zebracat is not announced to the scoped
	// token; one to ledger is, without store-wide counts.
	req, _ := http.NewRequest("GET", s.url+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+scoped)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := streamLines(resp.Body)
	waitFor := func(prefix string) string {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatal("stream ended")
				}
				if strings.HasPrefix(l, prefix) {
					return l
				}
			case <-ctx.Done():
				t.Fatalf("no %q line on the stream", prefix)
			}
		}
	}
	waitFor("retry:")
	appendFor := func(app, id string) {
		e := delivery.Event{Source: "test", ID: id, Type: delivery.HealthChanged, Time: time.Now(), App: app, Env: "prod",
			Payload: &delivery.Health{Application: app, Status: "Healthy"}}
		if _, err := s.store.Append(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	appendFor("zebracat", "h1")
	appendFor("ledger", "h2")
	data := waitFor("data:")
	if strings.Contains(data, "zebracat") || !strings.Contains(data, `"apps":["ledger"]`) || !strings.Contains(data, `"events":0`) {
		t.Errorf("scoped stream: first notice %s, want ledger only, without counts", data)
	}
}

func clip(s string) string {
	if len(s) > 600 {
		return s[:600] + "…"
	}
	return s
}

// TestRollbackPlanHonoursScope: an operator of team money may prepare a
// rollback of ledger, not of zebracat; a viewer may not at all.
func TestRollbackPlanHonoursScope(t *testing.T) {
	s := startTokenServer(t)
	for _, c := range []struct {
		token, app string
		want       int
	}{
		{"money-operator", "zebracat", 403},
		{"viewer", "ledger", 403},
		{"money-operator", "ledger", 422}, // allowed; ledger has a single deployment: nothing to return to
	} {
		code, _, body := s.do(t, "POST", "/api/v1/rollbacks", s.tok[c.token], strings.NewReader(fmt.Sprintf(`{"app":%q,"environment":"prod"}`, c.app)))
		if code != c.want {
			t.Errorf("%s rolls back %s: got %d %s, want %d", c.token, c.app, code, body, c.want)
		}
	}
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	s := startTokenServer(t)
	for _, p := range []string{"/healthz", "/api/v1/apps", "/", "/auth/login", "/ingest/github", "/no-such"} {
		_, hdr, _ := s.do(t, "GET", p, s.tok["viewer"], nil)
		csp := hdr.Get("Content-Security-Policy")
		if hdr.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(csp, "frame-ancestors 'none'") ||
			hdr.Get("Referrer-Policy") != "no-referrer" || hdr.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v lack nosniff, frame-ancestors, referrer policy or X-Frame-Options", p, hdr)
		}
	}
}

// TestTokenSignInSessionAndCSRF signs in to the UI with a token (mode
// token), then checks the cookie's flags, CSRF protection and sign-out.
func TestTokenSignInSessionAndCSRF(t *testing.T) {
	s := startTokenServer(t)
	code, hdr, body := s.do(t, "GET", "/auth/login?return_to=/apps", "", nil)
	if code != 200 || !strings.Contains(body, `name="csrf_token"`) {
		t.Fatalf("sign-in page: %d %s", code, body)
	}
	loginCSRF := cookieValue(hdr, "shiplog_login_csrf")
	form := url.Values{"token": {s.tok["money-operator"]}, "csrf_token": {loginCSRF}, "return_to": {"/apps"}}
	post := func(f url.Values, cookies string) (int, http.Header, string) {
		return s.do(t, "POST", "/auth/login", "", strings.NewReader(f.Encode()), "Content-Type", "application/x-www-form-urlencoded", "Cookie", cookies)
	}
	if code, _, _ := post(form, ""); code != 403 {
		t.Errorf("sign-in without the login CSRF cookie: got %d, want 403", code)
	}
	bad := url.Values{"token": {"shiplog_wrong"}, "csrf_token": {loginCSRF}, "return_to": {"/apps"}}
	if code, _, body := post(bad, "shiplog_login_csrf="+loginCSRF); code != 401 || !strings.Contains(body, "unknown, revoked or expired") {
		t.Errorf("sign-in with a bad token: got %d %s", code, clip(body))
	}
	code, hdr, _ = post(form, "shiplog_login_csrf="+loginCSRF)
	if code != 303 || hdr.Get("Location") != "/apps" {
		t.Fatalf("sign-in: got %d to %q, want 303 to /apps", code, hdr.Get("Location"))
	}
	raw := hdr.Values("Set-Cookie")
	var sc string
	for _, c := range raw {
		if strings.HasPrefix(c, "__Host-shiplog_session=") {
			sc = c
		}
	}
	for _, flag := range []string{"HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age="} {
		if !strings.Contains(sc, flag) {
			t.Errorf("session cookie %q lacks %s", sc, flag)
		}
	}
	if strings.Contains(sc, "Domain=") {
		t.Errorf("session cookie %q must not set a Domain (__Host- prefix)", sc)
	}
	session := strings.SplitN(sc, ";", 2)[0]
	code, _, body = s.do(t, "GET", "/apps", "", nil, "Cookie", session)
	if code != 200 || !strings.Contains(body, "ledger") || strings.Contains(body, "zebracat") || !strings.Contains(body, `action="/auth/logout"`) {
		t.Errorf("apps page in the session: %d, want ledger only and a sign-out form\n%s", code, clip(body))
	}
	csrf := between(body, `name="csrf_token" value="`, `"`)
	rb := `{"app":"ledger","environment":"prod"}`
	if code, _, _ := s.do(t, "POST", "/api/v1/rollbacks", "", strings.NewReader(rb), "Cookie", session); code != 403 {
		t.Errorf("session POST without a CSRF token: got %d, want 403", code)
	}
	if code, _, _ := s.do(t, "POST", "/api/v1/rollbacks", "", strings.NewReader(rb), "Cookie", session, "X-CSRF-Token", csrf, "Origin", "https://evil.example"); code != 403 {
		t.Errorf("session POST from another origin: got %d, want 403", code)
	}
	if code, _, body := s.do(t, "POST", "/api/v1/rollbacks", "", strings.NewReader(rb), "Cookie", session, "X-CSRF-Token", csrf); code != 422 {
		t.Errorf("session POST with the CSRF token: got %d %s, want 422 (allowed; nothing to roll back to)", code, body)
	}
	// Sign-out needs the CSRF token too, then the session is gone.
	if code, _, _ := s.do(t, "POST", "/auth/logout", "", nil, "Cookie", session); code != 403 {
		t.Errorf("sign-out without CSRF: got %d, want 403", code)
	}
	out := url.Values{"csrf_token": {csrf}}
	if code, _, _ := s.do(t, "POST", "/auth/logout", "", strings.NewReader(out.Encode()), "Cookie", session, "Content-Type", "application/x-www-form-urlencoded"); code != 303 {
		t.Errorf("sign-out: got %d, want 303", code)
	}
	if code, _, _ := s.do(t, "GET", "/api/v1/whoami", "", nil, "Cookie", session); code != 401 {
		t.Errorf("after sign-out: got %d, want 401", code)
	}
	// Revoking the token ends the sessions it opened.
	code, hdr, _ = post(form, "shiplog_login_csrf="+loginCSRF)
	session2 := strings.SplitN(hdr.Get("Set-Cookie"), ";", 2)[0]
	for _, c := range hdr.Values("Set-Cookie") {
		if strings.HasPrefix(c, "__Host-") {
			session2 = strings.SplitN(c, ";", 2)[0]
		}
	}
	ts, _ := s.store.Tokens(context.Background())
	for _, tk := range ts {
		if tk.Name == "money-operator" {
			_ = s.store.RevokeToken(context.Background(), tk.ID, time.Now())
		}
	}
	if code, _, _ := s.do(t, "GET", "/api/v1/whoami", "", nil, "Cookie", session2); code != 401 {
		t.Errorf("session of a revoked token: got %d, want 401", code)
	}
}

func cookieValue(h http.Header, name string) string {
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func between(s, from, to string) string {
	_, rest, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, to)
	return v
}

func TestAnonymousModeIsLoopbackOnly(t *testing.T) {
	cfg := testConfig(migratedDB(t))
	cfg.Web.ListenAddress = "0.0.0.0:0"
	if _, err := app.New(context.Background(), cfg, discard()); err == nil || !strings.Contains(err.Error(), "--insecure-allow-anonymous") {
		t.Fatalf("mode none on 0.0.0.0: got %v, want a refusal naming --insecure-allow-anonymous", err)
	}
	cfg.Auth.InsecureAllowAnonymous = true
	a, err := app.New(context.Background(), cfg, discard())
	if err != nil {
		t.Fatalf("with --insecure-allow-anonymous: %v", err)
	}
	_ = a.Close()
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestOpenAPIDocumentsEveryAPIRoute keeps docs/api/openapi.yaml in step
// with the route table.
func TestOpenAPIDocumentsEveryAPIRoute(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "api", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, r := range app.RouteTable() {
		method, path, _ := strings.Cut(r.Pattern, " ")
		if !strings.HasPrefix(path, "/api/") {
			continue
		}
		if _, ok := doc.Paths[path][strings.ToLower(method)]; !ok {
			t.Errorf("%s is not in docs/api/openapi.yaml", r.Pattern)
		}
	}
}

func TestAdminSeesConfigMasked(t *testing.T) {
	s := startTokenServer(t, func(c *config.Config) { c.Ingest.Token = "hunter2-ingest" })
	code, hdr, body := s.do(t, "GET", "/api/v1/config", s.tok["admin"], nil)
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "application/yaml") || !strings.Contains(body, "mode: token") || strings.Contains(body, "hunter2") {
		t.Errorf("config for an admin: %d %s\n%s\nwant the YAML with secrets masked", code, hdr.Get("Content-Type"), body)
	}
	if code, _, _ := s.do(t, "GET", "/api/v1/config", s.tok["money-operator"], nil); code != 403 {
		t.Errorf("config for an operator: got %d, want 403", code)
	}
}
