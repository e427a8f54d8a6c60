package storetest

import (
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// PostgresDSNEnv names the variable holding the test server's DSN.
const PostgresDSNEnv = "SHIPLOG_TEST_POSTGRES_DSN"

// PostgresDSN returns the test server's DSN. Without one the test is
// skipped, except under CI (the variable CI set), where it fails: CI must
// run the PostgreSQL tests (.ci/run starts the server).
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(PostgresDSNEnv)
	if dsn == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set: CI must run the PostgreSQL tests (.ci/run starts the server)", PostgresDSNEnv)
		}
		t.Skipf("%s is not set; run .ci/start-postgres and export its output", PostgresDSNEnv)
	}
	return dsn
}

var schemaSeq atomic.Int64

// PostgresSchema creates a schema of its own in the test database, dropped
// at the end of the test, and returns the DSN that reaches it. prefix
// names the schema (shiplog_<prefix>_…).
func PostgresSchema(t testing.TB, prefix string) string {
	t.Helper()
	dsn := PostgresDSN(t)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	schema := fmt.Sprintf("shiplog_%s_%d_%d", prefix, time.Now().UnixNano(), schemaSeq.Add(1))
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
	return u.String()
}
