package delivery

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

var (
	shaPattern    = regexp.MustCompile(`^[0-9a-f]{7,64}$`)
	digestPattern = regexp.MustCompile(`^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$`)
)

func checkSHA(field, v string, required bool) error {
	if v == "" {
		if required {
			return invalid(field, "missing")
		}
		return nil
	}
	if !shaPattern.MatchString(v) {
		return invalid(field, "%q is not a lower-case hexadecimal commit SHA", v)
	}
	return nil
}

func checkDigest(field, v string) error {
	if v != "" && !digestPattern.MatchString(v) {
		return invalid(field, "%q is not a digest like sha256:<hex>", v)
	}
	return nil
}

func required(field, v string) error {
	if strings.TrimSpace(v) == "" {
		return invalid(field, "missing")
	}
	return nil
}

// firstErr returns the first non-nil error.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Commit is the payload of commit.authored: a commit in a source repository.
type Commit struct {
	Repo        string    `json:"repo"` // repository URL or path, as configured
	SHA         string    `json:"sha"`
	Parents     []string  `json:"parents,omitempty"`
	Branch      string    `json:"branch,omitempty"`
	AuthorName  string    `json:"author_name,omitempty"`
	AuthorEmail string    `json:"author_email,omitempty"`
	AuthoredAt  time.Time `json:"authored_at,omitzero"`
	CommittedAt time.Time `json:"committed_at,omitzero"`
	Subject     string    `json:"subject,omitempty"`
}

func (p *Commit) validate(EventType) error {
	return firstErr(
		required("payload.repo", p.Repo),
		checkSHA("payload.sha", p.SHA, true),
		checkTime("payload.authored_at", p.AuthoredAt, false),
		checkTime("payload.committed_at", p.CommittedAt, false),
	)
}

// ReviewState is the verdict of a review.
type ReviewState string

// Review verdicts.
const (
	ReviewApproved         ReviewState = "approved"
	ReviewChangesRequested ReviewState = "changes_requested"
	ReviewCommented        ReviewState = "commented"
	ReviewDismissed        ReviewState = "dismissed"
)

// Change is the payload of change.* events: a pull request (GitHub) or merge
// request (GitLab).
type Change struct {
	Repo     string   `json:"repo"`
	Number   int64    `json:"number"`
	Title    string   `json:"title,omitempty"`
	Author   string   `json:"author,omitempty"`
	HeadSHA  string   `json:"head_sha,omitempty"`
	HeadRef  string   `json:"head_ref,omitempty"`
	BaseRef  string   `json:"base_ref,omitempty"`
	Labels   []string `json:"labels,omitempty"`
	URL      string   `json:"url,omitempty"`
	MergeSHA string   `json:"merge_sha,omitempty"` // change.merged
	// Reviewer and ReviewState are set on change.reviewed.
	Reviewer    string      `json:"reviewer,omitempty"`
	ReviewState ReviewState `json:"review_state,omitempty"`
}

func (p *Change) validate(t EventType) error {
	if err := required("payload.repo", p.Repo); err != nil {
		return err
	}
	if p.Number <= 0 {
		return invalid("payload.number", "must be a positive pull/merge request number")
	}
	if err := firstErr(checkSHA("payload.head_sha", p.HeadSHA, false), checkSHA("payload.merge_sha", p.MergeSHA, t == ChangeMerged)); err != nil {
		return err
	}
	if t == ChangeReviewed {
		if err := required("payload.reviewer", p.Reviewer); err != nil {
			return err
		}
		switch p.ReviewState {
		case ReviewApproved, ReviewChangesRequested, ReviewCommented, ReviewDismissed:
		default:
			return invalid("payload.review_state", "%q is not one of approved, changes_requested, commented, dismissed", p.ReviewState)
		}
	}
	return nil
}

// Outcome is how a pipeline run ended (CDEvents outcomes).
type Outcome string

// Pipeline run outcomes.
const (
	OutcomeSuccess Outcome = "success"
	OutcomeFailure Outcome = "failure"
	OutcomeCancel  Outcome = "cancel"
	OutcomeError   Outcome = "error"
)

// PipelineRun is the payload of pipelinerun.* events: one CI run (one attempt).
type PipelineRun struct {
	RunID    string  `json:"run_id"` // unique per attempt within the source
	Name     string  `json:"name,omitempty"`
	URL      string  `json:"url,omitempty"`
	Repo     string  `json:"repo,omitempty"`
	SHA      string  `json:"sha,omitempty"`
	Branch   string  `json:"branch,omitempty"`
	Outcome  Outcome `json:"outcome,omitempty"` // pipelinerun.finished
	Attempt  int     `json:"attempt,omitempty"`
	Trigger  string  `json:"trigger,omitempty"` // push, pull_request, schedule, …
	ChangeNo int64   `json:"change_number,omitempty"`
}

func (p *PipelineRun) validate(t EventType) error {
	if err := firstErr(required("payload.run_id", p.RunID), checkSHA("payload.sha", p.SHA, false)); err != nil {
		return err
	}
	if t == PipelineRunFinished {
		switch p.Outcome {
		case OutcomeSuccess, OutcomeFailure, OutcomeCancel, OutcomeError:
		default:
			return invalid("payload.outcome", "%q is not one of success, failure, cancel, error", p.Outcome)
		}
	}
	return nil
}

// Artifact is the payload of artifact.* events: a container image.
type Artifact struct {
	Name         string `json:"name"`             // repository, e.g. ghcr.io/acme/api
	Tag          string `json:"tag,omitempty"`    // e.g. 1.4.0-4d09b7b
	Digest       string `json:"digest,omitempty"` // e.g. sha256:…
	SourceRepo   string `json:"source_repo,omitempty"`
	SourceCommit string `json:"source_commit,omitempty"`
	PipelineRun  string `json:"pipeline_run,omitempty"` // run id that built it
}

// Key identifies the artifact: name@digest when the digest is known, else name:tag.
func (p *Artifact) Key() string {
	if p.Digest != "" {
		return p.Name + "@" + p.Digest
	}
	return p.Name + ":" + p.Tag
}

func (p *Artifact) validate(EventType) error {
	if err := required("payload.name", p.Name); err != nil {
		return err
	}
	if p.Tag == "" && p.Digest == "" {
		return invalid("payload.digest", "an artifact needs a tag or a digest")
	}
	return firstErr(checkDigest("payload.digest", p.Digest), checkSHA("payload.source_commit", p.SourceCommit, false))
}

// ManifestOp says what a manifest change did to an image reference.
type ManifestOp string

// Manifest change operations.
const (
	ManifestAdded   ManifestOp = "added"
	ManifestUpdated ManifestOp = "updated"
	ManifestRemoved ManifestOp = "removed"
)

// ManifestChange is the payload of manifest.changed: one image reference
// changed by one commit of a GitOps repository.
type ManifestChange struct {
	Repo          string     `json:"repo"`
	Commit        string     `json:"commit"`
	Path          string     `json:"path"`
	Location      string     `json:"location"` // where in the file: kind/namespace/name/container, or a values key
	Op            ManifestOp `json:"op"`
	OldImage      string     `json:"old_image,omitempty"`
	NewImage      string     `json:"new_image,omitempty"`
	Author        string     `json:"author,omitempty"`
	AuthorEmail   string     `json:"author_email,omitempty"`
	Bot           bool       `json:"bot,omitempty"`
	PR            int64      `json:"pr,omitempty"`
	Revert        bool       `json:"revert,omitempty"`
	SourceCommit  string     `json:"source_commit,omitempty"`
	Subject       string     `json:"subject,omitempty"`
	ParentCommit  string     `json:"parent_commit,omitempty"`
	CommittedTime time.Time  `json:"committed_at,omitzero"`
}

func (p *ManifestChange) validate(EventType) error {
	if err := firstErr(required("payload.repo", p.Repo), checkSHA("payload.commit", p.Commit, true),
		required("payload.path", p.Path), required("payload.location", p.Location),
		checkSHA("payload.source_commit", p.SourceCommit, false)); err != nil {
		return err
	}
	switch p.Op {
	case ManifestAdded:
		return required("payload.new_image", p.NewImage)
	case ManifestUpdated:
		return firstErr(required("payload.old_image", p.OldImage), required("payload.new_image", p.NewImage))
	case ManifestRemoved:
		return required("payload.old_image", p.OldImage)
	}
	return invalid("payload.op", "%q is not one of added, updated, removed", p.Op)
}

// SyncPhase is an Argo CD operation phase.
type SyncPhase string

// Argo CD operation phases.
const (
	PhaseRunning     SyncPhase = "Running"
	PhaseTerminating SyncPhase = "Terminating"
	PhaseFailed      SyncPhase = "Failed"
	PhaseError       SyncPhase = "Error"
	PhaseSucceeded   SyncPhase = "Succeeded"
)

// Sync is the payload of sync.* events: one Argo CD sync operation.
type Sync struct {
	Application string    `json:"application"` // Argo CD Application name
	StartedAt   time.Time `json:"started_at"`  // identifies the operation together with the application
	FinishedAt  time.Time `json:"finished_at,omitzero"`
	Revision    string    `json:"revision,omitempty"`
	Revisions   []string  `json:"revisions,omitempty"`
	Phase       SyncPhase `json:"phase,omitempty"`
	Message     string    `json:"message,omitempty"`
	InitiatedBy string    `json:"initiated_by,omitempty"` // username, empty when automated
	Automated   bool      `json:"automated,omitempty"`
	RetryCount  int64     `json:"retry_count,omitempty"`
	Recovered   bool      `json:"recovered,omitempty"` // reconstructed from status.history after an outage
}

func (p *Sync) validate(t EventType) error {
	if err := firstErr(required("payload.application", p.Application), checkTime("payload.started_at", p.StartedAt, true),
		checkTime("payload.finished_at", p.FinishedAt, t == SyncFinished)); err != nil {
		return err
	}
	switch p.Phase {
	case PhaseRunning, PhaseTerminating, "":
		if t == SyncFinished {
			return invalid("payload.phase", "a finished sync needs phase Succeeded, Failed or Error")
		}
	case PhaseFailed, PhaseError, PhaseSucceeded:
	default:
		return invalid("payload.phase", "%q is not an Argo CD operation phase", p.Phase)
	}
	return nil
}

// HealthStatus is an Argo CD health status.
type HealthStatus string

// Argo CD health statuses.
const (
	Healthy     HealthStatus = "Healthy"
	Progressing HealthStatus = "Progressing"
	Degraded    HealthStatus = "Degraded"
	Suspended   HealthStatus = "Suspended"
	Missing     HealthStatus = "Missing"
	Unknown     HealthStatus = "Unknown"
)

// Health is the payload of health.changed.
type Health struct {
	Application string       `json:"application"`
	Status      HealthStatus `json:"status"`
	Message     string       `json:"message,omitempty"`
	SyncStatus  string       `json:"sync_status,omitempty"` // Synced, OutOfSync, Unknown
	Revision    string       `json:"revision,omitempty"`
}

func (p *Health) validate(EventType) error {
	if err := required("payload.application", p.Application); err != nil {
		return err
	}
	switch p.Status {
	case Healthy, Progressing, Degraded, Suspended, Missing, Unknown:
		return nil
	}
	return invalid("payload.status", "%q is not an Argo CD health status", p.Status)
}

// SyncStatus is the payload of syncstatus.changed: an Argo CD application's
// comparison with Git. Drift is an OutOfSync status while the Git revision
// did not change: someone changed the cluster, not Git.
type SyncStatus struct {
	Application string `json:"application"`
	Status      string `json:"status"` // Synced, OutOfSync, Unknown
	Revision    string `json:"revision,omitempty"`
	Drift       bool   `json:"drift,omitempty"`
}

func (p *SyncStatus) validate(EventType) error {
	if err := required("payload.application", p.Application); err != nil {
		return err
	}
	switch p.Status {
	case "Synced", "OutOfSync", "Unknown":
		return nil
	}
	return invalid("payload.status", "%q is not one of Synced, OutOfSync, Unknown", p.Status)
}

// Revision is the payload of revision.* events: a Knative Revision.
type Revision struct {
	Name    string `json:"name"`
	Service string `json:"service,omitempty"`
	Image   string `json:"image,omitempty"`
	Digest  string `json:"digest,omitempty"`
	Reason  string `json:"reason,omitempty"` // revision.failed
	Message string `json:"message,omitempty"`
}

func (p *Revision) validate(EventType) error {
	return firstErr(required("payload.name", p.Name), checkDigest("payload.digest", p.Digest))
}

// TrafficTarget is one entry of a traffic split.
type TrafficTarget struct {
	Revision string `json:"revision"`
	Percent  int    `json:"percent"`
	Tag      string `json:"tag,omitempty"`
	Latest   bool   `json:"latest,omitempty"`
}

// Traffic is the payload of traffic.changed: the whole split at a time.
type Traffic struct {
	Service string          `json:"service"`
	Targets []TrafficTarget `json:"targets"`
}

func (p *Traffic) validate(EventType) error {
	if err := required("payload.service", p.Service); err != nil {
		return err
	}
	sum := 0
	for i, tt := range p.Targets {
		if err := required(fmt.Sprintf("payload.targets[%d].revision", i), tt.Revision); err != nil {
			return err
		}
		if tt.Percent < 0 || tt.Percent > 100 {
			return invalid(fmt.Sprintf("payload.targets[%d].percent", i), "%d is not within 0–100", tt.Percent)
		}
		sum += tt.Percent
	}
	if len(p.Targets) > 0 && sum != 100 {
		return invalid("payload.targets", "percentages add up to %d, not 100", sum)
	}
	return nil
}

// Scale is the payload of scale.sampled.
type Scale struct {
	Revision string `json:"revision"`
	Service  string `json:"service,omitempty"`
	Actual   int    `json:"actual"`
	Desired  int    `json:"desired"`
}

func (p *Scale) validate(EventType) error {
	if err := required("payload.revision", p.Revision); err != nil {
		return err
	}
	if p.Actual < 0 {
		return invalid("payload.actual", "negative replica count %d", p.Actual)
	}
	if p.Desired < 0 {
		return invalid("payload.desired", "negative replica count %d", p.Desired)
	}
	return nil
}

// Deployment is the payload of service.* events: an artifact became (or
// stopped being) live for an app in an environment.
type Deployment struct {
	Artifact         string   `json:"artifact,omitempty"` // image reference or PURL
	PreviousArtifact string   `json:"previous_artifact,omitempty"`
	Repo             string   `json:"repo,omitempty"` // GitOps repository of the manifest commit
	ManifestCommit   string   `json:"manifest_commit,omitempty"`
	SourceCommit     string   `json:"source_commit,omitempty"`
	Changes          []string `json:"changes,omitempty"`       // source commits shipped, newest first
	InferredFrom     string   `json:"inferred_from,omitempty"` // git, argocd, knative, cdevents, …
	Revision         string   `json:"revision,omitempty"`      // Knative revision, when known
	Author           string   `json:"author,omitempty"`        // who made the change (manifest commit author, sync initiator)
	Bot              bool     `json:"bot,omitempty"`
	PR               int64    `json:"pr,omitempty"`
	Revert           bool     `json:"revert,omitempty"` // the manifest commit reverts an earlier one
}

func (p *Deployment) validate(t EventType) error {
	if t != ServiceRemoved {
		if err := required("payload.artifact", p.Artifact); err != nil {
			return err
		}
	}
	for i, c := range p.Changes {
		if err := checkSHA(fmt.Sprintf("payload.changes[%d]", i), c, true); err != nil {
			return err
		}
	}
	return firstErr(checkSHA("payload.manifest_commit", p.ManifestCommit, false), checkSHA("payload.source_commit", p.SourceCommit, false))
}

// RewrittenCommit is the payload of manifest.rewritten: a GitOps-repository
// commit that was imported from a branch and is no longer on it (the branch
// was force-pushed). What it changed stays recorded, marked rewritten.
type RewrittenCommit struct {
	Repo   string `json:"repo"`
	Commit string `json:"commit"`
	Branch string `json:"branch,omitempty"`
}

func (p *RewrittenCommit) validate(EventType) error {
	return firstErr(required("payload.repo", p.Repo), checkSHA("payload.commit", p.Commit, true))
}

// Incident is the payload of incident.* events.
type Incident struct {
	IncidentID  string `json:"incident_id"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	Service     string `json:"service,omitempty"`
	Artifact    string `json:"artifact,omitempty"` // digest or image the incident is attributed to
	URL         string `json:"url,omitempty"`
	Severity    string `json:"severity,omitempty"`
}

func (p *Incident) validate(EventType) error {
	return required("payload.incident_id", p.IncidentID)
}
