package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/app"
	"github.com/shiplog-dev/shiplog/internal/config"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// BenchmarkIngest is a bounded load generator: it starts the real server
// in-process on loopback with a SQLite store (durable: WAL, fsync on
// commit), and sends b.N deliveries from concurrent clients, in turn a
// signed GitHub push (3 commits), a signed GitHub pull_request (opened)
// and a structured CloudEvent (a CDEvent pipelinerun.finished). Every
// delivery is new, so every one is written. It reports deliveries/s and the
// p50 and p99 latency of a delivery, answered once durable.
func BenchmarkIngest(b *testing.B) {
	for _, clients := range []int{32, 64} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			benchIngest(b, clients)
		})
	}
}

func benchIngest(b *testing.B, clients int) {
	base, st := startApp(b)
	gen := newDeliveryGen(b)
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConns:        clients,
		MaxIdleConnsPerHost: clients,
		IdleConnTimeout:     time.Minute,
	}}
	defer client.CloseIdleConnections()

	// The deliveries are made and signed before the clock starts: the load
	// generator shares the machine with the server, and its work is not
	// what is measured.
	reqs := make([]outgoing, b.N)
	for i := range reqs {
		reqs[i] = gen.next(i)
	}
	latencies := make([]time.Duration, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	load := loadAvg()
	b.ResetTimer()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= b.N {
					return
				}
				req, err := http.NewRequest(http.MethodPost, base+reqs[i].path, bytes.NewReader(reqs[i].body))
				if err != nil {
					errs <- err
					return
				}
				req.Header = reqs[i].header
				start := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					errs <- err
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				latencies[i] = time.Since(start)
				if resp.StatusCode != http.StatusAccepted || !bytes.Contains(body, []byte(`"status":"stored"`)) {
					errs <- fmt.Errorf("delivery %d: %d %s", i, resp.StatusCode, body)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := b.Elapsed()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	if n, err := st.CountEvents(context.Background()); err != nil || n != int64(gen.events(b.N)) {
		b.Fatalf("store holds %d events (%v), want %d", n, err, gen.events(b.N))
	}
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[int(p*float64(len(latencies)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(float64(gen.events(b.N))/elapsed.Seconds(), "events/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
	m := scrape(b, base)
	commits := m["shiplog_store_append_duration_seconds_count"]
	b.Logf("%d deliveries from %d clients in %s; %.0f commits, %.1f events and %.2f ms each on average; load average before %s, after %s",
		b.N, clients, elapsed, commits, m["shiplog_store_append_batch_events_sum"]/commits,
		1000*m["shiplog_store_append_duration_seconds_sum"]/commits, load, loadAvg())
}

// scrape reads the unlabelled-by-request sums and counts of /metrics.
func scrape(b *testing.B, base string) map[string]float64 {
	b.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	text, err := io.ReadAll(resp.Body)
	if err != nil {
		b.Fatal(err)
	}
	out := map[string]float64{}
	for line := range strings.Lines(string(text)) {
		name, rest, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		name, _, _ = strings.Cut(name, "{")
		var v float64
		if _, err := fmt.Sscan(rest, &v); err == nil {
			out[name] += v
		}
	}
	return out
}

// startApp runs the whole server in-process on 127.0.0.1:0 with a fresh,
// migrated SQLite store and every ingest secret configured.
func startApp(b *testing.B) (string, *store.Store) {
	b.Helper()
	db := filepath.Join(b.TempDir(), "shiplog.db")
	st, err := app.OpenStore(context.Background(), db, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := st.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	cfg := config.Default()
	cfg.DB = config.Secret(db)
	cfg.Web.ListenAddress = "127.0.0.1:0"
	cfg.Ingest.Token = ingestToken
	cfg.Ingest.GitHub.Secret = githubSecret
	a, err := app.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("Run: %v", err)
		}
	})
	return "http://" + a.Addr(), a.Store()
}

// template is a fixture split around the values that make a delivery new;
// each part but the first starts with the index of the value it follows.
type template [][]byte

func newTemplate(b *testing.B, body []byte, needles ...string) template {
	b.Helper()
	for i, n := range needles {
		if !bytes.Contains(body, []byte(n)) {
			b.Fatalf("fixture lacks %q", n)
		}
		body = bytes.ReplaceAll(body, []byte(n), []byte{0, '0' + byte(i)})
	}
	return bytes.Split(body, []byte{0})
}

// fill appends the template with value(k) for the k-th needle.
func (t template) fill(value func(k int) string) []byte {
	body := append([]byte(nil), t[0]...)
	for _, part := range t[1:] {
		body = append(body, value(int(part[0]-'0'))...)
		body = append(body, part[1:]...)
	}
	return body
}

// deliveryGen makes distinct, realistic deliveries from the fixtures: new
// commit SHAs, a new pull request number, a new CloudEvents id and run id.
type deliveryGen struct {
	push, pull, ce template
	ceHeader       http.Header
}

func newDeliveryGen(b *testing.B) *deliveryGen {
	b.Helper()
	h, ce := readRequest(b, cloudeventsData+"/requests/structured.http")
	return &deliveryGen{
		push: newTemplate(b, readFile(b, githubData, "push.main.json"),
			"88db18062c5b415d37e4026822d68d4378000b2f", "99ef3ce411f1ea918a61142ac0e8ffd076e8d442", "d61a2b41e6c06392fc77c081a1f19e2dc9199500"),
		pull:     newTemplate(b, readFile(b, githubData, "pull_request.opened.json"), `"number": 42`),
		ce:       newTemplate(b, ce, "a3f4e5d6-c7b8-4a99-8cbd-2e3f4a5b6c7d", "api-ci-7f3k2"),
		ceHeader: h,
	}
}

// events is how many events n deliveries stand for.
func (g *deliveryGen) events(n int) int {
	pushes := (n + 2) / 3
	return n - pushes + 3*pushes
}

// outgoing is one request to send.
type outgoing struct {
	path   string
	header http.Header
	body   []byte
}

// next returns delivery i: a push, a pull request or a CloudEvent.
func (g *deliveryGen) next(i int) outgoing {
	var body []byte
	h := http.Header{}
	path := "/ingest/github"
	switch i % 3 {
	case 0:
		body = g.push.fill(func(k int) string { return fmt.Sprintf("%032x%08x", i, k) })
		h.Set("X-GitHub-Event", "push")
	case 1:
		body = g.pull.fill(func(int) string { return fmt.Sprintf(`"number": %d`, i+1) })
		h.Set("X-GitHub-Event", "pull_request")
	case 2:
		body = g.ce.fill(func(int) string { return fmt.Sprintf("bench-%d", i) })
		h = g.ceHeader.Clone()
		h.Set("Authorization", "Bearer "+ingestToken)
		path = "/ingest/cloudevents"
	}
	if path == "/ingest/github" {
		h.Set("Content-Type", "application/json")
		h.Set("X-GitHub-Delivery", fmt.Sprintf("bench-%d", i))
		h.Set("X-Hub-Signature-256", sign(githubSecret, body))
	}
	return outgoing{path, h, body}
}

// loadAvg is the 1, 5 and 15 minute load averages, as /proc/loadavg says.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
