package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"github.com/shiplog-dev/shiplog/internal/access"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/api"
	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine"
	"github.com/shiplog-dev/shiplog/internal/live"
	"github.com/shiplog-dev/shiplog/internal/store"
	"github.com/shiplog-dev/shiplog/internal/store/sqlite"
	"github.com/shiplog-dev/shiplog/internal/web"
)

type fixture struct {
	srv *httptest.Server
	st  *store.Store
	hub *live.Hub
	mux *http.ServeMux
}

// newFixture serves the UI, /events and the API over a SQLite store holding
// events, with the clock at now.
func newFixture(t testing.TB, events []delivery.Event, now time.Time) *fixture {
	t.Helper()
	f, err := buildFixture(t.TempDir(), events, now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.close)
	return f
}

func buildFixture(dir string, events []delivery.Event, now time.Time) (*fixture, error) {
	hub := live.New(live.Options{})
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "s.db"), store.Options{OnAppend: hub.Publish})
	if err != nil {
		return nil, err
	}
	if _, err := st.Migrate(context.Background()); err != nil {
		return nil, err
	}
	for i := 0; i < len(events); i += 500 {
		if _, err := st.Append(context.Background(), events[i:min(i+500, len(events))]...); err != nil {
			return nil, err
		}
	}
	eng := engine.New(st, engine.Settings{Now: func() time.Time { return now }, Teams: map[string]string{"ledger": "money"}})
	return fixtureOn(st, eng, hub)
}

// fixtureOn serves the UI, /events and the API over st and eng, with hub's
// event streams. Its close closes hub and st.
func fixtureOn(st *store.Store, eng *engine.Engine, hub *live.Hub) (*fixture, error) {
	ui, err := web.New(web.Options{Engine: eng, Store: st, Hub: hub, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	ui.Register(mux)
	mux.Handle("GET /events", hub)
	api.New(eng, st, slog.New(slog.DiscardHandler)).Register(mux)
	return &fixture{srv: httptest.NewServer(asAnonymous(mux)), st: st, hub: hub, mux: mux}, nil
}

// asAnonymous serves h as shiplog's auth mode none does: every request is
// the unscoped anonymous admin. Without a principal, pages show nothing.
func asAnonymous(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(access.With(r.Context(), access.Anonymous)))
	})
}

func (f *fixture) close() {
	f.hub.Close()
	f.srv.Close()
	_ = f.st.Close()
}

type response struct {
	code   int
	header http.Header
	body   string
}

func (f *fixture) get(t testing.TB, path string, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

// seeded serves the seeded store of seedEvents.
func seeded(t testing.TB) *fixture { return newFixture(t, seedEvents(2000, fixedNow), fixedNow) }

// pages lists every page with what it must show on the seeded store.
var pages = []struct {
	name, path string
	en, fr     []string
}{
	{"flow", "/", []string{"Development", "Continuous Integration", "Argo CD", "Knative", "in flight", "#9001", "c0ffee0", "checkout → prod",
		"payments-00999", "search-canary 25", "<details", "What happens here?", "Who acts", "Median"},
		[]string{"Développement", "Intégration continue", "en cours", "Que se passe-t-il ici ?", "Qui agit", "Médiane"}},
	{"apps", "/apps", []string{"Applications", "ledger", "nightly-reports", "scaled to zero", "search-canary", "Healthy", "Synced", "ago", `<svg class="bar"`},
		[]string{"réduit à zéro", "Sain", "il y a"}},
	{"apps filtered", "/apps?team=money&env=prod&health=Healthy", []string{"ledger", "1ed9e10"}, []string{"ledger"}},
	{"application", "/apps/ledger", []string{"<h1>ledger</h1>", "Deployment timeline", `<svg class="timeline"`, "Rollback target", "Previous good version: 1ed9e00",
		"set the image back to this reference", "ghcr.io/acme/ledger:0.9.0", "Ledger answers 500", "rolled back", "degraded", "Team money"},
		[]string{"Chronologie des déploiements", "Cible de retour arrière", "Dernière bonne version : 1ed9e00", "retour arrière"}},
	{"application revert", "/apps/reports", []string{"revert the current manifest commit"}, []string{"annulez (revert) le commit de manifeste actuel"}},
	{"application traffic", "/apps/nightly-reports", []string{"nightly-reports-00001", "100\u00a0%", "scaled to zero", `<svg class="spark"`, "Replica cost over the window"}, []string{"réduit à zéro", "Coût des réplicas sur la période", "heures-réplicas"}},
	{"where is my change: help", "/changes", []string{"Find where a change is", "known", "inferred", "unknown"}, []string{"Retrouvez où en est un changement", "déduit", "inconnu"}},
	{"where is my change: sha", "/changes?q=c0ffee", []string{"feat: faster checkout", "Ann Lee", "Not deployed to any environment yet", "not recorded", "state-known", "state-unknown"},
		[]string{"Pas encore déployé", "non enregistré"}},
	{"where is my change: pr", "/changes?q=%2377", []string{"perf: faster balance", "#77", "prod", "ledger", "Argo CD sync", "not live", "degraded"},
		[]string{"pas en ligne", "Synchro Argo CD"}},
	{"where is my change: author", "/changes?q=carol", []string{"perf: faster balance"}, []string{"perf: faster balance"}},
	{"where is my change: nothing", "/changes?q=nobody-at-all", []string{"No change matches “nobody-at-all”."}, []string{"Aucun changement ne correspond à « nobody-at-all »."}},
	{"delivery", "/delivery", []string{"Deployment frequency", "Lead time for changes", "Change failure rate", "Failed deployment recovery time", "Rework rate",
		`class="tier tier-`, `<svg class="spark"`, "Where lead time goes", "Review", "By team and application", "Team money", "/delivery/deployments?",
		"Efficiency and compliance", "Automation level:", "Traceable to a reviewed change:", "Incidents linked to a deployment:", "policy deviations over"},
		[]string{"Efficacité et conformité", "écarts aux politiques", "Fréquence de déploiement", "Délai de livraison des changements", "Taux d’échec des changements", "Où passe le délai de livraison"}},
	{"delivery before/after", "/delivery?since=30d&at=2026-03-10", []string{"Before and after 2026-03-10", "Before", "After"}, []string{"Avant et après le 2026-03-10"}},
	{"deployments", "/delivery/deployments?app=ledger&env=prod&failed=true&since=30d", []string{"Deployments to prod from", "UTC: 1 · Application ledger", "failed only", "rolled back"},
		[]string{"Déploiements en prod du", "UTC : 1 · Application ledger", "en échec seulement"}},
	{"audit", "/audit", []string{"Export CSV", "/api/v1/audit?", "format=csv", "Print-ready report", "dave", "#77", "bob", "automated", "generated in"},
		[]string{"Exporter en CSV", "Rapport prêt à imprimer", "généré en"}},
	{"audit report", "/audit?app=ledger&view=print", []string{"print-view", "shiplog audit report", "generated in", "ledger", "data-print"},
		[]string{"Rapport d’audit shiplog", "généré en"}},
	{"policies", "/policies", []string{"deployments checked against the rules in this window", "<code>image-not-pinned</code>", "<code>no-approval</code>", "Deviations", `href="/policies" aria-current="page"`},
		[]string{"déploiements vérifiés selon les règles", "Règles", "Écarts"}},
}

func TestPages(t *testing.T) {
	f := seeded(t)
	for _, p := range pages {
		for _, lang := range []string{"en", "fr"} {
			t.Run(p.name+"/"+lang, func(t *testing.T) {
				sep := "?"
				if strings.Contains(p.path, "?") {
					sep = "&"
				}
				r := f.get(t, p.path+sep+"lang="+lang)
				if r.code != http.StatusOK {
					t.Fatalf("status %d, want 200:\n%.2000s", r.code, r.body)
				}
				want := p.en
				if lang == "fr" {
					want = p.fr
				}
				for _, w := range want {
					if !strings.Contains(r.body, w) {
						t.Errorf("page lacks %q", w)
					}
				}
				if !strings.Contains(r.body, `<html lang="`+lang+`">`) {
					t.Errorf("page is not marked lang=%s", lang)
				}
				checkPage(t, r)
			})
		}
	}
}

// checkPage asserts what every page must be: the strict CSP, nothing inline,
// nothing external, every text translated.
func checkPage(t *testing.T, r response) {
	t.Helper()
	if got := r.header.Get("Content-Security-Policy"); got != web.CSP {
		t.Errorf("CSP %q, want %q", got, web.CSP)
	}
	for _, directive := range []string{"default-src 'self'", "img-src 'self' data:", "style-src 'self'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(web.CSP, directive) {
			t.Errorf("CSP lacks %s", directive)
		}
	}
	if strings.Contains(web.CSP, "unsafe") {
		t.Error("CSP allows something unsafe")
	}
	if ct := r.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("content type %q", ct)
	}
	for _, bad := range inlineChecks {
		if m := bad.re.FindString(r.body); m != "" {
			t.Errorf("%s: %q", bad.what, m)
		}
	}
	for _, tag := range regexp.MustCompile(`(?i)<script[^>]*>`).FindAllString(r.body, -1) {
		if !regexp.MustCompile(`\ssrc="/static/app\.[0-9a-f]{12}\.js"`).MatchString(tag) {
			t.Errorf("script not from the embedded asset: %s", tag)
		}
	}
	if i := strings.Index(r.body, "⟦"); i >= 0 {
		t.Errorf("untranslated key: %.80s", r.body[i:])
	}
}

var inlineChecks = []struct {
	what string
	re   *regexp.Regexp
}{
	{"inline script", regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>\s*[^<\s]`)},
	{"style element", regexp.MustCompile(`(?i)<style[\s>]`)},
	{"style attribute", regexp.MustCompile(`(?i)\sstyle\s*=`)},
	{"event handler attribute", regexp.MustCompile(`(?i)\son[a-z]+\s*=`)},
	{"javascript: URL", regexp.MustCompile(`(?i)javascript:`)},
	{"external resource", regexp.MustCompile(`(?i)(?:src|srcset|action|formaction|xlink:href|data)\s*=\s*"(?:https?:)?//`)},
	{"external stylesheet or icon", regexp.MustCompile(`(?i)<link[^>]+href="(?:https?:)?//`)},
}

func TestEmptyStore(t *testing.T) {
	f := newFixture(t, nil, fixedNow)
	for _, p := range []struct{ path, want string }{
		{"/", "Nothing recorded yet"},
		{"/apps", "shiplog import git"},
		{"/delivery", "Nothing recorded yet"},
		{"/changes", "Find where a change is"},
		{"/changes?q=abcdef1", "No change matches"},
		{"/audit", "No deployment in this window."},
		{"/audit?view=print", "shiplog audit report"},
		{"/delivery/deployments", "No deployment matches."},
		{"/policies", "No deployment in this window breaks a rule."},
	} {
		t.Run(p.path, func(t *testing.T) {
			r := f.get(t, p.path)
			if r.code != http.StatusOK || !strings.Contains(r.body, p.want) {
				t.Errorf("status %d, want 200 with %q:\n%.3000s", r.code, p.want, r.body)
			}
			checkPage(t, r)
		})
	}
}

func TestErrors(t *testing.T) {
	f := seeded(t)
	for _, tc := range []struct {
		path string
		code int
		want string
	}{
		{"/nope", 404, "There is no page at this address."},
		{"/apps/no-such-app", 404, "There is no page at this address."},
		{"/delivery?since=yesterday", 400, "The window (since) must be"},
		{"/delivery?at=1999-01-01", 400, "The before/after date must be inside the window."},
		{"/changes?q=%23abc", 400, "Search for a commit SHA"},
		{"/apps?health=Shiny", 400, "Unknown health filter."},
		{"/audit?until=soon", 400, "The end of the window (until)"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			r := f.get(t, tc.path)
			if r.code != tc.code || !strings.Contains(r.body, tc.want) {
				t.Errorf("got %d, want %d with %q:\n%.2000s", r.code, tc.code, tc.want, r.body)
			}
			checkPage(t, r)
		})
	}
}

func TestLanguage(t *testing.T) {
	f := seeded(t)
	for _, tc := range []struct {
		name   string
		header []string
		query  string
		want   string
	}{
		{"default", nil, "", "en"},
		{"accept-language fr", []string{"Accept-Language", "fr-CA,fr;q=0.9,en;q=0.5"}, "", "fr"},
		{"accept-language prefers en", []string{"Accept-Language", "de-DE, en;q=0.8, fr;q=0.7"}, "", "en"},
		{"accept-language unknown", []string{"Accept-Language", "de, ja"}, "", "en"},
		{"query beats header", []string{"Accept-Language", "fr"}, "?lang=en", "en"},
		{"cookie beats header", []string{"Accept-Language", "en", "Cookie", "shiplog_lang=fr"}, "", "fr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.get(t, "/policies"+tc.query, tc.header...)
			if !strings.Contains(r.body, `<html lang="`+tc.want+`">`) || r.header.Get("Content-Language") != tc.want {
				t.Errorf("got Content-Language %q, want %s", r.header.Get("Content-Language"), tc.want)
			}
		})
	}
	r := f.get(t, "/apps?team=money&lang=fr")
	if c := r.header.Get("Set-Cookie"); !strings.Contains(c, "shiplog_lang=fr") {
		t.Errorf("?lang=fr set cookie %q, want shiplog_lang=fr", c)
	}
	// The switch links keep the page and its filters.
	if !strings.Contains(r.body, `href="/apps?lang=en&amp;team=money"`) {
		t.Error("language switch does not link to the same page in English")
	}
}

func TestAssets(t *testing.T) {
	f := seeded(t)
	page := f.get(t, "/")
	urls := regexp.MustCompile(`/static/(app|icon)\.[0-9a-f]{12}\.(css|js|svg)`).FindAllString(page.body, -1)
	if len(urls) < 3 {
		t.Fatalf("found %v, want hashed URLs for app.css, app.js and icon.svg", urls)
	}
	for _, u := range urls {
		r := f.get(t, u)
		if r.code != 200 || r.header.Get("Cache-Control") != "public, max-age=31536000, immutable" || r.header.Get("ETag") == "" || len(r.body) == 0 {
			t.Errorf("%s: %d %v", u, r.code, r.header)
		}
		if again := f.get(t, u, "If-None-Match", r.header.Get("ETag")); again.code != http.StatusNotModified {
			t.Errorf("%s with its ETag: %d, want 304", u, again.code)
		}
	}
	if r := f.get(t, "/static/app.000000000000.css"); r.code != 404 {
		t.Errorf("unknown asset: %d, want 404", r.code)
	}
}

func TestFragments(t *testing.T) {
	f := seeded(t)
	for _, p := range pages {
		sep := "?"
		if strings.Contains(p.path, "?") {
			sep = "&"
		}
		r := f.get(t, p.path+sep+"fragment=1")
		if r.code != 200 || strings.Contains(r.body, "<html") || strings.Contains(r.body, "<nav aria-label=\"Main\"") {
			t.Errorf("%s fragment: %d, want 200 without the layout:\n%.500s", p.path, r.code, r.body)
		}
		if r.header.Get("Content-Security-Policy") != web.CSP {
			t.Errorf("%s fragment lacks the CSP", p.path)
		}
	}
	full, frag := f.get(t, "/apps"), f.get(t, "/apps?fragment=1")
	if !strings.Contains(full.body, frag.body) {
		t.Error("the fragment is not the page's live part")
	}
}

// TestDrilldown checks that numbers link to the list of exactly what they count.
func TestDrilldown(t *testing.T) {
	f := seeded(t)
	page := f.get(t, "/delivery?since=30d")
	m := regexp.MustCompile(`<p class="value"><a href="([^"]+)"[^>]*>`).FindAllStringSubmatch(page.body, -1)
	if len(m) != 5 {
		t.Fatalf("found %d tile links, want 5", len(m))
	}
	tiles := regexp.MustCompile(`<p class="small">([^<]*)</p>`).FindAllStringSubmatch(page.body, -1)
	freq := regexp.MustCompile(`· (\d+) deployments on`).FindStringSubmatch(tiles[0][1])
	failed := regexp.MustCompile(`^(\d+) of \d+ deployments`).FindStringSubmatch(tiles[2][1])
	if freq == nil || failed == nil {
		t.Fatalf("tile texts %q", tiles)
	}
	for _, tc := range []struct{ href, want string }{{m[0][1], freq[1]}, {m[2][1], failed[1]}} {
		href := strings.ReplaceAll(tc.href, "&amp;", "&")
		list := f.get(t, href)
		if !regexp.MustCompile(`<p class="lede">Deployments to [^<]*UTC: ` + tc.want + `\b`).MatchString(list.body) {
			t.Errorf("%s does not list %s deployments:\n%.600s", href, tc.want, list.body[strings.Index(list.body, `<div id="live"`):])
		}
	}
}

func TestLiveUpdates(t *testing.T) {
	f := seeded(t)
	if r := f.get(t, "/apps"); strings.Contains(r.body, "brand-new-app") {
		t.Fatal("brand-new-app already shown")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.srv.URL+"/events", nil)
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" {
		t.Errorf("content type %q", resp.Header.Get("Content-Type"))
	}
	e := delivery.Event{Source: "seed", ID: "new-1", Type: delivery.ServiceDeployed, Time: fixedNow.Add(-time.Minute), App: "brand-new-app", Env: "prod",
		Payload: &delivery.Deployment{Artifact: "ghcr.io/acme/brand-new-app:1.0.0", InferredFrom: "argocd"}}
	if _, err := f.st.Append(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	got := ""
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "data: ") {
			got = sc.Text()
			break
		}
	}
	if !strings.Contains(got, `"apps":["brand-new-app"]`) || !strings.Contains(got, `"types":["service.deployed"]`) {
		t.Errorf("event data %q, want the app and type appended (%v)", got, sc.Err())
	}
	// The next render shows it: the append invalidated the snapshot.
	if r := f.get(t, "/apps?fragment=1"); !strings.Contains(r.body, "brand-new-app") {
		t.Error("the fragment does not show the appended deployment")
	}
}

// TestApplicationCostAgreesWithTheAPI: an environment's replica cost on
// the Application page is the API's Knative cost of the app there.
func TestApplicationCostAgreesWithTheAPI(t *testing.T) {
	f := seeded(t)
	page := f.get(t, "/apps/nightly-reports?since=30d")
	api := f.get(t, "/api/v1/metrics?app=nightly-reports&env=dev&since=30d")
	var m struct {
		Efficiency struct {
			Cost struct {
				ReplicaSeconds      float64 `json:"replica_seconds"`
				SavedReplicaSeconds float64 `json:"saved_replica_seconds"`
			} `json:"knative_cost"`
		}
	}
	if err := json.Unmarshal([]byte(api.body), &m); err != nil {
		t.Fatal(err)
	}
	c := m.Efficiency.Cost
	// Two replicas from 2 h to 30 min ago, then none while serving 100 %:
	// 3 replica-hours, and half an hour saved against one always-on replica.
	if c.ReplicaSeconds != 3*3600 || c.SavedReplicaSeconds != 1800 {
		t.Fatalf("API cost %+v, want 10800 replica-seconds and 1800 saved", c)
	}
	want := fmt.Sprintf("%g replica-hours; scale-to-zero saved %g replica-hours against an always-on baseline (revisions counted: 1)", c.ReplicaSeconds/3600, c.SavedReplicaSeconds/3600)
	if !strings.Contains(page.body, want) {
		t.Errorf("the Application page lacks %q", want)
	}
	if !strings.Contains(page.body, "no price per replica-hour configured") {
		t.Error("the Application page does not say that no price is configured")
	}
}

// TestEfficiencyPanelAgreesWithTheAPI: the Delivery page's efficiency and
// compliance figures are the API's for the same selection.
func TestEfficiencyPanelAgreesWithTheAPI(t *testing.T) {
	f := seeded(t)
	page := f.get(t, "/delivery?since=30d")
	api := f.get(t, "/api/v1/metrics?since=30d")
	var m struct {
		Traceability struct{ Deployments, Traceable int }
		Incidents    struct{ Total, Linked int }
		Efficiency   struct {
			Automation struct{ Automated, Manual int } `json:"automation"`
		}
	}
	if err := json.Unmarshal([]byte(api.body), &m); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		fmt.Sprintf("(%d automated, %d manual)", m.Efficiency.Automation.Automated, m.Efficiency.Automation.Manual),
		fmt.Sprintf("of deployments (%d of %d)", m.Traceability.Traceable, m.Traceability.Deployments),
		fmt.Sprintf("(%d of %d).", m.Incidents.Linked, m.Incidents.Total),
	} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the Delivery page lacks %q", want)
		}
	}
	if m.Traceability.Deployments == 0 {
		t.Error("the fixture has no deployment in the window: the comparison proves nothing")
	}
}
