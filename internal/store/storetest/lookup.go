package storetest

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// testLookups checks the indexed lookups of traces (store.FindCommits and
// the others) against the whole tables filtered by what each promises:
// the same rows, in the same order.
func testLookups(t *testing.T, open Opener) {
	s := open(t)
	c := ctx(t)
	g := NewGenerator(11, "test")
	events := g.Events(900) // the rows the lookups must leave out

	// a and a2 share their first 7 characters; sources report a
	// abbreviated to 8, 9 and 10 of them.
	a := "abcdef0" + "1234567890abcdef1234567890abcdef1"
	a2 := "abcdef0" + "9999999999999999999999999999999999"
	m := "fedcba9" + "8765432100fedcba98765432100fedcba"
	r1, r2 := "https://git.example.com/acme/api", "https://git.example.com/acme/web"
	at := Base.Add(-time.Hour)
	n := 0
	add := func(typ delivery.EventType, app, env string, p delivery.Payload) {
		n++
		at = at.Add(time.Minute)
		e := delivery.Event{Source: "lookup", ID: fmt.Sprint("lookup-", n), Type: typ, Time: at, App: app, Env: env, Payload: p}
		if app != "" {
			e.Cluster, e.Namespace = "c1", app+"-"+env
		}
		events = append(events, e)
	}
	add(delivery.CommitAuthored, "", "", &delivery.Commit{Repo: r1, SHA: a, AuthorName: "José Núñez", AuthorEmail: "Jose@Example.com", CommittedAt: at})
	add(delivery.CommitAuthored, "", "", &delivery.Commit{Repo: r2, SHA: a, AuthorName: "alice", AuthorEmail: "alice@example.com", CommittedAt: at})
	add(delivery.CommitAuthored, "", "", &delivery.Commit{Repo: r1, SHA: a2, AuthorName: "bob", AuthorEmail: "bob@example.com", CommittedAt: at})
	add(delivery.CommitAuthored, "", "", &delivery.Commit{Repo: r1, SHA: m, AuthorName: "José Núñez", AuthorEmail: "jose@example.com", CommittedAt: at})
	add(delivery.ChangeCreated, "", "", &delivery.Change{Repo: r1, Number: 4242, Author: "José", HeadSHA: a, HeadRef: "feat/x"})
	add(delivery.ChangeMerged, "", "", &delivery.Change{Repo: r1, Number: 4242, MergeSHA: m})
	add(delivery.ChangeCreated, "", "", &delivery.Change{Repo: r2, Number: 4242, Author: "carol", HeadSHA: a2, HeadRef: "other"})
	add(delivery.ChangeCreated, "", "", &delivery.Change{Repo: r1, Number: 4243, Author: "JOSÉ", HeadSHA: a[:9], HeadRef: "feat/x"})
	add(delivery.PipelineRunStarted, "", "", &delivery.PipelineRun{RunID: "lookup-1", Repo: r1, SHA: a[:10]})
	add(delivery.PipelineRunStarted, "", "", &delivery.PipelineRun{RunID: "lookup-2", Repo: r1, SHA: a2})
	add(delivery.PipelineRunStarted, "", "", &delivery.PipelineRun{RunID: "lookup-3", Repo: r1, SHA: m})
	add(delivery.ArtifactPublished, "", "", &delivery.Artifact{Name: "ghcr.io/acme/api", Tag: "a", SourceCommit: a[:8]})
	add(delivery.ArtifactPublished, "", "", &delivery.Artifact{Name: "ghcr.io/acme/api", Tag: "m", SourceCommit: m})
	add(delivery.TrafficChanged, "api", "prod", &delivery.Traffic{Service: "api", Targets: []delivery.TrafficTarget{{Revision: "api-00001", Percent: 100}}})
	add(delivery.TrafficChanged, "api", "staging", &delivery.Traffic{Service: "api", Targets: []delivery.TrafficTarget{{Revision: "api-00001", Percent: 100}}})
	add(delivery.TrafficChanged, "api", "prod", &delivery.Traffic{Service: "api", Targets: []delivery.TrafficTarget{
		{Revision: "api-00002", Percent: 10}, {Revision: "api-00001", Percent: 90}}})
	mustAppend(t, s, events...)
	all := TakeSnapshot(t, s)

	matches := func(stored string, shas []string) bool {
		for _, sha := range shas {
			if stored != "" && sha != "" && (strings.HasPrefix(stored, sha) || strings.HasPrefix(sha, stored)) {
				return true
			}
		}
		return false
	}
	// Lookups of many SHAs: every SHA of the generator's commits and pull
	// requests, and 300 that match nothing.
	var generated []string
	for _, r := range all.Commits {
		if r.Repo != r1 && r.Repo != r2 {
			generated = append(generated, r.SHA)
		}
	}
	for _, r := range all.Changes {
		if r.Repo != r1 && r.Repo != r2 && r.MergeSHA != "" {
			generated = append(generated, r.MergeSHA)
		}
	}
	for i := range 300 { // more than one statement asks for
		generated = append(generated, fmt.Sprintf("%040x", i*7919+1))
	}

	commits := []struct {
		name string
		q    store.CommitLookup
		n    int
	}{
		{"prefix of 7", store.CommitLookup{SHAPrefix: a[:7]}, 3},
		{"prefix of 12", store.CommitLookup{SHAPrefix: a[:12]}, 2},
		{"whole SHA", store.CommitLookup{SHAPrefix: m}, 1},
		{"author name in another case", store.CommitLookup{Author: "JOSÉ NÚÑEZ"}, 2},
		{"author e-mail in another case", store.CommitLookup{Author: "jose@EXAMPLE.com"}, 2},
		{"abbreviated SHA", store.CommitLookup{SHAs: []string{a[:9]}}, 2},
		{"SHA the stored one abbreviates", store.CommitLookup{SHAs: []string{a2 + "00000000"}}, 1},
		{"several", store.CommitLookup{SHAPrefix: "fedcba98", Author: "bob", SHAs: []string{a}}, 4},
		{"many SHAs", store.CommitLookup{SHAs: generated}, -1},
		{"no match", store.CommitLookup{SHAPrefix: "abcdef00", Author: "nobody", SHAs: []string{"0123456789"}}, 0},
		{"nothing asked", store.CommitLookup{}, 0},
	}
	for _, tc := range commits {
		t.Run("commits/"+tc.name, func(t *testing.T) {
			q := tc.q
			var want []delivery.CommitRecord
			for _, r := range all.Commits {
				if (q.SHAPrefix != "" && strings.HasPrefix(r.SHA, q.SHAPrefix)) || matches(r.SHA, q.SHAs) ||
					(q.Author != "" && (strings.EqualFold(r.AuthorName, q.Author) || strings.EqualFold(r.AuthorEmail, q.Author))) {
					want = append(want, r)
				}
			}
			got, err := s.FindCommits(c, q)
			if err != nil {
				t.Fatal(err)
			}
			sameRows(t, got, want, tc.n)
		})
	}

	changes := []struct {
		name string
		q    store.ChangeLookup
		n    int
	}{
		{"number in two repositories", store.ChangeLookup{Number: 4242}, 2},
		{"branch", store.ChangeLookup{HeadRef: "feat/x"}, 2},
		{"author in another case", store.ChangeLookup{Author: "josé"}, 2},
		{"head SHA, stored whole and abbreviated", store.ChangeLookup{SHAs: []string{a}}, 2},
		{"merge SHA abbreviated", store.ChangeLookup{SHAs: []string{m[:7]}}, 1},
		{"several", store.ChangeLookup{Number: 4243, HeadRef: "other", SHAs: []string{m}}, 3},
		{"many SHAs", store.ChangeLookup{SHAs: generated}, -1},
		{"no match", store.ChangeLookup{Number: 999999, HeadRef: "nope", Author: "nobody", SHAs: []string{"0123456789"}}, 0},
	}
	for _, tc := range changes {
		t.Run("changes/"+tc.name, func(t *testing.T) {
			q := tc.q
			var want []delivery.ChangeRecord
			for _, r := range all.Changes {
				if (q.Number != 0 && r.Number == q.Number) || (q.HeadRef != "" && r.HeadRef == q.HeadRef) ||
					(q.Author != "" && strings.EqualFold(r.Author, q.Author)) || matches(r.MergeSHA, q.SHAs) || matches(r.HeadSHA, q.SHAs) {
					want = append(want, r)
				}
			}
			got, err := s.FindChanges(c, q)
			if err != nil {
				t.Fatal(err)
			}
			sameRows(t, got, want, tc.n)
		})
	}

	for _, tc := range []struct {
		name string
		shas []string
		runs int
		arts int
	}{
		{"abbreviated stored", []string{a}, 1, 1},
		{"whole", []string{a2, m}, 2, 1},
		{"many", generated, -1, -1},
		{"no match", []string{"0123456789"}, 0, 0},
	} {
		t.Run("runs and artifacts/"+tc.name, func(t *testing.T) {
			var runs []delivery.PipelineRunRecord
			for _, r := range all.PipelineRuns {
				if matches(r.SHA, tc.shas) {
					runs = append(runs, r)
				}
			}
			got, err := s.PipelineRunsForSHAs(c, tc.shas)
			if err != nil {
				t.Fatal(err)
			}
			sameRows(t, got, runs, tc.runs)
			var arts []delivery.ArtifactRecord
			for _, r := range all.Artifacts {
				if matches(r.SourceCommit, tc.shas) {
					arts = append(arts, r)
				}
			}
			gotArts, err := s.ArtifactsForCommits(c, tc.shas)
			if err != nil {
				t.Fatal(err)
			}
			sameRows(t, gotArts, arts, tc.arts)
		})
	}

	for _, tc := range []struct {
		names []string
		n     int
	}{{[]string{"api-00001"}, 3}, {[]string{"api-00002", "api-00001", "api-00002"}, 4}, {[]string{"api-99999"}, 0}} {
		t.Run(fmt.Sprint("traffic/", tc.names), func(t *testing.T) {
			var want []delivery.TrafficRecord
			for _, r := range all.Traffic {
				for _, name := range tc.names {
					if r.Revision == name {
						want = append(want, r)
						break
					}
				}
			}
			got, err := s.TrafficForRevisions(c, tc.names)
			if err != nil {
				t.Fatal(err)
			}
			sameRows(t, got, want, tc.n)
		})
	}

	// Artifacts by digest or key, and syncs by revision, from the
	// generator's rows.
	var art delivery.ArtifactRecord
	for _, r := range all.Artifacts {
		if r.Digest != "" {
			art = r
		}
	}
	for _, tc := range []struct {
		name string
		q    store.ArtifactLookup
		n    int
	}{
		{"digest", store.ArtifactLookup{Digest: art.Digest}, -1},
		{"key", store.ArtifactLookup{Image: art.Key}, -1},
		{"both", store.ArtifactLookup{Digest: art.Digest, Image: "ghcr.io/acme/none:0"}, -1},
		{"no match", store.ArtifactLookup{Digest: "sha256:0000", Image: "ghcr.io/acme/none:0"}, 0},
		{"nothing asked", store.ArtifactLookup{}, 0},
	} {
		t.Run("artifacts/"+tc.name, func(t *testing.T) {
			var want []delivery.ArtifactRecord
			for _, r := range all.Artifacts {
				if (tc.q.Digest != "" && r.Digest == tc.q.Digest) || (tc.q.Image != "" && r.Key == tc.q.Image) {
					want = append(want, r)
				}
			}
			got, err := s.FindArtifacts(c, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			sameRows(t, got, want, tc.n)
		})
	}
	var revisions []string
	for i, r := range all.Syncs {
		if i%3 == 0 && r.Revision != "" {
			revisions = append(revisions, r.Revision)
		}
	}
	for i := range 300 { // more than one statement asks for
		revisions = append(revisions, fmt.Sprintf("%040x", i*104729+3))
	}
	for _, tc := range []struct {
		name string
		revs []string
		n    int
	}{{"many", revisions, -1}, {"one, twice", []string{revisions[0], revisions[0]}, -1}, {"no match", []string{"0123456789"}, 0}} {
		t.Run("syncs/"+tc.name, func(t *testing.T) {
			var want []delivery.SyncRecord
			for _, r := range all.Syncs {
				if slices.Contains(tc.revs, r.Revision) {
					want = append(want, r)
				}
			}
			got, err := s.SyncsForRevisions(c, tc.revs)
			if err != nil {
				t.Fatal(err)
			}
			sameRows(t, got, want, tc.n)
		})
	}
}

// sameRows fails unless got and want hold the same rows in the same order,
// n of them (n < 0: some).
func sameRows[T any](t *testing.T, got, want []T, n int) {
	t.Helper()
	if n >= 0 && len(want) != n || n < 0 && len(want) == 0 {
		t.Fatalf("the test expects %d rows, the table holds %d such rows", n, len(want))
	}
	if len(got) != len(want) || len(got) > 0 && !reflect.DeepEqual(got, want) {
		t.Errorf("got %d rows, want %d:\ngot  %+v\nwant %+v", len(got), len(want), clipRows(got), clipRows(want))
	}
}

func clipRows[T any](rows []T) []T { return rows[:min(len(rows), 3)] }
