// Package benchstore opens the store of the KPI benchmark: 1,000,000
// deployments (about 10,000,000 events) from storetest.ScaleGenerator,
// filled once through Append and kept between runs: SQLite in a file under
// the user's cache directory (or SHIPLOG_BENCH_CACHE), PostgreSQL in its own
// database beside the test one (or SHIPLOG_BENCH_POSTGRES_DSN). Filling takes
// tens of minutes; each run fills for at most SHIPLOG_BENCH_FILL_BUDGET
// (default 8m, "0": no limit) and resumes where the previous one stopped.
//
// The engine's BenchmarkKPI and the web UI's BenchmarkRenderScale run on it.
// It is test support: only tests import it. It is not part of storetest
// because it imports the SQLite and PostgreSQL stores, whose own tests import
// storetest.
package benchstore

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/store"
	"github.com/shiplog-dev/shiplog/internal/store/postgres"
	"github.com/shiplog-dev/shiplog/internal/store/sqlite"
	"github.com/shiplog-dev/shiplog/internal/store/storetest"
)

const (
	// Seed is the seed of the generator that fills the store.
	Seed = 42
	// Deployments is how many deployments the store holds once filled.
	Deployments = 1_000_000
)

// Options are the options of the generator that fills the store.
func Options() storetest.ScaleOptions {
	return storetest.ScaleOptions{Deployments: Deployments}
}

// Generator returns a new generator of the store's history: its Teams and
// Apps are the store's, and its Change makes the store's changes in order.
func Generator() *storetest.ScaleGenerator {
	return storetest.NewScaleGenerator(Seed, Options())
}

// SQLitePath is where the filled SQLite store is kept.
func SQLitePath(tb testing.TB) string {
	dir := os.Getenv("SHIPLOG_BENCH_CACHE")
	if dir == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			tb.Fatal(err)
		}
		dir = filepath.Join(c, "shiplog", "bench")
	}
	return filepath.Join(dir, "kpi-"+storetest.ScaleVersion+".db")
}

// PostgresDSN is the DSN of the benchmark database, created when missing on
// the test DSN's server, or "" when no test DSN is set.
func PostgresDSN(tb testing.TB) string {
	if dsn := os.Getenv("SHIPLOG_BENCH_POSTGRES_DSN"); dsn != "" {
		return dsn
	}
	dsn := os.Getenv("SHIPLOG_TEST_POSTGRES_DSN")
	if dsn == "" {
		return ""
	}
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		tb.Fatal(err)
	}
	defer admin.Close()
	var exists bool
	if err := admin.QueryRow(`SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'shiplog_bench')`).Scan(&exists); err != nil {
		tb.Fatal(err)
	}
	if !exists {
		if _, err := admin.Exec(`CREATE DATABASE shiplog_bench`); err != nil {
			tb.Fatal(err)
		}
	}
	u.Path = "/shiplog_bench"
	return u.String()
}

// dropPostgres empties the benchmark database (a generator change).
func dropPostgres(tb testing.TB, dsn string) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DROP SCHEMA public CASCADE; CREATE SCHEMA public`); err != nil {
		tb.Fatal(err)
	}
}

// Open opens the benchmark store of the named kind ("sqlite" or
// "postgres"), filled: it fills what is missing within the fill budget, and
// calls b.Skip, saying how to go on, when the budget ran out first or when
// no PostgreSQL DSN is set. The caller closes the store.
func Open(b *testing.B, kind string) *store.Store {
	b.Helper()
	ctx := context.Background()
	open := func() *store.Store {
		b.Helper()
		var s *store.Store
		var err error
		switch kind {
		case "sqlite":
			path := SQLitePath(b)
			s, err = sqlite.Open(ctx, path, store.Options{})
		case "postgres":
			dsn := PostgresDSN(b)
			if dsn == "" {
				b.Skip("SHIPLOG_TEST_POSTGRES_DSN is not set: no benchmark on the PostgreSQL KPI store (run .ci/start-postgres and export its output)")
			}
			s, err = postgres.Open(ctx, dsn, store.Options{})
		default:
			b.Fatalf("benchstore: unknown store kind %q", kind)
		}
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Migrate(ctx); err != nil {
			b.Fatal(err)
		}
		return s
	}
	s := open()
	st, err := storetest.ReadFillState(ctx, s)
	if err != nil {
		b.Fatal(err)
	}
	if st.Version != "" && st.Version != storetest.ScaleVersion && kind == "postgres" {
		b.Logf("the PostgreSQL benchmark database was filled by %s: emptying it", st.Version)
		_ = s.Close()
		dropPostgres(b, PostgresDSN(b))
		s = open()
		st = storetest.FillState{}
	}
	if st.Done {
		return s
	}
	budget := 8 * time.Minute
	if v := os.Getenv("SHIPLOG_BENCH_FILL_BUDGET"); v != "" {
		if budget, err = time.ParseDuration(v); err != nil {
			b.Fatalf("SHIPLOG_BENCH_FILL_BUDGET: %v", err)
		}
	}
	fillCtx := ctx
	if budget > 0 {
		var cancel context.CancelFunc
		fillCtx, cancel = context.WithTimeout(ctx, budget)
		defer cancel()
	}
	start := time.Now()
	from := st.Changes
	last := time.Now()
	writers := 2
	if kind == "postgres" {
		writers = 4
	}
	g := Generator()
	st, err = storetest.FillScale(fillCtx, s, g, 5000, writers, func(cur storetest.FillState) {
		if time.Since(last) > 30*time.Second {
			last = time.Now()
			b.Logf("filling the %s KPI store: %d changes, %d deployments, %d events (%.0f events/s)", kind, cur.Changes, g.Deployments, g.Events,
				float64(g.Events)/time.Since(start).Seconds())
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	fmt.Printf("BENCH engine/KPI/store=%s/fill_seconds %.0f s\n", kind, time.Since(start).Seconds())
	b.Logf("filled the %s KPI store from change %d to %d in %v", kind, from, st.Changes, time.Since(start).Round(time.Second))
	if !st.Done {
		_ = s.Close()
		b.Skipf("the %s KPI store is filled up to change %d of about %d (resumable): run the benchmark again, or fill it in one go with "+
			"SHIPLOG_BENCH_FILL_BUDGET=0 go test -run '^$' -bench 'KPI/store=%s' -timeout 0 ./internal/engine/",
			kind, st.Changes, Deployments*100/255, kind)
	}
	return s
}
