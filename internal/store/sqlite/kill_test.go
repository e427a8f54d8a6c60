package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/shiplog-dev/shiplog/internal/store"
	"github.com/shiplog-dev/shiplog/internal/store/sqlite"
	"github.com/shiplog-dev/shiplog/internal/store/storetest"
)

func TestMain(m *testing.M) {
	storetest.KillChild(func(ctx context.Context, path string) (*store.Store, error) {
		return sqlite.Open(ctx, path, store.Options{})
	})
	os.Exit(m.Run())
}

// TestKillDuringAppend kills a process that is appending with SIGKILL and
// checks that every event it had acknowledged survived.
func TestKillDuringAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crash.db")
	s := openAt(t, path)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	storetest.KillParent(t, path, 20_000, func(t *testing.T) *store.Store { return openAt(t, path) }, openTemp)
}

func openAt(t testing.TB, path string) *store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}
