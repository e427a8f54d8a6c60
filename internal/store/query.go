package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// EventFilter selects events from the log. Zero fields do not filter.
type EventFilter struct {
	Source   string
	App      string
	Env      string
	Types    []delivery.EventType
	Entity   string
	Since    time.Time // occurred at or after
	Until    time.Time // occurred before
	AfterSeq int64     // log position strictly after
	ByTime   bool      // order by occurrence time (then seq) instead of log order
	Limit    int       // 0: no limit
}

// where builds a conjunction of conditions with their arguments.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// Events returns the events that match f.
func (s *Store) Events(ctx context.Context, f EventFilter) ([]delivery.Event, error) {
	var w where
	if f.Source != "" {
		w.add("source = ?", f.Source)
	}
	if f.App != "" {
		w.add("app = ?", f.App)
	}
	if f.Env != "" {
		w.add("env = ?", f.Env)
	}
	if len(f.Types) > 0 {
		w.add("type IN ("+placeholders(len(f.Types))+")", typeArgs(f.Types)...)
	}
	if f.Entity != "" {
		w.add("entity = ? AND entity <> ''", f.Entity)
	}
	if !f.Since.IsZero() {
		w.add("occurred_at >= ?", f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		w.add("occurred_at < ?", f.Until.UnixNano())
	}
	if f.AfterSeq > 0 {
		w.add("seq > ?", f.AfterSeq)
	}
	q := "SELECT " + eventColumns + " FROM events" + w.String()
	if f.ByTime {
		q += " ORDER BY occurred_at, seq"
	} else {
		q += " ORDER BY seq"
	}
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := s.read.QueryContext(ctx, s.dialect.Rebind(q), w.args...)
	if err != nil {
		return nil, fmt.Errorf("query events: %w", err)
	}
	events, err := scanEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("query events: %w", err)
	}
	return events, nil
}

func typeArgs(ts []delivery.EventType) []any {
	out := make([]any, len(ts))
	for i, t := range ts {
		out[i] = string(t)
	}
	return out
}

// CountEvents returns the number of events in the log.
func (s *Store) CountEvents(ctx context.Context) (int64, error) {
	var n int64
	if err := s.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM events").Scan(&n); err != nil {
		return 0, fmt.Errorf("count events: %w", err)
	}
	return n, nil
}

// scanEvents reads rows of eventColumns and closes them.
func scanEvents(rows *sql.Rows) ([]delivery.Event, error) {
	defer rows.Close()
	var out []delivery.Event
	for rows.Next() {
		e, err := scanEvent(rows.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// scanEventsInto reads rows of entity followed by eventColumns, grouping
// the events by entity, and closes them.
func scanEventsInto(rows *sql.Rows, byEntity map[string][]delivery.Event) error {
	defer rows.Close()
	for rows.Next() {
		var entity string
		e, err := scanEvent(func(dest ...any) error { return rows.Scan(append([]any{&entity}, dest...)...) })
		if err != nil {
			return err
		}
		byEntity[entity] = append(byEntity[entity], e)
	}
	return rows.Err()
}

// scanEvent reads one row of eventColumns.
func scanEvent(scan func(...any) error) (delivery.Event, error) {
	var e delivery.Event
	var typ, payload string
	var occurred, received int64
	if err := scan(&e.Seq, &e.Source, &e.ID, &typ, &occurred, &received, &e.App, &e.Env, &e.Team, &e.Cluster, &e.Namespace, &payload); err != nil {
		return e, err
	}
	e.Type = delivery.EventType(typ)
	e.Time, e.ReceivedAt = fromNS(occurred), fromNS(received)
	p, err := delivery.UnmarshalPayload(e.Type, []byte(payload))
	if err != nil {
		return e, fmt.Errorf("event %d: %w", e.Seq, err)
	}
	e.Payload = p
	return e, nil
}

// ModelFilter selects rows of the derived model. App and Env apply to tables
// that have them; Since/Until apply to each table's time column (the
// documented one per list method).
type ModelFilter struct {
	App   string
	Env   string
	Repo  string // tables with a repository column
	Since time.Time
	Until time.Time
	Limit int
}

// querier runs queries: the read pool, or a transaction on it.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// list runs a filtered select on t and scans each row with scan.
func list[T any](ctx context.Context, s *Store, t table, f ModelFilter, scan func(sc func(...any) error) (T, error)) ([]T, error) {
	return listOn(ctx, s.read, s.dialect, t, f, 0, scan)
}

// listOn runs a filtered select on t through q, keeping only rows written
// at or after change sequence changedFrom when it is above 0.
func listOn[T any](ctx context.Context, q querier, d Dialect, t table, f ModelFilter, changedFrom int64, scan func(sc func(...any) error) (T, error)) ([]T, error) {
	var w where
	if changedFrom > 0 {
		// A literal, not a parameter: a cached generic plan for "≥ $1"
		// would scan the table instead of its changed_seq index.
		w.add(changedCol + " >= " + strconv.FormatInt(changedFrom, 10))
	}
	if f.App != "" || f.Env != "" {
		if t.appCol == "" {
			return nil, fmt.Errorf("list %s: filtering by app or environment is not possible: the table has no such columns", t.name)
		}
		if f.App != "" {
			w.add(t.appCol+" = ?", f.App)
		}
		if f.Env != "" {
			w.add("env = ?", f.Env)
		}
	}
	if f.Repo != "" {
		if t.repoCol == "" {
			return nil, fmt.Errorf("list %s: filtering by repository is not possible: the table has no such column", t.name)
		}
		w.add(t.repoCol+" = ?", f.Repo)
	}
	if !f.Since.IsZero() {
		w.add(t.timeCol+" >= ?", f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		w.add(t.timeCol+" < ?", f.Until.UnixNano())
	}
	order := t.orderBy
	if order == "" {
		order = t.timeCol + ", " + strings.Join(t.cols[:t.pk], ", ")
	}
	query := "SELECT " + strings.Join(append(slices.Clone(t.cols), t.extra...), ", ") + " FROM " + t.name + w.String() + " ORDER BY " + order
	if f.Limit > 0 {
		query += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := q.QueryContext(ctx, d.Rebind(query), w.args...)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", t.name, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows.Scan)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", t.name, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list %s: %w", t.name, err)
	}
	return out, nil
}

// Apps lists applications per environment (time column: last seen).
func (s *Store) Apps(ctx context.Context, f ModelFilter) ([]delivery.App, error) {
	return list(ctx, s, tblApps, f, func(sc func(...any) error) (delivery.App, error) {
		var r delivery.App
		var first, last int64
		err := sc(&r.Name, &r.Env, &r.Team, &r.Cluster, &r.Namespace, &first, &last, &r.Events)
		r.FirstSeen, r.LastSeen = fromNS(first), fromNS(last)
		return r, err
	})
}

// Commits lists source commits (time column: committed at).
func (s *Store) Commits(ctx context.Context, f ModelFilter) ([]delivery.CommitRecord, error) {
	return list(ctx, s, tblCommits, f, scanCommit)
}

func scanCommit(sc func(...any) error) (delivery.CommitRecord, error) {
	var r delivery.CommitRecord
	var parents string
	var authored, committed int64
	err := sc(&r.Repo, &r.SHA, &r.Source, &parents, &r.Branch, &r.AuthorName, &r.AuthorEmail, &authored, &committed, &r.Subject)
	r.Parents, r.AuthoredAt, r.CommittedAt = splitList(parents), fromNS(authored), fromNS(committed)
	return r, err
}

// Changes lists pull/merge requests (time column: opened at).
func (s *Store) Changes(ctx context.Context, f ModelFilter) ([]delivery.ChangeRecord, error) {
	return list(ctx, s, tblChanges, f, scanChange)
}

func scanChange(sc func(...any) error) (delivery.ChangeRecord, error) {
	var r delivery.ChangeRecord
	var labels, approvers string
	var opened, merged, closed int64
	err := sc(&r.Repo, &r.Number, &r.Title, &r.Author, &r.HeadSHA, &r.HeadRef, &r.BaseRef, &r.URL, &labels,
		&opened, &merged, &r.MergeSHA, &closed, &approvers)
	r.Labels, r.Approvers = splitList(labels), splitList(approvers)
	r.OpenedAt, r.MergedAt, r.ClosedAt = fromNS(opened), fromNS(merged), fromNS(closed)
	return r, err
}

// PipelineRuns lists CI runs (time column: started at).
func (s *Store) PipelineRuns(ctx context.Context, f ModelFilter) ([]delivery.PipelineRunRecord, error) {
	return list(ctx, s, tblPipelineRuns, f, scanPipelineRun)
}

func scanPipelineRun(sc func(...any) error) (delivery.PipelineRunRecord, error) {
	var r delivery.PipelineRunRecord
	var outcome string
	var queued, started, finished int64
	err := sc(&r.Source, &r.RunID, &r.Name, &r.URL, &r.Repo, &r.SHA, &r.Branch, &r.Attempt, &queued, &started, &finished, &outcome)
	r.QueuedAt, r.StartedAt, r.FinishedAt, r.Outcome = fromNS(queued), fromNS(started), fromNS(finished), delivery.Outcome(outcome)
	return r, err
}

// Artifacts lists container images (time column: published at).
func (s *Store) Artifacts(ctx context.Context, f ModelFilter) ([]delivery.ArtifactRecord, error) {
	return list(ctx, s, tblArtifacts, f, scanArtifact)
}

func scanArtifact(sc func(...any) error) (delivery.ArtifactRecord, error) {
	var r delivery.ArtifactRecord
	var packaged, published int64
	err := sc(&r.Key, &r.Name, &r.Tag, &r.Digest, &r.SourceRepo, &r.SourceCommit, &r.PipelineRun, &packaged, &published)
	r.PackagedAt, r.PublishedAt = fromNS(packaged), fromNS(published)
	return r, err
}

// ManifestChanges lists image changes in GitOps repositories (time column: commit time).
func (s *Store) ManifestChanges(ctx context.Context, f ModelFilter) ([]delivery.ManifestChangeRecord, error) {
	return list(ctx, s, tblManifestChanges, f, scanManifestChange)
}

func scanManifestChange(sc func(...any) error) (delivery.ManifestChangeRecord, error) {
	var r delivery.ManifestChangeRecord
	var t int64
	var op string
	var bot, revert int
	err := sc(&r.Repo, &r.Commit, &r.Path, &r.Location, &r.App, &r.Env, &t, &op, &r.OldImage, &r.NewImage, &r.Author, &r.AuthorEmail,
		&bot, &r.PR, &revert, &r.SourceCommit, &r.Subject, &r.ParentCommit)
	r.Time, r.Op, r.Bot, r.Revert = fromNS(t), delivery.ManifestOp(op), bot != 0, revert != 0
	r.CommittedTime = r.Time
	return r, err
}

// Syncs lists Argo CD sync operations (time column: started at).
func (s *Store) Syncs(ctx context.Context, f ModelFilter) ([]delivery.SyncRecord, error) {
	return list(ctx, s, tblSyncs, f, scanSync)
}

func scanSync(sc func(...any) error) (delivery.SyncRecord, error) {
	var r delivery.SyncRecord
	var started, finished int64
	var phase string
	var automated, recovered int
	err := sc(&r.Cluster, &r.Application, &started, &r.App, &r.Env, &finished, &r.Revision, &phase, &r.Message, &r.InitiatedBy, &automated, &recovered)
	r.StartedAt, r.FinishedAt, r.Phase, r.Automated, r.Recovered = fromNS(started), fromNS(finished), delivery.SyncPhase(phase), automated != 0, recovered != 0
	return r, err
}

// HealthTransitions lists Argo CD health changes (time column: time).
func (s *Store) HealthTransitions(ctx context.Context, f ModelFilter) ([]delivery.HealthRecord, error) {
	return list(ctx, s, tblHealth, f, scanHealth)
}

func scanHealth(sc func(...any) error) (delivery.HealthRecord, error) {
	var r delivery.HealthRecord
	var t int64
	var status string
	err := sc(&r.Cluster, &r.Application, &t, &r.App, &r.Env, &status, &r.Message, &r.SyncStatus, &r.Revision)
	r.Time, r.Status = fromNS(t), delivery.HealthStatus(status)
	return r, err
}

// SyncStatuses lists Argo CD sync-status transitions (time column: time).
func (s *Store) SyncStatuses(ctx context.Context, f ModelFilter) ([]delivery.SyncStatusRecord, error) {
	return list(ctx, s, tblSyncStatus, f, scanSyncStatus)
}

func scanSyncStatus(sc func(...any) error) (delivery.SyncStatusRecord, error) {
	var r delivery.SyncStatusRecord
	var t int64
	var drift int
	err := sc(&r.Cluster, &r.Application, &t, &r.App, &r.Env, &r.Status, &r.Revision, &drift)
	r.Time, r.Drift = fromNS(t), drift != 0
	return r, err
}

// Revisions lists Knative revisions (time column: created at).
func (s *Store) Revisions(ctx context.Context, f ModelFilter) ([]delivery.RevisionRecord, error) {
	return list(ctx, s, tblRevisions, f, scanRevision)
}

func scanRevision(sc func(...any) error) (delivery.RevisionRecord, error) {
	var r delivery.RevisionRecord
	var created, ready, failed, deleted int64
	err := sc(&r.Cluster, &r.Namespace, &r.Name, &r.App, &r.Env, &r.Service, &r.Image, &r.Digest, &created, &ready, &failed, &r.Reason, &deleted)
	r.CreatedAt, r.ReadyAt, r.FailedAt, r.DeletedAt = fromNS(created), fromNS(ready), fromNS(failed), fromNS(deleted)
	return r, err
}

// Traffic lists traffic split targets (time column: time).
func (s *Store) Traffic(ctx context.Context, f ModelFilter) ([]delivery.TrafficRecord, error) {
	return list(ctx, s, tblTraffic, f, scanTraffic)
}

func scanTraffic(sc func(...any) error) (delivery.TrafficRecord, error) {
	var r delivery.TrafficRecord
	var t int64
	var latest int
	err := sc(&r.Cluster, &r.Namespace, &r.Service, &t, &r.Revision, &r.Tag, &r.App, &r.Env, &r.Percent, &latest)
	r.Time, r.Latest = fromNS(t), latest != 0
	return r, err
}

// ScaleSamples lists replica observations (time column: time).
func (s *Store) ScaleSamples(ctx context.Context, f ModelFilter) ([]delivery.ScaleRecord, error) {
	return list(ctx, s, tblScale, f, scanScale)
}

func scanScale(sc func(...any) error) (delivery.ScaleRecord, error) {
	var r delivery.ScaleRecord
	var t int64
	err := sc(&r.Cluster, &r.Namespace, &r.Revision, &t, &r.Service, &r.App, &r.Env, &r.Actual, &r.Desired)
	r.Time = fromNS(t)
	return r, err
}

// Deployments lists service.* events (time column: time).
func (s *Store) Deployments(ctx context.Context, f ModelFilter) ([]delivery.DeploymentRecord, error) {
	return list(ctx, s, tblDeployments, f, scanDeployment)
}

func scanDeployment(sc func(...any) error) (delivery.DeploymentRecord, error) {
	var r delivery.DeploymentRecord
	var t int64
	var kind, changes string
	var bot, revert int
	var rewritten bool
	err := sc(&r.Source, &r.EventID, &kind, &r.App, &r.Env, &t, &r.Artifact, &r.PreviousArtifact, &r.Repo, &r.ManifestCommit, &r.SourceCommit,
		&changes, &r.InferredFrom, &r.Revision, &r.Author, &bot, &r.PR, &revert, &rewritten)
	r.Time, r.Kind, r.Changes, r.Bot, r.Revert, r.Rewritten = fromNS(t), delivery.EventType(kind), splitList(changes), bot != 0, revert != 0, rewritten
	return r, err
}

// RewrittenCommits lists GitOps commits that left their branch (time column: when noticed).
func (s *Store) RewrittenCommits(ctx context.Context, f ModelFilter) ([]delivery.RewrittenRecord, error) {
	return list(ctx, s, tblRewritten, f, scanRewritten)
}

func scanRewritten(sc func(...any) error) (delivery.RewrittenRecord, error) {
	var r delivery.RewrittenRecord
	var t int64
	err := sc(&r.Repo, &r.Commit, &r.Branch, &t)
	r.Time = fromNS(t)
	return r, err
}

// Incidents lists incidents (time column: detected at).
func (s *Store) Incidents(ctx context.Context, f ModelFilter) ([]delivery.IncidentRecord, error) {
	return list(ctx, s, tblIncidents, f, scanIncident)
}

func scanIncident(sc func(...any) error) (delivery.IncidentRecord, error) {
	var r delivery.IncidentRecord
	var detected, resolved int64
	err := sc(&r.Source, &r.IncidentID, &r.App, &r.Env, &r.Title, &r.Service, &r.Artifact, &r.URL, &r.Severity, &detected, &resolved)
	r.DetectedAt, r.ResolvedAt = fromNS(detected), fromNS(resolved)
	return r, err
}

// Cursor returns where the named incremental reader stopped, "" if unknown.
func (s *Store) Cursor(ctx context.Context, name string) (string, error) {
	var v string
	err := s.read.QueryRowContext(ctx, s.dialect.Rebind("SELECT value FROM cursors WHERE name = ?"), name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read cursor %s: %w", name, err)
	}
	return v, nil
}

// SetCursor records where the named incremental reader stopped. Call it
// after the events read up to there were appended.
func (s *Store) SetCursor(ctx context.Context, name, value string) error {
	_, err := s.write.ExecContext(ctx, s.dialect.Rebind(`INSERT INTO cursors (name, value, updated_at) VALUES (?, ?, ?)
ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`), name, value, s.now().UnixNano())
	if err != nil {
		return fmt.Errorf("write cursor %s: %w", name, err)
	}
	return nil
}

// CommitsBySHA returns the stored commits with these SHAs, by SHA (a SHA
// found in several repositories maps to one of them).
func (s *Store) CommitsBySHA(ctx context.Context, shas []string) (map[string]delivery.CommitRecord, error) {
	out := make(map[string]delivery.CommitRecord, len(shas))
	for chunk := range slices.Chunk(shas, 500) {
		args := make([]any, len(chunk))
		for i, sha := range chunk {
			args[i] = sha
		}
		rows, err := s.read.QueryContext(ctx, s.dialect.Rebind("SELECT "+strings.Join(tblCommits.cols, ", ")+
			" FROM commits WHERE sha IN ("+placeholders(len(chunk))+")"), args...)
		if err != nil {
			return nil, fmt.Errorf("read commits: %w", err)
		}
		for rows.Next() {
			r, err := scanCommit(rows.Scan)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("read commits: %w", err)
			}
			out[r.SHA] = r
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("read commits: %w", err)
		}
	}
	return out, nil
}
