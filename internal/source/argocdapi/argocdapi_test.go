package argocdapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/source/argocdapi"
	"github.com/shiplog-dev/shiplog/internal/store"
	"github.com/shiplog-dev/shiplog/internal/store/sqlite"
)

// fakeArgoCD speaks the Argo CD API's list and stream endpoints.
type fakeArgoCD struct {
	t     *testing.T
	mu    sync.Mutex
	token string
	apps  map[string]map[string]any
	subs  map[chan []byte]bool
	conns int // stream connections
	keep  bool
}

func newFakeArgoCD(t *testing.T, token string) (*fakeArgoCD, *httptest.Server) {
	f := &fakeArgoCD{t: t, token: token, apps: map[string]map[string]any{}, subs: map[chan []byte]bool{}, keep: true}
	srv := httptest.NewTLSServer(f)
	t.Cleanup(func() {
		f.drop()
		srv.Close()
	})
	return f, srv
}

func (f *fakeArgoCD) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	token := f.token
	f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+token {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":"invalid session: token is expired","code":16,"message":"invalid session: token is expired"}`)
		return
	}
	switch r.URL.Path {
	case "/api/v1/applications":
		f.mu.Lock()
		items := make([]any, 0, len(f.apps))
		for _, name := range slices.Sorted(mapKeys(f.apps)) {
			items = append(items, f.apps[name])
		}
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"metadata": map[string]any{"resourceVersion": "100"}, "items": items})
	case "/api/v1/stream/applications":
		if r.Header.Get("Accept") != "text/event-stream" {
			http.Error(w, "want text/event-stream", http.StatusNotAcceptable)
			return
		}
		ch := make(chan []byte, 16)
		f.mu.Lock()
		f.conns++
		f.subs[ch] = true
		var initial [][]byte
		for _, name := range slices.Sorted(mapKeys(f.apps)) {
			initial = append(initial, frame("ADDED", f.apps[name]))
		}
		keep := f.keep
		f.mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		fl := w.(http.Flusher)
		for _, b := range initial {
			_, _ = w.Write(b)
		}
		fl.Flush()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-r.Context().Done():
				return
			case b, ok := <-ch:
				if !ok {
					return
				}
				_, _ = w.Write(b)
				fl.Flush()
			case <-tick.C:
				if keep {
					_, _ = w.Write([]byte(": keepalive\n\n"))
					fl.Flush()
				}
			}
		}
	default:
		http.NotFound(w, r)
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func frame(typ string, app map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"result": map[string]any{"type": typ, "application": app}})
	return []byte("data: " + string(b) + "\n\n")
}

func (f *fakeArgoCD) send(b []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.subs {
		ch <- b
	}
}

func (f *fakeArgoCD) set(app map[string]any) {
	f.mu.Lock()
	name := app["metadata"].(map[string]any)["name"].(string)
	f.apps[name] = app
	f.mu.Unlock()
	f.send(frame("MODIFIED", app))
}

// drop closes every open stream, as a restarting server would.
func (f *fakeArgoCD) drop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.subs {
		close(ch)
		delete(f.subs, ch)
	}
}

func (f *fakeArgoCD) connections() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.conns
}

const rev1, rev2 = "1111111111111111111111111111111111111111", "2222222222222222222222222222222222222222"

func app(op map[string]any, health string, history ...map[string]any) map[string]any {
	h := make([]any, len(history))
	for i := range history {
		h[i] = history[i]
	}
	return map[string]any{
		"metadata": map[string]any{"name": "web-staging", "namespace": "argocd", "labels": map[string]any{"team": "web"}},
		"spec": map[string]any{
			"source":      map[string]any{"repoURL": "https://github.com/acme/gitops", "path": "apps/web/staging"},
			"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": "web"},
		},
		"status": map[string]any{
			"sync":           map[string]any{"status": "Synced", "revision": op["operation"].(map[string]any)["sync"].(map[string]any)["revision"]},
			"health":         map[string]any{"status": health, "lastTransitionTime": "2025-07-01T10:02:00Z"},
			"history":        h,
			"operationState": op,
			"summary":        map[string]any{"images": []any{"ghcr.io/acme/web:2.0.0"}},
		},
	}
}

func op(revision, phase, started, finished string) map[string]any {
	o := map[string]any{
		"operation": map[string]any{"sync": map[string]any{"revision": revision}, "initiatedBy": map[string]any{"automated": true}},
		"phase":     phase, "startedAt": started,
	}
	if finished != "" {
		o["finishedAt"] = finished
		o["syncResult"] = map[string]any{"revision": revision}
	}
	return o
}

// logBuffer collects the source's log, to check what it says (and not).
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type harness struct {
	t     *testing.T
	st    *store.Store
	src   *argocdapi.Source
	log   *logBuffer
	now   time.Time
	stop  func()
	token string
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "shiplog.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// start runs a source on st until the test ends.
func start(t *testing.T, cfg argocdapi.ServerConfig, now time.Time, st *store.Store) *harness {
	t.Helper()
	ctx := context.Background()
	h := &harness{t: t, st: st, log: &logBuffer{}, now: now}
	src, err := argocdapi.New(cfg, st, slog.New(slog.NewTextHandler(h.log, &slog.HandlerOptions{Level: slog.LevelDebug})), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	h.src = src
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- src.Run(rctx) }()
	h.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(func() {
		h.stop()
		if t.Failed() {
			t.Logf("source log:\n%s", h.log.String())
		}
	})
	return h
}

func waitFor(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (h *harness) events() []string {
	evs, err := h.st.Events(context.Background(), store.EventFilter{Source: argocdapi.SourceKind})
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		p, _ := json.Marshal(e.Payload)
		out = append(out, fmt.Sprintf("%s %s at=%s app=%s env=%s cluster=%s ns=%s %s", e.ID, e.Type, e.Time.UTC().Format(time.RFC3339),
			e.App, e.Env, e.Cluster, e.Namespace, p))
	}
	slices.Sort(out)
	return out
}

func (h *harness) expect(want []string) {
	h.t.Helper()
	slices.Sort(want)
	var got []string
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if got = h.events(); slices.Equal(got, want) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.t.Fatalf("events:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
}

const prefix = "argocd/argocd-main/argocd/web-staging/"

func ev(id, typ, at string, payload string) string {
	return fmt.Sprintf("%s%s %s at=%s app=web env=staging cluster=argocd-main ns=web %s", prefix, id, typ, at, payload)
}

// TestLifecycle: the list, the stream's changes, a dropped stream with a
// deletion meanwhile (found by listing again), and a stale token.
func TestLifecycle(t *testing.T) {
	fa, srv := newFakeArgoCD(t, "s3cr3t-token-one")
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("s3cr3t-token-one\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h1 := map[string]any{"id": int64(1), "revision": rev1, "deployStartedAt": "2025-07-01T10:00:00Z", "deployedAt": "2025-07-01T10:01:00Z",
		"initiatedBy": map[string]any{"automated": true}}
	fa.set(app(op(rev1, "Succeeded", "2025-07-01T10:00:00Z", "2025-07-01T10:01:00Z"), "Healthy", h1))
	now := time.Date(2025, 7, 1, 12, 0, 0, 0, time.UTC)
	h := start(t, argocdapi.ServerConfig{Name: "argocd-main", URL: srv.URL, TokenFile: tokenFile, Client: srv.Client()}, now, openStore(t))
	waitFor(t, "ready", h.src.Ready)

	want := []string{
		ev("2025-07-01T10:00:00Z/Running", "sync.started", "2025-07-01T10:00:00Z",
			`{"application":"web-staging","started_at":"2025-07-01T10:00:00Z","revision":"`+rev1+`","phase":"Running","automated":true,"recovered":true}`),
		ev("2025-07-01T10:00:00Z/Succeeded", "sync.finished", "2025-07-01T10:01:00Z",
			`{"application":"web-staging","started_at":"2025-07-01T10:00:00Z","finished_at":"2025-07-01T10:01:00Z","revision":"`+rev1+`","phase":"Succeeded","automated":true,"recovered":true}`),
		ev("health/Healthy/2025-07-01T10:02:00Z", "health.changed", "2025-07-01T10:02:00Z",
			`{"application":"web-staging","status":"Healthy","sync_status":"Synced","revision":"`+rev1+`"}`),
		ev("syncstatus/Synced/2025-07-01T12:00:00Z", "syncstatus.changed", "2025-07-01T12:00:00Z",
			`{"application":"web-staging","status":"Synced","revision":"`+rev1+`"}`),
		ev("2025-07-01T10:00:00Z/deployment", "service.deployed", "2025-07-01T10:02:00Z",
			`{"artifact":"ghcr.io/acme/web:2.0.0","repo":"https://github.com/acme/gitops","manifest_commit":"`+rev1+`","inferred_from":"argocd"}`),
	}
	h.expect(want)

	// A sync starts: the stream says so.
	fa.set(app(op(rev2, "Running", "2025-07-01T12:00:00Z", ""), "Healthy", h1))
	want = append(want, ev("2025-07-01T12:00:00Z/Running", "sync.started", "2025-07-01T12:00:00Z",
		`{"application":"web-staging","started_at":"2025-07-01T12:00:00Z","revision":"`+rev2+`","phase":"Running","automated":true}`))
	h.expect(want)

	// The stream drops; the Application is deleted meanwhile: listing again
	// on reconnection records its removal.
	conns := fa.connections()
	fa.mu.Lock()
	delete(fa.apps, "web-staging")
	fa.mu.Unlock()
	fa.drop()
	want = append(want, ev("removed/2025-07-01T10:00:00Z", "service.removed", "2025-07-01T12:00:00Z",
		`{"previous_artifact":"ghcr.io/acme/web:2.0.0","inferred_from":"argocd"}`))
	h.expect(want)
	waitFor(t, "a new stream", func() error {
		if fa.connections() <= conns {
			return fmt.Errorf("still %d connections", fa.connections())
		}
		return h.src.Ready()
	})

	// The token is revoked: Ready says so, the log never shows the token;
	// the rotated token file is read on the next attempt.
	fa.mu.Lock()
	fa.token = "s3cr3t-token-two"
	fa.mu.Unlock()
	fa.drop()
	waitFor(t, "Ready to report the refusal", func() error {
		if err := h.src.Ready(); err == nil || !strings.Contains(err.Error(), "401 Unauthorized") {
			return fmt.Errorf("Ready() = %v", err)
		}
		return nil
	})
	if err := os.WriteFile(tokenFile, []byte("s3cr3t-token-two"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ready with the new token", h.src.Ready)
	if l := h.log.String(); strings.Contains(l, "s3cr3t") {
		t.Errorf("the log shows a token:\n%s", l)
	}
	h.expect(want)
}

// TestStreamFailures: an error frame, a silent stream and a restart of
// shiplog are survived, and nothing is recorded twice.
func TestStreamFailures(t *testing.T) {
	fa, srv := newFakeArgoCD(t, "tok")
	fa.set(app(op(rev1, "Failed", "2025-07-02T08:00:00Z", "2025-07-02T08:00:05Z"), "Degraded"))
	now := time.Date(2025, 7, 2, 9, 0, 0, 0, time.UTC)
	cfg := argocdapi.ServerConfig{Name: "argocd-main", URL: srv.URL, Token: "tok", Client: srv.Client(), IdleTimeout: 300 * time.Millisecond}
	st := openStore(t)
	h := start(t, cfg, now, st)
	waitFor(t, "ready", h.src.Ready)
	want := []string{
		ev("2025-07-02T08:00:00Z/Running", "sync.started", "2025-07-02T08:00:00Z",
			`{"application":"web-staging","started_at":"2025-07-02T08:00:00Z","revision":"`+rev1+`","phase":"Running","automated":true,"recovered":true}`),
		ev("2025-07-02T08:00:00Z/Failed", "sync.finished", "2025-07-02T08:00:05Z",
			`{"application":"web-staging","started_at":"2025-07-02T08:00:00Z","finished_at":"2025-07-02T08:00:05Z","revision":"`+rev1+`","phase":"Failed","automated":true,"recovered":true}`),
		ev("health/Degraded/2025-07-01T10:02:00Z", "health.changed", "2025-07-01T10:02:00Z",
			`{"application":"web-staging","status":"Degraded","sync_status":"Synced","revision":"`+rev1+`"}`),
		ev("syncstatus/Synced/2025-07-02T09:00:00Z", "syncstatus.changed", "2025-07-02T09:00:00Z",
			`{"application":"web-staging","status":"Synced","revision":"`+rev1+`"}`),
	}
	h.expect(want)

	conns := fa.connections()
	fa.send([]byte(`data: {"error":{"grpc_code":14,"http_code":503,"code":14,"message":"connection closed","http_status":"Service Unavailable"}}` + "\n\n"))
	waitFor(t, "a reconnection after an error frame", func() error {
		if fa.connections() <= conns {
			return fmt.Errorf("still %d connections", fa.connections())
		}
		return nil
	})
	fa.mu.Lock()
	fa.keep = false // no more keepalives: the idle timeout ends streams
	fa.mu.Unlock()
	fa.drop()
	conns = fa.connections()
	waitFor(t, "reconnections after silent streams", func() error {
		if fa.connections() < conns+2 {
			return fmt.Errorf("%d connections", fa.connections())
		}
		return nil
	})
	if l := h.log.String(); !strings.Contains(l, "the stream sent nothing for 300ms") || !strings.Contains(l, "connection closed (code 14)") {
		t.Errorf("the log does not say why the streams ended:\n%s", l)
	}
	h.expect(want)

	// shiplog restarts: nothing is recorded twice; the store tells what
	// was recorded (the health is unchanged, so not recorded again).
	h.stop()
	h.stop = func() {}
	h2 := start(t, cfg, now.Add(time.Hour), st)
	waitFor(t, "ready after restart", h2.src.Ready)
	fa.set(app(op(rev1, "Failed", "2025-07-02T08:00:00Z", "2025-07-02T08:00:05Z"), "Degraded"))
	h2.expect(want)
}
