// Package argocdapi records Argo CD Applications through the Argo CD REST
// API, for teams that have an Argo CD token but no access to the
// Kubernetes API: it lists the Applications (GET /api/v1/applications),
// then follows the server-sent events of /api/v1/stream/applications, and
// turns what it sees into the same events as the Kubernetes source, with
// the same conversion (kube.AppTracker), under the source kind "argocd".
//
// It reconnects with backoff when the stream fails or stays silent, and
// lists again on every reconnection (and every ResyncInterval) so that an
// Application deleted meanwhile is recorded as removed. The bearer token is
// read from a file at each connection (so it can be rotated) and never
// logged.
package argocdapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/shiplog-dev/shiplog/internal/source/kube"
)

// SourceKind is the source kind of the events this source records.
const SourceKind = "argocd"

// ServerConfig is one Argo CD server to read.
type ServerConfig struct {
	// Name names the server in events (their Cluster) and ids.
	Name string
	// URL is the server's base URL, e.g. https://argocd.example.com.
	URL string
	// TokenFile holds the bearer token (an Argo CD API token); it is read
	// at each connection.
	TokenFile string
	// Token is the token itself (e.g. from an environment variable), used
	// when TokenFile is empty.
	Token string
	// Client makes the requests (nil: a client with the system's roots).
	// It must not time out whole requests: the stream is long-lived.
	Client *http.Client
	// IdleTimeout ends a stream that sent nothing for that long (0: 1 min;
	// Argo CD sends a keepalive every 15 s).
	IdleTimeout time.Duration
	// ResyncInterval is how often the Applications are listed again while
	// the stream is up (0: 10 min).
	ResyncInterval time.Duration
}

// Backoff between reconnections; variables so that tests need not wait.
var (
	retryMin = time.Second
	retryMax = time.Minute
)

// Source reads one Argo CD server.
type Source struct {
	cfg   ServerConfig
	st    kube.Appender
	rec   kube.Recaller
	log   *slog.Logger
	clock func() time.Time
	base  *url.URL

	mu        sync.Mutex
	running   bool
	connected bool  // the stream is up
	lastErr   error // why the last session ended
}

// New returns a source for one Argo CD server that appends to st (and
// reads back from it on start when it is a kube.Recaller). It checks the
// configuration without contacting the server.
func New(cfg ServerConfig, st kube.Appender, log *slog.Logger, clock func() time.Time) (*Source, error) {
	var errs []error
	if cfg.Name == "" || strings.ContainsAny(cfg.Name, "/ \t\n") {
		errs = append(errs, fmt.Errorf("name: %q must be non-empty, without '/' or spaces", cfg.Name))
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("url: %q is not an http(s) URL", cfg.URL))
	}
	if cfg.TokenFile == "" && cfg.Token == "" {
		errs = append(errs, errors.New("token_file: missing"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("argocd server %q: %w", cfg.Name, errors.Join(errs...))
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = time.Minute
	}
	if cfg.ResyncInterval <= 0 {
		cfg.ResyncInterval = 10 * time.Minute
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if clock == nil {
		clock = time.Now
	}
	s := &Source{cfg: cfg, st: st, log: log.With("source", SourceKind, "server", cfg.Name), clock: clock, base: u}
	s.rec, _ = st.(kube.Recaller)
	return s, nil
}

// Ready returns nil while the Applications are listed and the stream is
// up, else an error saying why not (never the token).
func (s *Source) Ready() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case !s.running:
		return fmt.Errorf("argocd server %q: not running", s.cfg.Name)
	case s.connected:
		return nil
	case s.lastErr != nil:
		return fmt.Errorf("argocd server %q: %w", s.cfg.Name, s.lastErr)
	}
	return fmt.Errorf("argocd server %q: connecting", s.cfg.Name)
}

// Run reads the server until ctx is done, reconnecting with backoff. It
// returns nil when ctx is done.
func (s *Source) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return fmt.Errorf("argocd server %q: already running", s.cfg.Name)
	}
	s.running = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.running, s.connected = false, false
		s.mu.Unlock()
	}()
	o := kube.Origin{Source: SourceKind, Cluster: s.cfg.Name, Since: s.clock()}
	tracker := kube.NewAppTracker(o, s.st)
	wait := retryMin
	recalled := s.rec == nil
	for {
		began := time.Now()
		var err error
		if !recalled {
			if err = tracker.Recall(ctx, s.rec, s.clock()); err == nil {
				recalled = true
			}
		}
		if recalled {
			err = s.session(ctx, tracker)
		}
		if ctx.Err() != nil {
			return nil
		}
		s.mu.Lock()
		s.connected, s.lastErr = false, err
		s.mu.Unlock()
		if err == nil {
			wait = retryMin // a resync: list again at once
			continue
		}
		if time.Since(began) > retryMax {
			wait = retryMin
		}
		s.log.Warn("argocd server unavailable; retrying", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, retryMax)
	}
}

func (s *Source) token() (string, error) {
	if s.cfg.TokenFile == "" {
		return s.cfg.Token, nil
	}
	b, err := os.ReadFile(s.cfg.TokenFile)
	if err != nil {
		return "", fmt.Errorf("read token: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("read token: %s is empty", s.cfg.TokenFile)
	}
	return tok, nil
}

func (s *Source) request(ctx context.Context, path, token string) (*http.Response, error) {
	u := s.base.JoinPath(path)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if strings.Contains(path, "/stream/") {
		req.Header.Set("Accept", "text/event-stream")
	} else {
		req.Header.Set("Accept", "application/json")
	}
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u.Path, err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s: %s", u.Path, resp.Status, strings.TrimSpace(string(b)))
	}
	return resp, nil
}

// session lists the Applications, records them and the removal of those
// gone, then follows the stream. It returns nil when a resync is due, else
// why it ended.
func (s *Source) session(ctx context.Context, tracker *kube.AppTracker) error {
	tok, err := s.token()
	if err != nil {
		return err
	}
	if err := s.list(ctx, tracker, tok); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ResyncInterval)
	defer cancel()
	err = s.stream(ctx, tracker, tok)
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		return nil // resync
	}
	return err
}

func (s *Source) list(ctx context.Context, tracker *kube.AppTracker, tok string) error {
	resp, err := s.request(ctx, "/api/v1/applications", tok)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return fmt.Errorf("GET /api/v1/applications: %w", err)
	}
	present := map[string]bool{}
	for _, raw := range list.Items {
		app, err := decodeApp(raw)
		if err != nil {
			s.log.Error("cannot record application", "err", err)
			continue
		}
		present[app.Metadata.Namespace+"/"+app.Metadata.Name] = true
		if err := s.observe(ctx, tracker, app); err != nil {
			return err
		}
	}
	for ref, live := range tracker.Known() {
		if present[ref] {
			continue
		}
		ns, name, _ := strings.Cut(ref, "/")
		if !live {
			tracker.Forget(ns, name)
			continue
		}
		if err := tracker.Remove(ctx, ns, name, s.clock()); err != nil {
			return err
		}
	}
	return nil
}

func decodeApp(raw []byte) (*kube.Application, error) {
	var app kube.Application
	if err := json.Unmarshal(raw, &app); err != nil {
		return nil, fmt.Errorf("decode application: %w", err)
	}
	if app.Metadata.Name == "" {
		return nil, errors.New("decode application: metadata.name: missing")
	}
	return &app, nil
}

// observe records an Application; a malformed one is logged and skipped.
func (s *Source) observe(ctx context.Context, tracker *kube.AppTracker, app *kube.Application) error {
	err := tracker.Observe(ctx, app, s.clock())
	if errors.Is(err, kube.ErrMalformed) {
		s.log.Error("cannot record application", "application", app.Metadata.Namespace+"/"+app.Metadata.Name, "err", err)
		return nil
	}
	return err
}

// streamEvent is one server-sent event of /api/v1/stream/applications.
type streamEvent struct {
	Result *struct {
		Type        string          `json:"type"`
		Application json.RawMessage `json:"application"`
	} `json:"result"`
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func (s *Source) stream(ctx context.Context, tracker *kube.AppTracker, tok string) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	resp, err := s.request(ctx, "/api/v1/stream/applications", tok)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	s.mu.Lock()
	s.connected, s.lastErr = true, nil
	s.mu.Unlock()
	s.log.Info("following the application stream")

	errIdle := fmt.Errorf("the stream sent nothing for %s", s.cfg.IdleTimeout)
	idle := time.AfterFunc(s.cfg.IdleTimeout, func() { cancel(errIdle) })
	defer idle.Stop()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var data bytes.Buffer
	for sc.Scan() {
		idle.Reset(s.cfg.IdleTimeout)
		line := sc.Bytes()
		switch {
		case len(line) == 0:
			if data.Len() > 0 {
				if err := s.dispatch(ctx, tracker, data.Bytes()); err != nil {
					return err
				}
				data.Reset()
			}
		case bytes.HasPrefix(line, []byte("data:")):
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.Write(bytes.TrimPrefix(bytes.TrimPrefix(line, []byte("data:")), []byte(" ")))
		}
	}
	if data.Len() > 0 {
		if err := s.dispatch(ctx, tracker, data.Bytes()); err != nil {
			return err
		}
	}
	if cause := context.Cause(ctx); cause != nil {
		return cause
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read the application stream: %w", err)
	}
	return errors.New("the application stream ended")
}

func (s *Source) dispatch(ctx context.Context, tracker *kube.AppTracker, data []byte) error {
	var ev streamEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		s.log.Error("cannot read a stream event", "err", err)
		return nil
	}
	if ev.Error != nil {
		return fmt.Errorf("the application stream failed: %s (code %d)", ev.Error.Message, ev.Error.Code)
	}
	if ev.Result == nil {
		return nil
	}
	app, err := decodeApp(ev.Result.Application)
	if err != nil {
		s.log.Error("cannot record application", "err", err)
		return nil
	}
	switch ev.Result.Type {
	case "ADDED", "MODIFIED":
		return s.observe(ctx, tracker, app)
	case "DELETED":
		// Its last state first (a deletion timestamp, a last transition).
		if err := s.observe(ctx, tracker, app); err != nil {
			return err
		}
		return tracker.Remove(ctx, app.Metadata.Namespace, app.Metadata.Name, s.clock())
	}
	return nil
}
