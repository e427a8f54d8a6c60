package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine"
	"github.com/shiplog-dev/shiplog/internal/engine/history"
	"github.com/shiplog-dev/shiplog/internal/live"
	"github.com/shiplog-dev/shiplog/internal/store"
	"github.com/shiplog-dev/shiplog/internal/store/storetest"
	"github.com/shiplog-dev/shiplog/internal/store/storetest/benchstore"
)

// BenchmarkRenderScale measures the pages of the render benchmarks on the
// store of the engine's KPI benchmark: 1,000,000 deployments, about
// 10,000,000 events (package storetest/benchstore), on SQLite and on
// PostgreSQL, served as shiplog serve wires them. The surface is built once
// per store. Its first page, which reads the whole model (the engine's cold
// load) and builds the snapshot, is timed once and printed as
// web/render/store=<kind>/first_render_seconds; then each page reports its
// median and 95th percentile render time and its weight, as on 20,000
// events.
//
//	go test -run '^$' -bench 'RenderScale/store=sqlite' -benchtime 20x -timeout 0 ./internal/web
func BenchmarkRenderScale(b *testing.B) {
	for _, kind := range []string{"sqlite", "postgres"} {
		b.Run("store="+kind, func(b *testing.B) { renderScale(b, kind) })
	}
}

func renderScale(b *testing.B, kind string) {
	ctx := context.Background()
	st := benchstore.Open(b, kind)
	g := benchstore.Generator()
	now := storetest.ScaleEnd
	eng := engine.New(st, engine.Settings{Teams: g.Teams(), Now: func() time.Time { return now }})
	hub := live.New(live.Options{})
	f, err := fixtureOn(st, eng, hub)
	if err != nil {
		hub.Close()
		_ = st.Close()
		b.Fatal(err)
	}
	defer f.close()

	start := time.Now()
	rec := httptest.NewRecorder()
	asAnonymous(f.mux).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusOK {
		b.Fatalf("/: status %d", rec.Code)
	}
	first := time.Since(start)
	fmt.Printf("BENCH web/render/store=%s/first_render_seconds %.1f s\n", kind, first.Seconds())
	b.Logf("%s: first render (model load and snapshot) %v", kind, first.Round(time.Millisecond))

	// A commit that reached an environment lately, and its pull request:
	// two days before the end, out of the changes the KPI benchmark adds
	// to the last day at each run, so that every run searches the same.
	deps, err := eng.Deployments(ctx, engine.DeploymentQuery{Until: now.AddDate(0, 0, -2), Limit: 100})
	if err != nil {
		b.Fatal(err)
	}
	i := slices.IndexFunc(deps, func(d history.Deployment) bool { return len(d.SourceCommit) >= 7 })
	if i < 0 {
		b.Fatalf("none of the last %d deployments has a source commit", len(deps))
	}
	d := deps[i]
	sha := d.SourceCommit[:7]
	changes, err := st.Changes(ctx, store.ModelFilter{Since: d.LiveAt.AddDate(0, 0, -30), Until: d.LiveAt})
	if err != nil {
		b.Fatal(err)
	}
	i = slices.IndexFunc(changes, func(c delivery.ChangeRecord) bool { return c.MergeSHA == d.SourceCommit })
	if i < 0 {
		b.Fatalf("no pull request merged %s in the 30 days before it went live", d.SourceCommit)
	}
	pr := changes[i].Number
	apps := g.Apps()
	pages := []struct{ name, path string }{
		{"flow", "/"},
		{"apps", "/apps"},
		{"app", "/apps/" + apps[len(apps)/2]},
		{"changes_sha", "changes"},
		{"changes_pr", "/changes?q=%23" + strconv.FormatInt(pr, 10)},
		{"delivery", "/delivery"},
		{"delivery_before_after", "/delivery?since=120d&at=" + now.AddDate(0, 0, -30).Format(time.DateOnly)},
		{"deployments", "/delivery/deployments?since=365d"},
		{"audit", "/audit"},
		{"audit_print", "/audit?view=print"},
		{"policies", "/policies"},
	}
	for _, p := range pages {
		b.Run("page="+p.name, func(b *testing.B) { renderBench(b, f, sha, p.path) })
	}
}
