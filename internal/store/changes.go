package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// ModelTable names derived-model tables, for ModelChanges.
type ModelTable uint32

// The tables ModelChanges can read.
const (
	TableCommits ModelTable = 1 << iota
	TableChanges
	TablePipelineRuns
	TableArtifacts
	TableManifestChanges
	TableSyncs
	TableHealth
	TableSyncStatus
	TableRevisions
	TableTraffic
	TableScale
	TableDeployments
	TableRewritten
	TableIncidents

	AllTables = TableIncidents<<1 - 1
)

var changeTables = []struct {
	bit ModelTable
	t   table
}{
	{TableCommits, tblCommits}, {TableChanges, tblChanges}, {TablePipelineRuns, tblPipelineRuns}, {TableArtifacts, tblArtifacts},
	{TableManifestChanges, tblManifestChanges}, {TableSyncs, tblSyncs}, {TableHealth, tblHealth}, {TableSyncStatus, tblSyncStatus},
	{TableRevisions, tblRevisions}, {TableTraffic, tblTraffic}, {TableScale, tblScale}, {TableDeployments, tblDeployments},
	{TableRewritten, tblRewritten}, {TableIncidents, tblIncidents},
}

// ModelChanges is what changed in some tables of the derived model since a
// horizon: every row written at or after it (a row written several times
// appears once, as it is now), each table in its usual order. A row may
// also appear when it did not change since the last read: readers compare.
type ModelChanges struct {
	// From is the horizon the changes were read from; Horizon is the one to
	// read from next time.
	From, Horizon int64

	Commits         []delivery.CommitRecord
	Changes         []delivery.ChangeRecord
	PipelineRuns    []delivery.PipelineRunRecord
	Artifacts       []delivery.ArtifactRecord
	ManifestChanges []delivery.ManifestChangeRecord
	Syncs           []delivery.SyncRecord
	Health          []delivery.HealthRecord
	SyncStatus      []delivery.SyncStatusRecord
	Revisions       []delivery.RevisionRecord
	Traffic         []delivery.TrafficRecord
	Scale           []delivery.ScaleRecord
	Deployments     []delivery.DeploymentRecord
	Rewritten       []delivery.RewrittenRecord
	Incidents       []delivery.IncidentRecord
}

// Rows is the number of rows read.
func (c *ModelChanges) Rows() int {
	return len(c.Commits) + len(c.Changes) + len(c.PipelineRuns) + len(c.Artifacts) + len(c.ManifestChanges) + len(c.Syncs) +
		len(c.Health) + len(c.SyncStatus) + len(c.Revisions) + len(c.Traffic) + len(c.Scale) + len(c.Deployments) + len(c.Rewritten) + len(c.Incidents)
}

// ModelChanges reads, in one consistent snapshot, the rows of the tables
// in want written at or after horizon from (0: every row), and the horizon
// to pass next time. Reading from each returned horizon in turn misses no
// write, whatever the order in which concurrent append transactions
// commit, on one store or several replicas of it: see docs/store.md.
func (s *Store) ModelChanges(ctx context.Context, from int64, want ModelTable) (*ModelChanges, error) {
	tx, err := s.read.BeginTx(ctx, s.dialect.SnapshotOptions())
	if err != nil {
		return nil, fmt.Errorf("read model changes: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	out := &ModelChanges{From: from}
	if out.Horizon, err = s.dialect.Horizon(ctx, tx); err != nil {
		return nil, fmt.Errorf("read model changes: horizon: %w", err)
	}
	all := ModelFilter{}
	d := s.dialect
	for _, ct := range changeTables {
		if want&ct.bit == 0 {
			continue
		}
		var err error
		switch ct.bit {
		case TableCommits:
			out.Commits, err = listOn(ctx, tx, d, ct.t, all, from, scanCommit)
		case TableChanges:
			out.Changes, err = listOn(ctx, tx, d, ct.t, all, from, scanChange)
		case TablePipelineRuns:
			out.PipelineRuns, err = listOn(ctx, tx, d, ct.t, all, from, scanPipelineRun)
		case TableArtifacts:
			out.Artifacts, err = listOn(ctx, tx, d, ct.t, all, from, scanArtifact)
		case TableManifestChanges:
			out.ManifestChanges, err = listOn(ctx, tx, d, ct.t, all, from, scanManifestChange)
		case TableSyncs:
			out.Syncs, err = listOn(ctx, tx, d, ct.t, all, from, scanSync)
		case TableHealth:
			out.Health, err = listOn(ctx, tx, d, ct.t, all, from, scanHealth)
		case TableSyncStatus:
			out.SyncStatus, err = listOn(ctx, tx, d, ct.t, all, from, scanSyncStatus)
		case TableRevisions:
			out.Revisions, err = listOn(ctx, tx, d, ct.t, all, from, scanRevision)
		case TableTraffic:
			out.Traffic, err = listOn(ctx, tx, d, ct.t, all, from, scanTraffic)
		case TableScale:
			out.Scale, err = listOn(ctx, tx, d, ct.t, all, from, scanScale)
		case TableDeployments:
			out.Deployments, err = listOn(ctx, tx, d, ct.t, all, from, scanDeployment)
		case TableRewritten:
			out.Rewritten, err = listOn(ctx, tx, d, ct.t, all, from, scanRewritten)
		case TableIncidents:
			out.Incidents, err = listOn(ctx, tx, d, ct.t, all, from, scanIncident)
		}
		if err != nil {
			return nil, fmt.Errorf("read model changes: %w", err)
		}
	}
	return out, nil
}

// ModelChanged reports whether a row of the tables in want was written at
// or after horizon from: it reads the highest change sequence of each table
// (from its index), in one statement. A true answer may be stale (rows a
// reader already saw can stay above its horizon until the transactions
// around them end); a false one is not.
func (s *Store) ModelChanged(ctx context.Context, from int64, want ModelTable) (bool, error) {
	var probes []string
	for _, ct := range changeTables {
		if want&ct.bit != 0 {
			probes = append(probes, "SELECT (SELECT MAX("+changedCol+") FROM "+ct.t.name+")")
		}
	}
	if len(probes) == 0 {
		return false, nil
	}
	rows, err := s.read.QueryContext(ctx, strings.Join(probes, " UNION ALL "))
	if err != nil {
		return false, fmt.Errorf("probe model changes: %w", err)
	}
	defer rows.Close()
	changed := false
	for rows.Next() {
		var v sql.NullInt64
		if err := rows.Scan(&v); err != nil {
			return false, fmt.Errorf("probe model changes: %w", err)
		}
		changed = changed || v.Valid && v.Int64 >= from
	}
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("probe model changes: %w", err)
	}
	return changed, nil
}
