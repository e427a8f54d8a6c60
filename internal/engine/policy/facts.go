package policy

import (
	"slices"
	"strings"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine/history"
)

// The links of a traceable deployment's chain, in flow order: a reviewed
// pull request → successful CI on the merged commit → an artifact built
// from it → a manifest commit → an Argo CD sync or a Knative revision.
const (
	LinkPullRequest = "pull_request"    // a merged pull request whose merge (or head) commit is the deployed source commit
	LinkApproval    = "approval"        // that pull request approved by someone other than its author
	LinkCI          = "ci"              // a successful CI run on the source commit or the pull request's merge commit
	LinkArtifact    = "artifact"        // a published or packaged artifact record of the deployed image, built from the source commit
	LinkManifest    = "manifest_commit" // the GitOps manifest commit that deployed it
	LinkSync        = "sync"            // a succeeded Argo CD sync of that commit, or the Knative revision serving it
)

// Links lists the chain's links in flow order.
var Links = []string{LinkPullRequest, LinkApproval, LinkCI, LinkArtifact, LinkManifest, LinkSync}

// Input is the model rows facts are read from.
type Input struct {
	Changes      []delivery.ChangeRecord
	PipelineRuns []delivery.PipelineRunRecord
	Artifacts    []delivery.ArtifactRecord
	Syncs        []delivery.SyncRecord
	Revisions    []delivery.RevisionRecord
}

// Facts are what shiplog knows about how a deployment came about.
type Facts struct {
	// Image is the deployed artifact as an image reference.
	Image Image
	// SourceCommit is the deployment's source commit, else the one its
	// artifact record names.
	SourceCommit string
	// PR is the pull request that merged SourceCommit (by merge commit,
	// else by head commit), nil if none is known.
	PR *delivery.ChangeRecord
	// Approved: PR has an approver other than its author; Approvers lists them.
	Approved  bool
	Approvers []string
	// CIRun is a successful CI run on SourceCommit or PR's merge commit.
	CIRun *delivery.PipelineRunRecord
	// Artifact is the artifact record of the deployed image.
	Artifact *delivery.ArtifactRecord
	// Sync is the Argo CD sync that deployed the manifest commit: the
	// earliest succeeded sync of that revision in the app's environment.
	Sync *delivery.SyncRecord
	// Missing lists the chain's links that are not known, in flow order.
	Missing []string
}

// Traceable reports whether every link of the chain is known.
func (f *Facts) Traceable() bool { return len(f.Missing) == 0 }

// ManualSync reports whether the deploying sync was started by a user.
func (f *Facts) ManualSync() bool { return f.Sync != nil && IsManualSync(f.Sync) }

// SyncInitiator is the user who started the deploying sync, "automated",
// or "" when no sync is known or Argo CD did not say.
func (f *Facts) SyncInitiator() string {
	switch {
	case f.Sync == nil:
		return ""
	case f.Sync.Automated:
		return "automated"
	}
	return f.Sync.InitiatedBy
}

// IsManualSync reports whether an Argo CD sync was initiated by a user: not
// automated and with a user name. A sync whose initiator Argo CD did not
// record (one recovered from history) is not counted as manual.
func IsManualSync(s *delivery.SyncRecord) bool { return !s.Automated && s.InitiatedBy != "" }

// Index looks up the facts of deployments. Build it once per model.
type Index struct {
	prByMerge map[string][]*delivery.ChangeRecord // by the commit's first 7 hex digits
	prByHead  map[string][]*delivery.ChangeRecord
	ciBySHA   map[string][]*delivery.PipelineRunRecord
	artByDig  map[string][]*delivery.ArtifactRecord // by digest
	artByTag  map[string][]*delivery.ArtifactRecord // by normalized name:tag
	syncByRev map[string][]*delivery.SyncRecord     // succeeded, by revision; earliest first
	ready     map[[3]string]bool                    // app, env, digest or image of a revision that became ready
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// sameSHA reports whether two commit ids name the same commit: equal, or
// one is an abbreviation (at least 7 digits) of the other.
func sameSHA(a, b string) bool {
	if len(a) < 7 || len(b) < 7 {
		return a != "" && a == b
	}
	if len(a) > len(b) {
		a, b = b, a
	}
	return strings.HasPrefix(b, a)
}

// NewIndex indexes in.
func NewIndex(in Input) *Index {
	x := &Index{
		prByMerge: map[string][]*delivery.ChangeRecord{}, prByHead: map[string][]*delivery.ChangeRecord{},
		ciBySHA: map[string][]*delivery.PipelineRunRecord{}, artByDig: map[string][]*delivery.ArtifactRecord{},
		artByTag: map[string][]*delivery.ArtifactRecord{}, syncByRev: map[string][]*delivery.SyncRecord{},
		ready: map[[3]string]bool{},
	}
	for i := range in.Changes {
		c := &in.Changes[i]
		if c.MergeSHA != "" {
			x.prByMerge[short(c.MergeSHA)] = append(x.prByMerge[short(c.MergeSHA)], c)
		}
		if c.HeadSHA != "" {
			x.prByHead[short(c.HeadSHA)] = append(x.prByHead[short(c.HeadSHA)], c)
		}
	}
	for i := range in.PipelineRuns {
		r := &in.PipelineRuns[i]
		if r.Outcome == delivery.OutcomeSuccess && r.SHA != "" {
			x.ciBySHA[short(r.SHA)] = append(x.ciBySHA[short(r.SHA)], r)
		}
	}
	for i := range in.Artifacts {
		a := &in.Artifacts[i]
		if a.Digest != "" {
			x.artByDig[a.Digest] = append(x.artByDig[a.Digest], a)
		}
		if a.Tag != "" {
			k := ParseImage(a.Name).Name() + ":" + a.Tag
			x.artByTag[k] = append(x.artByTag[k], a)
		}
	}
	for i := range in.Syncs {
		s := &in.Syncs[i]
		if s.Phase == delivery.PhaseSucceeded && s.Revision != "" {
			x.syncByRev[s.Revision] = append(x.syncByRev[s.Revision], s)
		}
	}
	for _, list := range x.syncByRev {
		slices.SortStableFunc(list, func(a, b *delivery.SyncRecord) int { return a.StartedAt.Compare(b.StartedAt) })
	}
	for _, r := range in.Revisions {
		if r.ReadyAt.IsZero() {
			continue
		}
		if r.Digest != "" {
			x.ready[[3]string{r.App, r.Env, r.Digest}] = true
		}
		if r.Image != "" {
			x.ready[[3]string{r.App, r.Env, r.Image}] = true
			if dg := ParseImage(r.Image).Digest; dg != "" {
				x.ready[[3]string{r.App, r.Env, dg}] = true
			}
		}
	}
	return x
}

// pr finds the pull request that merged sha: merged as it, else headed by it.
func (x *Index) pr(sha string) *delivery.ChangeRecord {
	if sha == "" {
		return nil
	}
	var headed *delivery.ChangeRecord
	for _, c := range x.prByMerge[short(sha)] {
		if sameSHA(c.MergeSHA, sha) && !c.MergedAt.IsZero() {
			return c
		}
	}
	for _, c := range x.prByHead[short(sha)] {
		if sameSHA(c.HeadSHA, sha) && (headed == nil || !c.MergedAt.IsZero() && headed.MergedAt.IsZero()) {
			headed = c
		}
	}
	return headed
}

func (x *Index) ci(shas ...string) *delivery.PipelineRunRecord {
	for _, sha := range shas {
		if sha == "" {
			continue
		}
		for _, r := range x.ciBySHA[short(sha)] {
			if sameSHA(r.SHA, sha) {
				return r
			}
		}
	}
	return nil
}

// artifact finds the artifact record of an image reference: by digest when
// the reference has one, else by name and tag. Records that name a source
// commit are preferred.
func (x *Index) artifact(img Image) *delivery.ArtifactRecord {
	var cands []*delivery.ArtifactRecord
	if img.Digest != "" {
		cands = x.artByDig[img.Digest]
	} else if img.Tag != "" {
		cands = x.artByTag[img.Name()+":"+img.Tag]
	}
	var best *delivery.ArtifactRecord
	for _, a := range cands {
		if best == nil || best.SourceCommit == "" && a.SourceCommit != "" {
			best = a
		}
	}
	return best
}

// Facts returns what is known of how d came about.
func (x *Index) Facts(d *history.Deployment) Facts {
	img := ParseImage(d.Artifact)
	f := Facts{Image: img, SourceCommit: d.SourceCommit, Artifact: x.artifact(img)}
	if f.SourceCommit == "" && f.Artifact != nil {
		f.SourceCommit = f.Artifact.SourceCommit
	}
	if f.PR = x.pr(f.SourceCommit); f.PR != nil {
		for _, a := range f.PR.Approvers {
			if !strings.EqualFold(a, f.PR.Author) {
				f.Approvers = append(f.Approvers, a)
			}
		}
		f.Approved = len(f.Approvers) > 0
	}
	mergeSHA := ""
	if f.PR != nil {
		mergeSHA = f.PR.MergeSHA
	}
	f.CIRun = x.ci(f.SourceCommit, mergeSHA)
	if d.ManifestCommit != "" {
		for _, s := range x.syncByRev[d.ManifestCommit] {
			if s.App == d.App && s.Env == d.Env {
				f.Sync = s
				break
			}
		}
	}
	if f.PR == nil || f.PR.MergedAt.IsZero() {
		f.Missing = append(f.Missing, LinkPullRequest)
	}
	if !f.Approved {
		f.Missing = append(f.Missing, LinkApproval)
	}
	if f.CIRun == nil {
		f.Missing = append(f.Missing, LinkCI)
	}
	if f.Artifact == nil || f.SourceCommit == "" || !sameSHA(f.Artifact.SourceCommit, f.SourceCommit) {
		f.Missing = append(f.Missing, LinkArtifact)
	}
	if d.ManifestCommit == "" {
		f.Missing = append(f.Missing, LinkManifest)
	}
	if f.Sync == nil && !slices.Contains(d.Sources, "argocd") && !x.servedByKnative(d, img) {
		f.Missing = append(f.Missing, LinkSync)
	}
	return f
}

// servedByKnative reports whether a Knative revision of d's artifact became
// ready in its environment (or Knative reported the deployment).
func (x *Index) servedByKnative(d *history.Deployment, img Image) bool {
	if slices.Contains(d.Sources, "knative") || x.ready[[3]string{d.App, d.Env, d.Artifact}] {
		return true
	}
	return img.Digest != "" && x.ready[[3]string{d.App, d.Env, img.Digest}]
}
