// Package demo runs shiplog on a simulated organisation: three teams, ten
// apps, dev/staging/prod, about six months of history — manual deployments
// before a GitOps adoption date, pull requests, CI, images, GitOps commits,
// Argo CD syncs, Knative revisions taking the traffic step by step and
// scaling to zero after it — then a new change every few seconds, live.
//
// Everything goes through shiplog's own paths: real Git repositories
// (written with git fast-import) read by the Git importer, webhooks
// (GitHub, Argo CD notifications, Alertmanager) posted over HTTP to the
// running server, and Knative objects converted by the Kubernetes source's
// functions and appended to the store as that source does. No table is
// written directly. The simulation keeps what it generated (Truth) so that
// tests can compare it with what shiplog computes.
package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/shiplog-dev/shiplog/internal/app"
	"github.com/shiplog-dev/shiplog/internal/config"
	gitsrc "github.com/shiplog-dev/shiplog/internal/source/git"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// sendWorkers is how many webhooks the history posts at a time.
const sendWorkers = 32

// Defaults of Options.
const (
	DefaultAddr          = "127.0.0.1:8080"
	DefaultHistory       = 182 * 24 * time.Hour
	DefaultAdoptionAfter = 60 * 24 * time.Hour
	DefaultLiveInterval  = 5 * time.Second
	DefaultStageInterval = 2 * time.Second
)

// Options configure a demo.
type Options struct {
	Addr string // listen address; "127.0.0.1:0" picks a port
	Seed uint64 // the same seed gives the same history (relative to Now)
	// DB is the SQLite file to create; default a file in Dir.
	DB string
	// Dir holds the generated Git repositories (and the store by default);
	// default a temporary directory removed when the demo ends. A
	// directory given must be empty or absent; it is kept.
	Dir string
	// History is how far back the history goes; AdoptionAfter is when,
	// after its start, the organisation adopted GitOps (at midnight UTC).
	History       time.Duration
	AdoptionAfter time.Duration
	// LiveInterval is how often a new live change starts (negative: no
	// live changes); StageInterval how long each of its stages takes.
	LiveInterval  time.Duration
	StageInterval time.Duration
	// Now is the clock; the history ends at Now().
	Now    func() time.Time
	Logger *slog.Logger
	// OnLive, if set, is called when a live change has its commit.
	OnLive func(LiveChange)
}

func (o *Options) defaults() {
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.History <= 0 {
		o.History = DefaultHistory
	}
	if o.AdoptionAfter <= 0 {
		o.AdoptionAfter = DefaultAdoptionAfter
	}
	if o.AdoptionAfter >= o.History {
		o.AdoptionAfter = o.History / 3
	}
	if o.LiveInterval == 0 {
		o.LiveInterval = DefaultLiveInterval
	}
	if o.StageInterval <= 0 {
		o.StageInterval = DefaultStageInterval
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Demo is a running demo.
type Demo struct {
	// URL is the server's base URL.
	URL string
	// Truth is what the history holds, by shiplog's definitions.
	Truth *Truth
	// Dir holds the Git repositories: src/<app> and gitops.
	Dir string
	// Stats counts what the history was made of.
	Stats Stats

	opts    Options
	app     *app.App
	st      *store.Store
	plan    *plan
	tmp     string // removed at the end, "" when kept
	gitops  *gitopsWriter
	sender  *sender
	done    chan error
	liveWG  sync.WaitGroup
	liveMu  sync.Mutex // repositories and imports
	knMu    sync.Mutex // the Knative Services
	cancel  context.CancelFunc
	started time.Time

	syncStarts map[string]time.Time // last live sync start per app
}

// Stats counts the history's inputs.
type Stats struct {
	SourceCommits int
	GitOpsCommits int
	Webhooks      int
	// KubeObjects counts the observed states of Knative objects, KubeEvents
	// the events shiplog's Kubernetes source made of them.
	KubeObjects int
	KubeEvents  int
	Elapsed     time.Duration
}

// Start builds the store and the repositories, starts the server, loads
// the history through it and starts the live changes. It returns once the
// history is loaded: the demo is ready. The demo stops when ctx ends; Wait
// waits for that.
func Start(ctx context.Context, opts Options) (_ *Demo, err error) {
	opts.defaults()
	d := &Demo{opts: opts, started: time.Now(), done: make(chan error, 1)}
	defer func() {
		if err != nil && d.tmp != "" {
			_ = os.RemoveAll(d.tmp)
		}
	}()
	if d.Dir = opts.Dir; d.Dir == "" {
		if d.tmp, err = os.MkdirTemp("", "shiplog-demo-"); err != nil {
			return nil, err
		}
		d.Dir = d.tmp
	} else if entries, err := os.ReadDir(d.Dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("demo directory %s is not empty: give an empty or new directory", d.Dir)
	}
	db := opts.DB
	if db == "" {
		db = filepath.Join(d.Dir, "shiplog.db")
	} else if _, err := os.Stat(db); err == nil {
		return nil, fmt.Errorf("%s already exists: the demo creates a new store; remove it or give another path", db)
	}
	if err := os.MkdirAll(d.Dir, 0o755); err != nil {
		return nil, err
	}
	if err := migrate(ctx, db); err != nil {
		return nil, err
	}
	cfg := config.Default()
	cfg.DB = config.Secret(db)
	cfg.Web.ListenAddress = opts.Addr
	cfg.Teams = Teams()
	// The demo signs its webhooks: with the secrets of the environment
	// when they are set there, else with random ones.
	if err := cfg.Ingest.LoadSecrets(os.LookupEnv); err != nil {
		return nil, err
	}
	if !cfg.Ingest.GitHub.Secret.IsSet() {
		cfg.Ingest.GitHub.Secret = config.Credential(randomHex())
	}
	if !cfg.Ingest.Token.IsSet() {
		cfg.Ingest.Token = config.Credential(randomHex())
	}
	a, err := app.New(ctx, cfg, opts.Logger)
	if err != nil {
		return nil, err
	}
	d.app, d.st = a, a.Store()
	d.URL = "http://" + a.Addr()
	runCtx, cancel := context.WithCancel(ctx)
	d.cancel = cancel
	go func() { d.done <- a.Run(runCtx) }()
	// One keep-alive connection per sending worker: the default keeps two
	// idle, and opening a connection per webhook costs more than the rest.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = sendWorkers
	d.sender = &sender{base: d.URL, client: &http.Client{Timeout: 30 * time.Second, Transport: tr},
		secret: []byte(cfg.Ingest.GitHub.Secret.Reveal()), token: cfg.Ingest.Token.Reveal()}

	if err := d.loadHistory(runCtx); err != nil {
		cancel()
		<-d.done
		return nil, err
	}
	d.Stats.Elapsed = time.Since(d.started)
	if opts.LiveInterval > 0 {
		d.liveWG.Add(2)
		go d.live(runCtx)
		go d.scaleHourly(runCtx)
	}
	return d, nil
}

// Store is the demo's store, for tests that read shiplog's model.
func (d *Demo) Store() *store.Store { return d.st }

// Wait waits until the demo stops (its context ended), then removes the
// temporary directory.
func (d *Demo) Wait() error {
	err := <-d.done
	d.cancel()
	d.liveWG.Wait()
	if d.tmp != "" {
		err = errors.Join(err, os.RemoveAll(d.tmp))
	}
	return err
}

func migrate(ctx context.Context, db string) error {
	st, err := app.OpenStore(ctx, db, store.Options{})
	if err != nil {
		return err
	}
	if _, err := st.Migrate(ctx); err != nil {
		_ = st.Close()
		return err
	}
	return st.Close()
}

func randomHex() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// loadHistory simulates the history, writes the repositories, posts the
// webhooks and imports the GitOps repository.
func (d *Demo) loadHistory(ctx context.Context) error {
	end := d.opts.Now().UTC().Truncate(time.Second)
	start := end.Add(-d.opts.History)
	adoption := start.Add(d.opts.AdoptionAfter).Truncate(24 * time.Hour)
	p := simulate(d.opts.Seed, start, adoption, end)
	d.plan = p
	if err := writeSources(ctx, d.Dir, p); err != nil {
		return err
	}
	// The Knative objects name images by source commit: they are recorded
	// from now on, beside the rest.
	kctx, kcancel := context.WithCancel(ctx)
	defer kcancel()
	kerrc := make(chan error, 1)
	go func() {
		err := d.feedKnative(kctx)
		d.opts.Logger.Debug("demo: Knative objects recorded", "elapsed", time.Since(d.started), "objects", d.Stats.KubeObjects, "events", d.Stats.KubeEvents)
		kerrc <- err
	}()
	err := d.loadRest(ctx)
	if err != nil {
		kcancel()
	}
	if err = errors.Join(err, <-kerrc); err == nil {
		d.Truth.Knative = p.knativeTruth()
	}
	return err
}

// loadRest writes the GitOps repository, posts the webhooks and imports
// the repository.
func (d *Demo) loadRest(ctx context.Context) error {
	p := d.plan
	gw, err := newGitopsWriter(ctx, filepath.Join(d.Dir, "gitops"))
	if err != nil {
		return err
	}
	d.gitops = gw
	if err := gw.write(ctx, p.GitOps); err != nil {
		return err
	}
	d.Truth = p.truth()
	hooks := p.hooks()
	for _, ap := range p.Apps {
		d.Stats.SourceCommits += len(ap.Commits)
	}
	d.Stats.GitOpsCommits, d.Stats.Webhooks = len(p.GitOps), len(hooks)

	d.opts.Logger.Debug("demo: repositories written", "elapsed", time.Since(d.started))
	errc := make(chan error, 1)
	go func() {
		err := d.sender.sendAll(ctx, hooks, sendWorkers)
		d.opts.Logger.Debug("demo: webhooks sent", "elapsed", time.Since(d.started))
		errc <- err
	}()
	_, ierr := gitsrc.Import(ctx, d.st, d.importOptions())
	d.opts.Logger.Debug("demo: GitOps repository imported", "elapsed", time.Since(d.started))
	if ierr != nil {
		ierr = fmt.Errorf("import the GitOps repository: %w", ierr)
	}
	return errors.Join(<-errc, ierr)
}

// feedKnative plays the history of the Knative Services and records their
// objects: converted by the Kubernetes source's functions and appended to
// the store, as the source does.
func (d *Demo) feedKnative(ctx context.Context) error {
	var objects, events int
	defer func() { d.Stats.KubeObjects, d.Stats.KubeEvents = objects, events }()
	for _, ks := range d.plan.KServices {
		ks.play(d.plan.Seed, d.plan.End)
		o, e, err := ks.flush(ctx, d.st, 2000)
		objects, events = objects+o, events+e
		if err != nil {
			return fmt.Errorf("record the Knative objects: %w", err)
		}
	}
	return nil
}

func (d *Demo) importOptions() gitsrc.Options {
	o := gitsrc.Options{Repo: d.gitops.dir, Branch: "main", Logger: d.opts.Logger}
	for _, a := range apps() {
		o.Sources = append(o.Sources, gitsrc.SourceSpec{ImageGlob: registry + "/" + a.Name, Repo: filepath.Join(d.Dir, "src", a.Name)})
	}
	return o
}
