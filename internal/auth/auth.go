// Package auth is shiplog's access control over HTTP: who a request is (an
// API token, a UI session, or everyone in mode none), whether its role
// allows the route (the route table, see Router), CSRF protection of
// session requests, sign-in with OIDC or a token, sign-out, rate limits,
// the token and access-log endpoints, and the access log itself.
//
// What a principal may see is its scope (package access); the surfaces
// filter their data with access.ViewOf(ctx).
package auth

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/shiplog-dev/shiplog/internal/access"
	"github.com/shiplog-dev/shiplog/internal/config"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// Options configure access control.
type Options struct {
	Config config.Auth
	Store  *store.Store
	Logger *slog.Logger
	Now    func() time.Time
	// ConfigText is the effective configuration with secrets masked, shown
	// to admins at /api/v1/config.
	ConfigText string
	// HTTPClient talks to the OIDC provider (default: http.DefaultClient's
	// transport with a 10 s timeout).
	HTTPClient *http.Client
}

// Timings of sessions.
const (
	rotateAfter   = 15 * time.Minute // a session id is replaced after this long
	rotationGrace = time.Minute      // the replaced id keeps working this long
	touchEvery    = time.Minute      // last-seen is written at most this often
	tokenLogEvery = time.Hour        // a token's use is logged at most this often
	loginTTL      = 10 * time.Minute // an OIDC sign-in must finish within this
)

// Auth checks requests. Use New.
type Auth struct {
	cfg        config.Auth
	st         *store.Store
	log        *slog.Logger
	now        func() time.Time
	oidc       *oidcClient // mode oidc
	configText string

	limiters *limiters

	mu         sync.Mutex
	tokenSeen  map[string]time.Time // token id → last logged use
	lastPurged time.Time
}

// New returns the access control of cfg.
func New(opts Options) (*Auth, error) {
	if opts.Store == nil {
		return nil, errors.New("auth: a store is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	a := &Auth{cfg: opts.Config, st: opts.Store, log: opts.Logger, now: opts.Now, tokenSeen: map[string]time.Time{}, configText: opts.ConfigText,
		limiters: newLimiters(opts.Config.RateLimit, opts.Now)}
	if a.cfg.Mode == config.AuthOIDC {
		a.oidc = newOIDCClient(opts.Config, opts.HTTPClient)
	}
	return a, nil
}

// Mode is the configured mode.
func (a *Auth) Mode() string { return a.cfg.Mode }

// cookieName is the session cookie's name: with the __Host- prefix when
// the cookie is Secure, so that it cannot be set by a sibling domain.
func (a *Auth) cookieName() string {
	if a.cfg.Secure() {
		return "__Host-shiplog_session"
	}
	return "shiplog_session"
}

// errUnauthenticated: no or bad credentials.
var errUnauthenticated = errors.New("sign in or give an API token (Authorization: Bearer)")

// authenticate finds who r acts as. It returns the session when the
// request came with a session cookie (for CSRF checks and rotation).
func (a *Auth) authenticate(r *http.Request) (access.Principal, *access.Session, error) {
	if a.cfg.Mode == config.AuthNone {
		return access.Anonymous, nil, nil
	}
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, secret, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
			return access.Principal{}, nil, errors.New("Authorization: want Bearer <token>")
		}
		t, err := a.st.TokenByHash(r.Context(), access.Hash(strings.TrimSpace(secret)))
		if errors.Is(err, access.ErrNotFound) {
			return access.Principal{}, nil, errors.New("unknown API token")
		}
		if err != nil {
			return access.Principal{}, nil, err
		}
		if !t.Active(a.now()) {
			return access.Principal{}, nil, fmt.Errorf("API token %s is %s", t.ID, t.State(a.now()))
		}
		a.tokenUsed(r, t)
		return t.Principal(), nil, nil
	}
	c, err := r.Cookie(a.cookieName())
	if err != nil || c.Value == "" {
		return access.Principal{}, nil, errUnauthenticated
	}
	se, err := a.session(r.Context(), c.Value)
	if err != nil {
		return access.Principal{}, nil, err
	}
	p := se.Principal()
	p.CSRF = se.CSRF
	return p, &se, nil
}

// session finds the live session of a cookie value.
func (a *Auth) session(ctx context.Context, cookie string) (access.Session, error) {
	now := a.now()
	se, err := a.st.Session(ctx, access.Hash(cookie))
	if errors.Is(err, access.ErrNotFound) {
		return se, errors.New("your session ended: sign in again")
	}
	if err != nil {
		return se, err
	}
	switch {
	case !now.Before(se.ExpiresAt), now.Sub(se.LastSeenAt) > a.cfg.SessionIdle:
		_ = a.st.DeleteSession(ctx, se.Hash)
		return se, errors.New("your session expired: sign in again")
	case !se.ReplacedAt.IsZero() && now.Sub(se.ReplacedAt) > rotationGrace:
		return se, errors.New("your session ended: sign in again")
	}
	if strings.HasPrefix(se.Subject, "tok_") { // a session opened with an API token lasts as long as the token
		if t, err := a.st.Token(ctx, se.Subject); err != nil || !t.Active(now) {
			_ = a.st.DeleteSession(ctx, se.Hash)
			return se, errors.New("the API token of this session was revoked or expired: sign in again")
		}
	}
	if now.Sub(se.LastSeenAt) > touchEvery {
		if err := a.st.TouchSession(ctx, se.Hash, now); err != nil {
			a.log.Warn("session touch failed", "err", err)
		}
	}
	return se, nil
}

// tokenUsed records a token's use: its last-used time and an access-log
// entry, at most once an hour per token and process.
func (a *Auth) tokenUsed(r *http.Request, t access.Token) {
	now := a.now()
	a.mu.Lock()
	last, seen := a.tokenSeen[t.ID]
	due := !seen || now.Sub(last) >= tokenLogEvery
	if due {
		a.tokenSeen[t.ID] = now
	}
	a.mu.Unlock()
	if !due {
		return
	}
	if err := a.st.TouchToken(r.Context(), t.ID, now); err != nil {
		a.log.Warn("token touch failed", "token", t.ID, "err", err)
	}
	a.audit(r, access.Entry{Action: access.ActionTokenUse, Actor: t.Principal().Actor(), Outcome: access.OutcomeOK,
		Detail: t.ID + " " + r.Method + " " + r.URL.Path})
}

// audit appends to the access log; a failure is logged, not returned: the
// request it describes already happened.
func (a *Auth) audit(r *http.Request, e access.Entry) {
	if e.At.IsZero() {
		e.At = a.now()
	}
	if e.Remote == "" && r != nil {
		e.Remote = clientIP(r)
	}
	if err := a.st.LogAccess(context.WithoutCancel(r.Context()), e); err != nil {
		a.log.Error("access log write failed", "action", e.Action, "actor", e.Actor, "err", err)
	}
}

// guard wraps a route's handler in its rule's checks.
func (a *Auth) guard(rule Rule, h http.Handler) http.Handler {
	if rule.Need == Ingest {
		return h // the ingest handlers check their own secrets
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rule.Need == Public {
			p, se, err := a.authenticate(r)
			if err == nil { // public pages still know who is signed in (sign-out, sign-in page)
				r = r.WithContext(access.With(r.Context(), p))
				if se != nil && !safeMethod(r.Method) && !a.csrfOK(r, se) {
					a.deny(w, r, rule, http.StatusForbidden, "CSRF check failed: reload the page and try again")
					return
				}
			}
			h.ServeHTTP(w, r)
			return
		}
		p, se, err := a.authenticate(r)
		if err != nil {
			// Credentials given and refused count against the address's
			// budget; a request with none (a first visit) does not.
			if !errors.Is(err, errUnauthenticated) && !a.limiters.allow(clientIP(r)) {
				a.deny(w, r, rule, http.StatusTooManyRequests, "too many failed attempts: wait a minute")
				return
			}
			a.unauthenticated(w, r, rule, err)
			return
		}
		if !p.Can(rule.Need.role()) {
			a.audit(r, access.Entry{Action: access.ActionDenied, Actor: p.Actor(), Outcome: access.OutcomeDenied,
				Detail: fmt.Sprintf("%s %s needs role %s", r.Method, r.URL.Path, rule.Need)})
			a.deny(w, r, rule, http.StatusForbidden, fmt.Sprintf("%s needs the %s role; %s has %s", r.URL.Path, rule.Need, p.Name, p.Role()))
			return
		}
		if !safeMethod(r.Method) {
			if se != nil && !a.csrfOK(r, se) || se == nil && a.cfg.Mode == config.AuthNone && !sameOrigin(r) {
				a.deny(w, r, rule, http.StatusForbidden, "CSRF check failed: reload the page and try again")
				return
			}
		}
		if se != nil {
			a.maybeRotate(w, r, se)
		}
		r = r.WithContext(access.With(r.Context(), p))
		if rule.Log != "" {
			rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
			h.ServeHTTP(rec, r)
			if rec.code < 300 {
				a.audit(r, access.Entry{Action: rule.Log, Actor: p.Actor(), Outcome: access.OutcomeOK,
					Detail: strings.TrimSuffix(r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery, "?")})
			}
			return
		}
		h.ServeHTTP(w, r)
	})
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) { s.code = code; s.ResponseWriter.WriteHeader(code) }

// Unwrap lets http.ResponseController reach the real writer (flushes).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// csrfOK checks a session request that changes state: the session's CSRF
// token in the X-CSRF-Token header or the csrf_token form field, and an
// Origin, when the browser sends one, naming this server.
func (a *Auth) csrfOK(r *http.Request, se *access.Session) bool {
	if !sameOrigin(r) {
		return false
	}
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf_token")
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(se.CSRF)) == 1
}

// sameOrigin reports whether the request's Origin (or, without one,
// Sec-Fetch-Site) says it comes from this server's own pages.
func sameOrigin(r *http.Request) bool {
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		return err == nil && strings.EqualFold(u.Host, r.Host)
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
		return true
	}
	return false
}

// maybeRotate replaces a session id older than rotateAfter.
func (a *Auth) maybeRotate(w http.ResponseWriter, r *http.Request, se *access.Session) {
	now := a.now()
	if !se.ReplacedAt.IsZero() || now.Sub(se.CreatedAt) < rotateAfter {
		return
	}
	cookie := access.RandomSecret(32)
	next := *se
	next.Hash, next.CreatedAt, next.LastSeenAt, next.ReplacedAt = access.Hash(cookie), now, now, time.Time{}
	if err := a.st.RotateSession(r.Context(), se.Hash, next); err != nil {
		if !errors.Is(err, access.ErrNotFound) { // another request rotated it first
			a.log.Warn("session rotation failed", "err", err)
		}
		return
	}
	a.setSessionCookie(w, cookie, next.ExpiresAt)
}

func (a *Auth) setSessionCookie(w http.ResponseWriter, value string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{Name: a.cookieName(), Value: value, Path: "/", HttpOnly: true, Secure: a.cfg.Secure(),
		SameSite: http.SameSiteLaxMode, Expires: expires, MaxAge: int(time.Until(expires).Seconds())})
}

func (a *Auth) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: a.cookieName(), Value: "", Path: "/", HttpOnly: true, Secure: a.cfg.Secure(),
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// unauthenticated answers a request without valid credentials: API
// clients get 401 and JSON, browsers go to the sign-in page.
func (a *Auth) unauthenticated(w http.ResponseWriter, r *http.Request, rule Rule, err error) {
	if !rule.API && safeMethod(r.Method) && r.Header.Get("Authorization") == "" {
		http.Redirect(w, r, "/auth/login?return_to="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="shiplog"`)
	writeError(w, http.StatusUnauthorized, err.Error())
}

func (a *Auth) deny(w http.ResponseWriter, r *http.Request, rule Rule, code int, msg string) {
	if code == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "60")
	}
	if !rule.API && strings.Contains(r.Header.Get("Accept"), "text/html") {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(msg + "\n"))
		return
	}
	writeError(w, code, msg)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// clientIP is the request's remote address without the port. Behind a
// proxy this is the proxy: rate limits then apply to it as a whole unless
// the proxy is trusted to set X-Forwarded-For (not read: it is forgeable).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// limiters are token buckets per client address, for sign-in and failed
// credentials.
type limiters struct {
	mu    sync.Mutex
	every rate.Limit
	burst int
	now   func() time.Time
	by    map[string]*rate.Limiter
}

func newLimiters(c config.RateLimit, now func() time.Time) *limiters {
	per := max(c.PerMinute, 1)
	return &limiters{every: rate.Every(time.Minute / time.Duration(per)), burst: max(c.Burst, 1), now: now, by: map[string]*rate.Limiter{}}
}

func (l *limiters) allow(ip string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.by[ip]
	if !ok {
		if len(l.by) > 10000 { // bound memory: forget everyone (they start full again)
			clear(l.by)
		}
		lim = rate.NewLimiter(l.every, l.burst)
		l.by[ip] = lim
	}
	return lim.AllowN(l.now(), 1)
}
