package store

import (
	"slices"
	"strings"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// table describes one derived-model table: its columns in row order, how
// many leading columns form the primary key, the time column that range
// filters and ordering use, its app column (with env beside it) and repo
// column, if any, and computed columns read after cols.
type table struct {
	name    string
	cols    []string
	pk      int
	timeCol string
	appCol  string
	repoCol string
	extra   []string
	orderBy string // default: the time column, then the key
}

var (
	tblApps = table{name: "apps", pk: 2, timeCol: "last_seen", appCol: "name",
		cols: []string{"name", "env", "team", "cluster", "namespace", "first_seen", "last_seen", "events"}}
	tblCommits = table{name: "commits", pk: 2, timeCol: "committed_at", repoCol: "repo",
		cols: []string{"repo", "sha", "source", "parents", "branch", "author_name", "author_email", "authored_at", "committed_at", "subject"}}
	tblChanges = table{name: "changes", pk: 2, timeCol: "opened_at", repoCol: "repo",
		cols: []string{"repo", "number", "title", "author", "head_sha", "head_ref", "base_ref", "url", "labels", "opened_at", "merged_at", "merge_sha", "closed_at", "approvers"}}
	tblPipelineRuns = table{name: "pipeline_runs", pk: 2, timeCol: "started_at",
		cols: []string{"source", "run_id", "name", "url", "repo", "sha", "branch", "attempt", "queued_at", "started_at", "finished_at", "outcome"}}
	tblArtifacts = table{name: "artifacts", pk: 1, timeCol: "published_at",
		cols: []string{"key", "name", "tag", "digest", "source_repo", "source_commit", "pipeline_run", "packaged_at", "published_at"}}
	tblManifestChanges = table{name: "manifest_changes", pk: 4, timeCol: "time", appCol: "app", repoCol: "repo",
		cols: []string{"repo", "commit_sha", "path", "location", "app", "env", "time", "op", "old_image", "new_image", "author", "author_email",
			"bot", "pr", "revert", "source_commit", "subject", "parent_commit"}}
	tblSyncs = table{name: "syncs", pk: 3, timeCol: "started_at", appCol: "app",
		cols: []string{"cluster", "application", "started_at", "app", "env", "finished_at", "revision", "phase", "message", "initiated_by", "automated", "recovered"}}
	tblHealth = table{name: "health", pk: 3, timeCol: "time", appCol: "app",
		cols: []string{"cluster", "application", "time", "app", "env", "status", "message", "sync_status", "revision"}}
	tblSyncStatus = table{name: "sync_status", pk: 3, timeCol: "time", appCol: "app",
		cols: []string{"cluster", "application", "time", "app", "env", "status", "revision", "drift"}}
	tblRevisions = table{name: "revisions", pk: 3, timeCol: "created_at", appCol: "app",
		cols: []string{"cluster", "namespace", "name", "app", "env", "service", "image", "digest", "created_at", "ready_at", "failed_at", "reason", "deleted_at"}}
	tblTraffic = table{name: "traffic", pk: 6, timeCol: "time", appCol: "app",
		cols: []string{"cluster", "namespace", "service", "time", "revision", "tag", "app", "env", "percent", "latest"}}
	tblScale = table{name: "scale", pk: 4, timeCol: "time", appCol: "app",
		cols: []string{"cluster", "namespace", "revision", "time", "service", "app", "env", "actual", "desired"}}
	tblDeployments = table{name: "deployments", pk: 2, timeCol: "time", appCol: "app", repoCol: "repo",
		cols: []string{"source", "event_id", "kind", "app", "env", "time", "artifact", "previous_artifact", "repo", "manifest_commit", "source_commit",
			"changes", "inferred_from", "revision", "author", "bot", "pr", "revert"},
		extra:   []string{"EXISTS (SELECT 1 FROM rewritten_commits rc WHERE rc.repo = deployments.repo AND rc.commit_sha = deployments.manifest_commit)"},
		orderBy: "time, app, env, source, event_id"}
	tblRewritten = table{name: "rewritten_commits", pk: 2, timeCol: "time", repoCol: "repo",
		cols: []string{"repo", "commit_sha", "branch", "time"}}
	tblIncidents = table{name: "incidents", pk: 2, timeCol: "detected_at", appCol: "app",
		cols: []string{"source", "incident_id", "app", "env", "title", "service", "artifact", "url", "severity", "detected_at", "resolved_at"}}
)

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// changedCol is the column every derived row carries after its own: the
// change sequence of the transaction that last wrote it.
const changedCol = "changed_seq"

// insertOnce is an INSERT of n rows (each followed by its change sequence)
// that leaves existing rows with the same key alone (and keeps the first of
// equal keys within the statement).
func insertOnce(t table, n int) string {
	return "INSERT INTO " + t.name + " (" + strings.Join(t.cols, ", ") + ", " + changedCol + ") VALUES " + valueRows(len(t.cols)+1, n) +
		" ON CONFLICT (" + strings.Join(t.cols[:t.pk], ", ") + ") DO NOTHING"
}

// upsert is an INSERT of n rows (each followed by its change sequence),
// with distinct keys, that replaces every non-key column of existing rows.
func upsert(t table, n int) string {
	sets := make([]string, 0, len(t.cols)-t.pk+1)
	for _, c := range append(slices.Clone(t.cols[t.pk:]), changedCol) {
		sets = append(sets, c+" = excluded."+c)
	}
	return "INSERT INTO " + t.name + " (" + strings.Join(t.cols, ", ") + ", " + changedCol + ") VALUES " + valueRows(len(t.cols)+1, n) +
		" ON CONFLICT (" + strings.Join(t.cols[:t.pk], ", ") + ") DO UPDATE SET " + strings.Join(sets, ", ")
}

// ns stores a time as Unix nanoseconds, 0 for the zero time.
func ns(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromNS reads a stored time; 0 is the zero time.
func fromNS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(0, v).UTC()
}

// joinList stores a string list; elements never contain newlines.
func joinList(l []string) string { return strings.Join(l, "\n") }

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func commitRow(r delivery.CommitRecord) []any {
	return []any{r.Repo, r.SHA, r.Source, joinList(r.Parents), r.Branch, r.AuthorName, r.AuthorEmail, ns(r.AuthoredAt), ns(r.CommittedAt), r.Subject}
}

func changeRow(r delivery.ChangeRecord) []any {
	return []any{r.Repo, r.Number, r.Title, r.Author, r.HeadSHA, r.HeadRef, r.BaseRef, r.URL, joinList(r.Labels),
		ns(r.OpenedAt), ns(r.MergedAt), r.MergeSHA, ns(r.ClosedAt), joinList(r.Approvers)}
}

func pipelineRunRow(r delivery.PipelineRunRecord) []any {
	return []any{r.Source, r.RunID, r.Name, r.URL, r.Repo, r.SHA, r.Branch, r.Attempt, ns(r.QueuedAt), ns(r.StartedAt), ns(r.FinishedAt), string(r.Outcome)}
}

func artifactRow(r delivery.ArtifactRecord) []any {
	return []any{r.Key, r.Name, r.Tag, r.Digest, r.SourceRepo, r.SourceCommit, r.PipelineRun, ns(r.PackagedAt), ns(r.PublishedAt)}
}

func manifestChangeRow(r delivery.ManifestChangeRecord) []any {
	return []any{r.Repo, r.Commit, r.Path, r.Location, r.App, r.Env, ns(r.Time), string(r.Op), r.OldImage, r.NewImage, r.Author, r.AuthorEmail,
		boolInt(r.Bot), r.PR, boolInt(r.Revert), r.SourceCommit, r.Subject, r.ParentCommit}
}

func syncRow(r delivery.SyncRecord) []any {
	return []any{r.Cluster, r.Application, ns(r.StartedAt), r.App, r.Env, ns(r.FinishedAt), r.Revision, string(r.Phase), r.Message,
		r.InitiatedBy, boolInt(r.Automated), boolInt(r.Recovered)}
}

func revisionRow(r delivery.RevisionRecord) []any {
	return []any{r.Cluster, r.Namespace, r.Name, r.App, r.Env, r.Service, r.Image, r.Digest, ns(r.CreatedAt), ns(r.ReadyAt), ns(r.FailedAt), r.Reason, ns(r.DeletedAt)}
}

func incidentRow(r delivery.IncidentRecord) []any {
	return []any{r.Source, r.IncidentID, r.App, r.Env, r.Title, r.Service, r.Artifact, r.URL, r.Severity, ns(r.DetectedAt), ns(r.ResolvedAt)}
}
