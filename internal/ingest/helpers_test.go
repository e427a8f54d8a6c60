package ingest_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/ingest"
	"github.com/shiplog-dev/shiplog/internal/store"
	"github.com/shiplog-dev/shiplog/internal/store/sqlite"
)

// Secrets of the test servers.
const (
	githubSecret = "It's a Secret to Everybody"
	gitlabSecret = "glpat-webhook-7f3c2a91d4"
	ingestToken  = "shiplog-ingest-4b8e1d0c9a7f"
)

// Fixture directories of the source packages.
const (
	githubData       = "../source/webhook/github/testdata"
	gitlabData       = "../source/webhook/gitlab/testdata"
	cloudeventsData  = "../source/cloudevents/testdata"
	argocdData       = "../source/webhook/argocd/testdata/bodies"
	alertmanagerData = "../source/webhook/alertmanager/testdata"
)

// openStore opens a migrated SQLite store in a temporary directory.
func openStore(t testing.TB) *store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "shiplog.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// server is the ingest handlers on a real store, served on loopback.
type server struct {
	url   string
	store *store.Store
	reg   *prometheus.Registry
	logs  *syncBuffer
}

// newServer starts the handlers with every secret configured; change
// adjusts the options first.
func newServer(t *testing.T, change func(*ingest.Options)) *server {
	t.Helper()
	s := &server{store: openStore(t), reg: prometheus.NewRegistry(), logs: &syncBuffer{}}
	opts := ingest.Options{
		Store:         s.store,
		Logger:        slog.New(slog.NewJSONHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registerer:    s.reg,
		Token:         ingestToken,
		GitHubSecret:  githubSecret,
		GitLabSecret:  gitlabSecret,
		ArgoCDCluster: "prod-eu-1",
	}
	if change != nil {
		change(&opts)
	}
	in, err := ingest.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ingest/github", in.GitHub())
	mux.Handle("/ingest/gitlab", in.GitLab())
	mux.Handle("/ingest/cloudevents", in.CloudEvents())
	mux.Handle("/ingest/argocd", in.ArgoCD())
	mux.Handle("/ingest/alertmanager", in.Alertmanager())
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	s.url = hs.URL
	return s
}

// syncBuffer is a log destination safe for concurrent handlers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// records returns the log records as maps.
func (b *syncBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(b.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// reply is an answer of the server.
type reply struct {
	code   int
	header http.Header
	body   map[string]any
	raw    string
}

// post sends body to path with the headers.
func (s *server) post(t *testing.T, path string, h http.Header, body []byte) reply {
	t.Helper()
	return s.do(t, http.MethodPost, path, h, bytes.NewReader(body))
}

func (s *server) do(t *testing.T, method, path string, h http.Header, body io.Reader) reply {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := reply{code: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: Content-Type %q, want application/json (body %s)", method, path, ct, raw)
	}
	if err := json.Unmarshal(raw, &r.body); err != nil {
		t.Fatalf("%s %s: body %q is not JSON: %v", method, path, raw, err)
	}
	return r
}

// wantStored checks a 202 "stored" answer.
func (r reply) wantStored(t *testing.T, events, duplicates int) {
	t.Helper()
	if r.code != http.StatusAccepted || r.body["status"] != "stored" ||
		r.body["events"] != float64(events) || r.body["duplicates"] != float64(duplicates) {
		t.Errorf("got %d %s, want 202 {status: stored, events: %d, duplicates: %d}", r.code, r.raw, events, duplicates)
	}
}

// wantError checks an error answer: its code, and a message containing each
// of parts.
func (r reply) wantError(t *testing.T, code int, parts ...string) {
	t.Helper()
	msg, _ := r.body["error"].(string)
	if r.code != code || msg == "" {
		t.Errorf("got %d %s, want %d with an error", r.code, r.raw, code)
		return
	}
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("error %q does not contain %q", msg, p)
		}
	}
}

// wantIgnored checks a 202 "ignored" answer whose reason contains part.
func (r reply) wantIgnored(t *testing.T, part string) {
	t.Helper()
	reason, _ := r.body["reason"].(string)
	if r.code != http.StatusAccepted || r.body["status"] != "ignored" || !strings.Contains(reason, part) {
		t.Errorf("got %d %s, want 202 ignored with a reason containing %q", r.code, r.raw, part)
	}
}

func readFile(t testing.TB, path ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(path...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readRequest reads a request kept as text: the header up to the first
// blank line, the rest is the body.
func readRequest(t testing.TB, path string) (http.Header, []byte) {
	t.Helper()
	raw := readFile(t, path)
	head, body, ok := bytes.Cut(raw, []byte("\n\n"))
	if !ok {
		t.Fatalf("%s: no blank line after the header", path)
	}
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(append(head, "\n\n"...))))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return req.Header, body
}

// sign returns the X-Hub-Signature-256 value of body.
func sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// githubHeaders are the headers of a signed GitHub delivery.
func githubHeaders(event, deliveryID string, body []byte) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "GitHub-Hookshot/4f2a9c1")
	h.Set("X-GitHub-Event", event)
	h.Set("X-GitHub-Delivery", deliveryID)
	h.Set("X-Hub-Signature-256", sign(githubSecret, body))
	return h
}

// bearerHeaders are JSON headers with the ingest token.
func bearerHeaders(token string) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return h
}

// key is an event's identity in the store, for exact comparisons.
type key struct {
	Source, ID string
	Type       delivery.EventType
}

// storedKeys returns every stored event's key, in log order.
func storedKeys(t testing.TB, st *store.Store) []key {
	t.Helper()
	events, err := st.Events(context.Background(), store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]key, 0, len(events))
	for _, e := range events {
		out = append(out, key{e.Source, e.ID, e.Type})
	}
	return out
}

// wantKeys checks the store holds exactly want, in log order.
func wantKeys(t *testing.T, st *store.Store, want ...key) {
	t.Helper()
	got := storedKeys(t, st)
	if !slices.Equal(got, want) {
		t.Errorf("store holds\n%v\nwant\n%v", got, want)
	}
}

// metricValue returns the value of a counter (or a histogram's count) with
// exactly these labels, 0 when absent.
func metricValue(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue metrics
				}
			}
			if h := m.GetHistogram(); h != nil {
				return float64(h.GetSampleCount())
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
