package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// Opener returns a new, empty, migrated store; the suite closes it.
type Opener func(t *testing.T) *store.Store

// Run runs the conformance suite against the stores open returns.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open Opener)
	}{
		{"Migrations", testMigrations},
		{"AppendRoundTrip", testAppendRoundTrip},
		{"IdempotentRedelivery10k", testRedelivery10k},
		{"DuplicatesWithinOneCall", testDuplicatesWithinCall},
		{"Ordering", testOrdering},
		{"ConcurrentWriters", testConcurrentWriters},
		{"Queries", testQueries},
		{"OutOfOrderFolds", testOutOfOrder},
		{"FoldValues", testFoldValues},
		{"RejectsBadInput", testRejectsBadInput},
		{"AppendAfterClose", testAppendAfterClose},
		{"Cursors", testCursors},
		{"RewrittenMarksDeployments", testRewritten},
		{"ChangeFeed", testChangeFeed},
		{"Lookups", testLookups},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func mustAppend(t *testing.T, s *store.Store, events ...delivery.Event) store.AppendResult {
	t.Helper()
	res, err := s.Append(ctx(t), events...)
	if err != nil {
		t.Fatalf("Append(%d events): %v", len(events), err)
	}
	return res
}

func count(t *testing.T, s *store.Store) int64 {
	t.Helper()
	n, err := s.CountEvents(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Snapshot is every row of the derived model.
type Snapshot struct {
	Apps            []delivery.App
	Commits         []delivery.CommitRecord
	Changes         []delivery.ChangeRecord
	PipelineRuns    []delivery.PipelineRunRecord
	Artifacts       []delivery.ArtifactRecord
	ManifestChanges []delivery.ManifestChangeRecord
	Syncs           []delivery.SyncRecord
	Health          []delivery.HealthRecord
	SyncStatus      []delivery.SyncStatusRecord
	Revisions       []delivery.RevisionRecord
	Traffic         []delivery.TrafficRecord
	Scale           []delivery.ScaleRecord
	Deployments     []delivery.DeploymentRecord
	Incidents       []delivery.IncidentRecord
	Rewritten       []delivery.RewrittenRecord
}

// TakeSnapshot reads the whole derived model of s.
func TakeSnapshot(t *testing.T, s *store.Store) Snapshot {
	t.Helper()
	c, f := ctx(t), store.ModelFilter{}
	var snap Snapshot
	var err error
	get := func(e error) {
		if e != nil && err == nil {
			err = e
		}
	}
	snap.Apps, err = s.Apps(c, f)
	var e error
	snap.Commits, e = s.Commits(c, f)
	get(e)
	snap.Changes, e = s.Changes(c, f)
	get(e)
	snap.PipelineRuns, e = s.PipelineRuns(c, f)
	get(e)
	snap.Artifacts, e = s.Artifacts(c, f)
	get(e)
	snap.ManifestChanges, e = s.ManifestChanges(c, f)
	get(e)
	snap.Syncs, e = s.Syncs(c, f)
	get(e)
	snap.Health, e = s.HealthTransitions(c, f)
	get(e)
	snap.SyncStatus, e = s.SyncStatuses(c, f)
	get(e)
	snap.Revisions, e = s.Revisions(c, f)
	get(e)
	snap.Traffic, e = s.Traffic(c, f)
	get(e)
	snap.Scale, e = s.ScaleSamples(c, f)
	get(e)
	snap.Deployments, e = s.Deployments(c, f)
	get(e)
	snap.Incidents, e = s.Incidents(c, f)
	get(e)
	snap.Rewritten, e = s.RewrittenCommits(c, f)
	get(e)
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	return snap
}

// sameSnapshot fails the test at the first table that differs.
func sameSnapshot(t *testing.T, got, want Snapshot) {
	t.Helper()
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := range gv.NumField() {
		name := gv.Type().Field(i).Name
		g, w := gv.Field(i).Interface(), wv.Field(i).Interface()
		if !reflect.DeepEqual(g, w) {
			gj, _ := json.MarshalIndent(g, "", " ")
			wj, _ := json.MarshalIndent(w, "", " ")
			t.Fatalf("derived table %s differs:\ngot  %d rows %s\nwant %d rows %s", name, gv.Field(i).Len(), clip(gj), wv.Field(i).Len(), clip(wj))
		}
	}
}

func clip(b []byte) string {
	if len(b) > 3000 {
		return string(b[:3000]) + "…"
	}
	return string(b)
}

func testMigrations(t *testing.T, open Opener) {
	s := open(t)
	c := ctx(t)
	if err := s.CheckSchema(c); err != nil {
		t.Fatalf("CheckSchema after migrate: %v", err)
	}
	applied, err := s.Migrate(c)
	if err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if len(applied) != 0 {
		t.Errorf("second Migrate applied %d migrations, want 0", len(applied))
	}
	v, err := s.SchemaVersion(c)
	if err != nil {
		t.Fatal(err)
	}
	want, err := s.LatestSchemaVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v != want || v < 1 {
		t.Errorf("SchemaVersion = %d, want %d", v, want)
	}
}

func testAppendRoundTrip(t *testing.T, open Opener) {
	s := open(t)
	events := NewGenerator(1, "test").Events(200)
	// The generator covers every event type the derived model has a table for.
	seen := map[delivery.EventType]bool{}
	for _, e := range events {
		seen[e.Type] = true
	}
	res := mustAppend(t, s, events...)
	if res.Appended != len(events) || res.Duplicates != 0 {
		t.Fatalf("Append: appended %d, duplicates %d; want %d, 0", res.Appended, res.Duplicates, len(events))
	}
	got, err := s.Events(ctx(t), store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(events) {
		t.Fatalf("Events returned %d, want %d", len(got), len(events))
	}
	for i := range events {
		want := events[i]
		want.Seq, want.ReceivedAt = got[i].Seq, got[i].ReceivedAt
		want.Time = want.Time.UTC()
		if got[i].Seq != res.Seqs[i] {
			t.Errorf("event %d: seq %d, Append said %d", i, got[i].Seq, res.Seqs[i])
		}
		if got[i].ReceivedAt.IsZero() {
			t.Errorf("event %d: received_at not set", i)
		}
		gj, _ := json.Marshal(got[i])
		wj, _ := json.Marshal(want)
		if string(gj) != string(wj) {
			t.Fatalf("event %d round trip:\ngot  %s\nwant %s", i, gj, wj)
		}
	}
	snap := TakeSnapshot(t, s)
	for name, n := range map[string]int{"apps": len(snap.Apps), "commits": len(snap.Commits), "changes": len(snap.Changes),
		"pipeline runs": len(snap.PipelineRuns), "artifacts": len(snap.Artifacts), "manifest changes": len(snap.ManifestChanges),
		"syncs": len(snap.Syncs), "health": len(snap.Health), "sync status": len(snap.SyncStatus), "revisions": len(snap.Revisions), "traffic": len(snap.Traffic),
		"scale": len(snap.Scale), "deployments": len(snap.Deployments), "rewritten commits": len(snap.Rewritten)} {
		if n == 0 {
			t.Errorf("derived table %s is empty after appending %d events", name, len(events))
		}
	}
}

func testRedelivery10k(t *testing.T, open Opener) {
	s := open(t)
	events := NewGenerator(2, "test").Events(10_000)
	for chunk := range slices.Chunk(events, 500) {
		mustAppend(t, s, chunk...)
	}
	if n := count(t, s); n != 10_000 {
		t.Fatalf("after first delivery: %d events, want 10000", n)
	}
	before := TakeSnapshot(t, s)
	// Re-deliver all of them, shuffled, in different batch sizes.
	again := slices.Clone(events)
	rand.New(rand.NewPCG(3, 4)).Shuffle(len(again), func(i, j int) { again[i], again[j] = again[j], again[i] })
	dups := 0
	for chunk := range slices.Chunk(again, 777) {
		res := mustAppend(t, s, chunk...)
		if res.Appended != 0 {
			t.Fatalf("re-delivery appended %d events, want 0", res.Appended)
		}
		dups += res.Duplicates
	}
	if dups != 10_000 {
		t.Errorf("re-delivery counted %d duplicates, want 10000", dups)
	}
	if n := count(t, s); n != 10_000 {
		t.Fatalf("after re-delivery: %d events, want 10000", n)
	}
	sameSnapshot(t, TakeSnapshot(t, s), before)
}

func testDuplicatesWithinCall(t *testing.T, open Opener) {
	s := open(t)
	events := NewGenerator(5, "test").Events(20)
	res := mustAppend(t, s, append(slices.Clone(events), events[3], events[7])...)
	if res.Appended != 20 || res.Duplicates != 2 {
		t.Fatalf("appended %d, duplicates %d; want 20, 2", res.Appended, res.Duplicates)
	}
	if res.Seqs[20] != 0 || res.Seqs[21] != 0 || res.Seqs[3] == 0 {
		t.Errorf("seqs %v: want 0 for the repeated events only", res.Seqs)
	}
	// Same key with a different body is still a duplicate: the first one stays.
	changed := events[0]
	changed.App = "something-else"
	res = mustAppend(t, s, changed)
	if res.Duplicates != 1 {
		t.Errorf("changed body, same key: duplicates %d, want 1", res.Duplicates)
	}
	got, err := s.Events(ctx(t), store.EventFilter{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].App != events[0].App {
		t.Errorf("stored app %q, want the first delivery's %q", got[0].App, events[0].App)
	}
}

func testOrdering(t *testing.T, open Opener) {
	s := open(t)
	events := NewGenerator(6, "test").Events(300)
	rand.New(rand.NewPCG(1, 1)).Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
	var last int64
	for chunk := range slices.Chunk(events, 7) {
		res := mustAppend(t, s, chunk...)
		for _, seq := range res.Seqs {
			if seq <= last {
				t.Fatalf("seq %d after %d: log positions must increase in append order", seq, last)
			}
			last = seq
		}
	}
	got, err := s.Events(ctx(t), store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if got[i].ID != events[i].ID {
			t.Fatalf("log order: position %d holds %s, want %s", i, got[i].ID, events[i].ID)
		}
	}
	byTime, err := s.Events(ctx(t), store.EventFilter{ByTime: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.IsSortedFunc(byTime, func(a, b delivery.Event) int { return a.Time.Compare(b.Time) }) {
		t.Errorf("ByTime: events not sorted by time")
	}
	page, err := s.Events(ctx(t), store.EventFilter{AfterSeq: got[99].Seq, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 50 || page[0].Seq != got[100].Seq || page[49].Seq != got[149].Seq {
		t.Errorf("AfterSeq/Limit page: got %d events from seq %d, want 50 from %d", len(page), page[0].Seq, got[100].Seq)
	}
}

func testConcurrentWriters(t *testing.T, open Opener) {
	s := open(t)
	events := NewGenerator(7, "test").Events(4000)
	const writers = 8
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Every writer sends its own quarter plus an overlapping quarter:
			// each event arrives twice, from two writers at once.
			part := len(events) / 4
			mine := slices.Concat(events[(w%4)*part:(w%4+1)*part], events[((w+1)%4)*part:((w+1)%4+1)*part])
			r := rand.New(rand.NewPCG(uint64(w), 9))
			r.Shuffle(len(mine), func(i, j int) { mine[i], mine[j] = mine[j], mine[i] })
			for chunk := range slices.Chunk(mine, 1+r.IntN(40)) {
				if _, err := s.Append(context.Background(), chunk...); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Append: %v", err)
	}
	if n := count(t, s); n != int64(len(events)) {
		t.Fatalf("%d events stored, want %d", n, len(events))
	}
	ref := open(t)
	mustAppend(t, ref, events...)
	sameSnapshot(t, TakeSnapshot(t, s), TakeSnapshot(t, ref))
}

func testQueries(t *testing.T, open Opener) {
	s := open(t)
	events := NewGenerator(8, "test").Events(3000)
	mustAppend(t, s, events...)
	c := ctx(t)
	mid := events[1500].Time
	late := events[2500].Time
	cases := []struct {
		name string
		f    store.EventFilter
		keep func(e delivery.Event) bool
	}{
		{"app", store.EventFilter{App: "payments"}, func(e delivery.Event) bool { return e.App == "payments" }},
		{"app and env", store.EventFilter{App: "payments", Env: "prod"}, func(e delivery.Event) bool { return e.App == "payments" && e.Env == "prod" }},
		{"time range", store.EventFilter{Since: mid, Until: late}, func(e delivery.Event) bool { return !e.Time.Before(mid) && e.Time.Before(late) }},
		{"env and time", store.EventFilter{Env: "staging", Since: mid}, func(e delivery.Event) bool { return e.Env == "staging" && !e.Time.Before(mid) }},
		{"types", store.EventFilter{Types: []delivery.EventType{delivery.SyncStarted, delivery.SyncFinished}}, func(e delivery.Event) bool {
			return e.Type == delivery.SyncStarted || e.Type == delivery.SyncFinished
		}},
		{"source", store.EventFilter{Source: "nope"}, func(delivery.Event) bool { return false }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Events(c, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, e := range events {
				if tc.keep(e) {
					want = append(want, e.ID)
				}
			}
			var gotIDs []string
			for _, e := range got {
				gotIDs = append(gotIDs, e.ID)
			}
			if !slices.Equal(gotIDs, want) {
				t.Errorf("got %d events, want %d (first got %v, want %v)", len(gotIDs), len(want), head(gotIDs), head(want))
			}
		})
	}
	t.Run("model by app, env and time", func(t *testing.T) {
		syncs, err := s.Syncs(c, store.ModelFilter{App: "payments", Env: "prod", Since: mid})
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		for _, e := range events {
			if e.Type == delivery.SyncStarted && e.App == "payments" && e.Env == "prod" && !e.Time.Before(mid) {
				want++
			}
		}
		if len(syncs) != want || want == 0 {
			t.Errorf("got %d syncs, want %d (non-zero)", len(syncs), want)
		}
		for _, r := range syncs {
			if r.App != "payments" || r.Env != "prod" || r.StartedAt.Before(mid) {
				t.Errorf("row outside the filter: %+v", r)
			}
		}
	})
	t.Run("model filter on a table without apps", func(t *testing.T) {
		if _, err := s.Commits(c, store.ModelFilter{App: "payments"}); err == nil {
			t.Error("Commits filtered by app: want an error, got none")
		}
	})
}

func head(s []string) []string { return s[:min(3, len(s))] }

// testOutOfOrder delivers the same events in order to one store and
// reversed, shuffled and repeated to another: the derived model must match.
func testOutOfOrder(t *testing.T, open Opener) {
	events := NewGenerator(9, "test").Events(1500)
	inOrder := open(t)
	for chunk := range slices.Chunk(events, 100) {
		mustAppend(t, inOrder, chunk...)
	}
	mixed := open(t)
	rev := slices.Clone(events)
	slices.Reverse(rev)
	rand.New(rand.NewPCG(10, 11)).Shuffle(len(rev)/2, func(i, j int) { rev[i], rev[j] = rev[j], rev[i] })
	for i, chunk := range slices.Collect(slices.Chunk(rev, 37)) {
		mustAppend(t, mixed, chunk...)
		if i%3 == 0 {
			mustAppend(t, mixed, chunk[:len(chunk)/2]...) // a re-delivery
		}
	}
	sameSnapshot(t, TakeSnapshot(t, mixed), TakeSnapshot(t, inOrder))
}

// testFoldValues checks folded rows field by field on a hand-written history
// delivered out of order.
func testFoldValues(t *testing.T, open Opener) {
	s := open(t)
	at := func(min int) time.Time { return Base.Add(time.Duration(min) * time.Minute) }
	ev := func(id string, typ delivery.EventType, m int, p delivery.Payload) delivery.Event {
		return delivery.Event{Source: "github", ID: id, Type: typ, Time: at(m), App: "api", Env: "prod", Cluster: "c1", Namespace: "web", Payload: p}
	}
	repo := "https://github.com/acme/api"
	sha := "4d09b7bd4d09b7bd4d09b7bd4d09b7bd4d09b7bd"
	events := []delivery.Event{
		ev("pr-merged", delivery.ChangeMerged, 50, &delivery.Change{Repo: repo, Number: 12, MergeSHA: sha}),
		ev("pr-review-2", delivery.ChangeReviewed, 40, &delivery.Change{Repo: repo, Number: 12, Reviewer: "bob", ReviewState: delivery.ReviewApproved}),
		ev("pr-opened", delivery.ChangeCreated, 0, &delivery.Change{Repo: repo, Number: 12, Title: "Add cache", Author: "alice", HeadRef: "cache", BaseRef: "main"}),
		ev("pr-review-1", delivery.ChangeReviewed, 20, &delivery.Change{Repo: repo, Number: 12, Reviewer: "carol", ReviewState: delivery.ReviewChangesRequested}),
		ev("pr-review-0", delivery.ChangeReviewed, 10, &delivery.Change{Repo: repo, Number: 12, Reviewer: "carol", ReviewState: delivery.ReviewApproved}),
		ev("sync-fin", delivery.SyncFinished, 70, &delivery.Sync{Application: "api-prod", StartedAt: at(60), FinishedAt: at(70), Phase: delivery.PhaseFailed, Message: "hook failed", Revision: "abcdef1"}),
		ev("sync-start", delivery.SyncStarted, 60, &delivery.Sync{Application: "api-prod", StartedAt: at(60), Phase: delivery.PhaseRunning, Revision: "abcdef1", InitiatedBy: "alice"}),
		ev("rev-ready", delivery.RevisionReady, 80, &delivery.Revision{Name: "api-00002"}),
		ev("rev-created", delivery.RevisionCreated, 75, &delivery.Revision{Name: "api-00002", Service: "api", Image: "ghcr.io/acme/api:sha-4d09b7b", Digest: "sha256:" + sha + sha[:24]}),
		ev("inc-resolved", delivery.IncidentResolved, 120, &delivery.Incident{IncidentID: "INC-1"}),
		ev("inc-detected", delivery.IncidentDetected, 90, &delivery.Incident{IncidentID: "INC-1", Title: "5xx", Severity: "critical"}),
	}
	mustAppend(t, s, events...)
	snap := TakeSnapshot(t, s)

	wantChange := []delivery.ChangeRecord{{Repo: repo, Number: 12, Title: "Add cache", Author: "alice", HeadRef: "cache", BaseRef: "main",
		OpenedAt: at(0), MergedAt: at(50), ClosedAt: at(50), MergeSHA: sha, Approvers: []string{"bob"}}}
	if !reflect.DeepEqual(snap.Changes, wantChange) {
		t.Errorf("change:\ngot  %+v\nwant %+v", snap.Changes, wantChange)
	}
	wantSync := []delivery.SyncRecord{{Cluster: "c1", Application: "api-prod", App: "api", Env: "prod", StartedAt: at(60), FinishedAt: at(70),
		Revision: "abcdef1", Phase: delivery.PhaseFailed, Message: "hook failed", InitiatedBy: "alice"}}
	if !reflect.DeepEqual(snap.Syncs, wantSync) {
		t.Errorf("sync:\ngot  %+v\nwant %+v", snap.Syncs, wantSync)
	}
	wantRev := []delivery.RevisionRecord{{Cluster: "c1", Namespace: "web", Name: "api-00002", App: "api", Env: "prod", Service: "api",
		Image: "ghcr.io/acme/api:sha-4d09b7b", Digest: "sha256:" + sha + sha[:24], CreatedAt: at(75), ReadyAt: at(80)}}
	if !reflect.DeepEqual(snap.Revisions, wantRev) {
		t.Errorf("revision:\ngot  %+v\nwant %+v", snap.Revisions, wantRev)
	}
	wantInc := []delivery.IncidentRecord{{Source: "github", IncidentID: "INC-1", App: "api", Env: "prod", Title: "5xx", Severity: "critical",
		DetectedAt: at(90), ResolvedAt: at(120)}}
	if !reflect.DeepEqual(snap.Incidents, wantInc) {
		t.Errorf("incident:\ngot  %+v\nwant %+v", snap.Incidents, wantInc)
	}
	wantApps := []delivery.App{{Name: "api", Env: "prod", Cluster: "c1", Namespace: "web", FirstSeen: at(0), LastSeen: at(120), Events: int64(len(events))}}
	if !reflect.DeepEqual(snap.Apps, wantApps) {
		t.Errorf("apps:\ngot  %+v\nwant %+v", snap.Apps, wantApps)
	}
}

func testRejectsBadInput(t *testing.T, open Opener) {
	s := open(t)
	good := NewGenerator(12, "test").Events(5)
	bad := func(mut func(e *delivery.Event)) []delivery.Event {
		evs := slices.Clone(good)
		e := evs[2]
		mut(&e)
		evs[2] = e
		return evs
	}
	cases := []struct {
		name, field string
		events      []delivery.Event
	}{
		{"missing id", "id", bad(func(e *delivery.Event) { e.ID = "" })},
		{"missing source", "source", bad(func(e *delivery.Event) { e.Source = "" })},
		{"unknown type", "type", bad(func(e *delivery.Event) { e.Type = "deployment.teleported" })},
		{"zero timestamp", "time", bad(func(e *delivery.Event) { e.Time = time.Time{} })},
		{"timestamp in milliseconds taken for seconds", "time", bad(func(e *delivery.Event) { e.Time = time.Unix(1709623983000, 0) })},
		{"payload of another type", "payload", bad(func(e *delivery.Event) { e.Payload = &delivery.Scale{Revision: "x"} })},
		{"missing payload", "payload", bad(func(e *delivery.Event) { e.Payload = nil })},
		{"bad sha", "payload.head_sha", bad(func(e *delivery.Event) {
			e.Payload = &delivery.Change{Repo: "r", Number: 1, HeadSHA: "not-a-sha"}
		})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := count(t, s)
			_, err := s.Append(ctx(t), tc.events...)
			var be *store.BatchError
			var ve *delivery.ValidationError
			if !errors.As(err, &be) || !errors.As(err, &ve) {
				t.Fatalf("Append error = %v, want a *store.BatchError wrapping a *delivery.ValidationError", err)
			}
			if be.Index != 2 || ve.Field != tc.field {
				t.Errorf("error names event %d field %q, want event 2 field %q (%v)", be.Index, ve.Field, tc.field, err)
			}
			if after := count(t, s); after != before {
				t.Errorf("a rejected call stored %d events", after-before)
			}
		})
	}
	if n := count(t, s); n != 0 {
		t.Errorf("%d events stored by rejected calls, want 0", n)
	}
}

func testAppendAfterClose(t *testing.T, open Opener) {
	s := open(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := s.Append(ctx(t), NewGenerator(13, "test").Events(1)...)
	if !errors.Is(err, store.ErrClosed) {
		t.Errorf("Append after Close: %v, want ErrClosed", err)
	}
}

func testCursors(t *testing.T, open Opener) {
	s := open(t)
	c := ctx(t)
	if v, err := s.Cursor(c, "git:repo@main"); err != nil || v != "" {
		t.Fatalf("unknown cursor: %q, %v; want \"\", nil", v, err)
	}
	for _, v := range []string{"abc", "def"} {
		if err := s.SetCursor(c, "git:repo@main", v); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Cursor(c, "git:repo@main"); err != nil || got != v {
			t.Errorf("cursor %q, %v; want %q", got, err, v)
		}
	}
}

func testRewritten(t *testing.T, open Opener) {
	s := open(t)
	repo := "https://git.example.com/acme/gitops"
	mc := "ea8759964626a583667a2bfd08f334ec2070040a"
	dep := delivery.Event{Source: "git", ID: "deploy/" + mc, Type: delivery.ServiceUpgraded, Time: Base, App: "api", Env: "prod",
		Payload: &delivery.Deployment{Artifact: "ghcr.io/acme/api:2", PreviousArtifact: "ghcr.io/acme/api:1", Repo: repo, ManifestCommit: mc,
			Changes: []string{"4d09b7bd4d09b7bd4d09b7bd4d09b7bd4d09b7bd", "1111111111111111111111111111111111111111"}, InferredFrom: "git", Author: "ann", PR: 12}}
	mustAppend(t, s, dep)
	deps, err := s.Deployments(ctx(t), store.ModelFilter{Repo: repo})
	if err != nil {
		t.Fatal(err)
	}
	if len(deps) != 1 || deps[0].Rewritten || !slices.Equal(deps[0].Changes, dep.Payload.(*delivery.Deployment).Changes) || deps[0].PR != 12 {
		t.Fatalf("deployment before the rewrite: %+v", deps)
	}
	mustAppend(t, s, delivery.Event{Source: "git", ID: "rewritten/" + mc, Type: delivery.ManifestRewritten, Time: Base.Add(time.Hour),
		Payload: &delivery.RewrittenCommit{Repo: repo, Commit: mc, Branch: "main"}})
	deps, err = s.Deployments(ctx(t), store.ModelFilter{Repo: repo})
	if err != nil {
		t.Fatal(err)
	}
	if len(deps) != 1 || !deps[0].Rewritten {
		t.Errorf("deployment after the rewrite: %+v, want it marked rewritten", deps)
	}
}

// feedCopy is a reader's copy of the derived model, kept by folding the
// change feed: each table's rows by key.
type feedCopy map[string]map[string]any

func (f feedCopy) put(table, key string, row any) {
	if f[table] == nil {
		f[table] = map[string]any{}
	}
	f[table][key] = row
}

func k(parts ...any) string { return fmt.Sprint(parts...) }

// fold adds rows to the copy, by key: a row read again replaces itself.
func (f feedCopy) fold(s Snapshot) {
	for _, r := range s.Commits {
		f.put("commits", k(r.Repo, "|", r.SHA), r)
	}
	for _, r := range s.Changes {
		f.put("changes", k(r.Repo, "|", r.Number), r)
	}
	for _, r := range s.PipelineRuns {
		f.put("pipeline_runs", k(r.Source, "|", r.RunID), r)
	}
	for _, r := range s.Artifacts {
		f.put("artifacts", r.Key, r)
	}
	for _, r := range s.ManifestChanges {
		f.put("manifest_changes", k(r.Repo, "|", r.Commit, "|", r.Path, "|", r.Location), r)
	}
	for _, r := range s.Syncs {
		f.put("syncs", k(r.Cluster, "|", r.Application, "|", r.StartedAt.UnixNano()), r)
	}
	for _, r := range s.Health {
		f.put("health", k(r.Cluster, "|", r.Application, "|", r.Time.UnixNano()), r)
	}
	for _, r := range s.SyncStatus {
		f.put("sync_status", k(r.Cluster, "|", r.Application, "|", r.Time.UnixNano()), r)
	}
	for _, r := range s.Revisions {
		f.put("revisions", k(r.Cluster, "|", r.Namespace, "|", r.Name), r)
	}
	for _, r := range s.Traffic {
		f.put("traffic", k(r.Cluster, "|", r.Namespace, "|", r.Service, "|", r.Time.UnixNano(), "|", r.Revision, "|", r.Tag), r)
	}
	for _, r := range s.Scale {
		f.put("scale", k(r.Cluster, "|", r.Namespace, "|", r.Revision, "|", r.Time.UnixNano()), r)
	}
	for _, r := range s.Deployments {
		f.put("deployments", k(r.Source, "|", r.EventID), r)
	}
	for _, r := range s.Rewritten {
		f.put("rewritten_commits", k(r.Repo, "|", r.Commit), r)
	}
	for _, r := range s.Incidents {
		f.put("incidents", k(r.Source, "|", r.IncidentID), r)
	}
	// A deployment's rewritten flag is as of when it was read: a
	// rewritten_commits row read later marks it.
	for key, row := range f["deployments"] {
		d := row.(delivery.DeploymentRecord)
		if _, ok := f["rewritten_commits"][k(d.Repo, "|", d.ManifestCommit)]; ok && !d.Rewritten {
			d.Rewritten = true
			f["deployments"][key] = d
		}
	}
}

func feedSnapshot(c *store.ModelChanges) Snapshot {
	return Snapshot{Commits: c.Commits, Changes: c.Changes, PipelineRuns: c.PipelineRuns, Artifacts: c.Artifacts, ManifestChanges: c.ManifestChanges,
		Syncs: c.Syncs, Health: c.Health, SyncStatus: c.SyncStatus, Revisions: c.Revisions, Traffic: c.Traffic, Scale: c.Scale,
		Deployments: c.Deployments, Rewritten: c.Rewritten, Incidents: c.Incidents}
}

// testChangeFeed appends events out of order, with re-deliveries, and after
// each append reads what changed since the last horizon: a copy folded
// from the feed must hold exactly the derived model, read whole.
func testChangeFeed(t *testing.T, open Opener) {
	s := open(t)
	c := ctx(t)
	events := NewGenerator(21, "test").Events(2000)
	rng := rand.New(rand.NewPCG(21, 22))
	for i := 0; i < len(events); i += 50 {
		w := events[i:min(i+50, len(events))]
		rng.Shuffle(len(w), func(a, b int) { w[a], w[b] = w[b], w[a] })
	}
	feed := feedCopy{}
	var horizon int64
	exact := s.Dialect() == "sqlite" // one writer at a time: no stale rows
	for i := 0; i < len(events); {
		n := 1 + rng.IntN(120)
		chunk := events[i:min(i+n, len(events))]
		if i > 0 && rng.IntN(3) == 0 {
			from := rng.IntN(i)
			chunk = append(slices.Clone(chunk), events[from:min(from+20, i)]...)
		}
		mustAppend(t, s, chunk...)
		i += n
		changed, err := s.ModelChanged(c, horizon, store.AllTables)
		if err != nil {
			t.Fatal(err)
		}
		mc, err := s.ModelChanges(c, horizon, store.AllTables)
		if err != nil {
			t.Fatal(err)
		}
		if !changed && mc.Rows() > 0 {
			t.Fatalf("after %d events: ModelChanged said nothing changed since %d, ModelChanges read %d rows", i, horizon, mc.Rows())
		}
		if mc.Horizon < horizon {
			t.Fatalf("horizon went back from %d to %d", horizon, mc.Horizon)
		}
		horizon = mc.Horizon
		feed.fold(feedSnapshot(mc))
		want := feedCopy{}
		want.fold(TakeSnapshot(t, s))
		for _, table := range slices.Sorted(maps.Keys(want)) {
			if !reflect.DeepEqual(feed[table], want[table]) {
				t.Fatalf("after %d events: the copy folded from the change feed has %d %s rows, the store %d (or they differ)",
					i, len(feed[table]), table, len(want[table]))
			}
		}
		if exact {
			again, err := s.ModelChanges(c, horizon, store.AllTables)
			if err != nil {
				t.Fatal(err)
			}
			if again.Rows() != 0 {
				t.Fatalf("after %d events: reading again from the new horizon returned %d rows, want 0", i, again.Rows())
			}
		}
	}
	// Re-delivering everything changes nothing.
	mustAppend(t, s, events...)
	if exact {
		if changed, err := s.ModelChanged(c, horizon, store.AllTables); err != nil || changed {
			t.Errorf("after a re-delivery of every event: ModelChanged = %v, %v; want false", changed, err)
		}
	}
	all, err := s.ModelChanges(c, 0, store.AllTables)
	if err != nil {
		t.Fatal(err)
	}
	full := feedCopy{}
	full.fold(feedSnapshot(all))
	if !reflect.DeepEqual(full, feed) {
		t.Error("reading the feed from horizon 0 does not give the folded copy")
	}
}
