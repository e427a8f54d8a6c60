package app_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/app"
	"github.com/shiplog-dev/shiplog/internal/config"
	"github.com/shiplog-dev/shiplog/internal/store"
	"github.com/shiplog-dev/shiplog/internal/store/storetest"
)

func migratedDB(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "shiplog.db")
	s, err := app.OpenStore(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func testConfig(db string) config.Config {
	cfg := config.Default()
	cfg.DB = config.Secret(db)
	cfg.Web.ListenAddress = "127.0.0.1:0"
	return cfg
}

// start runs the app in-process and stops it at the end of the test.
func start(t *testing.T, cfg config.Config) (*app.App, string) {
	t.Helper()
	a, err := app.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return a, "http://" + a.Addr()
}

func get(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

func TestServeEndpoints(t *testing.T) {
	a, base := start(t, testConfig(migratedDB(t)))

	t.Run("healthz", func(t *testing.T) {
		code, h, body := get(t, base+"/healthz")
		if code != 200 || body != "ok\n" {
			t.Errorf("got %d %q, want 200 \"ok\\n\"", code, body)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("security headers missing: %v", h)
		}
	})
	t.Run("readyz", func(t *testing.T) {
		code, _, body := get(t, base+"/readyz")
		var got struct {
			Status string `json:"status"`
			Checks []struct{ Name, Status string }
		}
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("readyz body %q: %v", body, err)
		}
		if code != 200 || got.Status != "ready" || len(got.Checks) != 2 {
			t.Errorf("got %d %s, want 200 with status ready and 2 checks", code, body)
		}
	})
	t.Run("readyz names a failing check", func(t *testing.T) {
		a.AddReadinessCheck("kube:prod", func(context.Context) error { return errors.New("watch failed: connection refused") })
		defer a.AddReadinessCheck("kube:prod", func(context.Context) error { return nil })
		code, _, body := get(t, base+"/readyz")
		if code != http.StatusServiceUnavailable || !strings.Contains(body, `"name":"kube:prod","status":"failing","error":"watch failed: connection refused"`) {
			t.Errorf("got %d %s, want 503 naming kube:prod", code, body)
		}
	})
	t.Run("the JSON API is mounted", func(t *testing.T) {
		for _, path := range []string{"/api/v1/metrics", "/api/v1/deployments", "/api/v1/apps", "/api/v1/audit"} {
			code, h, body := get(t, base+path)
			if code != 200 || h.Get("Content-Type") != "application/json" || !strings.HasPrefix(body, "{") {
				t.Errorf("%s: %d %s %.200s", path, code, h.Get("Content-Type"), body)
			}
		}
	})
	t.Run("the web UI is mounted", func(t *testing.T) {
		code, h, body := get(t, base+"/")
		if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") || !strings.Contains(body, "<html lang=") {
			t.Errorf("/: %d %s %.200s", code, h.Get("Content-Type"), body)
		}
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "style-src 'self'") {
			t.Errorf("/ has CSP %q, want the web UI's", csp)
		}
		if code, _, _ := get(t, base+"/no-such-page"); code != 404 {
			t.Errorf("/no-such-page: %d, want 404", code)
		}
	})
	t.Run("live updates stream at /events", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/events", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("/events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if _, err := a.Store().Append(context.Background(), storetest.NewGenerator(9, "gitlab").Flow()[0]); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 0, 1024)
		for !strings.Contains(string(buf), "event: append") {
			chunk := make([]byte, 512)
			n, err := resp.Body.Read(chunk)
			if err != nil {
				t.Fatalf("stream ended before an append event: %v (%q)", err, buf)
			}
			buf = append(buf, chunk[:n]...)
		}
	})
	t.Run("metrics count ingested events by source and type", func(t *testing.T) {
		events := storetest.NewGenerator(1, "github").Flow()
		if _, err := a.Store().Append(context.Background(), events...); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Store().Append(context.Background(), events[0]); err != nil {
			t.Fatal(err)
		}
		code, _, body := get(t, base+"/metrics")
		for _, want := range []string{
			`shiplog_events_ingested_total{source="github",type="commit.authored"} 1`,
			`shiplog_events_duplicate_total{source="github"} 1`,
			`shiplog_store_append_duration_seconds_count{store="sqlite"}`,
			`process_cpu_seconds_total`,
			`go_goroutines`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("metrics (status %d) lack %q", code, want)
			}
		}
	})
}

func TestShutdownEndsEventStreams(t *testing.T) {
	cfg := testConfig(migratedDB(t))
	cfg.Web.ShutdownTimeout = time.Minute
	a, err := app.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	resp, err := http.Get("http://" + a.Addr() + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if n := a.Hub().Subscribers(); n != 1 {
		t.Fatalf("%d subscribers, want 1", n)
	}
	cancel()
	// An open stream never goes idle: without ending it, shutdown would
	// wait for its whole timeout (a minute here).
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("shutdown still waiting on an event stream after 10 s")
	}
	if _, err := io.ReadAll(resp.Body); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("stream ended with %v", err)
	}
}

func TestRefusesSchemaMismatch(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty.db")
	_, err := app.New(context.Background(), testConfig(empty), slog.New(slog.DiscardHandler))
	var se *store.SchemaError
	if !errors.As(err, &se) || se.Have != 0 || !strings.Contains(err.Error(), "shiplog migrate") {
		t.Fatalf("New on an empty store: %v, want a SchemaError telling to run shiplog migrate", err)
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	path := migratedDB(t)
	// A newer shiplog has migrated this store further.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, '0099_future.sql', 1)`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = app.New(context.Background(), testConfig(path), slog.New(slog.DiscardHandler))
	var se *store.SchemaError
	if !errors.As(err, &se) || se.Have != 99 || se.Want < 1 || se.Want >= 99 || !strings.Contains(err.Error(), "upgrade shiplog") {
		t.Fatalf("New on a newer store: %v, want a SchemaError telling to upgrade", err)
	}
	s, err := app.OpenStore(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(context.Background()); !errors.As(err, &se) {
		t.Errorf("Migrate on a newer store: %v, want a SchemaError", err)
	}
}

func TestGracefulShutdownWaitsForRequests(t *testing.T) {
	a, err := app.New(context.Background(), testConfig(migratedDB(t)), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + a.Addr()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()

	// A slow readiness check keeps a request in flight while shutting down.
	entered, release := make(chan struct{}), make(chan struct{})
	a.AddReadinessCheck("slow", func(context.Context) error {
		close(entered)
		<-release
		return nil
	})
	got := make(chan int, 1)
	go func() {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			got <- -1
			return
		}
		resp.Body.Close()
		got <- resp.StatusCode
	}()
	<-entered
	cancel() // SIGTERM, as the process sees it
	select {
	case err := <-done:
		t.Fatalf("Run returned (%v) while a request was in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if code := <-got; code != 200 {
		t.Errorf("in-flight request got %d, want 200", code)
	}
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("server still answers after shutdown")
	}
}
