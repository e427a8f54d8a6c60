package engine_test

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

// The KPI benchmark's store: 1,000,000 deployments (about 10,000,000
// events) from storetest.ScaleGenerator, filled once through Append and
// kept between runs: SQLite in a file under the user's cache directory,
// PostgreSQL in its own database beside the test one. Filling takes tens of
// minutes; each run fills for at most SHIPLOG_BENCH_FILL_BUDGET (default
// 8m, "0": no limit) and resumes where the previous one stopped.

const (
	benchSeed        = 42
	benchDeployments = 1_000_000
)

func benchOptions() storetest.ScaleOptions {
	return storetest.ScaleOptions{Deployments: benchDeployments}
}

// benchSQLitePath is where the filled SQLite store is kept.
func benchSQLitePath(tb testing.TB) string {
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

// benchPostgresDSN is the DSN of the benchmark database, created when
// missing on the test DSN's server, or "" when no test DSN is set.
func benchPostgresDSN(tb testing.TB) string {
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

// dropBenchPostgres empties the benchmark database (a generator change).
func dropBenchPostgres(tb testing.TB, dsn string) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DROP SCHEMA public CASCADE; CREATE SCHEMA public`); err != nil {
		tb.Fatal(err)
	}
}

// openBenchStore opens the benchmark store of the named kind, filled
// (b.Skip when the fill budget ran out first, saying how to go on).
func openBenchStore(b *testing.B, kind string) *store.Store {
	b.Helper()
	ctx := context.Background()
	open := func() *store.Store {
		var s *store.Store
		var err error
		switch kind {
		case "sqlite":
			path := benchSQLitePath(b)
			s, err = sqlite.Open(ctx, path, store.Options{})
		case "postgres":
			dsn := benchPostgresDSN(b)
			if dsn == "" {
				b.Skip("SHIPLOG_TEST_POSTGRES_DSN is not set: no PostgreSQL KPI benchmark (run .ci/start-postgres and export its output)")
			}
			s, err = postgres.Open(ctx, dsn, store.Options{})
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
		dropBenchPostgres(b, benchPostgresDSN(b))
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
	g := storetest.NewScaleGenerator(benchSeed, benchOptions())
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
			kind, st.Changes, benchDeployments*100/255, kind)
	}
	return s
}
