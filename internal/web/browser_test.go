package web_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/shiplog-dev/shiplog/internal/app"
	"github.com/shiplog-dev/shiplog/internal/config"
	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// chromium finds Debian's chromium; without it the browser tests skip,
// except in CI, where .ci/run installs it and its absence is a failure.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed (apt-get install -y chromium); the browser tests need it in CI")
	}
	t.Skip("chromium is not installed: skipping the browser tests")
	return ""
}

// startApp runs the real server in-process on a seeded SQLite store.
func startApp(t *testing.T, events []delivery.Event) *app.App {
	t.Helper()
	db := filepath.Join(t.TempDir(), "shiplog.db")
	st, err := app.OpenStore(context.Background(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	seed(t, st, events)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.DB = config.Secret(db)
	cfg.Web.ListenAddress = "127.0.0.1:0"
	cfg.Teams = map[string][]string{"money": {"ledger"}}
	a, err := app.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("the server did not stop within 10 s (open event streams?)")
		}
	})
	return a
}

// watcher records what the page does that it must not: requests leaving
// 127.0.0.1, console errors, uncaught exceptions, browser log errors (CSP
// violations and failed loads land there).
type watcher struct {
	mu       sync.Mutex
	problems []string
	local    int // requests to the server: proves the watcher sees requests
}

func (w *watcher) add(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.problems = append(w.problems, fmt.Sprintf(format, args...))
}

func (w *watcher) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.problems
	w.problems = nil
	return p
}

func (w *watcher) listen(ev any) {
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		u, err := url.Parse(ev.Request.URL)
		if err != nil || (u.Scheme != "data" && u.Scheme != "about" && u.Hostname() != "127.0.0.1") {
			w.add("request leaves 127.0.0.1: %s", ev.Request.URL)
		} else if u.Hostname() == "127.0.0.1" {
			w.mu.Lock()
			w.local++
			w.mu.Unlock()
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			w.add("console.%s: %s", ev.Type, strings.Join(args, " "))
		}
	case *runtime.EventExceptionThrown:
		w.add("exception: %s", (&chromedp.ExceptionError{ExceptionDetails: ev.ExceptionDetails}).Error())
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError {
			w.add("browser log error (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
		}
	}
}

func screenshotDir(t *testing.T) string {
	dir := os.Getenv("SHIPLOG_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

func TestBrowser(t *testing.T) {
	exe := chromium(t)
	a := startApp(t, seedEvents(1500, time.Now()))
	base := "http://" + a.Addr()
	shots := screenshotDir(t)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	w := &watcher{}
	if err := chromedp.Listen(ctx, w.listen); err != nil {
		t.Fatal(err)
	}

	open := func(t *testing.T, path string) string {
		t.Helper()
		c, done := context.WithTimeout(ctx, 20*time.Second)
		defer done()
		if err := chromedp.Do(c, chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS("#main"))); err != nil {
			t.Fatalf("open %s: %v", path, err)
		}
		text, err := chromedp.Run(c, chromedp.Text(chromedp.CSS("#main")))
		if err != nil {
			t.Fatal(err)
		}
		return text
	}
	shot := func(t *testing.T, name string) {
		t.Helper()
		c, done := context.WithTimeout(ctx, 20*time.Second)
		defer done()
		for suffix, action := range map[string]chromedp.Action[[]byte]{"": chromedp.FullScreenshot(100), "-top": chromedp.CaptureScreenshot()} {
			png, err := chromedp.Run(c, action)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(shots, name+suffix+".png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	clean := func(t *testing.T) {
		t.Helper()
		for _, p := range w.take() {
			t.Error(p)
		}
	}

	for _, p := range []struct {
		name, path string
		want       []string
	}{
		{"flow", "/", []string{"Development", "Continuous Integration", "Argo CD", "Knative", "#9001", "payments-00999"}},
		{"apps", "/apps", []string{"ledger", "nightly-reports", "scaled to zero", "search-canary"}},
		{"application", "/apps/ledger", []string{"Deployment timeline", "Rollback target", "Ledger answers 500"}},
		{"changes", "/changes?q=%2377", []string{"perf: faster balance", "Argo CD sync", "prod"}},
		{"delivery", "/delivery", []string{"Deployment frequency", "Lead time for changes", "Where lead time goes"}},
		{"deployments", "/delivery/deployments?since=30d", []string{"Deployments to prod"}},
		{"audit", "/audit", []string{"Export CSV", "dave"}},
		{"audit-report", "/audit?view=print&app=ledger", []string{"shiplog audit report", "generated in"}},
		{"policies", "/policies", []string{"Rules", "image-not-pinned"}},
	} {
		t.Run(p.name, func(t *testing.T) {
			text := open(t, p.path)
			for _, want := range p.want {
				if !strings.Contains(text, want) {
					t.Errorf("page lacks %q", want)
				}
			}
			shot(t, p.name)
			clean(t)
		})
	}

	t.Run("french", func(t *testing.T) {
		text := open(t, "/?lang=fr")
		for _, want := range []string{"Développement", "Intégration continue", "en cours", "Que se passe-t-il ici ?"} {
			if !strings.Contains(text, want) {
				t.Errorf("French page lacks %q", want)
			}
		}
		shot(t, "flow-fr")
		// The choice sticks (cookie) until switched back.
		if text := open(t, "/delivery"); !strings.Contains(text, "Fréquence de déploiement") {
			t.Error("the language choice did not stick")
		}
		shot(t, "delivery-fr")
		open(t, "/?lang=en")
		clean(t)
	})

	t.Run("explanations open with the keyboard", func(t *testing.T) {
		open(t, "/")
		c, done := context.WithTimeout(ctx, 10*time.Second)
		defer done()
		if err := chromedp.Do(c, chromedp.Focus(chromedp.CSS("#explain-argocd summary")), chromedp.KeyEvent("\r")); err != nil {
			t.Fatal(err)
		}
		open, err := chromedp.Run(c, chromedp.Evaluate[bool](`document.getElementById('explain-argocd').open`))
		if err != nil || !open {
			t.Errorf("details open = %v (%v), want true after Enter", open, err)
		}
		shot(t, "flow-explained")
		clean(t)
	})

	t.Run("live update without reload", func(t *testing.T) {
		open(t, "/apps")
		c, done := context.WithTimeout(ctx, 20*time.Second)
		defer done()
		// Wait until the page listens, and mark the document: a reload would lose the mark.
		if _, err := chromedp.Run(c, chromedp.Poll[bool](`document.getElementById('live-status').textContent === 'Live'`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
			st, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('live-status').outerHTML + ' ' + typeof EventSource`))
			t.Fatalf("the page never connected to /events: %v; status %s", err, st)
		}
		if err := chromedp.Do(c, chromedp.Evaluate[chromedp.Void](`window.shiplogMark = 42`)); err != nil {
			t.Fatal(err)
		}
		e := delivery.Event{Source: "e2e", ID: "live-1", Type: delivery.ServiceDeployed, Time: time.Now().Add(-time.Second), App: "e2e-live-app", Env: "prod",
			Payload: &delivery.Deployment{Artifact: "ghcr.io/acme/e2e-live-app:1.0.0", InferredFrom: "argocd", Author: "erin"}}
		appended := time.Now()
		if _, err := a.Store().Append(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Run(c, chromedp.Poll[bool](`document.getElementById('live').textContent.includes('e2e-live-app')`, chromedp.WithPollingTimeout(2*time.Second))); err != nil {
			t.Fatalf("the new deployment did not appear within 2 s: %v", err)
		}
		t.Logf("update shown %v after the append", time.Since(appended).Round(time.Millisecond))
		mark, err := chromedp.Run(c, chromedp.Evaluate[int](`window.shiplogMark || 0`))
		if err != nil || mark != 42 {
			t.Errorf("the page reloaded (mark %d, %v): want an in-place update", mark, err)
		}
		shot(t, "apps-live")
		clean(t)
	})

	t.Run("the watcher sees the page's requests", func(t *testing.T) {
		w.mu.Lock()
		defer w.mu.Unlock()
		// Each page loads itself, its stylesheet, script and icon, and /events.
		if w.local < 30 {
			t.Errorf("saw %d requests to the server, want at least 30", w.local)
		}
	})

	t.Run("dark theme", func(t *testing.T) {
		c, done := context.WithTimeout(ctx, 20*time.Second)
		defer done()
		dark := emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}
		if _, err := chromedp.Run(c, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, dark)
			return err
		})); err != nil {
			t.Fatal(err)
		}
		defer chromedp.Run(ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{})
			return err
		}))
		open(t, "/apps/ledger")
		bg, err := chromedp.Run(c, chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`))
		if err != nil || bg != "rgb(15, 18, 22)" {
			t.Errorf("dark background %q (%v), want rgb(15, 18, 22)", bg, err)
		}
		shot(t, "application-dark")
		clean(t)
	})

	t.Run("narrow screen", func(t *testing.T) {
		c, done := context.WithTimeout(ctx, 20*time.Second)
		defer done()
		if err := chromedp.Do(c, chromedp.EmulateViewport(390, 844)); err != nil {
			t.Fatal(err)
		}
		open(t, "/")
		shot(t, "flow-mobile")
		clean(t)
	})
}
