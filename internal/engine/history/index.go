package history

import (
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

type index struct {
	syncs     map[appEnv][]delivery.SyncRecord
	syncByRev map[string][]delivery.SyncRecord
	health    map[appEnv][]delivery.HealthRecord
	revisions map[appEnv][]delivery.RevisionRecord
	incidents []delivery.IncidentRecord
	prByMerge map[string]*delivery.ChangeRecord
	prByHead  map[string]*delivery.ChangeRecord
	ciBySHA   map[string]time.Time // earliest successful run finish
	artBySHA  map[string]time.Time // earliest publish
	commits   map[string]delivery.CommitRecord
}

func newIndex(in Input) *index {
	x := &index{
		syncs: map[appEnv][]delivery.SyncRecord{}, syncByRev: map[string][]delivery.SyncRecord{},
		health: map[appEnv][]delivery.HealthRecord{}, revisions: map[appEnv][]delivery.RevisionRecord{},
		incidents: in.Incidents, prByMerge: map[string]*delivery.ChangeRecord{}, prByHead: map[string]*delivery.ChangeRecord{},
		ciBySHA: map[string]time.Time{}, artBySHA: map[string]time.Time{}, commits: in.Commits,
	}
	for _, s := range in.Syncs {
		x.syncs[appEnv{s.App, s.Env}] = append(x.syncs[appEnv{s.App, s.Env}], s)
		if s.Revision != "" {
			x.syncByRev[s.Revision] = append(x.syncByRev[s.Revision], s)
		}
	}
	for _, h := range in.Health {
		x.health[appEnv{h.App, h.Env}] = append(x.health[appEnv{h.App, h.Env}], h)
	}
	for _, r := range in.Revisions {
		x.revisions[appEnv{r.App, r.Env}] = append(x.revisions[appEnv{r.App, r.Env}], r)
	}
	for i := range in.Changes {
		c := &in.Changes[i]
		if c.MergeSHA != "" && !c.MergedAt.IsZero() {
			x.prByMerge[c.MergeSHA] = c
		}
		if c.HeadSHA != "" {
			x.prByHead[c.HeadSHA] = c
		}
	}
	for _, r := range in.PipelineRuns {
		if r.Outcome == delivery.OutcomeSuccess && r.SHA != "" && !r.FinishedAt.IsZero() {
			if t, ok := x.ciBySHA[r.SHA]; !ok || r.FinishedAt.Before(t) {
				x.ciBySHA[r.SHA] = r.FinishedAt
			}
		}
	}
	for _, a := range in.Artifacts {
		t := a.PublishedAt
		if t.IsZero() {
			t = a.PackagedAt
		}
		if a.SourceCommit != "" && !t.IsZero() {
			if old, ok := x.artBySHA[a.SourceCommit]; !ok || t.Before(old) {
				x.artBySHA[a.SourceCommit] = t
			}
		}
	}
	return x
}

// lookup finds a value by full SHA, or by a stored short SHA that prefixes it.
func lookup[V any](m map[string]V, sha string) (V, bool) {
	if v, ok := m[sha]; ok {
		return v, true
	}
	for n := len(sha) - 1; n >= 7; n-- {
		if v, ok := m[sha[:n]]; ok {
			return v, true
		}
	}
	var zero V
	return zero, false
}

// pr finds the pull request a commit belongs to: merged as it, or headed by it.
func (x *index) pr(sha string) *delivery.ChangeRecord {
	if c, ok := lookup(x.prByMerge, sha); ok {
		return c
	}
	if c, ok := lookup(x.prByHead, sha); ok {
		return c
	}
	return nil
}

// change builds a shipped change's lead time and stages.
func (x *index) change(sha string, d *Deployment) Change {
	c := Change{SHA: sha}
	if cr, ok := lookup(x.commits, sha); ok {
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
	if pr := x.pr(sha); pr != nil {
		ends[0] = pr.MergedAt
	}
	ciSHA := sha
	if pr := x.pr(sha); pr != nil && pr.MergeSHA != "" {
		ciSHA = pr.MergeSHA
	}
	if t, ok := lookup(x.ciBySHA, ciSHA); ok {
		ends[1] = t
	} else if t, ok := lookup(x.ciBySHA, sha); ok {
		ends[1] = t
	}
	if t, ok := lookup(x.artBySHA, sha); ok {
		ends[2] = t
	} else if t, ok := lookup(x.artBySHA, ciSHA); ok {
		ends[2] = t
	}
	ends[3] = d.ManifestAt
	if d.ManifestCommit != "" {
		for _, s := range x.syncByRev[d.ManifestCommit] {
			if s.Phase == delivery.PhaseSucceeded && !s.FinishedAt.After(d.LiveAt) && (ends[4].IsZero() || s.FinishedAt.Before(ends[4])) {
				ends[4] = s.FinishedAt
			}
		}
	}
	ends[5] = d.LiveAt
	start := c.CommittedAt
	var pending []string
	for i, end := range ends {
		// A checkpoint before the previous known one or after the live time
		// (clock skew, a re-run) cannot be placed: its stage is counted in
		// the next one.
		if end.IsZero() || end.Before(start) || end.After(d.LiveAt) {
			pending = append(pending, Stages[i])
			continue
		}
		c.Stages = append(c.Stages, Stage{Name: Stages[i], Start: start, End: end, Duration: end.Sub(start), Includes: pending})
		start, pending = end, nil
	}
	return c
}

func isHotfix(d *Deployment, x *index, re *regexp.Regexp) bool {
	shas := []string{d.SourceCommit}
	for _, c := range d.Changes {
		shas = append(shas, c.SHA)
	}
	for _, sha := range shas {
		if sha == "" {
			continue
		}
		if pr := x.pr(sha); pr != nil {
			if re.MatchString(pr.Title) || re.MatchString(pr.HeadRef) || slices.ContainsFunc(pr.Labels, re.MatchString) {
				return true
			}
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
func (x *index) failures(ae appEnv, d, next *Deployment) []Failure {
	var end time.Time
	if next != nil {
		end = next.LiveAt
	}
	var out []Failure
	for _, s := range x.syncs[ae] {
		if (s.Phase == delivery.PhaseFailed || s.Phase == delivery.PhaseError) && inWindow(s.FinishedAt, d.LiveAt, end) &&
			(s.Revision == "" || d.ManifestCommit == "" || s.Revision == d.ManifestCommit) {
			out = append(out, Failure{Reason: FailSync, At: s.FinishedAt, Ref: s.Application + "@" + s.StartedAt.Format(time.RFC3339)})
		}
	}
	for _, h := range x.health[ae] {
		if h.Status == delivery.Degraded && inWindow(h.Time, d.LiveAt, end) {
			out = append(out, Failure{Reason: FailDegraded, At: h.Time, Ref: h.Application})
		}
	}
	for _, r := range x.revisions[ae] {
		if !r.FailedAt.IsZero() && inWindow(r.FailedAt, d.LiveAt, end) && (sameArtifact(r.Digest, d.Artifact) || sameArtifact(r.Image, d.Artifact)) {
			out = append(out, Failure{Reason: FailRevision, At: r.FailedAt, Ref: r.Name})
		}
	}
	if next != nil && (next.Rollback || next.Revert) {
		out = append(out, Failure{Reason: FailRollback, At: initiated(next), Ref: next.ManifestCommit})
	} else if next != nil && next.Hotfix {
		out = append(out, Failure{Reason: FailHotfix, At: initiated(next), Ref: next.ManifestCommit})
	}
	for _, inc := range x.incidents {
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
func (x *index) restored(ae appEnv, d *Deployment, later []*Deployment) time.Time {
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
			for _, inc := range x.incidents {
				if inc.Source+"/"+inc.IncidentID == f.Ref {
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
		for _, h := range x.health[ae] {
			if h.Status == delivery.Healthy && h.Time.After(detected) {
				consider(h.Time)
				break
			}
		}
	}
	if incident && !unresolved {
		consider(resolved)
	}
	for _, n := range later {
		if !n.Failed() && !n.LiveAt.Before(detected) {
			consider(n.LiveAt)
			break
		}
	}
	return best
}
