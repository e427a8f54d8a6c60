package engine_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine"
	"github.com/shiplog-dev/shiplog/internal/store/storetest"
	"github.com/shiplog-dev/shiplog/internal/store/storetest/benchstore"
)

// BenchmarkKPI measures the engine on a store of 1,000,000 deployments
// (about 10,000,000 events, see package storetest/benchstore), on SQLite and on
// PostgreSQL:
//
//   - cold_load: the first call, reading the whole model and building every
//     history (printed once, in seconds), with the heap and RSS after it;
//   - full_year: every KPI of the last year across all apps (metrics,
//     before/after comparison, traceability, policy deviations, efficiency);
//     its parts alone as full_year/<part>;
//   - one_app: an app's page: its metrics for the year and its last 50
//     deployments;
//   - refresh_100_events: the next call after 100 new events were appended
//     (appending is not timed).
//
// Targets (issue #6): full_year < 500 ms, one_app < 50 ms.
func BenchmarkKPI(b *testing.B) {
	for _, kind := range []string{"sqlite", "postgres"} {
		b.Run("store="+kind, func(b *testing.B) { benchKPI(b, kind) })
	}
}

func benchKPI(b *testing.B, kind string) {
	s := benchstore.Open(b, kind)
	defer s.Close()
	g := benchstore.Generator()
	now := storetest.ScaleEnd
	cfg := engine.Settings{Teams: g.Teams(), Now: func() time.Time { return now }}
	ctx := context.Background()
	name := "engine/KPI/store=" + kind + "/"

	year := engine.Query{Since: now.AddDate(-1, 0, 0), Until: now}
	runtime.GC()
	e := engine.New(s, cfg)
	start := time.Now()
	if _, _, err := e.Metrics(ctx, year); err != nil {
		b.Fatal(err)
	}
	cold := time.Since(start)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if path := os.Getenv("SHIPLOG_BENCH_HEAPPROFILE"); path != "" { // what the loaded model is made of
		f, err := os.Create(path + "." + kind)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.WriteHeapProfile(f); err != nil {
			b.Fatal(err)
		}
		_ = f.Close()
	}
	rss, peak := procStatus("VmRSS"), procStatus("VmHWM")
	st := e.LastRefresh()
	fmt.Printf("BENCH %scold_load_seconds %.1f s\n", name, cold.Seconds())
	fmt.Printf("BENCH %sheap_after_load_mb %.0f MB\n", name, float64(ms.HeapAlloc)/(1<<20))
	fmt.Printf("BENCH %srss_after_load_mb %.0f MB\n", name, rss/1024)
	fmt.Printf("BENCH %speak_rss_mb %.0f MB\n", name, peak/1024)
	b.Logf("%s: cold load %v (%d rows, %d partitions), heap %.0f MB, RSS %.0f MB (peak %.0f MB)",
		kind, cold.Round(time.Millisecond), st.Rows, st.Total, float64(ms.HeapAlloc)/(1<<20), rss/1024, peak/1024)
	// The whole history as one list (what History returns), made on first use.
	start = time.Now()
	deps, err := e.History(ctx)
	if err != nil {
		b.Fatal(err)
	}
	fmt.Printf("BENCH %shistory_all_ms %.0f ms\n", name, float64(time.Since(start).Microseconds())/1000)
	fmt.Printf("BENCH %sdeployments %d deployments\n", name, len(deps))
	deps = nil

	mid := now.AddDate(0, -6, 0)
	parts := []struct {
		name string
		fn   func() error
	}{
		{"metrics", func() error { _, _, err := e.Metrics(ctx, year); return err }},
		{"compare", func() error { _, err := e.Compare(ctx, year, mid); return err }},
		{"traceability", func() error { _, err := e.Traceability(ctx, year); return err }},
		{"deviations", func() error {
			_, err := e.Deviations(ctx, engine.DeviationQuery{Since: year.Since, Until: now, Envs: cfg.ProductionEnvs})
			return err
		}},
		{"efficiency", func() error { _, err := e.Efficiency(ctx, year); return err }},
	}
	perOp := func(b *testing.B) { b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op") }
	b.Run("full_year", func(b *testing.B) {
		for b.Loop() {
			for _, p := range parts {
				if err := p.fn(); err != nil {
					b.Fatal(err)
				}
			}
		}
		perOp(b)
	})
	for _, p := range parts {
		b.Run("full_year/"+p.name, func(b *testing.B) {
			for b.Loop() {
				if err := p.fn(); err != nil {
					b.Fatal(err)
				}
			}
			perOp(b)
		})
	}
	app := g.Apps()[len(g.Apps())/2]
	b.Run("one_app", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := e.Metrics(ctx, engine.Query{App: app, Since: year.Since, Until: now}); err != nil {
				b.Fatal(err)
			}
			page, err := e.Deployments(ctx, engine.DeploymentQuery{App: app, Limit: 50})
			if err != nil {
				b.Fatal(err)
			}
			if len(page) != 50 {
				b.Fatalf("page of %d deployments, want 50", len(page))
			}
		}
		perOp(b)
	})
	b.Run("refresh_100_events", func(b *testing.B) {
		// New changes in the last day of the history, in existing apps, with
		// ids of their own: they add to the kept store at each run.
		nonce := strconv.FormatInt(time.Now().UnixNano(), 36)
		more := storetest.NewScaleGenerator(uint64(time.Now().UnixNano()), storetest.ScaleOptions{Span: 24 * time.Hour,
			Deployments: 100_000, Prefix: "bench-" + nonce + "-", FirstPR: 1_000_000_000 + time.Now().Unix()%1_000_000*1000})
		rows, rebuilt, events := 0, 0, 0
		for b.Loop() {
			b.StopTimer()
			var batch []delivery.Event
			for len(batch) < 100 {
				batch = append(batch, more.Change()...)
			}
			if _, err := s.Append(ctx, batch...); err != nil {
				b.Fatal(err)
			}
			events += len(batch)
			b.StartTimer()
			if _, _, err := e.Metrics(ctx, year); err != nil {
				b.Fatal(err)
			}
			st := e.LastRefresh()
			rows += st.Rows
			rebuilt += st.Partitions
		}
		perOp(b)
		b.ReportMetric(float64(events)/float64(b.N), "events/op")
		b.ReportMetric(float64(rebuilt)/float64(b.N), "partitions/op")
		b.ReportMetric(float64(rows)/float64(b.N), "rows/op")
	})
}

// procStatus reads a kB figure of /proc/self/status (0 when unknown).
func procStatus(key string) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key+":"); ok {
			n, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return n
		}
	}
	return 0
}
