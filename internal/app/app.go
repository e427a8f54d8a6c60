// Package app owns the lifecycle of a shiplog server: it opens the store,
// builds the HTTP surfaces and runs them until its context ends, then shuts
// down gracefully. Tests start the whole server in-process on port 0.
package app

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/shiplog-dev/shiplog/internal/api"
	"github.com/shiplog-dev/shiplog/internal/auth"
	"github.com/shiplog-dev/shiplog/internal/config"
	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine"
	"github.com/shiplog-dev/shiplog/internal/ingest"
	"github.com/shiplog-dev/shiplog/internal/live"
	"github.com/shiplog-dev/shiplog/internal/source/webhook/alertmanager"
	"github.com/shiplog-dev/shiplog/internal/store"
	"github.com/shiplog-dev/shiplog/internal/version"
	"github.com/shiplog-dev/shiplog/internal/web"
)

// App is one shiplog server.
type App struct {
	cfg      config.Config
	log      *slog.Logger
	registry *prometheus.Registry
	store    *store.Store
	ingest   *ingest.Ingester
	hub      *live.Hub // live updates: fed by the store, streamed at /events
	web      *web.Web
	auth     *auth.Auth
	mounted  []string // route patterns, for the route-table test
	ln       net.Listener
	srv      *http.Server

	sources []source // watchers and pollers, run while the server runs

	mu     sync.Mutex
	checks map[string]func(context.Context) error // readiness checks by name
}

// New reads the ingest secrets (from their files, else the environment;
// secrets already set in cfg are kept when neither is given), opens the
// store, refuses a schema that does not match the binary, and binds the
// listen address. Run serves; Close releases what New acquired if Run is
// never called.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	if err := cfg.Ingest.LoadSecrets(os.LookupEnv); err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	if err := cfg.Auth.LoadSecrets(os.LookupEnv); err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	if err := cfg.Auth.CheckExposure(cfg.Web.ListenAddress); err != nil {
		return nil, err
	}
	if cfg.Auth.Mode == config.AuthNone && !config.IsLoopback(cfg.Web.ListenAddress) {
		log.Warn("INSECURE: access control is off (auth.mode none) on an address other machines can reach: anyone who can connect is an admin",
			"address", cfg.Web.ListenAddress)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	info := version.Get()
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "shiplog_build_info",
		Help:        "Always 1; labels give the build's version.",
		ConstLabels: prometheus.Labels{"version": info.Version, "goversion": info.GoVersion},
	}, func() float64 { return 1 }))

	hub := live.New(live.Options{})
	// origin names this process in the announcements replicas sharing a
	// PostgreSQL store make of their appends (live.Announcement).
	origin := rand.Text()
	st, err := OpenStore(ctx, string(cfg.DB), store.Options{Logger: log, Registerer: reg, OnAppend: hub.Publish,
		Announce: func(events []delivery.Event) string { return live.Announcement(origin, events, store.MaxAnnounce) }})
	if err != nil {
		return nil, err
	}
	if err := st.CheckSchema(ctx); err != nil {
		_ = st.Close()
		return nil, err
	}
	ing, err := ingest.New(ingest.Options{
		Store:         st,
		Logger:        log,
		Registerer:    reg,
		MaxBodyBytes:  cfg.Ingest.MaxBodyBytes,
		Token:         cfg.Ingest.Token.Reveal(),
		GitHubSecret:  cfg.Ingest.GitHub.Secret.Reveal(),
		GitLabSecret:  cfg.Ingest.GitLab.Secret.Reveal(),
		ArgoCDCluster: cfg.Ingest.ArgoCD.Cluster,
		AlertmanagerMapping: alertmanager.Mapping{
			AppLabels: cfg.Ingest.Alertmanager.AppLabels,
			EnvLabels: cfg.Ingest.Alertmanager.EnvLabels,
		},
	})
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	ui, err := web.New(web.Options{Engine: engine.New(st, engine.SettingsFrom(cfg)), Store: st, Hub: hub, Logger: log})
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	az, err := auth.New(auth.Options{Config: cfg.Auth, Store: st, Logger: log, ConfigText: cfg.String()})
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Web.ListenAddress)
	if err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("listen on %s: %w", cfg.Web.ListenAddress, err)
	}
	a := &App{cfg: cfg, log: log, registry: reg, store: st, ingest: ing, hub: hub, web: ui, auth: az, ln: ln, checks: map[string]func(context.Context) error{}}
	a.AddReadinessCheck("store", st.Ping)
	a.AddReadinessCheck("schema", st.CheckSchema)
	if st.CanAnnounce() {
		a.sources = append(a.sources, source{name: "store/announcements", run: func(ctx context.Context) error {
			return st.Listen(ctx, func(payload string) {
				if from, b := live.ParseAnnouncement(payload); from != origin {
					hub.PublishBatch(b)
				}
			})
		}})
	}
	if err := a.addSources(); err != nil {
		_ = a.Close()
		return nil, err
	}
	handler, mounted, err := a.routes()
	if err != nil {
		_ = a.Close()
		return nil, err
	}
	a.mounted = mounted
	a.srv = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Event streams never go idle: end them when shutdown starts, so that
	// they do not hold it until its deadline.
	a.srv.RegisterOnShutdown(hub.Close)
	return a, nil
}

// Addr is the address the server listens on (useful with port 0).
func (a *App) Addr() string { return a.ln.Addr().String() }

// Routes lists the route patterns the server mounted.
func (a *App) Routes() []string { return slices.Clone(a.mounted) }

// Hub is the app's live-update broadcaster.
func (a *App) Hub() *live.Hub { return a.hub }

// Store is the app's store.
func (a *App) Store() *store.Store { return a.store }

// Registry is the app's Prometheus registry.
func (a *App) Registry() *prometheus.Registry { return a.registry }

// AddReadinessCheck adds a check that /readyz runs; a failing check makes
// the server report not ready, naming the check.
func (a *App) AddReadinessCheck(name string, check func(context.Context) error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.checks[name] = check
}

// Run serves until ctx ends, then stops accepting requests, waits up to the
// shutdown timeout for those in flight, and closes the store.
func (a *App) Run(ctx context.Context) error {
	a.log.Info("shiplog serving", "address", "http://"+a.Addr(), "store", a.store.Dialect(), "version", version.Get().Version)
	errc := make(chan error, 1)
	go func() { errc <- a.srv.Serve(a.ln) }()
	srcCtx, stopSources := context.WithCancel(context.Background())
	var sources sync.WaitGroup
	for _, src := range a.sources {
		sources.Add(1)
		go func() {
			defer sources.Done()
			if err := src.run(srcCtx); err != nil && !errors.Is(err, context.Canceled) {
				a.log.Error("source stopped", "source", src.name, "err", err)
			}
		}()
	}
	defer func() { stopSources(); sources.Wait() }()
	var err error
	select {
	case err = <-errc:
		// The server stopped by itself: report why.
	case <-ctx.Done():
		a.log.Info("shutting down", "timeout", a.cfg.Web.ShutdownTimeout)
		sctx, cancel := context.WithTimeout(context.Background(), a.cfg.Web.ShutdownTimeout)
		err = a.srv.Shutdown(sctx)
		cancel()
		<-errc
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	stopSources() // sources write to the store: stop them before closing it
	sources.Wait()
	return errors.Join(err, a.store.Close())
}

// Close releases the listener and the store when Run was not called.
func (a *App) Close() error {
	return errors.Join(a.ln.Close(), a.store.Close())
}

// routes mounts every route through the access-control router: a route
// missing from the route table is an error. It returns the patterns
// mounted, for the route-table test.
func (a *App) routes() (http.Handler, []string, error) {
	mux := http.NewServeMux()
	r := a.auth.NewRouter(mux, routes())
	r.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	r.HandleFunc("GET /readyz", a.readyz)
	r.Handle("GET /metrics", promhttp.HandlerFor(a.registry, promhttp.HandlerOpts{Registry: a.registry}))
	api.New(engine.New(a.store, engine.SettingsFrom(a.cfg)), a.store, a.log).Register(r)
	r.Handle("GET /events", a.events())
	a.web.Register(r) // the web UI: /, its pages and /static/
	a.auth.Register(r)
	// Any method: the handlers answer 405 themselves, in JSON, and count it.
	r.Handle("/ingest/github", a.ingest.GitHub())
	r.Handle("/ingest/gitlab", a.ingest.GitLab())
	r.Handle("/ingest/cloudevents", a.ingest.CloudEvents())
	r.Handle("/ingest/argocd", a.ingest.ArgoCD())
	r.Handle("/ingest/alertmanager", a.ingest.Alertmanager())
	if err := r.Err(); err != nil {
		return nil, nil, err
	}
	return securityHeaders(mux), r.Mounted(), nil
}

// readyz runs every readiness check and answers 200 when all pass, 503
// otherwise, with a JSON body naming each check's state.
func (a *App) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	a.mu.Lock()
	names := make([]string, 0, len(a.checks))
	for n := range a.checks {
		names = append(names, n)
	}
	checks := a.checks
	a.mu.Unlock()
	sort.Strings(names)
	type result struct {
		Name   string `json:"name"`
		Status string `json:"status"`
		Error  string `json:"error,omitempty"`
	}
	body := struct {
		Status string   `json:"status"`
		Checks []result `json:"checks"`
	}{Status: "ready"}
	code := http.StatusOK
	for _, n := range names {
		res := result{Name: n, Status: "ok"}
		if err := checks[n](ctx); err != nil {
			res.Status, res.Error = "failing", err.Error()
			body.Status, code = "not ready", http.StatusServiceUnavailable
		}
		body.Checks = append(body.Checks, res)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}

// securityHeaders sets headers every response carries (pages set a
// stricter Content-Security-Policy of their own).
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}
