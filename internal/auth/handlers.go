package auth

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/shiplog-dev/shiplog/internal/access"
	"github.com/shiplog-dev/shiplog/internal/config"
)

// Routes are the routes Register mounts, with what each requires.
var Routes = []Rule{
	{Pattern: "GET /auth/login", Need: Public},
	{Pattern: "POST /auth/login", Need: Public},
	{Pattern: "GET /auth/callback", Need: Public},
	{Pattern: "POST /auth/logout", Need: Public},
	{Pattern: "GET /api/v1/whoami", Need: Viewer, API: true},
	{Pattern: "GET /api/v1/tokens", Need: Admin, API: true},
	{Pattern: "POST /api/v1/tokens", Need: Admin, API: true},
	{Pattern: "DELETE /api/v1/tokens/{id}", Need: Admin, API: true},
	{Pattern: "GET /api/v1/access-log", Need: Admin, API: true},
	{Pattern: "GET /api/v1/config", Need: Admin, API: true},
}

// Register mounts the sign-in, sign-out, token and access-log routes.
func (a *Auth) Register(r *Router) {
	r.HandleFunc("GET /auth/login", a.loginPage)
	r.HandleFunc("POST /auth/login", a.tokenLogin)
	r.HandleFunc("GET /auth/callback", a.callback)
	r.HandleFunc("POST /auth/logout", a.logout)
	r.HandleFunc("GET /api/v1/whoami", a.whoami)
	r.HandleFunc("GET /api/v1/tokens", a.listTokens)
	r.HandleFunc("POST /api/v1/tokens", a.createToken)
	r.HandleFunc("DELETE /api/v1/tokens/{id}", a.revokeToken)
	r.HandleFunc("GET /api/v1/access-log", a.accessLog)
	r.HandleFunc("GET /api/v1/config", a.config)
}

// config shows the effective configuration, secrets masked, as YAML.
func (a *Auth) config(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(a.configText))
}

const loginCSRFCookie = "shiplog_login_csrf"

// loginPage starts an OIDC sign-in, or shows the token form in mode token.
func (a *Auth) loginPage(w http.ResponseWriter, r *http.Request) {
	returnTo := localPath(r.URL.Query().Get("return_to"))
	switch a.cfg.Mode {
	case config.AuthNone:
		http.Redirect(w, r, returnTo, http.StatusSeeOther)
		return
	case config.AuthOIDC:
		if !a.limiters.allow(clientIP(r)) {
			w.Header().Set("Retry-After", "60")
			http.Error(w, "too many sign-in attempts: wait a minute", http.StatusTooManyRequests)
			return
		}
		state, nonce, verifier := access.RandomSecret(32), access.RandomSecret(32), access.RandomSecret(48)
		u, err := a.oidc.authURL(r.Context(), state, nonce, verifier)
		if err != nil {
			a.log.Error("sign-in unavailable", "err", err)
			http.Error(w, "sign-in is unavailable: the identity provider cannot be reached; try again later", http.StatusServiceUnavailable)
			return
		}
		ls := access.LoginState{Hash: access.Hash(state), Verifier: verifier, Nonce: nonce, ReturnTo: returnTo, ExpiresAt: a.now().Add(loginTTL)}
		if err := a.st.PutLoginState(r.Context(), ls); err != nil {
			a.log.Error("sign-in state", "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		a.purgeExpired(r)
		http.Redirect(w, r, u, http.StatusFound)
		return
	}
	csrf := access.RandomSecret(20)
	http.SetCookie(w, &http.Cookie{Name: loginCSRFCookie, Value: csrf, Path: "/auth/login", HttpOnly: true, Secure: a.cfg.Secure(),
		SameSite: http.SameSiteStrictMode, MaxAge: int(loginTTL.Seconds())})
	a.renderLogin(w, r, http.StatusOK, loginData{CSRF: csrf, ReturnTo: returnTo})
}

// tokenLogin opens a UI session with an API token (mode token).
func (a *Auth) tokenLogin(w http.ResponseWriter, r *http.Request) {
	if a.cfg.Mode != config.AuthToken {
		http.Error(w, "sign-in with a token is only for auth mode token", http.StatusNotFound)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	returnTo := localPath(r.PostFormValue("return_to"))
	c, err := r.Cookie(loginCSRFCookie)
	if err != nil || c.Value == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("csrf_token"))) != 1 || !sameOrigin(r) {
		http.Error(w, "CSRF check failed: reload the sign-in page and try again", http.StatusForbidden)
		return
	}
	if !a.limiters.allow(clientIP(r)) {
		w.Header().Set("Retry-After", "60")
		a.audit(r, access.Entry{Action: access.ActionSignIn, Actor: "token:?", Outcome: access.OutcomeRateLimited})
		a.renderLogin(w, r, http.StatusTooManyRequests, loginData{CSRF: c.Value, ReturnTo: returnTo, Error: "login.ratelimited"})
		return
	}
	secret := strings.TrimSpace(r.PostFormValue("token"))
	t, err := a.st.TokenByHash(r.Context(), access.Hash(secret))
	if err != nil || !t.Active(a.now()) {
		a.audit(r, access.Entry{Action: access.ActionSignIn, Actor: "token:?", Outcome: access.OutcomeFailed, Detail: "unknown, revoked or expired token"})
		a.renderLogin(w, r, http.StatusUnauthorized, loginData{CSRF: c.Value, ReturnTo: returnTo, Error: "login.badtoken"})
		return
	}
	// The session's subject is the token's id: it lasts as long as the token.
	if err := a.startSession(w, r, t.Principal()); err != nil {
		a.log.Error("session", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	http.Redirect(w, r, returnTo, http.StatusSeeOther)
}

// callback finishes an OIDC sign-in.
func (a *Auth) callback(w http.ResponseWriter, r *http.Request) {
	if a.cfg.Mode != config.AuthOIDC {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	// A failed callback costs a token of the address's sign-in budget (the
	// sign-in that led here paid one already).
	fail := func(code int, msg, detail string) {
		a.limiters.allow(clientIP(r))
		a.audit(r, access.Entry{Action: access.ActionSignIn, Actor: "user:?", Outcome: access.OutcomeFailed, Detail: detail})
		http.Error(w, msg, code)
	}
	if e := q.Get("error"); e != "" {
		fail(http.StatusUnauthorized, "the identity provider refused the sign-in: "+e, "provider error: "+e)
		return
	}
	ls, err := a.st.TakeLoginState(r.Context(), access.Hash(q.Get("state")))
	if err != nil || !a.now().Before(ls.ExpiresAt) {
		fail(http.StatusBadRequest, "this sign-in is unknown, expired or already used: start again from the sign-in page", "unknown, expired or replayed state")
		return
	}
	id, err := a.oidc.exchange(r.Context(), q.Get("code"), ls.Verifier, ls.Nonce)
	if err != nil {
		a.log.Warn("sign-in failed", "err", err)
		fail(http.StatusUnauthorized, "sign-in failed: "+err.Error(), err.Error())
		return
	}
	grants := a.cfg.Grants(id.Groups)
	if len(grants) == 0 {
		a.audit(r, access.Entry{Action: access.ActionSignIn, Actor: "user:" + id.Name, Outcome: access.OutcomeDenied,
			Detail: "no configured group: " + strings.Join(id.Groups, ",")})
		http.Error(w, fmt.Sprintf("%s is signed in but none of their groups is given access (auth.groups)", id.Name), http.StatusForbidden)
		return
	}
	p := access.Principal{Kind: access.KindUser, ID: id.Subject, Name: id.Name, Grants: grants}
	if err := a.startSession(w, r, p); err != nil {
		a.log.Error("session", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	http.Redirect(w, r, ls.ReturnTo, http.StatusSeeOther)
}

// startSession stores a new session for p, sets its cookie and logs the
// sign-in. A new id on every sign-in: no session fixation.
func (a *Auth) startSession(w http.ResponseWriter, r *http.Request, p access.Principal) error {
	now := a.now()
	cookie := access.RandomSecret(32)
	se := access.Session{Hash: access.Hash(cookie), Subject: p.ID, Name: p.Name, Grants: p.Grants, CSRF: access.RandomSecret(20),
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(a.cfg.SessionTTL)}
	if err := a.st.CreateSession(r.Context(), se); err != nil {
		return err
	}
	if old, err := r.Cookie(a.cookieName()); err == nil && old.Value != "" {
		_ = a.st.DeleteSession(r.Context(), access.Hash(old.Value))
	}
	a.setSessionCookie(w, cookie, se.ExpiresAt)
	roles := make([]string, 0, len(p.Grants))
	for _, g := range p.Grants {
		roles = append(roles, g.Role.String()+"("+g.Scope.String()+")")
	}
	a.audit(r, access.Entry{Action: access.ActionSignIn, Actor: se.Principal().Actor(), Outcome: access.OutcomeOK, Detail: strings.Join(roles, " ")})
	return nil
}

// logout ends the session (the CSRF check ran in the guard).
func (a *Auth) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(a.cookieName()); err == nil && c.Value != "" {
		p := access.From(r.Context())
		if err := a.st.DeleteSession(r.Context(), access.Hash(c.Value)); err != nil {
			a.log.Error("sign-out", "err", err)
		}
		if p.Kind == access.KindUser {
			a.audit(r, access.Entry{Action: access.ActionSignOut, Actor: p.Actor(), Outcome: access.OutcomeOK})
		}
	}
	a.clearSessionCookie(w)
	http.Redirect(w, r, "/auth/login", http.StatusSeeOther)
}

// purgeExpired deletes ended sessions and sign-in states, at most hourly.
func (a *Auth) purgeExpired(r *http.Request) {
	now := a.now()
	a.mu.Lock()
	due := now.Sub(a.lastPurged) > time.Hour
	if due {
		a.lastPurged = now
	}
	a.mu.Unlock()
	if due {
		if err := a.st.DeleteExpired(r.Context(), now); err != nil {
			a.log.Warn("purge expired sessions", "err", err)
		}
	}
}

// localPath keeps a return_to on this server: a path, never a URL to
// elsewhere (no open redirect).
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsAny(p, "\r\n") {
		return "/"
	}
	return p
}

// Whoami is GET /api/v1/whoami.
type Whoami struct {
	Kind   string         `json:"kind"`
	Name   string         `json:"name"`
	Role   access.Role    `json:"role"`
	Grants []access.Grant `json:"grants"`
	Mode   string         `json:"auth_mode"`
}

func (a *Auth) whoami(w http.ResponseWriter, r *http.Request) {
	p := access.From(r.Context())
	writeJSON(w, http.StatusOK, Whoami{Kind: p.Kind, Name: p.Name, Role: p.Role(), Grants: p.Grants, Mode: a.cfg.Mode})
}

// TokenView is a token as the API lists it.
type TokenView struct {
	access.Token
	State string `json:"state"`
}

func (a *Auth) listTokens(w http.ResponseWriter, r *http.Request) {
	ts, err := a.st.Tokens(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal error: "+err.Error())
		return
	}
	out := make([]TokenView, 0, len(ts))
	for _, t := range ts {
		out = append(out, TokenView{Token: t, State: t.State(a.now())})
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
}

// CreateTokenRequest is the body of POST /api/v1/tokens.
type CreateTokenRequest struct {
	Name      string       `json:"name"`
	Role      access.Role  `json:"role"`
	Scope     access.Scope `json:"scope"`
	ExpiresIn string       `json:"expires_in"` // "90d", "12h"; "never"; empty: 90d
}

// CreatedToken is the answer to a token creation: the secret, shown once.
type CreatedToken struct {
	access.Token
	Secret string `json:"secret"`
}

// NewTokenRecord validates a token request and makes the token: its
// secret (to show once) and the record to store. Shared by the API and
// `shiplog token create`.
func NewTokenRecord(req CreateTokenRequest, createdBy string, now time.Time) (CreatedToken, error) {
	name := strings.TrimSpace(req.Name)
	if name == "" || len(name) > 100 || strings.ContainsAny(name, "\r\n\t") {
		return CreatedToken{}, errors.New("name: give a name of 1 to 100 characters on one line")
	}
	if req.Role < access.Viewer || req.Role > access.Admin {
		return CreatedToken{}, errors.New("role: want viewer, operator or admin")
	}
	var expires time.Time
	switch e := strings.TrimSpace(req.ExpiresIn); e {
	case "never":
	case "":
		expires = now.Add(90 * 24 * time.Hour)
	default:
		d, err := ParseDuration(e)
		if err != nil || d <= 0 {
			return CreatedToken{}, fmt.Errorf("expires_in: want a positive duration (90d, 12h) or never, got %q", e)
		}
		expires = now.Add(d)
	}
	secret, id, hash := access.NewToken()
	t := access.Token{ID: id, Hash: hash, Name: name, Role: req.Role, Scope: req.Scope, CreatedBy: createdBy, CreatedAt: now, ExpiresAt: expires}
	return CreatedToken{Token: t, Secret: secret}, nil
}

// ParseDuration reads Go durations and whole days ("90d").
func ParseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int
		if _, err := fmt.Sscanf(n, "%d", &days); err == nil && fmt.Sprint(days) == n {
			return time.Duration(days) * 24 * time.Hour, nil
		}
	}
	return time.ParseDuration(s)
}

func (a *Auth) createToken(w http.ResponseWriter, r *http.Request) {
	if !a.limiters.allow(clientIP(r)) {
		w.Header().Set("Retry-After", "60")
		writeError(w, http.StatusTooManyRequests, "too many token requests: wait a minute")
		return
	}
	var req CreateTokenRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "body: "+err.Error())
		return
	}
	p := access.From(r.Context())
	ct, err := NewTokenRecord(req, p.Actor(), a.now())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := a.st.CreateToken(r.Context(), ct.Token); err != nil {
		writeError(w, http.StatusInternalServerError, "internal error: "+err.Error())
		return
	}
	a.audit(r, access.Entry{Action: access.ActionTokenCreate, Actor: p.Actor(), Outcome: access.OutcomeOK,
		Detail: fmt.Sprintf("%s %q role=%s scope=%s", ct.ID, ct.Name, ct.Role, ct.Scope)})
	writeJSON(w, http.StatusCreated, ct)
}

func (a *Auth) revokeToken(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	err := a.st.RevokeToken(r.Context(), id, a.now())
	if errors.Is(err, access.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no token "+id)
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal error: "+err.Error())
		return
	}
	p := access.From(r.Context())
	a.audit(r, access.Entry{Action: access.ActionTokenRevoke, Actor: p.Actor(), Outcome: access.OutcomeOK, Detail: id})
	w.WriteHeader(http.StatusNoContent)
}

func (a *Auth) accessLog(w http.ResponseWriter, r *http.Request) {
	since := a.now().Add(-30 * 24 * time.Hour)
	if v := r.URL.Query().Get("since"); v != "" {
		d, err := ParseDuration(v)
		if err != nil || d <= 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("since: want a duration (30d, 12h), got %q", v))
			return
		}
		since = a.now().Add(-d)
	}
	entries, err := a.st.AccessLog(r.Context(), since, 1000)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal error: "+err.Error())
		return
	}
	if entries == nil {
		entries = []access.Entry{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": entries})
}

// The sign-in page (mode token): a form to paste an API token.

type loginData struct {
	Lang     string
	T        map[string]string
	CSRF     string
	ReturnTo string
	Error    string
}

var loginText = map[string]map[string]string{
	"en": {
		"title": "Sign in to shiplog", "label": "API token", "submit": "Sign in",
		"help":              "Paste an API token. An administrator creates one with `shiplog token create`.",
		"login.badtoken":    "This token is unknown, revoked or expired.",
		"login.ratelimited": "Too many attempts: wait a minute.",
	},
	"fr": {
		"title": "Se connecter à shiplog", "label": "Jeton d'API", "submit": "Se connecter",
		"help":              "Collez un jeton d'API. Un administrateur en crée un avec `shiplog token create`.",
		"login.badtoken":    "Ce jeton est inconnu, révoqué ou expiré.",
		"login.ratelimited": "Trop de tentatives : attendez une minute.",
	},
}

var loginTmpl = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{index .T "title"}}</title></head>
<body><main>
<h1>{{index .T "title"}}</h1>
{{if .Error}}<p role="alert">{{index .T .Error}}</p>{{end}}
<form method="post" action="/auth/login">
<input type="hidden" name="csrf_token" value="{{.CSRF}}">
<input type="hidden" name="return_to" value="{{.ReturnTo}}">
<label for="token">{{index .T "label"}}</label>
<input id="token" name="token" type="password" autocomplete="off" required autofocus>
<button type="submit">{{index .T "submit"}}</button>
</form>
<p>{{index .T "help"}}</p>
</main></body></html>
`))

func (a *Auth) renderLogin(w http.ResponseWriter, r *http.Request, code int, d loginData) {
	d.Lang = "en"
	if c, err := r.Cookie("shiplog_lang"); err == nil && loginText[c.Value] != nil {
		d.Lang = c.Value
	} else if strings.HasPrefix(strings.ToLower(r.Header.Get("Accept-Language")), "fr") {
		d.Lang = "fr"
	}
	if l := r.URL.Query().Get("lang"); loginText[l] != nil {
		d.Lang = l
	}
	d.T = loginText[d.Lang]
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = loginTmpl.Execute(w, d)
}
