package engine_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine"
	"github.com/shiplog-dev/shiplog/internal/engine/trace"
	"github.com/shiplog-dev/shiplog/internal/store/storetest"
)

// traceEvents are a generated history (both generators) and a few changes
// shaped to try the corners of trace lookups: SHAs stored abbreviated, one
// SHA in two repositories, open pull requests with and without a commit,
// an author outside ASCII, a Knative revision name that two environments
// share.
func traceEvents() []delivery.Event {
	events := storetest.NewGenerator(3, "x").Events(2500)
	g := storetest.NewScaleGenerator(7, storetest.ScaleOptions{Deployments: 3000, Teams: 4, AppsPerTeam: 4})
	for !g.Done() {
		events = append(events, g.Change()...)
	}

	// Every SHA starts with 0dd1: a prefix query meets them all.
	sha := func(c byte) string { return "0dd1" + strings.Repeat(string(c), 36) }
	head, merge, next, openHead, bare := sha('a'), sha('b'), sha('c'), sha('d'), sha('e')
	mc, mc2 := "0dd5"+strings.Repeat("6", 36), "0dd6"+strings.Repeat("7", 36)
	dg := "sha256:" + strings.Repeat("ab", 32)
	r1, r2 := "https://git.example.com/acme/odd", "https://git.example.com/acme/fork"
	at := storetest.Base.Add(-48 * time.Hour)
	n := 0
	add := func(typ delivery.EventType, app, env string, p delivery.Payload) {
		n++
		at = at.Add(7 * time.Minute)
		e := delivery.Event{Source: "odd", ID: fmt.Sprint("odd-", n), Type: typ, Time: at, App: app, Env: env, Payload: p}
		if app != "" {
			e.Cluster, e.Namespace = "c1", app+"-"+env
		}
		events = append(events, e)
	}
	add(delivery.CommitAuthored, "", "", &delivery.Commit{Repo: r1, SHA: head, AuthorName: "Zoë Ødegaard", AuthorEmail: "zoe@example.com", CommittedAt: at, Subject: "odd"})
	add(delivery.CommitAuthored, "", "", &delivery.Commit{Repo: r2, SHA: head, AuthorName: "bob", AuthorEmail: "bob@example.com",
		CommittedAt: at.Add(3 * time.Hour), Subject: "fork"}) // the later of the two gives the trace its time
	add(delivery.ChangeCreated, "", "", &delivery.Change{Repo: r1, Number: 7001, Author: "zoë", HeadSHA: head, HeadRef: "odd/branch"})
	add(delivery.ChangeMerged, "", "", &delivery.Change{Repo: r1, Number: 7001, MergeSHA: merge})
	add(delivery.CommitAuthored, "", "", &delivery.Commit{Repo: r1, SHA: merge, AuthorName: "Zoë Ødegaard", CommittedAt: at})
	add(delivery.PipelineRunFinished, "", "", &delivery.PipelineRun{RunID: "odd-1", Repo: r1, SHA: merge[:7], Outcome: delivery.OutcomeSuccess})
	add(delivery.ArtifactPublished, "", "", &delivery.Artifact{Name: "ghcr.io/acme/odd", Digest: dg, SourceCommit: merge[:8]})
	// A deployment known by its digest alone, of a revision known by its image.
	dg2 := "sha256:" + strings.Repeat("cd", 32)
	add(delivery.RevisionCreated, "odd", "dev", &delivery.Revision{Name: "odd-dev-1", Image: "ghcr.io/acme/odd@" + dg2})
	add(delivery.RevisionReady, "odd", "dev", &delivery.Revision{Name: "odd-dev-1"})
	add(delivery.ServiceUpgraded, "odd", "dev", &delivery.Deployment{Artifact: dg2, SourceCommit: next[:10],
		Changes: []string{next[:10]}, InferredFrom: "cdevents"})
	add(delivery.TrafficChanged, "odd", "dev", &delivery.Traffic{Service: "odd", Targets: []delivery.TrafficTarget{{Revision: "odd-dev-1", Percent: 100}}})
	add(delivery.ServiceUpgraded, "odd", "staging", &delivery.Deployment{Artifact: "ghcr.io/acme/odd@" + dg, SourceCommit: merge,
		Changes: []string{merge, head}, InferredFrom: "cdevents"})
	add(delivery.SyncFinished, "odd", "prod", &delivery.Sync{Application: "odd-prod", StartedAt: at.Add(-time.Minute), FinishedAt: at, Revision: mc,
		Phase: delivery.PhaseSucceeded, InitiatedBy: "zoë"})
	add(delivery.RevisionCreated, "odd", "prod", &delivery.Revision{Name: "odd-00001", Image: "ghcr.io/acme/odd@" + dg, Digest: dg})
	add(delivery.RevisionReady, "odd", "prod", &delivery.Revision{Name: "odd-00001"})
	add(delivery.TrafficChanged, "odd", "prod", &delivery.Traffic{Service: "odd", Targets: []delivery.TrafficTarget{{Revision: "odd-00001", Percent: 100}}})
	add(delivery.ServiceUpgraded, "odd", "prod", &delivery.Deployment{Artifact: "ghcr.io/acme/odd@" + dg, Repo: r1, ManifestCommit: mc,
		SourceCommit: merge[:7], Changes: []string{merge[:7], head[:9]}, InferredFrom: "cdevents"})
	// A revision known by the image's name alone.
	add(delivery.RevisionCreated, "odd", "prod", &delivery.Revision{Name: "odd-00003", Image: "ghcr.io/acme/odd"})
	add(delivery.RevisionReady, "odd", "prod", &delivery.Revision{Name: "odd-00003"})
	add(delivery.TrafficChanged, "odd", "staging", &delivery.Traffic{Service: "odd", Targets: []delivery.TrafficTarget{
		{Revision: "odd-00001", Percent: 40}, {Revision: "odd-00002", Percent: 60}}})
	add(delivery.CommitAuthored, "", "", &delivery.Commit{Repo: r1, SHA: next, AuthorName: "carol", CommittedAt: at})
	add(delivery.ServiceUpgraded, "odd", "prod", &delivery.Deployment{Artifact: "ghcr.io/acme/odd:next", Repo: r1, ManifestCommit: mc2,
		SourceCommit: next, Changes: []string{next}, InferredFrom: "cdevents"})
	add(delivery.CommitAuthored, "", "", &delivery.Commit{Repo: r1, SHA: openHead, AuthorName: "zoë", CommittedAt: at})
	add(delivery.ChangeCreated, "", "", &delivery.Change{Repo: r1, Number: 7002, Author: "ZOË", HeadSHA: openHead, HeadRef: "odd/branch"})
	add(delivery.ChangeCreated, "", "", &delivery.Change{Repo: r2, Number: 7002, Author: "dave", HeadSHA: bare, HeadRef: "odd/open"})
	return events
}

// traceQueries are queries of every kind, many drawn from what in holds.
func traceQueries(in trace.Input) []trace.Query {
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(n int) int { return rng.IntN(n) }
	qs := []trace.Query{
		{SHA: "0dd1"}, {SHA: "0DD1bbb"}, {SHA: "0dd1" + strings.Repeat("b", 36)}, {SHA: "0dd1aaaaaa"}, {SHA: "0dd"},
		{PR: 7001}, {PR: 7002}, {Branch: "odd/branch"}, {Branch: "odd/open"}, {Author: "ZOË ØDEGAARD"}, {Author: "Zoë"},
		{Author: "ZOE@example.com"}, {Author: "Dev"}, {Author: "DEV@EXAMPLE.COM"}, {Author: "Alice"}, {Branch: "feature"},
		{PR: 7001, Author: "bob"}, {SHA: "0dd1c", Branch: "odd/open"},
		{SHA: "zzzz"}, {SHA: "ffffffffffff"}, {PR: 987654321}, {Branch: "nope"}, {Author: "nobody"}, {},
	}
	for range 12 {
		d := in.Deployments[pick(len(in.Deployments))]
		if d.SourceCommit != "" {
			qs = append(qs, trace.Query{SHA: d.SourceCommit[:4]}, trace.Query{SHA: d.SourceCommit[:7]}, trace.Query{SHA: strings.ToUpper(d.SourceCommit)})
		}
		if len(d.Changes) > 0 {
			qs = append(qs, trace.Query{SHA: d.Changes[len(d.Changes)-1].SHA[:6]})
		}
	}
	for range 8 {
		c := in.Commits[pick(len(in.Commits))]
		qs = append(qs, trace.Query{SHA: c.SHA[:5]}, trace.Query{SHA: c.SHA}, trace.Query{Author: strings.ToUpper(c.AuthorName)})
	}
	for range 8 {
		c := in.Changes[pick(len(in.Changes))]
		qs = append(qs, trace.Query{PR: c.Number}, trace.Query{Branch: c.HeadRef}, trace.Query{PR: c.Number, SHA: c.HeadSHA[:4]})
	}
	return qs
}

// TestTracesMatchFind checks that traces looked up through the store's
// indexes and the partitions are exactly those trace.Find finds in the
// whole model.
func TestTracesMatchFind(t *testing.T) {
	events := traceEvents()
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			s, _ := open(t)
			c := ctx(t)
			mustAppend(t, s, events...)
			e := engine.New(s, settings(newClock(storetest.Base.Add(400*24*time.Hour))))
			full := wholeInput(t, e)
			found := 0
			for _, q := range traceQueries(full) {
				want := trace.Find(full, q)
				got, err := e.Traces(c, q)
				if err != nil {
					t.Fatalf("%+v: %v", q, err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("Traces(%+v): got %d traces, want %d as trace.Find's\n%s", q, len(got), len(want), firstTraceDiff(got, want))
				}
				found += len(want)
			}
			if found < 500 {
				t.Errorf("the queries found %d traces in all, want more to compare", found)
			}
		})
	}
}

// TestTracesConcurrent checks that searches running at once on a new
// engine, which index the partitions they read on first use, each find
// what trace.Find finds (run it with -race).
func TestTracesConcurrent(t *testing.T) {
	s, _ := stores(t)["sqlite"](t)
	c := ctx(t)
	mustAppend(t, s, traceEvents()...)
	clk := newClock(storetest.Base.Add(400 * 24 * time.Hour))
	e := engine.New(s, settings(clk))
	full := wholeInput(t, e)
	// Queries that each read many partitions.
	qs := []trace.Query{{Author: "Alice"}, {Author: "Dev"}, {Branch: "feature"}, {SHA: "0dd1"}}
	wants := make([][]trace.Trace, len(qs))
	for i, q := range qs {
		if wants[i] = trace.Find(full, q); len(wants[i]) == 0 {
			t.Fatalf("%+v finds no trace, want some to compare", q)
		}
	}
	for round := range 3 {
		e := engine.New(s, settings(clk)) // nothing indexed yet
		if _, err := e.History(c); err != nil {
			t.Fatal(err)
		}
		const searchers = 4
		start := make(chan struct{})
		errs := make(chan error, searchers)
		for n := range searchers {
			go func() {
				<-start
				i := (n/2 + round) % len(qs) // two searchers on each query
				got, err := e.Traces(c, qs[i])
				if err == nil && !reflect.DeepEqual(got, wants[i]) {
					err = fmt.Errorf("Traces(%+v): got %d traces, want %d as trace.Find's\n%s", qs[i], len(got), len(wants[i]), firstTraceDiff(got, wants[i]))
				}
				errs <- err
			}()
		}
		close(start)
		for range searchers {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
	}
}

// TestTracesPage checks that a page holds the newest traces, in order, and
// the total counts them all.
func TestTracesPage(t *testing.T) {
	s, _ := stores(t)["sqlite"](t)
	c := ctx(t)
	mustAppend(t, s, traceEvents()...)
	e := engine.New(s, settings(newClock(storetest.Base.Add(400*24*time.Hour))))
	for _, q := range []trace.Query{{Author: "alice"}, {Branch: "feature"}, {Branch: "odd/branch"}, {SHA: "0dd"}, {SHA: "0dd1"}, {SHA: "0dd1a"}} {
		all, err := e.Traces(c, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, limit := range []int{1, 3, 50, len(all), len(all) + 1, 0} {
			t.Run(fmt.Sprintf("%+v/limit=%d", q, limit), func(t *testing.T) {
				got, total, err := e.TracesPage(c, q, limit)
				if err != nil {
					t.Fatal(err)
				}
				want := all
				if limit > 0 && limit < len(all) {
					want = all[:limit]
				}
				if total != len(all) {
					t.Errorf("total %d, want %d", total, len(all))
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("got %d traces, want the first %d of Traces\n%s", len(got), len(want), firstTraceDiff(got, want))
				}
			})
		}
	}
}

// firstTraceDiff describes where two lists of traces first differ.
func firstTraceDiff(got, want []trace.Trace) string {
	for i := range min(len(got), len(want)) {
		if !reflect.DeepEqual(got[i], want[i]) {
			g, _ := json.Marshal(got[i])
			w, _ := json.Marshal(want[i])
			return fmt.Sprintf("trace %d:\ngot  %s\nwant %s", i, clip(g), clip(w))
		}
	}
	if len(got) > len(want) {
		return fmt.Sprintf("got %s more first", got[len(want)].SHA)
	}
	if len(want) > len(got) {
		return fmt.Sprintf("want %s more first", want[len(got)].SHA)
	}
	return ""
}

// TestTracesRevisionRefs checks that a trace finds the Knative revision of
// each way an image or digest may name a deployment's artifact (trace's
// rule: equal, or the part of one before or after one of the other's "@"),
// and none of the near misses, as trace.Find does; and the sync of its
// manifest commit, not its neighbour's.
func TestTracesRevisionRefs(t *testing.T) {
	dg := "sha256:" + strings.Repeat("ef", 32)
	tests := []struct {
		name, artifact, image, digest string
		match                         bool
	}{
		{"image is the artifact", "reg/app:1", "reg/app:1", "", true},
		{"digest is the artifact", dg, "", dg, true},
		{"image before the artifact's @", "reg/app@" + dg, "reg/app", "", true},
		{"digest after the artifact's @", "reg/app@" + dg, "", dg, true},
		{"artifact after the image's @", dg, "reg/app@" + dg, "", true},
		{"artifact after the image's second @", dg, "reg/app@v1@" + dg, "", true},
		{"artifact after the image's first @", "v1@" + dg, "reg/app@v1@" + dg, "", true},
		{"image before the artifact's second @", "reg/app@v1@" + dg, "reg/app@v1", "", true},
		{"image after the artifact's first @", "reg/app@v1@" + dg, "v1@" + dg, "", true},
		{"tag after the image's @", "v1", "reg/app@v1", "", true},
		{"artifact starting with @", "@reg/app", "reg/app", "", true},
		{"other tag", "reg/app:1", "reg/app:2", dg, false},
		{"image a prefix without @", "reg/app:1", "reg/app", "", false},
		{"image a suffix without @", "reg/app", "app", "", false},
		{"artifact a part of the image between @s", "v1", "reg/app@v1@" + dg, "", false},
	}
	sha := func(k, kind int) string { return fmt.Sprintf("%08x%032x", 0xbead0000+kind, k) }
	var events []delivery.Event
	at := storetest.Base.Add(-24 * time.Hour)
	add := func(typ delivery.EventType, app string, p delivery.Payload) {
		at = at.Add(time.Minute)
		e := delivery.Event{Source: "refs", ID: fmt.Sprint("refs-", len(events)), Type: typ, Time: at, App: app, Env: "prod", Payload: p}
		if app != "" {
			e.Cluster, e.Namespace = "c1", app
		}
		events = append(events, e)
	}
	for k, tc := range tests {
		app, rev, commit, manifest := fmt.Sprint("refs", k), fmt.Sprint("refs", k, "-00001"), sha(k, 1), sha(k, 2)
		add(delivery.CommitAuthored, "", &delivery.Commit{Repo: "https://git.example.com/acme/refs", SHA: commit, AuthorName: "refs", CommittedAt: at})
		add(delivery.SyncFinished, app, &delivery.Sync{Application: app, StartedAt: at, FinishedAt: at.Add(time.Second), Revision: sha(k, 3),
			Phase: delivery.PhaseSucceeded})
		add(delivery.SyncFinished, app, &delivery.Sync{Application: app, StartedAt: at, FinishedAt: at.Add(time.Second), Revision: manifest,
			Phase: delivery.PhaseSucceeded, InitiatedBy: "refs"})
		add(delivery.RevisionCreated, app, &delivery.Revision{Name: rev, Image: tc.image, Digest: tc.digest})
		add(delivery.RevisionReady, app, &delivery.Revision{Name: rev})
		add(delivery.ServiceUpgraded, app, &delivery.Deployment{Artifact: tc.artifact, ManifestCommit: manifest, SourceCommit: commit,
			Changes: []string{commit}, InferredFrom: "cdevents"})
		add(delivery.TrafficChanged, app, &delivery.Traffic{Service: app, Targets: []delivery.TrafficTarget{{Revision: rev, Percent: 100}}})
	}
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			s, _ := open(t)
			c := ctx(t)
			mustAppend(t, s, events...)
			e := engine.New(s, settings(newClock(storetest.Base)))
			full := wholeInput(t, e)
			for k, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					q := trace.Query{SHA: sha(k, 1)}
					got, err := e.Traces(c, q)
					if err != nil {
						t.Fatal(err)
					}
					if want := trace.Find(full, q); !reflect.DeepEqual(got, want) {
						t.Fatalf("got %d traces, want %d as trace.Find's\n%s", len(got), len(want), firstTraceDiff(got, want))
					}
					if len(got) != 1 || len(got[0].Envs) != 1 {
						t.Fatalf("got %d traces, want one in one environment", len(got))
					}
					env, want := got[0].Envs[0], ""
					if tc.match {
						want = fmt.Sprint("refs", k, "-00001")
					}
					if env.Revision != want {
						t.Errorf("revision %q of artifact %q, want %q", env.Revision, tc.artifact, want)
					}
					if sy := env.Stages[1]; sy.Name != "sync" || sy.Detail != "refs" {
						t.Errorf("stage %s by %q, want the sync of the manifest commit, by refs", sy.Name, sy.Detail)
					}
				})
			}
		})
	}
}

// wholeInput is what trace.Find reads of e's whole model.
func wholeInput(t *testing.T, e *engine.Engine) trace.Input {
	t.Helper()
	c := ctx(t)
	deps, err := e.History(c)
	if err != nil {
		t.Fatal(err)
	}
	in, err := e.TraceInput(c, deps)
	if err != nil {
		t.Fatal(err)
	}
	return in
}
