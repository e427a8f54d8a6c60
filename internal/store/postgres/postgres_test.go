package postgres_test

import (
	"context"
	"os"
	"testing"

	"github.com/shiplog-dev/shiplog/internal/store"
	"github.com/shiplog-dev/shiplog/internal/store/postgres"
	"github.com/shiplog-dev/shiplog/internal/store/storetest"
)

func testDSN(t testing.TB) string { return storetest.PostgresDSN(t) }

func TestMain(m *testing.M) {
	storetest.KillChild(func(ctx context.Context, dsn string) (*store.Store, error) {
		return postgres.Open(ctx, dsn, store.Options{})
	})
	os.Exit(m.Run())
}

// openTemp opens a store in a schema of its own, dropped at the end.
func openTemp(t *testing.T) *store.Store {
	t.Helper()
	s, _ := openTempDSN(t)
	return s
}

// TestKillDuringAppend kills a process that is appending with SIGKILL and
// checks that every event it had acknowledged survived.
func TestKillDuringAppend(t *testing.T) {
	s, dsn := openTempDSN(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	storetest.KillParent(t, dsn, 10_000, func(t *testing.T) *store.Store {
		s, err := postgres.Open(context.Background(), dsn, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}, openTemp)
}

// openTempDSN opens a store in a schema of its own, dropped at the end, and
// returns the DSN that reaches that schema.
func openTempDSN(t testing.TB) (*store.Store, string) {
	t.Helper()
	dsn := storetest.PostgresSchema(t, "test")
	s, err := postgres.Open(context.Background(), dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s, dsn
}

func TestConformance(t *testing.T) {
	storetest.Run(t, openTemp)
}

func TestRebind(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SELECT ?", "SELECT $1"},
		{"a = ? AND b = '?' AND c = ?", "a = $1 AND b = '?' AND c = $2"},
		{"no placeholders", "no placeholders"},
	}
	for _, tc := range tests {
		if got := (postgres.Dialect{}).Rebind(tc.in); got != tc.want {
			t.Errorf("Rebind(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
