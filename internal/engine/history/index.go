package history

import (
	"cmp"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// Stage names, in flow order. Each names the stage that ends at its
// checkpoint: "review" ends when the pull request merges, "rollout" when
// the deployment is live.
const (
	StageReview   = "review"   // commit → pull request merged
	StageCI       = "ci"       // → CI run succeeded on the commit
	StageArtifact = "artifact" // → image published
	StageManifest = "manifest" // → GitOps manifest commit
	StageSync     = "sync"     // → Argo CD sync succeeded
	StageRollout  = "rollout"  // → live (serving its target share)
)

// Stages lists the stage names in flow order.
var Stages = []string{StageReview, StageCI, StageArtifact, StageManifest, StageSync, StageRollout}

// Stage is the time one change spent in one stage.
type Stage struct {
	Name     string        `json:"name"`
	Start    time.Time     `json:"start"`
	End      time.Time     `json:"end"`
	Duration time.Duration `json:"duration"`
	// Includes names earlier stages whose end is unknown: their time is
	// counted here.
	Includes []string `json:"includes,omitempty"`
}

// partIndex is what one partition's build looks up: the partition's own
// rows, with their positions sorted by the time the failure rules test,
// and the Index through l.
type partIndex struct {
	l         Lookup
	syncs     []delivery.SyncRecord
	health    []delivery.HealthRecord
	revisions []delivery.RevisionRecord
	// Positions in syncs by finish time, in health by time, in revisions
	// (those that failed) by failure time.
	syncsByFinish, healthByTime, revsByFailure []int32
	healthSorted                               bool // health is in time order
	// Remembered for the build: pull requests by commit, and whether a
	// pull request is a hotfix.
	prs  map[string]*delivery.ChangeRecord
	hot  map[*delivery.ChangeRecord]bool
	shas map[string]*CommitRows // by Short
}

var noRows = &CommitRows{}

// rows returns the rows found by sha's Short (never nil).
func (x *partIndex) rows(sha string) *CommitRows {
	short := Short(sha)
	r, ok := x.shas[short]
	if !ok {
		if r = x.l.SHA(short); r == nil {
			r = noRows
		}
		x.shas[short] = r
	}
	return r
}

func newIndex(p Partition, l Lookup) *partIndex {
	x := &partIndex{l: l, syncs: p.Syncs, health: p.Health, revisions: p.Revisions,
		prs: map[string]*delivery.ChangeRecord{}, hot: map[*delivery.ChangeRecord]bool{}, shas: map[string]*CommitRows{}}
	x.syncsByFinish = byTime(len(p.Syncs), func(i int) (time.Time, bool) { return p.Syncs[i].FinishedAt, true })
	x.healthByTime = byTime(len(p.Health), func(i int) (time.Time, bool) { return p.Health[i].Time, true })
	x.revsByFailure = byTime(len(p.Revisions), func(i int) (time.Time, bool) { return p.Revisions[i].FailedAt, !p.Revisions[i].FailedAt.IsZero() })
	x.healthSorted = slices.IsSortedFunc(p.Health, func(a, b delivery.HealthRecord) int { return a.Time.Compare(b.Time) })
	return x
}

// byTime returns the positions i < n for which at(i) says keep, ordered by
// its time (then position).
func byTime(n int, at func(i int) (time.Time, bool)) []int32 {
	out := make([]int32, 0, n)
	for i := range n {
		if _, keep := at(i); keep {
			out = append(out, int32(i))
		}
	}
	slices.SortStableFunc(out, func(a, b int32) int {
		ta, _ := at(int(a))
		tb, _ := at(int(b))
		return ta.Compare(tb)
	})
	return out
}

// within returns, in position order, the positions of sorted (ordered by
// at) whose time is strictly after from and, when to is not zero,
// strictly before it.
func within(sorted []int32, at func(i int) time.Time, from, to time.Time) []int32 {
	lo, _ := slices.BinarySearchFunc(sorted, from, func(i int32, t time.Time) int {
		if at(int(i)).After(t) {
			return 1
		}
		return -1
	})
	var out []int32
	for _, i := range sorted[lo:] {
		if !to.IsZero() && !at(int(i)).Before(to) {
			break
		}
		out = append(out, i)
	}
	if len(out) > 1 {
		slices.Sort(out)
	}
	return out
}

// pr finds the pull request a commit belongs to: merged as it, or headed
// by it (remembered for the rest of the build).
func (x *partIndex) pr(sha string) *delivery.ChangeRecord {
	if sha == "" {
		return nil
	}
	if c, ok := x.prs[sha]; ok {
		return c
	}
	rows := x.rows(sha)
	// Among the rows whose key names sha, those with the longest key (an
	// exact match first, then the longest abbreviation); of those, the
	// last in table order.
	var found *delivery.ChangeRecord
	n := -1
	for _, c := range rows.Merged {
		if k := c.MergeSHA; !c.MergedAt.IsZero() && prefixOf(k, sha) && len(k) >= n {
			found, n = c, len(k)
		}
	}
	if found == nil {
		for _, c := range rows.Headed {
			if k := c.HeadSHA; prefixOf(k, sha) && len(k) >= n {
				found, n = c, len(k)
			}
		}
	}
	x.prs[sha] = found
	return found
}

// commit finds a source commit.
func (x *partIndex) commit(sha string) (*delivery.CommitRecord, bool) {
	var found *delivery.CommitRecord
	n := -1
	for _, c := range x.rows(sha).Commits {
		if prefixOf(c.SHA, sha) && len(c.SHA) >= n {
			found, n = c, len(c.SHA)
		}
	}
	return found, found != nil
}

// ci is when the first successful CI run on a commit finished.
func (x *partIndex) ci(sha string) (time.Time, bool) {
	var t time.Time
	n := -1
	for _, r := range x.rows(sha).Runs {
		if r.Outcome != delivery.OutcomeSuccess || r.FinishedAt.IsZero() || !prefixOf(r.SHA, sha) || len(r.SHA) < n {
			continue
		}
		if len(r.SHA) > n || r.FinishedAt.Before(t) {
			t = r.FinishedAt
		}
		n = len(r.SHA)
	}
	return t, n >= 0
}

// published is when an image built from a commit was first published (or packaged).
func (x *partIndex) published(sha string) (time.Time, bool) {
	var t time.Time
	n := -1
	for _, a := range x.rows(sha).Artifacts {
		at := cmp.Or(a.PublishedAt, a.PackagedAt)
		if at.IsZero() || !prefixOf(a.SourceCommit, sha) || len(a.SourceCommit) < n {
			continue
		}
		if len(a.SourceCommit) > n || at.Before(t) {
			t = at
		}
		n = len(a.SourceCommit)
	}
	return t, n >= 0
}

// change builds a shipped change's lead time and stages.
func (x *partIndex) change(sha string, d *Deployment) Change {
	c := Change{SHA: sha}
	if cr, ok := x.commit(sha); ok {
		c.CommittedAt = cr.CommittedAt
		if c.CommittedAt.IsZero() {
			c.CommittedAt = cr.AuthoredAt
		}
	}
	if c.CommittedAt.IsZero() {
		return c
	}
	lead := d.LiveAt.Sub(c.CommittedAt)
	if lead < 0 {
		c.ClockSkew, lead = true, 0
	}
	c.LeadTime = &lead
	if c.ClockSkew {
		return c
	}
	// Checkpoints, in flow order; unknown ones are zero.
	var ends [6]time.Time
	pr := x.pr(sha)
	if pr != nil {
		ends[0] = pr.MergedAt
	}
	ciSHA := sha
	if pr != nil && pr.MergeSHA != "" {
		ciSHA = pr.MergeSHA
	}
	if t, ok := x.ci(ciSHA); ok {
		ends[1] = t
	} else if t, ok := x.ci(sha); ok {
		ends[1] = t
	}
	if t, ok := x.published(sha); ok {
		ends[2] = t
	} else if t, ok := x.published(ciSHA); ok {
		ends[2] = t
	}
	ends[3] = d.ManifestAt
	if d.ManifestCommit != "" {
		for _, s := range x.l.SyncsByRevision(d.ManifestCommit) {
			if s.Phase == delivery.PhaseSucceeded && !s.FinishedAt.After(d.LiveAt) && (ends[4].IsZero() || s.FinishedAt.Before(ends[4])) {
				ends[4] = s.FinishedAt
			}
		}
	}
	ends[5] = d.LiveAt
	// A checkpoint before the previous known one or after the live time
	// (clock skew, a re-run) cannot be placed: its stage is counted in the
	// next one. (The stages are counted first, to allocate them once.)
	n, start := 0, c.CommittedAt
	for _, end := range ends {
		if !end.IsZero() && !end.Before(start) && !end.After(d.LiveAt) {
			n, start = n+1, end
		}
	}
	start = c.CommittedAt
	var pending []string
	c.Stages = make([]Stage, 0, n)
	for i, end := range ends {
		if end.IsZero() || end.Before(start) || end.After(d.LiveAt) {
			pending = append(pending, Stages[i])
			continue
		}
		c.Stages = append(c.Stages, Stage{Name: Stages[i], Start: start, End: end, Duration: end.Sub(start), Includes: pending})
		start, pending = end, nil
	}
	return c
}

func isHotfix(d *Deployment, x *partIndex, re *regexp.Regexp) bool {
	hot := func(sha string) bool {
		pr := x.pr(sha)
		if pr == nil {
			return false
		}
		h, ok := x.hot[pr]
		if !ok {
			h = re.MatchString(pr.Title) || re.MatchString(pr.HeadRef) || slices.ContainsFunc(pr.Labels, re.MatchString)
			x.hot[pr] = h
		}
		return h
	}
	if hot(d.SourceCommit) {
		return true
	}
	for _, c := range d.Changes {
		if hot(c.SHA) {
			return true
		}
	}
	return false
}

// initiated is when a deployment was set in motion: its manifest commit,
// else its live time.
func initiated(d *Deployment) time.Time {
	if !d.ManifestAt.IsZero() && d.ManifestAt.Before(d.LiveAt) {
		return d.ManifestAt
	}
	return d.LiveAt
}

// inWindow reports whether t is after from and before to (to zero: no end).
func inWindow(t, from, to time.Time) bool {
	return t.After(from) && (to.IsZero() || t.Before(to))
}

func sameArtifact(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	ka, kb := artifactKey(a), artifactKey(b)
	return ka == kb || strings.HasSuffix(a, "@"+kb) || strings.HasSuffix(b, "@"+ka)
}

// failures lists the signs that d failed, before next went live.
func (x *partIndex) failures(ae appEnv, d, next *Deployment) []Failure {
	var end time.Time
	if next != nil {
		end = next.LiveAt
	}
	var out []Failure
	for _, i := range within(x.syncsByFinish, func(i int) time.Time { return x.syncs[i].FinishedAt }, d.LiveAt, end) {
		s := &x.syncs[i]
		if (s.Phase == delivery.PhaseFailed || s.Phase == delivery.PhaseError) && (s.Revision == "" || d.ManifestCommit == "" || s.Revision == d.ManifestCommit) {
			out = append(out, Failure{Reason: FailSync, At: s.FinishedAt, Ref: s.Application + "@" + s.StartedAt.Format(time.RFC3339)})
		}
	}
	for _, i := range within(x.healthByTime, func(i int) time.Time { return x.health[i].Time }, d.LiveAt, end) {
		if h := &x.health[i]; h.Status == delivery.Degraded {
			out = append(out, Failure{Reason: FailDegraded, At: h.Time, Ref: h.Application})
		}
	}
	for _, i := range within(x.revsByFailure, func(i int) time.Time { return x.revisions[i].FailedAt }, d.LiveAt, end) {
		if r := &x.revisions[i]; sameArtifact(r.Digest, d.Artifact) || sameArtifact(r.Image, d.Artifact) {
			out = append(out, Failure{Reason: FailRevision, At: r.FailedAt, Ref: r.Name})
		}
	}
	if next != nil && (next.Rollback || next.Revert) {
		out = append(out, Failure{Reason: FailRollback, At: initiated(next), Ref: next.ManifestCommit})
	} else if next != nil && next.Hotfix {
		out = append(out, Failure{Reason: FailHotfix, At: initiated(next), Ref: next.ManifestCommit})
	}
	for _, inc := range x.l.incidentsFor(ae, d.Artifact) {
		// By digest, within the incident's app and environment when it names them.
		byArtifact := inc.Artifact != "" && sameArtifact(inc.Artifact, d.Artifact) &&
			(inc.App == "" || inc.App == ae.app) && (inc.Env == "" || inc.Env == ae.env)
		byTime := inc.Artifact == "" && inc.App == ae.app && inc.Env == ae.env && !inc.DetectedAt.Before(d.LiveAt) && (end.IsZero() || inc.DetectedAt.Before(end))
		if byArtifact || byTime {
			out = append(out, Failure{Reason: FailIncident, At: inc.DetectedAt, Ref: inc.Source + "/" + inc.IncidentID})
		}
	}
	slices.SortStableFunc(out, func(a, b Failure) int { return a.At.Compare(b.At) })
	return out
}

// restored is when service came back after d failed: the earliest of
// Healthy after a degradation, the resolution of every attributed incident,
// and the next deployment that did not fail.
func (x *partIndex) restored(ae appEnv, d *Deployment, later []Deployment) time.Time {
	detected := d.DetectedAt()
	var best time.Time
	consider := func(t time.Time) {
		if !t.IsZero() && !t.Before(detected) && (best.IsZero() || t.Before(best)) {
			best = t
		}
	}
	var degraded, incident bool
	var resolved time.Time
	unresolved := false
	for _, f := range d.Failures {
		switch f.Reason {
		case FailDegraded:
			degraded = true
		case FailIncident:
			incident = true
			for _, inc := range x.l.incidentsByRef(f.Ref) {
				{
					if inc.ResolvedAt.IsZero() {
						unresolved = true
					} else if inc.ResolvedAt.After(resolved) {
						resolved = inc.ResolvedAt
					}
				}
			}
		}
	}
	if degraded {
		// The first Healthy after detection, in the order of the list.
		from := 0
		if x.healthSorted {
			from, _ = slices.BinarySearchFunc(x.health, detected, func(h delivery.HealthRecord, t time.Time) int {
				if h.Time.After(t) {
					return 1
				}
				return -1
			})
		}
		for _, h := range x.health[from:] {
			if h.Status == delivery.Healthy && h.Time.After(detected) {
				consider(h.Time)
				break
			}
		}
	}
	if incident && !unresolved {
		consider(resolved)
	}
	for i := range later {
		if n := &later[i]; !n.Failed() && !n.LiveAt.Before(detected) {
			consider(n.LiveAt)
			break
		}
	}
	return best
}
