package ingest

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/shiplog-dev/shiplog/internal/store"
	"github.com/shiplog-dev/shiplog/internal/store/sqlite"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestParserPanic checks that a parser panic answers 500, is logged, and
// leaves the server serving.
func TestParserPanic(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	in, err := New(Options{Store: st, Token: "t0k3n", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	in.argocd.parse = func(http.Header, []byte) (parsed, error) {
		var m map[string]int
		m["boom"]++ // assignment to entry in nil map
		return parsed{}, nil
	}
	srv := httptest.NewServer(in.ArgoCD())
	defer srv.Close()
	for i := range 2 {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{}`))
		req.Header.Set("Authorization", "Bearer t0k3n")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusInternalServerError {
			t.Errorf("request %d: status %d, want 500", i, resp.StatusCode)
		}
	}
	out := logs.String()
	if strings.Count(out, "ingest handler panicked") != 2 || !strings.Contains(out, "assignment to entry in nil map") {
		t.Errorf("log lacks the panics:\n%s", out)
	}
	if n, _ := st.CountEvents(context.Background()); n != 0 {
		t.Errorf("%d events stored, want 0", n)
	}
}
