package delivery

import (
	"cmp"
	"slices"
	"time"
)

// The derived model: one record type per table that stores keep up to date
// as events are appended. Records that several events contribute to (a pull
// request, a pipeline run, a sync operation, a revision, an artifact, an
// incident) are rebuilt by folding all events of their entity in a fixed order,
// so the result does not depend on the order in which events arrived.

// App is an application in one environment, as seen in events.
type App struct {
	Name      string    `json:"name"`
	Env       string    `json:"environment"`
	Team      string    `json:"team,omitempty"`
	Cluster   string    `json:"cluster,omitempty"`
	Namespace string    `json:"namespace,omitempty"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	Events    int64     `json:"events"`
}

// CommitRecord is a source commit.
type CommitRecord struct {
	Commit
	Source string `json:"source"`
}

// ChangeRecord is a pull or merge request, folded from its change.* events.
type ChangeRecord struct {
	Repo      string    `json:"repo"`
	Number    int64     `json:"number"`
	Title     string    `json:"title,omitempty"`
	Author    string    `json:"author,omitempty"`
	HeadSHA   string    `json:"head_sha,omitempty"`
	HeadRef   string    `json:"head_ref,omitempty"`
	BaseRef   string    `json:"base_ref,omitempty"`
	URL       string    `json:"url,omitempty"`
	Labels    []string  `json:"labels,omitempty"`
	OpenedAt  time.Time `json:"opened_at,omitzero"`
	MergedAt  time.Time `json:"merged_at,omitzero"`
	MergeSHA  string    `json:"merge_sha,omitempty"`
	ClosedAt  time.Time `json:"closed_at,omitzero"`
	Approvers []string  `json:"approvers,omitempty"` // reviewers whose latest review approves, sorted
}

// PipelineRunRecord is one CI run attempt, folded from pipelinerun.* events.
type PipelineRunRecord struct {
	Source     string    `json:"source"`
	RunID      string    `json:"run_id"`
	Name       string    `json:"name,omitempty"`
	URL        string    `json:"url,omitempty"`
	Repo       string    `json:"repo,omitempty"`
	SHA        string    `json:"sha,omitempty"`
	Branch     string    `json:"branch,omitempty"`
	Attempt    int       `json:"attempt,omitempty"`
	QueuedAt   time.Time `json:"queued_at,omitzero"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	Outcome    Outcome   `json:"outcome,omitempty"`
}

// ArtifactRecord is a container image, folded from artifact.* events.
type ArtifactRecord struct {
	Key          string    `json:"key"`
	Name         string    `json:"name"`
	Tag          string    `json:"tag,omitempty"`
	Digest       string    `json:"digest,omitempty"`
	SourceRepo   string    `json:"source_repo,omitempty"`
	SourceCommit string    `json:"source_commit,omitempty"`
	PipelineRun  string    `json:"pipeline_run,omitempty"`
	PackagedAt   time.Time `json:"packaged_at,omitzero"`
	PublishedAt  time.Time `json:"published_at,omitzero"`
}

// ManifestChangeRecord is one image change in a GitOps repository commit.
type ManifestChangeRecord struct {
	ManifestChange
	App  string    `json:"app"`
	Env  string    `json:"environment"`
	Time time.Time `json:"time"`
}

// SyncRecord is one Argo CD sync operation, folded from sync.* events.
type SyncRecord struct {
	Cluster     string    `json:"cluster,omitempty"`
	Application string    `json:"application"`
	App         string    `json:"app,omitempty"`
	Env         string    `json:"environment,omitempty"`
	StartedAt   time.Time `json:"started_at"`
	FinishedAt  time.Time `json:"finished_at,omitzero"`
	Revision    string    `json:"revision,omitempty"`
	Phase       SyncPhase `json:"phase,omitempty"`
	Message     string    `json:"message,omitempty"`
	InitiatedBy string    `json:"initiated_by,omitempty"`
	Automated   bool      `json:"automated"`
	Recovered   bool      `json:"recovered,omitempty"`
}

// HealthRecord is one Argo CD health transition.
type HealthRecord struct {
	Cluster string    `json:"cluster,omitempty"`
	App     string    `json:"app,omitempty"`
	Env     string    `json:"environment,omitempty"`
	Time    time.Time `json:"time"`
	Health
}

// SyncStatusRecord is one Argo CD sync-status transition.
type SyncStatusRecord struct {
	Cluster string    `json:"cluster,omitempty"`
	App     string    `json:"app,omitempty"`
	Env     string    `json:"environment,omitempty"`
	Time    time.Time `json:"time"`
	SyncStatus
}

// RevisionRecord is a Knative Revision's life, folded from revision.* events.
type RevisionRecord struct {
	Cluster   string    `json:"cluster,omitempty"`
	Namespace string    `json:"namespace,omitempty"`
	Name      string    `json:"name"`
	App       string    `json:"app,omitempty"`
	Env       string    `json:"environment,omitempty"`
	Service   string    `json:"service,omitempty"`
	Image     string    `json:"image,omitempty"`
	Digest    string    `json:"digest,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	ReadyAt   time.Time `json:"ready_at,omitzero"`
	FailedAt  time.Time `json:"failed_at,omitzero"`
	Reason    string    `json:"reason,omitempty"`
	DeletedAt time.Time `json:"deleted_at,omitzero"`
}

// TrafficRecord is one target of a Knative Service's traffic split at a time.
type TrafficRecord struct {
	Cluster   string    `json:"cluster,omitempty"`
	Namespace string    `json:"namespace,omitempty"`
	Service   string    `json:"service"`
	App       string    `json:"app,omitempty"`
	Env       string    `json:"environment,omitempty"`
	Time      time.Time `json:"time"`
	TrafficTarget
}

// ScaleRecord is one observation of a revision's replicas.
type ScaleRecord struct {
	Cluster   string    `json:"cluster,omitempty"`
	Namespace string    `json:"namespace,omitempty"`
	App       string    `json:"app,omitempty"`
	Env       string    `json:"environment,omitempty"`
	Time      time.Time `json:"time"`
	Scale
}

// DeploymentRecord is a service.* event: an artifact became live (or was
// removed) for an app in an environment.
type DeploymentRecord struct {
	Source  string    `json:"source"`
	EventID string    `json:"event_id"`
	Kind    EventType `json:"kind"`
	App     string    `json:"app"`
	Env     string    `json:"environment"`
	Time    time.Time `json:"time"`
	Deployment
	Rewritten bool `json:"rewritten,omitempty"` // its manifest commit left the branch (force-push)
}

// RewrittenRecord is a GitOps commit no longer on its branch.
type RewrittenRecord struct {
	RewrittenCommit
	Time time.Time `json:"time"` // when the rewrite was noticed
}

// IncidentRecord is an incident, folded from incident.* events.
type IncidentRecord struct {
	Source     string    `json:"source"`
	IncidentID string    `json:"incident_id"`
	App        string    `json:"app,omitempty"`
	Env        string    `json:"environment,omitempty"`
	Title      string    `json:"title,omitempty"`
	Service    string    `json:"service,omitempty"`
	Artifact   string    `json:"artifact,omitempty"`
	URL        string    `json:"url,omitempty"`
	Severity   string    `json:"severity,omitempty"`
	DetectedAt time.Time `json:"detected_at,omitzero"`
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
}

// SortForFold orders the events of one entity deterministically: by time,
// then type rank, then source and id. Folding in this order makes a record
// independent of arrival order.
func SortForFold(events []Event) {
	slices.SortStableFunc(events, func(a, b Event) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Type.Rank(), b.Type.Rank()),
			cmp.Compare(a.Type, b.Type), cmp.Compare(a.Source, b.Source), cmp.Compare(a.ID, b.ID))
	})
}

// set overwrites *dst with v when v is not empty.
func set[T comparable](dst *T, v T) {
	var zero T
	if v != zero {
		*dst = v
	}
}

// setTime overwrites *dst with t when t is not zero.
func setTime(dst *time.Time, t time.Time) {
	if !t.IsZero() {
		*dst = t.UTC()
	}
}

// FoldChange builds a pull/merge request from its events, sorted by SortForFold.
func FoldChange(events []Event) ChangeRecord {
	var r ChangeRecord
	latestReview := map[string]ReviewState{}
	for _, e := range events {
		p, ok := e.Payload.(*Change)
		if !ok {
			continue
		}
		r.Repo, r.Number = p.Repo, p.Number
		set(&r.Title, p.Title)
		set(&r.Author, p.Author)
		set(&r.HeadSHA, p.HeadSHA)
		set(&r.HeadRef, p.HeadRef)
		set(&r.BaseRef, p.BaseRef)
		set(&r.URL, p.URL)
		if len(p.Labels) > 0 {
			r.Labels = slices.Clone(p.Labels)
		}
		switch e.Type {
		case ChangeCreated:
			if r.OpenedAt.IsZero() {
				setTime(&r.OpenedAt, e.Time)
			}
		case ChangeReviewed:
			latestReview[p.Reviewer] = p.ReviewState
		case ChangeMerged:
			setTime(&r.MergedAt, e.Time)
			set(&r.MergeSHA, p.MergeSHA)
			setTime(&r.ClosedAt, e.Time)
		case ChangeAbandoned:
			if r.MergedAt.IsZero() {
				setTime(&r.ClosedAt, e.Time)
			}
		}
	}
	for reviewer, state := range latestReview {
		if state == ReviewApproved {
			r.Approvers = append(r.Approvers, reviewer)
		}
	}
	slices.Sort(r.Approvers)
	return r
}

// FoldPipelineRun builds a CI run from its events, sorted by SortForFold.
func FoldPipelineRun(events []Event) PipelineRunRecord {
	var r PipelineRunRecord
	for _, e := range events {
		p, ok := e.Payload.(*PipelineRun)
		if !ok {
			continue
		}
		r.Source, r.RunID = e.Source, p.RunID
		set(&r.Name, p.Name)
		set(&r.URL, p.URL)
		set(&r.Repo, p.Repo)
		set(&r.SHA, p.SHA)
		set(&r.Branch, p.Branch)
		set(&r.Attempt, p.Attempt)
		switch e.Type {
		case PipelineRunQueued:
			setTime(&r.QueuedAt, e.Time)
		case PipelineRunStarted:
			setTime(&r.StartedAt, e.Time)
		case PipelineRunFinished:
			setTime(&r.FinishedAt, e.Time)
			r.Outcome = p.Outcome
		}
	}
	return r
}

// FoldArtifact builds an artifact from its events, sorted by SortForFold.
func FoldArtifact(events []Event) ArtifactRecord {
	var r ArtifactRecord
	for _, e := range events {
		p, ok := e.Payload.(*Artifact)
		if !ok {
			continue
		}
		r.Key, r.Name = p.Key(), p.Name
		set(&r.Tag, p.Tag)
		set(&r.Digest, p.Digest)
		set(&r.SourceRepo, p.SourceRepo)
		set(&r.SourceCommit, p.SourceCommit)
		set(&r.PipelineRun, p.PipelineRun)
		switch e.Type {
		case ArtifactPackaged:
			if r.PackagedAt.IsZero() {
				setTime(&r.PackagedAt, e.Time)
			}
		case ArtifactPublished:
			if r.PublishedAt.IsZero() {
				setTime(&r.PublishedAt, e.Time)
			}
		}
	}
	return r
}

// FoldSync builds an Argo CD sync operation from its events, sorted by SortForFold.
func FoldSync(events []Event) SyncRecord {
	var r SyncRecord
	for _, e := range events {
		p, ok := e.Payload.(*Sync)
		if !ok {
			continue
		}
		r.Cluster, r.Application, r.StartedAt = e.Cluster, p.Application, p.StartedAt.UTC()
		set(&r.App, e.App)
		set(&r.Env, e.Env)
		set(&r.Revision, p.Revision)
		set(&r.Message, p.Message)
		set(&r.InitiatedBy, p.InitiatedBy)
		r.Automated = r.Automated || p.Automated
		r.Recovered = r.Recovered || p.Recovered
		setTime(&r.FinishedAt, p.FinishedAt)
		if p.Phase != "" && (e.Type == SyncFinished || r.FinishedAt.IsZero()) {
			r.Phase = p.Phase
		}
	}
	if r.Phase == "" {
		r.Phase = PhaseRunning
	}
	return r
}

// FoldRevision builds a Knative revision's life from its events, sorted by SortForFold.
func FoldRevision(events []Event) RevisionRecord {
	var r RevisionRecord
	for _, e := range events {
		p, ok := e.Payload.(*Revision)
		if !ok {
			continue
		}
		r.Cluster, r.Namespace, r.Name = e.Cluster, e.Namespace, p.Name
		set(&r.App, e.App)
		set(&r.Env, e.Env)
		set(&r.Service, p.Service)
		set(&r.Image, p.Image)
		set(&r.Digest, p.Digest)
		switch e.Type {
		case RevisionCreated:
			if r.CreatedAt.IsZero() {
				setTime(&r.CreatedAt, e.Time)
			}
		case RevisionReady:
			if r.ReadyAt.IsZero() {
				setTime(&r.ReadyAt, e.Time)
			}
		case RevisionFailed:
			setTime(&r.FailedAt, e.Time)
			set(&r.Reason, p.Reason)
		case RevisionDeleted:
			setTime(&r.DeletedAt, e.Time)
		}
	}
	return r
}

// FoldIncident builds an incident from its events, sorted by SortForFold.
func FoldIncident(events []Event) IncidentRecord {
	var r IncidentRecord
	for _, e := range events {
		p, ok := e.Payload.(*Incident)
		if !ok {
			continue
		}
		r.Source, r.IncidentID = e.Source, p.IncidentID
		set(&r.App, e.App)
		set(&r.Env, e.Env)
		set(&r.Title, p.Title)
		set(&r.Service, p.Service)
		set(&r.Artifact, p.Artifact)
		set(&r.URL, p.URL)
		set(&r.Severity, p.Severity)
		switch e.Type {
		case IncidentDetected:
			if r.DetectedAt.IsZero() {
				setTime(&r.DetectedAt, e.Time)
			}
		case IncidentResolved:
			setTime(&r.ResolvedAt, e.Time)
		}
	}
	return r
}
