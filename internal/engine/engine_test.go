package engine_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine"
	"github.com/shiplog-dev/shiplog/internal/engine/history"
	"github.com/shiplog-dev/shiplog/internal/store"
	"github.com/shiplog-dev/shiplog/internal/store/postgres"
	"github.com/shiplog-dev/shiplog/internal/store/sqlite"
	"github.com/shiplog-dev/shiplog/internal/store/storetest"
)

// opener opens a new, empty, migrated store and returns a function that
// opens another handle on the same database (a second replica).
type opener func(t *testing.T) (*store.Store, func() *store.Store)

func stores(t *testing.T) map[string]opener {
	return map[string]opener{
		"sqlite": func(t *testing.T) (*store.Store, func() *store.Store) {
			path := filepath.Join(t.TempDir(), "shiplog.db")
			open := func() *store.Store {
				s, err := sqlite.Open(context.Background(), path, store.Options{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = s.Close() })
				if _, err := s.Migrate(context.Background()); err != nil {
					t.Fatal(err)
				}
				return s
			}
			return open(), open
		},
		"postgres": func(t *testing.T) (*store.Store, func() *store.Store) {
			dsn := tempSchema(t)
			open := func() *store.Store {
				s, err := postgres.Open(context.Background(), dsn, store.Options{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = s.Close() })
				if _, err := s.Migrate(context.Background()); err != nil {
					t.Fatal(err)
				}
				return s
			}
			return open(), open
		},
	}
}

// tempSchema returns a DSN that reaches a new schema of the test
// database, dropped at the end; it skips without a test DSN (fails under CI).
func tempSchema(t *testing.T) string { return storetest.PostgresSchema(t, "engine") }

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return c
}

func mustAppend(t *testing.T, s *store.Store, events ...delivery.Event) {
	t.Helper()
	if _, err := s.Append(ctx(t), events...); err != nil {
		t.Fatalf("Append: %v", err)
	}
}

// clock is a settable clock.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time   { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) set(t time.Time)  { c.ns.Store(t.UnixNano()) }
func newClock(t time.Time) *clock { c := &clock{}; c.set(t); return c }
func settings(c *clock) engine.Settings {
	return engine.Settings{Now: c.now, Teams: map[string]string{"payments": "money", "checkout": "money", "search": "discovery"}}
}

// everything is what the engine answers to a set of queries, for comparing
// two engines.
type everything struct {
	History      []history.Deployment
	Metrics      []any
	Compare      any
	Deviations   any
	Traceability any
	Efficiency   any
	Reports      []any
	Page         any
	Partitions   []partition
	InFlight     []engine.InFlight // everything, then a team's scope
}

// partition is what engine.Partition shows, without its link to the view.
type partition struct {
	App, Env, Team string
	Deployments    []history.Deployment
	Health         *delivery.HealthRecord
	SyncStatus     *delivery.SyncStatusRecord
	Traffic        []delivery.TrafficRecord
	Window         []history.Deployment
}

func ask(t *testing.T, e *engine.Engine, now time.Time) everything {
	t.Helper()
	c := ctx(t)
	var out everything
	var err error
	if out.History, err = e.History(c); err != nil {
		t.Fatal(err)
	}
	since := storetest.Base.Add(-24 * time.Hour)
	queries := []engine.Query{
		{Since: since},
		{Since: since, Envs: []string{"dev", "staging", "prod"}},
		{Since: since, App: "payments", Envs: []string{"prod", "staging"}},
		{Since: since, Team: "money"},
		{Since: now.Add(-48 * time.Hour)},
	}
	for _, q := range queries {
		r, deps, err := e.Metrics(c, q)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := e.Report(c, q)
		if err != nil {
			t.Fatal(err)
		}
		if inc, err := e.Incidents(c, q); err != nil || !reflect.DeepEqual(inc, rep.Incidents) {
			t.Fatalf("Incidents(%+v) = %+v, %v; Report says %+v", q, inc, err, rep.Incidents)
		}
		out.Metrics = append(out.Metrics, r, deps)
		out.Reports = append(out.Reports, rep)
	}
	if out.Compare, err = e.Compare(c, engine.Query{Since: since, Envs: []string{"dev", "prod"}}, now.Add(-72*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if out.Deviations, err = e.Deviations(c, engine.DeviationQuery{Since: since}); err != nil {
		t.Fatal(err)
	}
	if out.Traceability, err = e.Traceability(c, engine.Query{Since: since, Envs: []string{"dev", "staging", "prod"}}); err != nil {
		t.Fatal(err)
	}
	if out.Efficiency, err = e.Efficiency(c, engine.Query{Since: since, Team: "money"}); err != nil {
		t.Fatal(err)
	}
	if out.Page, err = e.Deployments(c, engine.DeploymentQuery{App: "search", Limit: 7, Offset: 2}); err != nil {
		t.Fatal(err)
	}
	parts, err := e.Partitions(c, engine.PartitionQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		q := partition{App: p.App, Env: p.Env, Team: p.Team, Deployments: p.Deployments, Health: p.Health, SyncStatus: p.SyncStatus,
			Window: p.Window(since, now.Add(-48*time.Hour))}
		for _, r := range p.Traffic {
			q.Traffic = append(q.Traffic, *r)
		}
		out.Partitions = append(out.Partitions, q)
	}
	// A page of a selection of the partitions' deployments, newest first,
	// is that of the whole history reversed.
	until := now.Add(-48 * time.Hour)
	failed := func(d *history.Deployment) bool { return d.Failed() }
	page, total := engine.NewestFirst(parts, since, until, failed, 3, 20)
	var want []history.Deployment
	for i := len(out.History) - 1; i >= 0; i-- {
		if d := &out.History[i]; !d.LiveAt.Before(since) && d.LiveAt.Before(until) && d.Failed() {
			want = append(want, *d)
		}
	}
	if total != len(want) {
		t.Fatalf("NewestFirst counts %d failed deployments, the history %d", total, len(want))
	}
	want = want[min(3, len(want)):min(23, len(want))]
	if len(page) != len(want) {
		t.Fatalf("NewestFirst page of %d, want %d", len(page), len(want))
	}
	for i := range page {
		if !reflect.DeepEqual(*page[i], want[i]) {
			t.Fatalf("NewestFirst page[%d] = %s %s %v, want %s %s %v", i, page[i].App, page[i].Env, page[i].LiveAt, want[i].App, want[i].Env, want[i].LiveAt)
		}
	}
	money := func(app, team, env string) bool { return team == "money" }
	for _, allow := range []func(app, team, env string) bool{nil, money} {
		f, err := e.InFlight(c, allow)
		if err != nil {
			t.Fatal(err)
		}
		out.InFlight = append(out.InFlight, f)
	}
	return out
}

// same fails the test when two engines' answers differ, naming the first
// field that does.
func same(t *testing.T, what string, got, want everything) {
	t.Helper()
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := range gv.NumField() {
		g, w := gv.Field(i).Interface(), wv.Field(i).Interface()
		if !reflect.DeepEqual(g, w) {
			gj, _ := json.Marshal(g)
			wj, _ := json.Marshal(w)
			var ga, wa any
			_ = json.Unmarshal(gj, &ga)
			_ = json.Unmarshal(wj, &wa)
			path, gx, wx := firstDiff("", ga, wa)
			t.Fatalf("%s: %s differs between the incremental engine and a fresh one, first at %s:\nincremental %s\nfresh       %s",
				what, gv.Type().Field(i).Name, path, clip(gx), clip(wx))
		}
	}
}

// firstDiff returns where two decoded JSON values first differ, and the
// values there.
func firstDiff(path string, a, b any) (string, []byte, []byte) {
	switch av := a.(type) {
	case map[string]any:
		if bv, ok := b.(map[string]any); ok {
			keys := slices.Sorted(maps.Keys(av))
			for _, k := range keys {
				if !reflect.DeepEqual(av[k], bv[k]) {
					return firstDiff(path+"."+k, av[k], bv[k])
				}
			}
		}
	case []any:
		if bv, ok := b.([]any); ok && len(av) == len(bv) {
			for i := range av {
				if !reflect.DeepEqual(av[i], bv[i]) {
					return firstDiff(fmt.Sprintf("%s[%d]", path, i), av[i], bv[i])
				}
			}
		}
	}
	aj, _ := json.Marshal(a)
	bj, _ := json.Marshal(b)
	return path, aj, bj
}

func clip(b []byte) string {
	if len(b) > 4000 {
		return string(b[:4000]) + "…"
	}
	return string(b)
}

// TestIncrementalMatchesFresh appends a generated event stream in random
// chunks, out of order and with re-deliveries, and after each chunk checks
// that an engine that has followed every change answers exactly what a new
// engine reading the whole store answers.
func TestIncrementalMatchesFresh(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			for _, seed := range []uint64{1, 2} {
				t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
					s, _ := open(t)
					rng := rand.New(rand.NewPCG(seed, 99))
					events := storetest.NewGenerator(seed, "test").Events(2500)
					// Out of order: shuffle within windows of 60 events, so that
					// deployments often arrive before what they link to.
					for i := 0; i < len(events); i += 60 {
						w := events[i:min(i+60, len(events))]
						rng.Shuffle(len(w), func(a, b int) { w[a], w[b] = w[b], w[a] })
					}
					end := events[len(events)-1].Time
					clk := newClock(storetest.Base.Add(end.Sub(storetest.Base) / 3))
					inc := engine.New(s, settings(clk))
					steps := 0
					var inFlight [4]int
					scoped := false
					for i := 0; i < len(events); steps++ {
						n := 1 + rng.IntN(160)
						chunk := events[i:min(i+n, len(events))]
						if i > 0 && rng.IntN(3) == 0 { // a re-delivery of earlier events
							from := rng.IntN(i)
							chunk = append(slices.Clone(chunk), events[from:min(from+rng.IntN(40), i)]...)
						}
						mustAppend(t, s, chunk...)
						i += n
						if rng.IntN(4) == 0 { // the clock moves on
							clk.set(clk.now().Add(time.Duration(rng.Int64N(int64(end.Sub(storetest.Base) / 6)))))
						}
						got := ask(t, inc, clk.now())
						want := ask(t, engine.New(s, settings(clk)), clk.now())
						same(t, fmt.Sprintf("after %d events, step %d", min(i, len(events)), steps), got, want)
						f := got.InFlight[0]
						inFlight[0] += len(f.Changes)
						inFlight[1] += len(f.Runs)
						inFlight[2] += len(f.Syncs)
						inFlight[3] += len(f.Revisions)
						if len(got.InFlight[1].Syncs) < len(f.Syncs) {
							scoped = true
						}
					}
					if slices.Contains(inFlight[:], 0) || !scoped {
						t.Errorf("work in flight seen over the steps (pull requests, runs, syncs, revisions): %v, scope hid some: %v; want some of each", inFlight, scoped)
					}
					if st := inc.LastRefresh(); st.Total == 0 {
						t.Errorf("last refresh: %+v, want partitions", st)
					}
				})
			}
		})
	}
}

// TestIncrementalRebuildsOnlyWhatChanged checks that a new event rebuilds
// the partitions it touches, not the others.
func TestIncrementalRebuildsOnlyWhatChanged(t *testing.T) {
	s, _ := stores(t)["sqlite"](t)
	g := storetest.NewGenerator(5, "test")
	mustAppend(t, s, g.Events(3000)...)
	clk := newClock(storetest.Base.Add(365 * 24 * time.Hour))
	e := engine.New(s, settings(clk))
	if _, err := e.History(ctx(t)); err != nil {
		t.Fatal(err)
	}
	cold := e.LastRefresh()
	if cold.Partitions != cold.Total || cold.Total < 20 {
		t.Fatalf("cold load: %+v, want every partition (20 or more) built", cold)
	}
	if _, err := e.History(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if st := e.LastRefresh(); st.Partitions != 0 || st.Rows != 0 {
		t.Errorf("refresh with nothing new: %+v, want no row read and no partition rebuilt", st)
	}
	// One more flow that deploys: one app and environment, plus the few
	// that link to it by chance.
	for {
		flow := g.Flow()
		mustAppend(t, s, flow...)
		if slices.ContainsFunc(flow, func(e delivery.Event) bool { return e.Type == delivery.ServiceUpgraded }) {
			break
		}
	}
	if _, err := e.History(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if st := e.LastRefresh(); st.Partitions == 0 || st.Partitions > 3 || st.Rows > 30 {
		t.Errorf("refresh after one flow: %+v, want 1 to 3 partitions rebuilt from under 30 rows", st)
	}
}

// TestReplicasSeeEachOthersWrites: two engines on two handles of one
// store (two replicas), one writer: the other engine sees each change on
// its next call, with no notification.
func TestReplicasSeeEachOthersWrites(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			writer, another := open(t)
			reader := another()
			clk := newClock(storetest.Base.Add(365 * 24 * time.Hour))
			e1, e2 := engine.New(writer, settings(clk)), engine.New(reader, settings(clk))
			g := storetest.NewGenerator(7, "test")
			for round := range 6 {
				mustAppend(t, writer, g.Events(150)...)
				d1, err := e1.History(ctx(t))
				if err != nil {
					t.Fatal(err)
				}
				d2, err := e2.History(ctx(t))
				if err != nil {
					t.Fatal(err)
				}
				want, err := engine.New(reader, settings(clk)).History(ctx(t))
				if err != nil {
					t.Fatal(err)
				}
				if len(want) == 0 && round > 0 {
					t.Fatalf("round %d: no deployment", round)
				}
				if !reflect.DeepEqual(d1, want) || !reflect.DeepEqual(d2, want) {
					t.Fatalf("round %d: the engines have %d and %d deployments, the store %d", round, len(d1), len(d2), len(want))
				}
			}
		})
	}
}

// TestConcurrentRequests: many requests while a writer appends; run with
// -race. Each answer must be a consistent view: its history sorted, and
// never older than what was committed before the request.
func TestConcurrentRequests(t *testing.T) {
	s, _ := stores(t)["sqlite"](t)
	clk := newClock(storetest.Base.Add(365 * 24 * time.Hour))
	e := engine.New(s, settings(clk))
	g := storetest.NewGenerator(11, "test")
	var committed atomic.Int64 // deployments committed so far
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		defer close(stop)
		for range 20 {
			mustAppend(t, s, g.Events(100)...)
			n, err := s.Deployments(ctx(t), store.ModelFilter{})
			if err != nil {
				t.Error(err)
				return
			}
			committed.Store(int64(len(n)))
		}
	})
	for range 6 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				before := committed.Load()
				deps, err := e.History(ctx(t))
				if err != nil {
					t.Error(err)
					return
				}
				if !slices.IsSortedFunc(deps, history.CompareLive) {
					t.Error("history not in live-time order")
					return
				}
				records := 0
				for _, d := range deps {
					records += len(d.EventIDs)
				}
				if int64(records) < before {
					t.Errorf("a request saw %d deployment records, %d were committed before it", records, before)
					return
				}
				if _, err := e.Report(ctx(t), engine.Query{Since: storetest.Base}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestPostgresLateCommit: an append transaction that started first (lower
// transaction id) commits after a later one; an engine that read in
// between must still see its rows. The first transaction is held open by
// an advisory lock on one of the entities it folds (the lock the store
// takes after writing the deployment rows, stamped with its id).
func TestPostgresLateCommit(t *testing.T) {
	dsn := tempSchema(t)
	open := func() *store.Store {
		s, err := postgres.Open(context.Background(), dsn, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		if _, err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		return s
	}
	first, second := open(), open()
	clk := newClock(storetest.Base.Add(365 * 24 * time.Hour))
	e := engine.New(second, settings(clk))
	g := storetest.NewGenerator(3, "test")
	mustAppend(t, second, g.Events(200)...)
	if _, err := e.History(ctx(t)); err != nil {
		t.Fatal(err)
	}
	deploying := func() []delivery.Event { // a flow that ends in a deployment
		for {
			f := g.Flow()
			if slices.ContainsFunc(f, func(e delivery.Event) bool { return e.Type == delivery.ServiceUpgraded }) {
				return f
			}
		}
	}
	early, late := deploying(), deploying()
	var entity string
	for _, ev := range early {
		if ev.Type == delivery.SyncStarted {
			entity = ev.Entity()
		}
	}
	lock, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	conn, err := lock.Conn(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx(t), `SELECT pg_advisory_lock(hashtextextended($1, 0))`, entity); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := first.Append(context.Background(), early...); done <- err }()
	// Wait until the early transaction waits for the lock: it has written
	// its deployment row by then.
	for deadline := time.Now().Add(time.Minute); ; {
		var waiting bool
		if err := conn.QueryRowContext(ctx(t), `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted)`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the early append never waited for the lock")
		}
		time.Sleep(10 * time.Millisecond)
	}
	mustAppend(t, second, late...)
	ids := func(deps []history.Deployment) map[string]bool {
		out := map[string]bool{}
		for _, d := range deps {
			for _, id := range d.EventIDs {
				out[id] = true
			}
		}
		return out
	}
	idOf := func(flow []delivery.Event) string {
		for _, ev := range flow {
			if ev.Type == delivery.ServiceUpgraded {
				return ev.Source + "/" + ev.ID
			}
		}
		return ""
	}
	deps, err := e.History(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(deps); !got[idOf(late)] || got[idOf(early)] {
		t.Fatalf("while the early transaction is open: late deployment seen %v, early one seen %v; want true, false", got[idOf(late)], got[idOf(early)])
	}
	if _, err := conn.ExecContext(ctx(t), `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, entity); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The early transaction's rows carry a lower change sequence than the
	// late one's: reading "above the highest seen" would miss them.
	var earlySeq, lateSeq int64
	q := `SELECT changed_seq FROM deployments WHERE source = $1 AND event_id = $2`
	for _, c := range []struct {
		flow []delivery.Event
		seq  *int64
	}{{early, &earlySeq}, {late, &lateSeq}} {
		for _, ev := range c.flow {
			if ev.Type == delivery.ServiceUpgraded {
				if err := lock.QueryRow(q, ev.Source, ev.ID).Scan(c.seq); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if earlySeq >= lateSeq {
		t.Fatalf("change sequences: early %d, late %d; the test needs the early one lower", earlySeq, lateSeq)
	}
	deps, err = e.History(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(deps); !got[idOf(early)] || !got[idOf(late)] {
		t.Fatalf("after the early transaction committed: early deployment seen %v, late %v; want both", got[idOf(early)], got[idOf(late)])
	}
	same(t, "after the late commit", ask(t, e, clk.now()), ask(t, engine.New(second, settings(clk)), clk.now()))
}

// TestListsNewestFirst checks the order of the untraceable deployments and
// of the deviations, which only the selected deployments are sorted for:
// the whole history's order reversed, with every deployment of the window
// counted.
func TestListsNewestFirst(t *testing.T) {
	s, _ := stores(t)["sqlite"](t)
	g := storetest.NewGenerator(3, "test")
	events := g.Events(3000)
	// Every other pull request and CI run unknown: deployments that lack
	// links, and that policies flag.
	kept := events[:0:0]
	for i, ev := range events {
		switch ev.Type {
		case delivery.ChangeCreated, delivery.ChangeReviewed, delivery.ChangeMerged, delivery.PipelineRunStarted, delivery.PipelineRunFinished:
			if i%2 == 0 {
				continue
			}
		}
		kept = append(kept, ev)
	}
	mustAppend(t, s, kept...)
	now := events[len(events)-1].Time.Add(time.Hour)
	e := engine.New(s, settings(newClock(now)))
	c := ctx(t)
	hist, err := e.History(c)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, d := range hist {
		seen[d.Env] = true
	}
	envs := slices.Sorted(maps.Keys(seen)) // all of them: traceability counts production only by default
	if len(envs) < 2 {
		t.Fatalf("the history has environments %v: want several", envs)
	}
	for _, since := range []time.Time{{}, now.Add(-20 * 24 * time.Hour)} {
		// Each deployment's place in the history reversed, and how many
		// were not rewritten away in the window.
		place := map[string]int{}
		counted := 0
		for i := len(hist) - 1; i >= 0; i-- {
			d := &hist[i]
			if d.LiveAt.Before(since) || !d.LiveAt.Before(now) {
				continue
			}
			place[refKey(d.Ref())] = len(hist) - 1 - i
			if !d.Rewritten {
				counted++
			}
		}
		tr, err := e.Traceability(c, engine.Query{Since: since, Envs: envs})
		if err != nil {
			t.Fatal(err)
		}
		dev, err := e.Deviations(c, engine.DeviationQuery{Since: since, Envs: envs})
		if err != nil {
			t.Fatal(err)
		}
		if tr.Deployments != counted || dev.Deployments != counted || len(tr.Untraceable) != tr.Deployments-tr.Traceable {
			t.Fatalf("since %v: traceability counts %d deployments (%d traceable, %d listed), deviations %d; the history has %d",
				since, tr.Deployments, tr.Traceable, len(tr.Untraceable), dev.Deployments, counted)
		}
		inc, err := e.Incidents(c, engine.Query{Since: since, Envs: envs})
		if err != nil {
			t.Fatal(err)
		}
		cp, err := e.Compliance(c, engine.Query{Since: since, Envs: envs}, engine.DeviationQuery{Since: since, Envs: envs})
		if err != nil {
			t.Fatal(err)
		}
		want := engine.Compliance{Deployments: tr.Deployments, Traceable: tr.Traceable, Rate: tr.Rate, Deviations: len(dev.Deviations),
			DeviationDeployments: dev.Deployments, Incidents: inc}
		if !reflect.DeepEqual(cp, want) {
			t.Fatalf("since %v: Compliance = %+v; Traceability, Deviations and Incidents say %+v", since, cp, want)
		}
		full, err := e.Efficiency(c, engine.Query{Since: since, Envs: envs})
		if err != nil {
			t.Fatal(err)
		}
		short, err := e.Efficiency(c, engine.Query{Since: since, Envs: envs, Summary: true})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(short, full.Summary()) {
			t.Fatalf("since %v: Efficiency with Summary = %+v, want the full report's summary %+v", since, short, full.Summary())
		}
		if full.Cost.Revisions == nil {
			t.Fatalf("since %v: the full efficiency report lists no revision cost: want some to leave out", since)
		}
		if len(tr.Untraceable) == 0 || len(dev.Deviations) == 0 {
			t.Fatalf("since %v: %d untraceable, %d deviations: want some of each", since, len(tr.Untraceable), len(dev.Deviations))
		}
		inOrder := func(what string, refs []history.Ref, strict bool) {
			last := -1
			for i, r := range refs {
				p, ok := place[refKey(r)]
				if !ok || p < last || strict && p == last {
					t.Fatalf("since %v: %s %d (%+v) is at %d of the history reversed (found %v), after one at %d", since, what, i, r, p, ok, last)
				}
				last = p
			}
		}
		var untraceable, deviations []history.Ref
		for _, u := range tr.Untraceable {
			untraceable = append(untraceable, u.Deployment)
		}
		for _, d := range dev.Deviations {
			deviations = append(deviations, d.Deployment)
		}
		inOrder("untraceable deployment", untraceable, true)
		inOrder("deviation", deviations, false)
	}
}

func refKey(r history.Ref) string {
	return fmt.Sprint(r.App, "\x00", r.Env, "\x00", r.LiveAt.UnixNano(), "\x00", r.Artifact, "\x00", r.ManifestCommit, "\x00", r.EventIDs)
}
