-- shiplog schema version 2 (SQLite): change tracking.
-- Every derived-model row records the change sequence of the append
-- transaction that last wrote it (changed_seq, 0 for rows written before
-- this version), so that readers keeping the model in memory (the engine)
-- can read only what changed since they last looked. What the number is
-- depends on the database: see docs/store.md ("Change tracking").
ALTER TABLE commits ADD COLUMN changed_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX commits_changed ON commits (changed_seq);
ALTER TABLE changes ADD COLUMN changed_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX changes_changed ON changes (changed_seq);
ALTER TABLE pipeline_runs ADD COLUMN changed_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX pipeline_runs_changed ON pipeline_runs (changed_seq);
ALTER TABLE artifacts ADD COLUMN changed_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX artifacts_changed ON artifacts (changed_seq);
ALTER TABLE manifest_changes ADD COLUMN changed_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX manifest_changes_changed ON manifest_changes (changed_seq);
ALTER TABLE syncs ADD COLUMN changed_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX syncs_changed ON syncs (changed_seq);
ALTER TABLE health ADD COLUMN changed_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX health_changed ON health (changed_seq);
ALTER TABLE sync_status ADD COLUMN changed_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX sync_status_changed ON sync_status (changed_seq);
ALTER TABLE revisions ADD COLUMN changed_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX revisions_changed ON revisions (changed_seq);
ALTER TABLE traffic ADD COLUMN changed_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX traffic_changed ON traffic (changed_seq);
ALTER TABLE scale ADD COLUMN changed_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX scale_changed ON scale (changed_seq);
ALTER TABLE deployments ADD COLUMN changed_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX deployments_changed ON deployments (changed_seq);
ALTER TABLE rewritten_commits ADD COLUMN changed_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX rewritten_commits_changed ON rewritten_commits (changed_seq);
ALTER TABLE incidents ADD COLUMN changed_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX incidents_changed ON incidents (changed_seq);
