package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/store"
	"github.com/shiplog-dev/shiplog/internal/store/postgres"
	"github.com/shiplog-dev/shiplog/internal/store/storetest"
)

// dsnEnv names the variable holding the test server's DSN. Under CI the
// PostgreSQL tests must run: a missing DSN fails them instead of skipping.
const dsnEnv = "SHIPLOG_TEST_POSTGRES_DSN"

func testDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv(dsnEnv)
	if dsn == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set: CI must run the PostgreSQL store tests (.ci/run starts the server)", dsnEnv)
		}
		t.Skipf("%s is not set; run .ci/start-postgres and export its output", dsnEnv)
	}
	return dsn
}

var schemaSeq atomic.Int64

// openTemp opens a store in a schema of its own, dropped at the end.
func openTemp(t *testing.T) *store.Store {
	t.Helper()
	dsn := testDSN(t)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	schema := fmt.Sprintf("shiplog_test_%d_%d", time.Now().UnixNano(), schemaSeq.Add(1))
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.Exec("DROP SCHEMA " + schema + " CASCADE") })
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	s, err := postgres.Open(context.Background(), u.String(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
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
