package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/store/storetest"
)

// The render benchmarks run on 20,000 events of the store benchmarks'
// generator (about 1,400 changes flowing through CI, Argo CD and Knative
// over four months), served from SQLite; BenchmarkRenderScale
// (bench_scale_test.go) runs the same pages on the KPI benchmark's store of
// 1,000,000 deployments.
const benchEvents = 20000

var bench struct {
	once sync.Once
	f    *fixture
	dir  string
	sha  string
	now  time.Time
	err  error
}

func benchFixture(b *testing.B) *fixture {
	b.Helper()
	bench.once.Do(func() {
		events := storetest.NewGenerator(1, "bench").Events(benchEvents)
		now := events[len(events)-1].Time.Add(time.Hour)
		bench.now = now
		for _, e := range events {
			if d, ok := e.Payload.(*delivery.Deployment); ok && len(d.Changes) > 1 {
				bench.sha = d.Changes[1][:7] // a commit that reached an environment
			}
		}
		if bench.dir, bench.err = os.MkdirTemp("", "shiplog-web-bench-"); bench.err != nil {
			return
		}
		bench.f, bench.err = buildFixture(bench.dir, events, now)
	})
	if bench.err != nil {
		b.Fatal(bench.err)
	}
	return bench.f
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bench.f != nil {
		bench.f.close()
	}
	if bench.dir != "" {
		_ = os.RemoveAll(bench.dir)
	}
	os.Exit(code)
}

// renderBench measures f's time to answer path (handler and templates,
// without the network) once the model is loaded, and reports the page
// weight and two medians and 95th percentiles: p50-ms and p95-ms after a
// change (the hub announced an append: the snapshot is rebuilt and the
// page built from it), cached-p50-ms and cached-p95-ms when the model did
// not change since the same page was last built (the snapshot keeps it).
// Iterations alternate between the two. The path "changes" is the search
// for sha, a commit that reached an environment.
func renderBench(b *testing.B, f *fixture, sha, path string) {
	if path == "changes" {
		path = "/changes?q=" + sha
	}
	serve := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		asAnonymous(f.mux).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("%s: status %d", path, rec.Code)
		}
		return rec
	}
	first := serve() // also loads the model
	size := first.Body.Len()
	if strings.HasPrefix(path, "/changes") && !strings.Contains(first.Body.String(), `<article class="trace"`) {
		b.Fatalf("%s finds no change: the benchmark would measure an empty page", path)
	}
	if testing.Verbose() {
		b.Logf("%s: %d bytes", path, size)
	}
	var fresh, cached []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 {
			b.StopTimer()
			benchSeq++
			f.hub.Publish([]delivery.Event{{Seq: benchSeq, Type: delivery.ServiceDeployed, App: "bench-notice"}})
			b.StartTimer()
		}
		start := time.Now()
		serve()
		if i%2 == 0 {
			fresh = append(fresh, time.Since(start))
		} else {
			cached = append(cached, time.Since(start))
		}
	}
	b.StopTimer()
	reportLatency(b, "", fresh)
	reportLatency(b, "cached-", cached)
	b.ReportMetric(float64(size), "bytes")
}

// benchSeq numbers the notices renderBench publishes.
var benchSeq int64 = 1 << 40

func reportLatency(b *testing.B, prefix string, times []time.Duration) {
	if len(times) == 0 {
		return
	}
	slices.Sort(times)
	pct := func(p float64) float64 {
		return float64(times[min(len(times)-1, int(p*float64(len(times))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), prefix+"p50-ms")
	b.ReportMetric(pct(0.95), prefix+"p95-ms")
}

// render20k measures path on the 20,000-event store.
func render20k(b *testing.B, path string) { renderBench(b, benchFixture(b), bench.sha, path) }

func BenchmarkRenderFlow(b *testing.B)         { render20k(b, "/") }
func BenchmarkRenderApplications(b *testing.B) { render20k(b, "/apps") }
func BenchmarkRenderApplication(b *testing.B)  { render20k(b, "/apps/checkout") }
func BenchmarkRenderWhereIsMyChange(b *testing.B) {
	render20k(b, "changes")
}
func BenchmarkRenderWhereIsMyChangePR(b *testing.B) { render20k(b, "/changes?q=%231") }
func BenchmarkRenderDelivery(b *testing.B)          { render20k(b, "/delivery") }
func BenchmarkRenderDeliveryBeforeAfter(b *testing.B) {
	benchFixture(b)
	render20k(b, "/delivery?since=120d&at="+bench.now.AddDate(0, 0, -30).Format(time.DateOnly))
}
func BenchmarkRenderDeployments(b *testing.B) { render20k(b, "/delivery/deployments?since=365d") }
func BenchmarkRenderAudit(b *testing.B)       { render20k(b, "/audit") }
func BenchmarkRenderAuditReport(b *testing.B) { render20k(b, "/audit?view=print") }
func BenchmarkRenderPolicies(b *testing.B)    { render20k(b, "/policies") }

// BenchmarkRenderAfterAppend is the cost of the first render after the store
// changed: the snapshot of the model is rebuilt (history, traces' input).
// Every open page pays it once per change, shared.
func BenchmarkRenderAfterAppend(b *testing.B) {
	f := benchFixture(b)
	times := make([]time.Duration, 0, b.N)
	var size int
	for i := 0; b.Loop(); i++ {
		f.hub.Publish([]delivery.Event{{Seq: int64(i), Type: delivery.ServiceDeployed, App: fmt.Sprint("x", i)}})
		start := time.Now()
		rec := httptest.NewRecorder()
		asAnonymous(f.mux).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/apps", nil))
		times = append(times, time.Since(start))
		size = rec.Body.Len()
	}
	reportLatency(b, "", times)
	b.ReportMetric(float64(size), "bytes")
}
