package engine

import (
	"hash/maphash"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine/efficiency"
	"github.com/shiplog-dev/shiplog/internal/engine/history"
	"github.com/shiplog-dev/shiplog/internal/engine/policy"
)

// view is one consistent state of the model, as requests read it. It
// never changes: a refresh publishes a new view that shares the
// partitions that did not change.
type view struct {
	horizon int64
	parts   map[appEnv]*part
	keys    []appEnv                 // sorted
	merged  []*delivery.ChangeRecord // merged pull requests by merge time
	// routes are when each Knative namespace's revisions were routable;
	// routeList has them in namespace order.
	routes    map[nsKey]*efficiency.Routes
	routeList []*efficiency.Routes
	inFlight  InFlight
	// incidents and scale are the model's incidents by detection time and
	// Knative scale samples by time (the store's orders), shared.
	incidents []*delivery.IncidentRecord
	scale     []delivery.ScaleRecord

	histOnce sync.Once
	hist     []history.Deployment
}

// part is one app and environment: its rows, its deployment history, what
// policies found in it and its efficiency figures.
type part struct {
	ae   appEnv
	rows rows
	deps []history.Deployment // live-time order
	at   []int64              // deps[i].LiveAt in Unix nanoseconds, for searches and merges
	// missing has, per deps[i], the bits of the policy.Links it lacks (0:
	// traceable); checks are the deployments some rule flagged, by position.
	missing []uint8
	checks  []depCheck
	eff     efficiency.Figures
	// blamed are the incidents (source/id) its deployments took the blame
	// for, in deployment order, perhaps repeated.
	blamed []string
	revs   map[revKey]*delivery.RevisionRecord // rows.revisions by key
	// namespaces are the Knative namespaces of rows.revisions, sorted.
	namespaces []nsKey
	links      linkSet  // the links the build looked up
	repos      []string // the source repositories of the commits deps shipped, sorted

	shas shipIndex // the commits deps shipped, for traces (traces.go)

	// The build is valid while now is in [validFrom, validUntil): it
	// counted every deployment record at or before validFrom and none
	// after, and the next record is at validUntil.
	validFrom, validUntil time.Time

	// rowIdx indexes rows.syncs and rows.revisions for traces, built on a
	// partition's first search (traces.go: rowIndex).
	rowIdxOnce sync.Once
	rowIdx     *rowIndex
}

// depCheck is what the rules said of deps[i].
type depCheck struct {
	i          int32
	deviations []policy.Deviation
	errors     []policy.EvalError
}

// check returns what the rules said of deps[i], nil when nothing.
func (p *part) check(i int) *depCheck {
	j, ok := slices.BinarySearchFunc(p.checks, int32(i), func(c depCheck, i int32) int { return int(c.i - i) })
	if !ok {
		return nil
	}
	return &p.checks[j]
}

// offset is the position of the first deployment live at or after since.
func (p *part) offset(since time.Time) int {
	lo, _ := p.bounds(since, time.Time{})
	return lo
}

// valid reports whether the partition's build holds at now.
func (p *part) valid(now time.Time) bool {
	return !now.Before(p.validFrom) && now.Before(p.validUntil)
}

// window returns the deployments that went live in [since, until) (until
// zero: no end), in live-time order.
func (p *part) window(since, until time.Time) []history.Deployment {
	lo, hi := p.bounds(since, until)
	return p.deps[lo:hi]
}

// bounds returns the positions of window(since, until) in deps.
func (p *part) bounds(since, until time.Time) (int, int) {
	lo := 0
	if !since.IsZero() {
		lo, _ = slices.BinarySearch(p.at, since.UnixNano()) // the first at or after since
	}
	hi := len(p.at)
	if !until.IsZero() {
		hi, _ = slices.BinarySearch(p.at, until.UnixNano())
	}
	return lo, max(lo, hi)
}

// history returns every deployment, in Build's order, built on first use.
func (v *view) history() []history.Deployment {
	v.histOnce.Do(func() {
		var lists [][]history.Deployment
		for _, k := range v.keys {
			lists = append(lists, v.parts[k].deps)
		}
		v.hist = merge(lists)
	})
	return v.hist
}

// merge merges lists each in live-time order, of different partitions and
// given in partition order, into Build's order.
func merge(lists [][]history.Deployment) []history.Deployment {
	ats := make([][]int64, len(lists))
	for i, l := range lists {
		ats[i] = make([]int64, len(l))
		for j := range l {
			ats[i][j] = l[j].LiveAt.UnixNano()
		}
	}
	refs := mergeRefs(ats)
	out := make([]history.Deployment, len(refs))
	for i, r := range refs {
		out[i] = lists[r[0]][r[1]]
	}
	return out
}

// mergeRefs returns, in Build's order, the (list, position) of every
// element of lists (the live times of deployments of different partitions,
// each list in live-time order, given in partition order): a k-way merge
// on a binary heap of the lists' heads, ordered by live time then list.
func mergeRefs(lists [][]int64) [][2]int32 {
	type head struct {
		at        int64
		list, pos int32
	}
	less := func(a, b *head) bool { return a.at < b.at || a.at == b.at && a.list < b.list }
	n := 0
	var h []head
	for i, l := range lists {
		n += len(l)
		if len(l) > 0 {
			h = append(h, head{at: l[0], list: int32(i)})
		}
	}
	down := func(i int) {
		for {
			c := 2*i + 1
			if c >= len(h) {
				return
			}
			if c+1 < len(h) && less(&h[c+1], &h[c]) {
				c++
			}
			if !less(&h[c], &h[i]) {
				return
			}
			h[i], h[c] = h[c], h[i]
			i = c
		}
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		down(i)
	}
	out := make([][2]int32, 0, n)
	for len(h) > 0 {
		top := &h[0]
		out = append(out, [2]int32{top.list, top.pos})
		top.pos++
		if l := lists[top.list]; int(top.pos) < len(l) {
			top.at = l[top.pos]
		} else {
			h[0] = h[len(h)-1]
			h = h[:len(h)-1]
		}
		down(0)
	}
	return out
}

// linkSet is the set of links a partition's build looked up, as sorted
// 64-bit hashes: exact (a Bloom filter's false positives would rebuild
// partitions for nothing each time many links change at once), 8 bytes
// per link.
type linkSet []uint64

var linkSeed = maphash.MakeSeed()

func linkHash(l history.Link) uint64 {
	var h maphash.Hash
	h.SetSeed(linkSeed)
	_ = h.WriteByte(byte(l.Kind))
	_, _ = h.WriteString(l.Key)
	return h.Sum64()
}

func newLinkSet(hashes []uint64) linkSet {
	slices.Sort(hashes)
	return slices.Clip(slices.Compact(hashes))
}

func (s linkSet) has(h uint64) bool {
	_, ok := slices.BinarySearch(s, h)
	return ok
}

// recorder collects the hashes of the links a build looks up.
type recorder struct{ hashes []uint64 }

func (r *recorder) Looked(l history.Link) { r.hashes = append(r.hashes, linkHash(l)) }

// validity returns the window of now in which a build at now of records
// stays the same: [latest record at or before now, first record after now).
func validity(recs []*delivery.DeploymentRecord, now time.Time) (time.Time, time.Time) {
	from := time.Time{}
	until := time.Unix(math.MaxInt64/2, 0)
	for _, r := range recs {
		if r.Time.After(now) {
			if r.Time.Before(until) {
				until = r.Time
			}
		} else if r.Time.After(from) {
			from = r.Time
		}
	}
	return from, until
}

func values[T any](ps []*T) []T {
	out := make([]T, len(ps))
	for i, p := range ps {
		out[i] = *p
	}
	return out
}

// scaleWindow returns the scale samples of [since, until) (a zero bound:
// none), shared: callers only read them.
func (v *view) scaleWindow(since, until time.Time) []delivery.ScaleRecord {
	return timeWindow(v.scale, since, until, func(r *delivery.ScaleRecord) time.Time { return r.Time })
}

// incidentWindow returns the incidents detected in [since, until) (a zero
// bound: none), shared.
func (v *view) incidentWindow(since, until time.Time) []*delivery.IncidentRecord {
	return timeWindow(v.incidents, since, until, func(r **delivery.IncidentRecord) time.Time { return (*r).DetectedAt })
}

// timeWindow returns the part of list (in time order) whose times are in
// [since, until), a zero bound being none.
func timeWindow[T any](list []T, since, until time.Time, at func(*T) time.Time) []T {
	search := func(t time.Time) int {
		return sort.Search(len(list), func(i int) bool { return !at(&list[i]).Before(t) })
	}
	lo, hi := 0, len(list)
	if !since.IsZero() {
		lo = search(since)
	}
	if !until.IsZero() {
		hi = search(until)
	}
	return list[lo:max(lo, hi)]
}
