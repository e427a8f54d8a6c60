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

// Index looks up the facts of deployments.
type Index struct {
	l     history.Lookup
	ready map[[3]string]bool // app, env, digest or image of a revision that became ready
}

func short(sha string) string { return history.Short(sha) }

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
	h := history.NewIndex()
	for i := range in.Changes {
		h.AddChange(&in.Changes[i])
	}
	for i := range in.PipelineRuns {
		h.AddPipelineRun(&in.PipelineRuns[i])
	}
	for i := range in.Artifacts {
		h.AddArtifact(&in.Artifacts[i])
	}
	for i := range in.Syncs {
		h.AddSync(&in.Syncs[i])
	}
	revs := make([]*delivery.RevisionRecord, len(in.Revisions))
	for i := range in.Revisions {
		revs[i] = &in.Revisions[i]
	}
	return NewIndexOn(h.With(nil), revs)
}

// NewIndexOn returns an index that looks pull requests, CI runs, artifacts
// and syncs up in l, and knows which of revisions became ready: those of
// the deployments' app and environment are enough.
func NewIndexOn(l history.Lookup, revisions []*delivery.RevisionRecord) *Index {
	x := &Index{l: l, ready: map[[3]string]bool{}}
	for _, r := range revisions {
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
	rows := x.l.SHA(short(sha))
	if rows == nil {
		return nil
	}
	for _, c := range rows.Merged {
		if sameSHA(c.MergeSHA, sha) && !c.MergedAt.IsZero() {
			return c
		}
	}
	for _, c := range rows.Headed {
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
		if rows := x.l.SHA(short(sha)); rows != nil {
			for _, r := range rows.Runs {
				if r.Outcome == delivery.OutcomeSuccess && sameSHA(r.SHA, sha) {
					return r
				}
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
		cands = x.l.ArtifactsByDigest(img.Digest)
	} else if img.Tag != "" {
		name := img.Name()
		for _, a := range x.l.ArtifactsByTag(img.Tag) {
			if ParseImage(a.Name).Name() == name {
				cands = append(cands, a)
			}
		}
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
		// The earliest succeeded sync of the revision in the app's environment.
		for _, s := range x.l.SyncsByRevision(d.ManifestCommit) {
			if s.Phase == delivery.PhaseSucceeded && s.App == d.App && s.Env == d.Env {
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
