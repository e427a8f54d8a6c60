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

// The render benchmarks run on the store of the store and KPI benchmarks:
// 20,000 generated events (about 1,400 changes flowing through CI, Argo CD
// and Knative over four months), served from SQLite.
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

// renderBench measures the server's time to answer path (handler and
// templates, without the network) once the model snapshot is loaded, and
// reports the median, the 95th percentile and the page weight.
func renderBench(b *testing.B, path string) {
	f := benchFixture(b)
	if path == "changes" {
		path = "/changes?q=" + bench.sha
	}
	serve := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		asAnonymous(f.mux).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("%s: status %d", path, rec.Code)
		}
		return rec
	}
	first := serve() // also loads the snapshot
	size := first.Body.Len()
	if strings.HasPrefix(path, "/changes") && !strings.Contains(first.Body.String(), `<article class="trace"`) {
		b.Fatalf("%s finds no change: the benchmark would measure an empty page", path)
	}
	if testing.Verbose() {
		b.Logf("%s: %d bytes", path, size)
	}
	times := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		serve()
		times = append(times, time.Since(start))
	}
	b.StopTimer()
	reportLatency(b, times)
	b.ReportMetric(float64(size), "bytes")
}

func reportLatency(b *testing.B, times []time.Duration) {
	slices.Sort(times)
	pct := func(p float64) float64 {
		return float64(times[min(len(times)-1, int(p*float64(len(times))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.95), "p95-ms")
}

func BenchmarkRenderFlow(b *testing.B)         { renderBench(b, "/") }
func BenchmarkRenderApplications(b *testing.B) { renderBench(b, "/apps") }
func BenchmarkRenderApplication(b *testing.B)  { renderBench(b, "/apps/checkout") }
func BenchmarkRenderWhereIsMyChange(b *testing.B) {
	renderBench(b, "changes")
}
func BenchmarkRenderWhereIsMyChangePR(b *testing.B) { renderBench(b, "/changes?q=%231") }
func BenchmarkRenderDelivery(b *testing.B)          { renderBench(b, "/delivery") }
func BenchmarkRenderDeliveryBeforeAfter(b *testing.B) {
	benchFixture(b)
	renderBench(b, "/delivery?since=120d&at="+bench.now.AddDate(0, 0, -30).Format(time.DateOnly))
}
func BenchmarkRenderDeployments(b *testing.B) { renderBench(b, "/delivery/deployments?since=365d") }
func BenchmarkRenderAudit(b *testing.B)       { renderBench(b, "/audit") }
func BenchmarkRenderAuditReport(b *testing.B) { renderBench(b, "/audit?view=print") }
func BenchmarkRenderPolicies(b *testing.B)    { renderBench(b, "/policies") }

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
	reportLatency(b, times)
	b.ReportMetric(float64(size), "bytes")
}
