// Package web is shiplog's web UI: server-rendered pages (html/template,
// embedded with go:embed, all parsed at start-up), static assets at
// content-hashed URLs, English and French message catalogs, SVG charts drawn
// in Go, and live updates: each page subscribes to /events (package live)
// and re-fetches its live fragment (?fragment=1) when the store changes.
//
// Every page reads through one cached snapshot of the model (see
// snapshot.go); no page makes a request outside the server, and the
// Content-Security-Policy forbids inline scripts and styles.
package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/shiplog-dev/shiplog/internal/access"
	"github.com/shiplog-dev/shiplog/internal/engine"
	"github.com/shiplog-dev/shiplog/internal/live"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// CSP is the Content-Security-Policy of every page: nothing inline, nothing
// from elsewhere.
const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; " +
	"font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Options are what the UI reads from.
type Options struct {
	Engine *engine.Engine
	Store  *store.Store
	// Hub, when set, invalidates the snapshot on every append; pages
	// subscribe to its stream at /events.
	Hub    *live.Hub
	Logger *slog.Logger
	// MaxAge bounds how long a snapshot of the model is reused when the
	// hub reports no change (writes by another process or replica).
	// Default 10 s.
	MaxAge time.Duration
}

// Web serves the UI.
type Web struct {
	eng    *engine.Engine
	st     *store.Store
	hub    *live.Hub
	log    *slog.Logger
	now    func() time.Time
	pages  map[string]map[string]*template.Template // lang → page → template set
	cats   map[string]catalog
	assets *assets
	snap   *snapshots
}

// Routes lists the UI's routes, for the router and for access control.
var Routes = []string{
	"GET /{$}",
	"GET /apps",
	"GET /apps/{app}",
	"GET /changes",
	"GET /delivery",
	"GET /delivery/deployments",
	"GET /audit",
	"GET /policies",
	"GET /static/{file}",
	"/", // anything else: the not-found page
}

// New parses every template and catalog and hashes the assets: an error
// here is a bug in the binary, reported at start-up rather than on a page.
func New(opts Options) (*Web, error) {
	if opts.Engine == nil || opts.Store == nil {
		return nil, errors.New("web: engine and store are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = 10 * time.Second
	}
	cats, err := loadCatalogs()
	if err != nil {
		return nil, err
	}
	as, err := loadAssets()
	if err != nil {
		return nil, err
	}
	w := &Web{eng: opts.Engine, st: opts.Store, hub: opts.Hub, log: opts.Logger, now: opts.Engine.Settings().Now, cats: cats, assets: as}
	if w.pages, err = parseTemplates(cats, as); err != nil {
		return nil, err
	}
	w.snap = newSnapshots(opts.Engine, opts.Store, opts.Hub, opts.MaxAge)
	return w, nil
}

// Router is where routes are mounted: an *http.ServeMux, or the access
// controlled router of package auth.
type Router interface {
	Handle(pattern string, h http.Handler)
}

// Register mounts the pages and assets on mux.
func (w *Web) Register(mux Router) {
	handlers := map[string]http.HandlerFunc{
		"GET /{$}":                  w.page("flow", w.flow),
		"GET /apps":                 w.page("apps", w.apps),
		"GET /apps/{app}":           w.page("app", w.application),
		"GET /changes":              w.page("changes", w.changes),
		"GET /delivery":             w.page("delivery", w.delivery),
		"GET /delivery/deployments": w.page("deployments", w.deployments),
		"GET /audit":                w.page("audit", w.audit),
		"GET /policies":             w.page("policies", w.policies),
		"GET /static/{file}":        w.assets.serve,
		"/":                         w.page("notfound", func(*request) (any, error) { return nil, errNotFound }),
	}
	for _, r := range Routes {
		mux.Handle(r, handlers[r])
	}
}

// errNotFound renders the not-found page with status 404.
var errNotFound = errors.New("not found")

// badInput is an error the user made: shown on the page with status 400.
type badInput struct{ key string }

func (b badInput) Error() string { return b.key }

// request is what a page builder gets.
type request struct {
	*http.Request
	lang  string
	t     catalog
	now   time.Time
	start time.Time
	snap  *snapshot
	// set by the builder
	title string // catalog key of the page title, when not the page's
	live  string // app the page is about: refresh only for its events
	print bool
}

// layoutData is what the layout template reads.
type layoutData struct {
	Lang      string
	Page      string
	Title     string
	Assets    map[string]string
	LangLinks []langLink
	LiveApp   string
	Print     bool
	Error     string
	Data      any
	Now       time.Time
	Query     url.Values
	User      string // the signed-in user or token; empty in auth mode none
	CSRF      string // sent back by the sign-out form
}

type langLink struct {
	Lang, Name, URL string
	Current         bool
}

// page wraps a page builder: language, snapshot, rendering (whole page or
// the live fragment), errors, and headers.
func (w *Web) page(name string, build func(*request) (any, error)) http.HandlerFunc {
	return func(rw http.ResponseWriter, hr *http.Request) {
		start := time.Now()
		lang, setCookie := w.language(hr)
		if setCookie {
			http.SetCookie(rw, &http.Cookie{Name: langCookie, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600, SameSite: http.SameSiteLaxMode, HttpOnly: true})
		}
		req := &request{Request: hr, lang: lang, t: w.cats[lang], now: w.now(), start: start}
		code := http.StatusOK
		var data any
		var errKey string
		snap, err := w.snap.get(hr.Context())
		if err == nil {
			req.snap, err = snap.forView(hr.Context(), w.eng, access.ViewOf(hr.Context()))
		}
		if err == nil {
			data, err = req.snap.built(name, lang, hr.URL, req, build)
		}
		var bi badInput
		switch {
		case err == nil:
		case errors.Is(err, errNotFound):
			code, name = http.StatusNotFound, "notfound"
		case errors.As(err, &bi):
			code, errKey = http.StatusBadRequest, bi.key
		case errors.Is(err, context.Canceled):
			return
		default:
			w.log.Error("web page failed", "page", name, "path", hr.URL.Path, "err", err)
			code, name, errKey = http.StatusInternalServerError, "error", "error.internal"
		}
		ld := layoutData{Lang: lang, Page: name, Title: req.title, Assets: w.assets.urls, LangLinks: w.langLinks(hr, lang),
			LiveApp: req.live, Print: req.print, Data: data, Now: req.now, Query: hr.URL.Query()}
		if p := access.From(hr.Context()); p.Kind == access.KindUser || p.Kind == access.KindToken {
			ld.User, ld.CSRF = p.Name, p.CSRF
		}
		if errKey != "" {
			ld.Error = errKey
		}
		tmpl := "layout"
		if hr.URL.Query().Get("fragment") == "1" {
			tmpl = "live"
		}
		var buf bytes.Buffer
		if err := w.pages[lang][name].ExecuteTemplate(&buf, tmpl, ld); err != nil {
			w.log.Error("web template failed", "page", name, "err", err)
			http.Error(rw, "internal error", http.StatusInternalServerError)
			return
		}
		h := rw.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", CSP)
		h.Set("Cache-Control", "no-store")
		h.Set("Vary", "Accept-Language, Cookie")
		h.Set("Content-Language", lang)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		rw.WriteHeader(code)
		_, _ = rw.Write(buf.Bytes())
	}
}

const langCookie = "shiplog_lang"

// language picks the UI language: ?lang= (remembered in a cookie), the
// cookie, then Accept-Language; English by default.
func (w *Web) language(r *http.Request) (lang string, setCookie bool) {
	if l := r.URL.Query().Get("lang"); w.cats[l] != nil {
		return l, true
	}
	if c, err := r.Cookie(langCookie); err == nil && w.cats[c.Value] != nil {
		return c.Value, false
	}
	return matchAcceptLanguage(r.Header.Get("Accept-Language"), w.cats), false
}

// matchAcceptLanguage returns the supported language the header prefers.
func matchAcceptLanguage(header string, cats map[string]catalog) string {
	best, bestQ := "en", 0.0
	for i, part := range strings.Split(header, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0 - float64(i)*1e-3 // earlier wins among equal q
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if _, err := fmt.Sscanf(v, "%g", &q); err != nil {
				continue
			}
		}
		base, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		if cats[base] != nil && q > bestQ {
			best, bestQ = base, q
		}
	}
	return best
}

// langLinks are the language switch's links: the same page in each language.
func (w *Web) langLinks(r *http.Request, current string) []langLink {
	var out []langLink
	for _, l := range languages {
		q := r.URL.Query()
		q.Del("fragment")
		q.Set("lang", l)
		u := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
		out = append(out, langLink{Lang: l, Name: w.cats[l]["lang.name"], URL: u.String(), Current: l == current})
	}
	return out
}
