package delivery

import (
	"cmp"
	"strings"
)

// Record orders: the store's order of each table of the derived model
// (its time column, then its key), which lists, lookups and the engine's
// in-memory model keep.

// CompareChanges orders pull requests.
func CompareChanges(a, b *ChangeRecord) int {
	return cmp.Or(a.OpenedAt.Compare(b.OpenedAt), strings.Compare(a.Repo, b.Repo), cmp.Compare(a.Number, b.Number))
}

// ComparePipelineRuns orders CI runs.
func ComparePipelineRuns(a, b *PipelineRunRecord) int {
	return cmp.Or(a.StartedAt.Compare(b.StartedAt), strings.Compare(a.Source, b.Source), strings.Compare(a.RunID, b.RunID))
}

// CompareArtifacts orders artifacts.
func CompareArtifacts(a, b *ArtifactRecord) int {
	return cmp.Or(a.PublishedAt.Compare(b.PublishedAt), strings.Compare(a.Key, b.Key))
}

// CompareCommits orders commits.
func CompareCommits(a, b *CommitRecord) int {
	return cmp.Or(a.CommittedAt.Compare(b.CommittedAt), strings.Compare(a.Repo, b.Repo), strings.Compare(a.SHA, b.SHA))
}

// CompareSyncs orders Argo CD syncs.
func CompareSyncs(a, b *SyncRecord) int {
	return cmp.Or(a.StartedAt.Compare(b.StartedAt), strings.Compare(a.Cluster, b.Cluster), strings.Compare(a.Application, b.Application))
}

// CompareHealth orders health transitions.
func CompareHealth(a, b *HealthRecord) int {
	return cmp.Or(a.Time.Compare(b.Time), strings.Compare(a.Cluster, b.Cluster), strings.Compare(a.Application, b.Application))
}

// CompareRevisions orders Knative revisions.
func CompareRevisions(a, b *RevisionRecord) int {
	return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.Cluster, b.Cluster), strings.Compare(a.Namespace, b.Namespace),
		strings.Compare(a.Name, b.Name))
}

// CompareIncidents orders incidents.
func CompareIncidents(a, b *IncidentRecord) int {
	return cmp.Or(a.DetectedAt.Compare(b.DetectedAt), strings.Compare(a.Source, b.Source), strings.Compare(a.IncidentID, b.IncidentID))
}

// CompareScale orders Knative scale samples.
func CompareScale(a, b *ScaleRecord) int {
	return cmp.Or(a.Time.Compare(b.Time), strings.Compare(a.Cluster, b.Cluster), strings.Compare(a.Namespace, b.Namespace),
		strings.Compare(a.Revision, b.Revision))
}

// CompareDeployments orders deployment records.
func CompareDeployments(a, b *DeploymentRecord) int {
	return cmp.Or(a.Time.Compare(b.Time), strings.Compare(a.App, b.App), strings.Compare(a.Env, b.Env),
		strings.Compare(a.Source, b.Source), strings.Compare(a.EventID, b.EventID))
}

// CompareSyncStatuses orders sync status changes.
func CompareSyncStatuses(a, b *SyncStatusRecord) int {
	return cmp.Or(a.Time.Compare(b.Time), strings.Compare(a.Cluster, b.Cluster), strings.Compare(a.Application, b.Application))
}

// CompareManifestChanges orders manifest changes.
func CompareManifestChanges(a, b *ManifestChangeRecord) int {
	return cmp.Or(a.Time.Compare(b.Time), strings.Compare(a.Repo, b.Repo), strings.Compare(a.Commit, b.Commit),
		strings.Compare(a.Path, b.Path), strings.Compare(a.Location, b.Location))
}

// CompareTraffic orders traffic records.
func CompareTraffic(a, b *TrafficRecord) int {
	return cmp.Or(a.Time.Compare(b.Time), strings.Compare(a.Cluster, b.Cluster), strings.Compare(a.Namespace, b.Namespace),
		strings.Compare(a.Service, b.Service), strings.Compare(a.Revision, b.Revision), strings.Compare(a.Tag, b.Tag))
}
