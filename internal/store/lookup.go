package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// Lookups for "where is my change" (engine.Traces): the rows of a few
// commits, read through indexes instead of by listing whole tables.
//
// Commit SHAs are lower-case hexadecimal, 7 to 64 characters (delivery
// rejects any other). Two SHAs match when one is a prefix of the other:
// sources report abbreviated SHAs. Matching SHAs share their first 7
// characters, so a lookup reads the index range of those characters
// (`sha >= p AND sha < p||'g'`: 'g' sorts after every hexadecimal digit)
// and keeps, in Go, the rows that match exactly.
//
// Authors are compared ignoring case (strings.EqualFold) through indexes on
// lower(column). SQLite's lower() folds ASCII letters only: the query
// asks for lower() of each spelling of the author's non-ASCII letters
// (É and é), so "JOSÉ" finds "José" on both databases. What it cannot
// find is a stored letter outside ASCII that folds to one inside (the
// Kelvin sign K for k, the long ſ for s).

// CommitLookup selects commits: those any of its non-zero fields selects.
type CommitLookup struct {
	SHAPrefix string   // commits whose SHA starts with it (lower-case)
	Author    string   // commits whose author name or e-mail is it, ignoring case
	SHAs      []string // commits whose SHA matches one of these
}

// ChangeLookup selects pull requests: those any of its non-zero fields
// selects.
type ChangeLookup struct {
	Number  int64    // pull requests of this number (in any repository)
	HeadRef string   // pull requests of this branch
	Author  string   // pull requests of this author, ignoring case
	SHAs    []string // pull requests whose merge or head SHA matches one of these
}

// FindCommits returns the commits q selects, in the order of Commits.
func (s *Store) FindCommits(ctx context.Context, q CommitLookup) ([]delivery.CommitRecord, error) {
	var fixed or
	if q.SHAPrefix != "" {
		fixed.add("sha >= ? AND sha < ?", q.SHAPrefix, q.SHAPrefix+"g")
	}
	if q.Author != "" {
		spellings := lowerSpellings(q.Author)
		in := "IN (" + strings.Repeat("lower(?), ", len(spellings)-1) + "lower(?))"
		fixed.add("lower(author_name) "+in, spellings...)
		fixed.add("lower(author_email) "+in, spellings...)
	}
	shas := newSHAMatcher(q.SHAs)
	out, err := findJoined(ctx, s, tblCommits, fixed, shas.ranges("sha"), scanCommit, delivery.CompareCommits, func(r *delivery.CommitRecord) bool {
		return (q.SHAPrefix != "" && strings.HasPrefix(r.SHA, q.SHAPrefix)) ||
			(q.Author != "" && (strings.EqualFold(r.AuthorName, q.Author) || strings.EqualFold(r.AuthorEmail, q.Author))) ||
			shas.match(r.SHA)
	})
	if err != nil {
		return nil, fmt.Errorf("find commits: %w", err)
	}
	return out, nil
}

// FindChanges returns the pull requests q selects, in the order of Changes.
func (s *Store) FindChanges(ctx context.Context, q ChangeLookup) ([]delivery.ChangeRecord, error) {
	var fixed or
	if q.Number != 0 {
		fixed.add("number = ?", q.Number)
	}
	if q.HeadRef != "" {
		fixed.add("head_ref = ?", q.HeadRef)
	}
	if q.Author != "" {
		spellings := lowerSpellings(q.Author)
		fixed.add("lower(author) IN ("+strings.Repeat("lower(?), ", len(spellings)-1)+"lower(?))", spellings...)
	}
	shas := newSHAMatcher(q.SHAs)
	out, err := findJoined(ctx, s, tblChanges, fixed, shas.ranges("merge_sha", "head_sha"), scanChange, delivery.CompareChanges, func(r *delivery.ChangeRecord) bool {
		return (q.Number != 0 && r.Number == q.Number) || (q.HeadRef != "" && r.HeadRef == q.HeadRef) ||
			(q.Author != "" && strings.EqualFold(r.Author, q.Author)) || shas.match(r.MergeSHA) || shas.match(r.HeadSHA)
	})
	if err != nil {
		return nil, fmt.Errorf("find pull requests: %w", err)
	}
	return out, nil
}

// PipelineRunsForSHAs returns the CI runs of commits matching shas, in the
// order of PipelineRuns.
func (s *Store) PipelineRunsForSHAs(ctx context.Context, shas []string) ([]delivery.PipelineRunRecord, error) {
	m := newSHAMatcher(shas)
	out, err := findJoined(ctx, s, tblPipelineRuns, or{}, m.ranges("sha"), scanPipelineRun, delivery.ComparePipelineRuns, func(r *delivery.PipelineRunRecord) bool { return m.match(r.SHA) })
	if err != nil {
		return nil, fmt.Errorf("find pipeline runs: %w", err)
	}
	return out, nil
}

// ArtifactsForCommits returns the artifacts built from commits matching
// shas, in the order of Artifacts.
func (s *Store) ArtifactsForCommits(ctx context.Context, shas []string) ([]delivery.ArtifactRecord, error) {
	m := newSHAMatcher(shas)
	out, err := findJoined(ctx, s, tblArtifacts, or{}, m.ranges("source_commit"), scanArtifact, delivery.CompareArtifacts, func(r *delivery.ArtifactRecord) bool { return m.match(r.SourceCommit) })
	if err != nil {
		return nil, fmt.Errorf("find artifacts: %w", err)
	}
	return out, nil
}

// TrafficForRevisions returns the traffic records of the Knative revisions
// of these names (in any namespace), in the order of Traffic.
func (s *Store) TrafficForRevisions(ctx context.Context, names []string) ([]delivery.TrafficRecord, error) {
	want := map[string]bool{}
	var keys []string
	for _, n := range names {
		if n != "" && !want[n] {
			want[n] = true
			keys = append(keys, n)
		}
	}
	out, err := find(ctx, s, tblTraffic, or{}, keys, func(w *or, name string) { w.add("revision = ?", name) }, scanTraffic, delivery.CompareTraffic, func(r *delivery.TrafficRecord) bool { return want[r.Revision] })
	if err != nil {
		return nil, fmt.Errorf("find traffic: %w", err)
	}
	return out, nil
}

// or builds a disjunction of conditions with their arguments.
type or struct {
	conds []string
	args  []any
}

func (w *or) add(cond string, args ...any) {
	w.conds = append(w.conds, "("+cond+")")
	w.args = append(w.args, args...)
}

// keyList is what a lookup joins its table with: the rows of k, one per
// key (VALUES of columns column1, column2, …), and the join condition;
// or, where a join does not use the table's indexes, the condition of one
// key, ORed.
type keyList struct {
	keys []string
	row  func(key string) []any
	on   string
	cond func(w *or, key string)
}

// lookupChunk is how many items or keys one statement asks for: a few
// hundred index probes, well under either database's parameter limit.
const lookupChunk = 250

// lookupStmt is one statement of a lookup: what follows its select list
// (FROM, JOIN, WHERE), with the arguments of its placeholders.
type lookupStmt struct {
	clause string
	args   []any
}

// find returns the rows of t that fixed selects or that item selects for
// one of items (ORed conditions, in chunks), and that keep keeps, in t's
// list order (compare).
func find[T any](ctx context.Context, s *Store, t table, fixed or, items []string, item func(w *or, v string),
	scan func(sc func(...any) error) (T, error), compare func(a, b *T) int, keep func(*T) bool) ([]T, error) {
	stmts := fixed.stmts(t)
	for chunk := range slices.Chunk(items, lookupChunk) {
		var w or
		for _, v := range chunk {
			item(&w, v)
		}
		stmts = append(stmts, w.stmts(t)...)
	}
	return lookup(ctx, s, t, stmts, scan, compare, keep)
}

// findJoined returns the rows of t that fixed selects or that join with
// one of keys (in chunks), and that keep keeps, in t's list order
// (compare). On SQLite a join, not ORed conditions: its planner takes time
// in the number of terms of a disjunction, not in the rows of a VALUES
// list. PostgreSQL plans a join with a VALUES list of ranges as a scan of
// the table (it cannot tell how selective a range of parameters is), and
// ORed ranges as a union of index scans: it gets those.
func findJoined[T any](ctx context.Context, s *Store, t table, fixed or, keys keyList,
	scan func(sc func(...any) error) (T, error), compare func(a, b *T) int, keep func(*T) bool) ([]T, error) {
	if s.dialect.Name() != "sqlite" {
		return find(ctx, s, t, fixed, keys.keys, keys.cond, scan, compare, keep)
	}
	stmts := fixed.stmts(t)
	for chunk := range slices.Chunk(keys.keys, 2*lookupChunk) {
		var args []any
		for _, k := range chunk {
			args = append(args, keys.row(k)...)
		}
		row := "(" + placeholders(len(args)/len(chunk)) + ")"
		values := strings.TrimSuffix(strings.Repeat(row+", ", len(chunk)), ", ")
		stmts = append(stmts, lookupStmt{" FROM (VALUES " + values + ") AS k JOIN " + t.name + " ON " + keys.on, args})
	}
	return lookup(ctx, s, t, stmts, scan, compare, keep)
}

// stmts is the statement of the disjunction on t, none when it is empty.
func (w or) stmts(t table) []lookupStmt {
	if len(w.conds) == 0 {
		return nil
	}
	return []lookupStmt{{" FROM " + t.name + " WHERE " + strings.Join(w.conds, " OR "), w.args}}
}

// lookup runs stmts on t, in one snapshot when there are several, and
// returns the rows keep keeps, in t's list order (compare), each once.
func lookup[T any](ctx context.Context, s *Store, t table, stmts []lookupStmt,
	scan func(sc func(...any) error) (T, error), compare func(a, b *T) int, keep func(*T) bool) ([]T, error) {
	if len(stmts) == 0 {
		return nil, nil
	}
	order := t.orderBy
	if order == "" {
		order = t.timeCol + ", " + strings.Join(t.cols[:t.pk], ", ")
	}
	sel := "SELECT " + strings.Join(append(slices.Clone(t.cols), t.extra...), ", ")
	var q querier = s.read
	if len(stmts) > 1 {
		tx, err := s.read.BeginTx(ctx, s.dialect.SnapshotOptions())
		if err != nil {
			return nil, err
		}
		defer func() { _ = tx.Rollback() }()
		q = tx
	}
	var out []T
	for _, st := range stmts {
		query := sel + st.clause + " ORDER BY " + order
		rows, err := q.QueryContext(ctx, s.dialect.Rebind(query), st.args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			v, err := scan(rows.Scan)
			if err != nil {
				rows.Close()
				return nil, err
			}
			if keep(&v) {
				out = append(out, v)
			}
		}
		err = rows.Err()
		if cerr := rows.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
	}
	if len(stmts) > 1 {
		// Each statement's rows are in order. The comparisons are those of
		// the list order on a database that orders text by bytes (SQLite,
		// PostgreSQL's C collations).
		slices.SortStableFunc(out, func(a, b T) int { return compare(&a, &b) })
	}
	// A row several statements select, or that joins with several keys,
	// appears once.
	return slices.CompactFunc(out, func(a, b T) bool { return compare(&a, &b) == 0 }), nil
}

// shaMatcher matches stored SHAs against a list of SHAs.
type shaMatcher struct {
	byKey map[string][]string
	keys  []string // the distinct first 7 characters of the list, sorted
}

func shaKey(sha string) string { return sha[:min(len(sha), 7)] }

func newSHAMatcher(shas []string) shaMatcher {
	m := shaMatcher{byKey: map[string][]string{}}
	for _, sha := range shas {
		if sha == "" {
			continue
		}
		k := shaKey(sha)
		if !slices.Contains(m.byKey[k], sha) {
			m.byKey[k] = append(m.byKey[k], sha)
		}
	}
	for k := range m.byKey {
		m.keys = append(m.keys, k)
	}
	slices.Sort(m.keys)
	return m
}

// ranges is the keyList of the SHAs' index ranges in cols: a row joins
// with a key when one of cols is in [key, key+"g").
func (m shaMatcher) ranges(cols ...string) keyList {
	on := make([]string, len(cols))
	for i, c := range cols {
		on[i] = "(" + c + " >= k.column1 AND " + c + " < k.column2)"
	}
	return keyList{keys: m.keys, row: func(key string) []any { return []any{key, key + "g"} }, on: strings.Join(on, " OR "),
		cond: func(w *or, key string) {
			for _, c := range cols {
				w.add(c+" >= ? AND "+c+" < ?", key, key+"g")
			}
		}}
}

// match reports whether stored matches one of the list: one is a prefix of
// the other.
func (m shaMatcher) match(stored string) bool {
	if stored == "" {
		return false
	}
	for _, sha := range m.byKey[shaKey(stored)] {
		if strings.HasPrefix(stored, sha) || strings.HasPrefix(sha, stored) {
			return true
		}
	}
	return false
}

// maxSpellings bounds the spellings lowerSpellings returns.
const maxSpellings = 16

// lowerSpellings returns the spellings of s that differ in the case of
// its non-ASCII letters (É, é), for `lower(column) IN (lower(?), …)`:
// SQLite's lower() leaves those letters alone. Past maxSpellings, s alone.
func lowerSpellings(s string) []any {
	out := []string{""}
	for _, r := range s {
		forms := []rune{r}
		if r >= utf8.RuneSelf {
			for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
				forms = append(forms, f)
			}
		}
		if len(out)*len(forms) > maxSpellings {
			return []any{s}
		}
		next := make([]string, 0, len(out)*len(forms))
		for _, p := range out {
			for _, f := range forms {
				next = append(next, p+string(f))
			}
		}
		out = next
	}
	args := make([]any, len(out))
	for i, v := range out {
		args[i] = v
	}
	return args
}
