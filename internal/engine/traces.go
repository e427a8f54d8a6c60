package engine

import (
	"cmp"
	"context"
	"fmt"
	"hash/maphash"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine/history"
	"github.com/shiplog-dev/shiplog/internal/engine/trace"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// Where is my change: trace.Find reads every commit, pull request, CI run,
// artifact, deployment, sync, revision and traffic record. Traces gives the
// same answer from what the answer holds:
//
//  1. The SHAs the query selects, in trace.Find's order: from the pull
//     requests (by number, branch or author) and commits (by SHA prefix or
//     author) the store finds through its indexes, and from the commits
//     the deployments shipped, each partition's shipIndex.
//  2. Their commit times, which order the traces (newest first); a page
//     stops there.
//  3. For each SHA of the page, the rows its trace reads: its commits, pull
//     requests, CI runs and artifacts (store lookups by SHA, and by the
//     merge SHA of its pull requests); the deployments that shipped it and
//     the last deployment of their partitions (is it still live?); the
//     syncs of their manifest commits and the Knative revisions of their
//     artifacts, each partition's rowIndex; the traffic records of those
//     revisions.
//  4. trace.Find on those rows alone, keeping the trace of that SHA.
//
// SHAs match when one is a prefix of the other (sources report abbreviated
// SHAs); SHAs are 7 to 64 characters (delivery validates them), so matching
// SHAs share their first 7 characters.

// shipIndex lists the commits a partition's deployments shipped — each
// deployment's changes and source commit — as (SHA, position in deps),
// sorted by SHA then position.
//
// A search looks its SHAs up in every partition, and most partitions
// shipped none of them: keys, a Bloom filter of the list's SHA keys
// (shaKey, two bits each), answers most of those lookups without a search
// of the list. It takes 8 to 16 bits per distinct key, for 1.5 to 5% of
// false positives, which the search then rules out.
type shipIndex struct {
	list []shipped
	keys []uint64 // a bit set: see keyBits
}

type shipped struct {
	sha string
	pos int32
}

// newShipIndex indexes the commits deps shipped.
func newShipIndex(deps []history.Deployment) shipIndex {
	x := make([]shipped, 0, 2*len(deps))
	for i := range deps {
		d := &deps[i]
		start := len(x)
		add := func(sha string) {
			if sha != "" && !slices.ContainsFunc(x[start:], func(s shipped) bool { return s.sha == sha }) {
				x = append(x, shipped{sha, int32(i)})
			}
		}
		for _, c := range d.Changes {
			add(c.SHA)
		}
		add(d.SourceCommit)
	}
	slices.SortFunc(x, func(a, b shipped) int { return cmp.Or(strings.Compare(a.sha, b.sha), cmp.Compare(a.pos, b.pos)) })
	var hashes []uint64
	for i, s := range x {
		if k := shaKey(s.sha); i == 0 || k != shaKey(x[i-1].sha) { // sorted: a key's SHAs are together
			hashes = append(hashes, traceHash(k))
		}
	}
	words := 1
	for words*64 < 8*len(hashes) {
		words *= 2
	}
	keys := make([]uint64, words)
	for _, h := range hashes {
		for _, b := range keyBits(h, len(keys)) {
			keys[b/64] |= 1 << (b % 64)
		}
	}
	return shipIndex{list: slices.Clip(x), keys: keys}
}

// keyBits are the two bits of a filter of words 64-bit words (a power of
// two) that the key of hash h sets.
func keyBits(h uint64, words int) [2]uint64 {
	mask := uint64(words*64 - 1)
	return [2]uint64{h & mask, (h >> 32) & mask}
}

// mayHave reports whether the list may hold SHAs of the key of hash h
// (traceHash(shaKey(sha))): false means it holds none.
func (x shipIndex) mayHave(h uint64) bool {
	if len(x.keys) == 0 { // the zero shipIndex
		return false
	}
	for _, b := range keyBits(h, len(x.keys)) {
		if x.keys[b/64]&(1<<(b%64)) == 0 {
			return false
		}
	}
	return true
}

// seek returns the position in the list of the first entry at or after
// sha, from lo: a galloping search, so that a walk over sorted SHAs costs
// about the log of the distance between consecutive ones.
func (x shipIndex) seek(lo int, sha string) int {
	l := x.list
	hi, step := lo, 1
	for hi < len(l) && l[hi].sha < sha {
		lo = hi + 1
		hi += step
		step *= 2
	}
	hi = min(hi, len(l))
	i, _ := slices.BinarySearchFunc(l[lo:hi], sha, func(s shipped, t string) int { return strings.Compare(s.sha, t) })
	return lo + i
}

// traceSeed seeds traceHash.
var traceSeed = maphash.MakeSeed()

// traceHash is the hash of the keys of traces' indexes (shipIndex.keys,
// rowIndex).
func traceHash(key string) uint64 { return maphash.String(traceSeed, key) }

func shaKey(sha string) string { return sha[:min(len(sha), 7)] }

// sameSHA reports whether one SHA abbreviates the other (trace's rule).
func sameSHA(a, b string) bool {
	return a != "" && b != "" && (strings.HasPrefix(a, b) || strings.HasPrefix(b, a))
}

// Traces returns the traces of the changes q selects, as trace.Find
// returns them over the whole model.
func (e *Engine) Traces(ctx context.Context, q trace.Query) ([]trace.Trace, error) {
	traces, _, err := e.TracesPage(ctx, q, 0)
	return traces, err
}

// TracesPage returns the newest limit traces of the changes q selects (0:
// all of them), in Traces' order, and how many changes q selects. It builds
// only the traces it returns.
func (e *Engine) TracesPage(ctx context.Context, q trace.Query, limit int) ([]trace.Trace, int, error) {
	v, err := e.current(ctx)
	if err != nil {
		return nil, 0, err
	}
	shas, err := e.traceSHAs(ctx, v, q)
	if err != nil {
		return nil, 0, err
	}
	// Newest commit first, as trace.Find sorts: the time of a change is its
	// commit's (the last listed with that SHA); without one, the zero time.
	commits, err := e.st.FindCommits(ctx, store.CommitLookup{SHAs: shas})
	if err != nil {
		return nil, 0, fmt.Errorf("traces: %w", err)
	}
	at := make(map[string]time.Time, len(shas))
	for _, c := range commits {
		at[c.SHA] = c.CommittedAt
	}
	page := slices.Clone(shas)
	slices.SortStableFunc(page, func(a, b string) int { return -at[a].Compare(at[b]) })
	if limit > 0 && limit < len(page) {
		page = page[:limit]
	}
	ins, err := e.traceInputs(ctx, v, page, commits)
	if err != nil {
		return nil, 0, err
	}
	out := make([]trace.Trace, 0, len(page))
	for i, sha := range page {
		for _, t := range trace.Find(ins[i], q) {
			if t.SHA == sha {
				out = append(out, t)
				break
			}
		}
	}
	return out, len(shas), nil
}

// traceSHAs returns the SHAs q selects, in the order trace.Find finds them:
// pull requests, then commits by prefix, then shipped commits by prefix,
// then commits by author.
func (e *Engine) traceSHAs(ctx context.Context, v *view, q trace.Query) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(sha string) {
		if sha != "" && !seen[sha] {
			seen[sha] = true
			out = append(out, sha)
		}
	}
	if q.PR != 0 || q.Branch != "" || q.Author != "" {
		changes, err := e.st.FindChanges(ctx, store.ChangeLookup{Number: q.PR, HeadRef: q.Branch, Author: q.Author})
		if err != nil {
			return nil, fmt.Errorf("traces: %w", err)
		}
		for _, c := range changes {
			if (q.PR != 0 && c.Number == q.PR) || (q.Branch != "" && c.HeadRef == q.Branch) || (q.Author != "" && strings.EqualFold(c.Author, q.Author)) {
				add(cmp.Or(c.MergeSHA, c.HeadSHA))
			}
		}
	}
	prefix := ""
	if len(q.SHA) >= 4 {
		prefix = strings.ToLower(q.SHA)
	}
	if prefix == "" && q.Author == "" {
		return out, nil
	}
	commits, err := e.st.FindCommits(ctx, store.CommitLookup{SHAPrefix: prefix, Author: q.Author})
	if err != nil {
		return nil, fmt.Errorf("traces: %w", err)
	}
	if prefix != "" {
		for _, c := range commits {
			if strings.HasPrefix(c.SHA, prefix) {
				add(c.SHA)
			}
		}
		for _, sha := range shippedWithPrefix(v, prefix) {
			add(sha)
		}
	}
	if q.Author != "" {
		for _, c := range commits {
			if strings.EqualFold(c.AuthorName, q.Author) || strings.EqualFold(c.AuthorEmail, q.Author) {
				add(c.SHA)
			}
		}
	}
	return out, nil
}

// shippedWithPrefix returns the SHAs starting with prefix that deployments
// shipped, in the order trace.Find meets them walking the whole history:
// by the first deployment that shipped each (live time, then partition,
// then position), its changes before its source commit.
func shippedWithPrefix(v *view, prefix string) []string {
	type meet struct {
		at        int64
		part, pos int32
		slot      int
	}
	first := map[string]meet{}
	for pi, k := range v.keys {
		p := v.parts[k]
		x := p.shas.list
		for i := p.shas.seek(0, prefix); i < len(x) && strings.HasPrefix(x[i].sha, prefix); i++ {
			s := x[i]
			d := &p.deps[s.pos]
			slot := slices.IndexFunc(d.Changes, func(c history.Change) bool { return c.SHA == s.sha })
			if slot < 0 {
				slot = len(d.Changes)
			}
			m := meet{p.at[s.pos], int32(pi), s.pos, slot}
			if old, ok := first[s.sha]; !ok || cmp.Or(cmp.Compare(m.at, old.at), cmp.Compare(m.part, old.part), cmp.Compare(m.pos, old.pos)) < 0 {
				first[s.sha] = m
			}
		}
	}
	out := make([]string, 0, len(first))
	for sha := range first {
		out = append(out, sha)
	}
	slices.SortFunc(out, func(a, b string) int {
		x, y := first[a], first[b]
		return cmp.Or(cmp.Compare(x.at, y.at), cmp.Compare(x.part, y.part), cmp.Compare(x.pos, y.pos), cmp.Compare(x.slot, y.slot))
	})
	return out
}

// depRef is a deployment of a view: its partition (in v.keys) and position.
type depRef struct{ part, pos int32 }

// traceInputs returns, for each SHA of shas, the rows of its trace;
// commits holds (at least) the commits matching them.
func (e *Engine) traceInputs(ctx context.Context, v *view, shas []string, commits []delivery.CommitRecord) ([]trace.Input, error) {
	ins := make([]trace.Input, len(shas))
	if len(shas) == 0 {
		return ins, nil
	}
	own := newOwners(shas)
	for _, c := range commits {
		own.each(c.SHA, func(i int) { ins[i].Commits = append(ins[i].Commits, c) })
	}
	changes, err := e.st.FindChanges(ctx, store.ChangeLookup{SHAs: shas})
	if err != nil {
		return nil, fmt.Errorf("traces: %w", err)
	}
	for j, c := range changes {
		own.eachOnce(j, func(i int) { ins[i].Changes = append(ins[i].Changes, c) }, c.MergeSHA, c.HeadSHA)
	}
	// CI runs and artifacts are looked up by the SHA and by the merge SHA
	// of its pull requests.
	ci := newOwners(shas)
	for i, in := range ins {
		for _, c := range in.Changes {
			ci.add(c.MergeSHA, i)
		}
	}
	runs, err := e.st.PipelineRunsForSHAs(ctx, ci.list)
	if err != nil {
		return nil, fmt.Errorf("traces: %w", err)
	}
	for j, r := range runs {
		ci.eachOnce(j, func(i int) { ins[i].PipelineRuns = append(ins[i].PipelineRuns, r) }, r.SHA)
	}
	arts, err := e.st.ArtifactsForCommits(ctx, ci.list)
	if err != nil {
		return nil, fmt.Errorf("traces: %w", err)
	}
	for j, a := range arts {
		ci.eachOnce(j, func(i int) { ins[i].Artifacts = append(ins[i].Artifacts, a) }, a.SourceCommit)
	}

	// The deployments that shipped each SHA.
	refs := make([][]depRef, len(shas))
	bySHA := make([]int, len(shas))
	for i := range bySHA {
		bySHA[i] = i
	}
	slices.SortFunc(bySHA, func(a, b int) int { return strings.Compare(shas[a], shas[b]) })
	hashes := make([]uint64, len(shas))
	for i, sha := range shas {
		hashes[i] = traceHash(shaKey(sha))
	}
	for pi, k := range v.keys {
		x := v.parts[k].shas
		lo := 0
		for _, i := range bySHA {
			if !x.mayHave(hashes[i]) {
				continue // lo stays a lower bound of the next SHAs'
			}
			key := shaKey(shas[i])
			if lo = x.seek(lo, key); lo == len(x.list) {
				break
			}
			for j := lo; j < len(x.list) && strings.HasPrefix(x.list[j].sha, key); j++ {
				if sameSHA(x.list[j].sha, shas[i]) {
					refs[i] = append(refs[i], depRef{int32(pi), x.list[j].pos})
				}
			}
		}
	}
	// What each partition's syncs and revisions are wanted for.
	wants := map[int32]*partWants{}
	for i, rs := range refs {
		if len(rs) == 0 {
			continue
		}
		// Each partition's last deployment says whether the first that
		// shipped the SHA is still live.
		for _, r := range rs {
			last := depRef{r.part, int32(len(v.parts[v.keys[r.part]].deps) - 1)}
			if !slices.Contains(rs, last) {
				rs = append(rs, last)
			}
		}
		// In the order of the whole history (mergeRefs).
		slices.SortFunc(rs, func(a, b depRef) int {
			return cmp.Or(cmp.Compare(v.parts[v.keys[a.part]].at[a.pos], v.parts[v.keys[b.part]].at[b.pos]), cmp.Compare(a.part, b.part), cmp.Compare(a.pos, b.pos))
		})
		for _, r := range slices.Compact(rs) {
			d := &v.parts[v.keys[r.part]].deps[r.pos]
			ins[i].Deployments = append(ins[i].Deployments, *d)
			w := wants[r.part]
			if w == nil {
				w = &partWants{syncs: map[string][]int{}, whole: map[string][]int{}, after: map[string][]int{}}
				wants[r.part] = w
			}
			w.add(i, d)
		}
	}
	// Each partition's syncs and revisions that its rowIndex names, in the
	// partition's (the store's) order, give each input those of its
	// deployments: the index names a superset of them, and partWants keeps
	// exactly those.
	var revisions []string // of every input, for their traffic
	stamp, tick := make([]int, len(shas)), 0
	var cand []int32
	for _, pi := range slices.Sorted(maps.Keys(wants)) {
		w, p := wants[pi], v.parts[v.keys[pi]]
		x := p.rowIndex()
		cand = x.syncsOf(w, cand)
		for _, j := range cand {
			sy := p.rows.syncs[j]
			for _, i := range w.syncs[sy.Revision] {
				ins[i].Syncs = append(ins[i].Syncs, *sy)
			}
		}
		cand = x.revisionsOf(w, cand)
		for _, j := range cand {
			r := p.rows.revisions[j]
			tick++
			w.revision(r, func(i int) {
				if stamp[i] != tick {
					stamp[i] = tick
					ins[i].Revisions = append(ins[i].Revisions, *r)
					revisions = append(revisions, r.Name)
				}
			})
		}
	}
	if len(revisions) > 0 {
		traffic, err := e.st.TrafficForRevisions(ctx, revisions)
		if err != nil {
			return nil, fmt.Errorf("traces: %w", err)
		}
		byName := map[string][]int{}
		for i, in := range ins {
			for _, r := range in.Revisions {
				if l := byName[r.Name]; len(l) == 0 || l[len(l)-1] != i {
					byName[r.Name] = append(l, i)
				}
			}
		}
		for _, t := range traffic {
			for _, i := range byName[t.Revision] {
				ins[i].Traffic = append(ins[i].Traffic, t)
			}
		}
	}
	return ins, nil
}

// partWants is what inputs want of a partition's rows: the syncs of
// their deployments' manifest commits, and the Knative revisions of their
// artifacts.
//
// A revision's image or digest r shows a deployment's artifact a (trace's
// rule) when r is a, or the part of a before or after one of its "@", or
// when a is the part of r after one of its "@": whole holds, for each
// artifact, the artifact and those parts of it, after the artifact.
type partWants struct {
	syncs, whole, after map[string][]int // input positions, by key
}

// add records what input i wants for deployment d.
func (w *partWants) add(i int, d *history.Deployment) {
	put := func(m map[string][]int, key string) {
		if l := m[key]; key != "" && (len(l) == 0 || l[len(l)-1] != i) {
			m[key] = append(l, i)
		}
	}
	put(w.syncs, d.ManifestCommit)
	a := d.Artifact
	put(w.whole, a)
	put(w.after, a)
	for j := range len(a) {
		if a[j] == '@' {
			put(w.whole, a[:j])
			put(w.whole, a[j+1:])
		}
	}
}

// revision calls f with each input that wants r (perhaps more than once).
func (w *partWants) revision(r *delivery.RevisionRecord, f func(i int)) {
	for _, ref := range []string{r.Image, r.Digest} {
		if ref == "" {
			continue
		}
		for _, i := range w.whole[ref] {
			f(i)
		}
		for rest := ref; ; {
			j := strings.IndexByte(rest, '@')
			if j < 0 {
				break
			}
			rest = rest[j+1:]
			for _, i := range w.after[rest] {
				f(i)
			}
		}
	}
}

// rowIndex indexes a partition's syncs and Knative revisions by what
// partWants looks them up by, so that a search reads the few rows it wants
// rather than all the partition's: syncs by manifest commit (Revision),
// revisions by image and by digest (refs), and by the part of either after
// each of its "@" (after). It holds hashes of those keys (traceHash), not
// the keys: an entry names a row that may match, and partWants decides.
//
// It is built on a partition's first search (rowIndex) and kept with the
// partition, which never changes. Each entry takes 16 bytes: one per sync
// with a revision, and per Knative revision one per image and digest and
// one per "@" in them (two to four in all).
type rowIndex struct {
	syncs, refs, after []rowKey // sorted by hash, then position
}

// rowKey is a key's hash and a position in rows.syncs or rows.revisions.
type rowKey struct {
	hash uint64
	pos  int32
}

// rowIndex returns p's rowIndex, built on first use: partitions are shared
// by concurrent searches.
func (p *part) rowIndex() *rowIndex {
	p.rowIdxOnce.Do(func() { p.rowIdx = newRowIndex(&p.rows) })
	return p.rowIdx
}

func newRowIndex(r *rows) *rowIndex {
	x := &rowIndex{syncs: make([]rowKey, 0, len(r.syncs)), refs: make([]rowKey, 0, 2*len(r.revisions))}
	for j, sy := range r.syncs {
		if sy.Revision != "" {
			x.syncs = append(x.syncs, rowKey{traceHash(sy.Revision), int32(j)})
		}
	}
	for j, rv := range r.revisions {
		for _, ref := range []string{rv.Image, rv.Digest} {
			if ref == "" {
				continue
			}
			x.refs = append(x.refs, rowKey{traceHash(ref), int32(j)})
			for rest := ref; ; {
				k := strings.IndexByte(rest, '@')
				if k < 0 {
					break
				}
				rest = rest[k+1:]
				x.after = append(x.after, rowKey{traceHash(rest), int32(j)})
			}
		}
	}
	for _, l := range []*[]rowKey{&x.syncs, &x.refs, &x.after} {
		slices.SortFunc(*l, func(a, b rowKey) int { return cmp.Or(cmp.Compare(a.hash, b.hash), cmp.Compare(a.pos, b.pos)) })
		*l = slices.Clip(*l)
	}
	return x
}

// syncsOf returns the positions of the syncs w may want, in order, once
// each, in buf's storage (which it reuses).
func (x *rowIndex) syncsOf(w *partWants, buf []int32) []int32 {
	out := buf[:0]
	for key := range w.syncs {
		out = rowKeys(out, x.syncs, key)
	}
	return sortedPositions(out)
}

// revisionsOf returns the positions of the revisions w may want, in
// order, once each, in buf's storage (which it reuses): the revisions with
// an image or digest w.whole holds, or with a part after an "@" that
// w.after holds.
func (x *rowIndex) revisionsOf(w *partWants, buf []int32) []int32 {
	out := buf[:0]
	for key := range w.whole {
		out = rowKeys(out, x.refs, key)
	}
	for key := range w.after {
		out = rowKeys(out, x.after, key)
	}
	return sortedPositions(out)
}

// rowKeys appends to out the positions l has for key.
func rowKeys(out []int32, l []rowKey, key string) []int32 {
	h := traceHash(key)
	i, _ := slices.BinarySearchFunc(l, h, func(k rowKey, h uint64) int { return cmp.Compare(k.hash, h) })
	for ; i < len(l) && l[i].hash == h; i++ {
		out = append(out, l[i].pos)
	}
	return out
}

func sortedPositions(l []int32) []int32 {
	slices.Sort(l)
	return slices.Compact(l)
}

// owners finds which SHAs of a list a stored SHA matches.
type owners struct {
	byKey map[string][]owner
	list  []string // the SHAs, distinct
	last  []int    // per owner index, the last row given to it (eachOnce)
}

type owner struct {
	sha string
	i   int
}

func newOwners(shas []string) *owners {
	o := &owners{byKey: map[string][]owner{}, last: make([]int, len(shas))}
	for i, sha := range shas {
		o.add(sha, i)
	}
	return o
}

// add makes owner i own sha too.
func (o *owners) add(sha string, i int) {
	if sha == "" {
		return
	}
	k := shaKey(sha)
	if slices.Contains(o.byKey[k], owner{sha, i}) {
		return
	}
	if !slices.ContainsFunc(o.byKey[k], func(w owner) bool { return w.sha == sha }) {
		o.list = append(o.list, sha)
	}
	o.byKey[k] = append(o.byKey[k], owner{sha, i})
}

// each calls f with each owner of a SHA stored matches, once per SHA.
func (o *owners) each(stored string, f func(i int)) {
	if stored == "" {
		return
	}
	for _, w := range o.byKey[shaKey(stored)] {
		if sameSHA(stored, w.sha) {
			f(w.i)
		}
	}
}

// eachOnce calls f once with each owner of a SHA one of stored matches, for
// row j: rows come in increasing j from 0, a new list of rows from 0 again.
func (o *owners) eachOnce(j int, f func(i int), stored ...string) {
	if j == 0 {
		for i := range o.last {
			o.last[i] = -1
		}
	}
	for _, s := range stored {
		o.each(s, func(i int) {
			if o.last[i] != j {
				o.last[i] = j
				f(i)
			}
		})
	}
}
