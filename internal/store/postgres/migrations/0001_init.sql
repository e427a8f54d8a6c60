-- shiplog schema version 1 (PostgreSQL).
-- The event log: append-only; (source, event_id) is the idempotency key.
CREATE TABLE events (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source       TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    type         TEXT NOT NULL,
    occurred_at  BIGINT NOT NULL,
    received_at  BIGINT NOT NULL,
    app          TEXT NOT NULL DEFAULT '',
    env          TEXT NOT NULL DEFAULT '',
    team         TEXT NOT NULL DEFAULT '',
    cluster      TEXT NOT NULL DEFAULT '',
    namespace    TEXT NOT NULL DEFAULT '',
    entity       TEXT NOT NULL DEFAULT '',
    payload      TEXT NOT NULL,
    UNIQUE (source, event_id)
);
CREATE INDEX events_occurred ON events (occurred_at);
CREATE INDEX events_app ON events (app, env, occurred_at);
CREATE INDEX events_type ON events (type, occurred_at);
CREATE INDEX events_entity ON events (entity) WHERE entity <> '';

-- Derived model, maintained incrementally in the same transaction as the
-- event log. Times are Unix nanoseconds, 0 when unknown. Booleans are 0/1.
CREATE TABLE apps (
    name          TEXT NOT NULL,
    env           TEXT NOT NULL,
    team          TEXT NOT NULL DEFAULT '',
    team_at       BIGINT NOT NULL DEFAULT 0,
    cluster       TEXT NOT NULL DEFAULT '',
    cluster_at    BIGINT NOT NULL DEFAULT 0,
    namespace     TEXT NOT NULL DEFAULT '',
    namespace_at  BIGINT NOT NULL DEFAULT 0,
    first_seen    BIGINT NOT NULL,
    last_seen     BIGINT NOT NULL,
    events        BIGINT NOT NULL,
    PRIMARY KEY (name, env)
);

CREATE TABLE commits (
    repo          TEXT NOT NULL,
    sha           TEXT NOT NULL,
    source        TEXT NOT NULL,
    parents       TEXT NOT NULL DEFAULT '',
    branch        TEXT NOT NULL DEFAULT '',
    author_name   TEXT NOT NULL DEFAULT '',
    author_email  TEXT NOT NULL DEFAULT '',
    authored_at   BIGINT NOT NULL DEFAULT 0,
    committed_at  BIGINT NOT NULL DEFAULT 0,
    subject       TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (repo, sha)
);
CREATE INDEX commits_sha ON commits (sha);

CREATE TABLE changes (
    repo       TEXT NOT NULL,
    number     BIGINT NOT NULL,
    title      TEXT NOT NULL DEFAULT '',
    author     TEXT NOT NULL DEFAULT '',
    head_sha   TEXT NOT NULL DEFAULT '',
    head_ref   TEXT NOT NULL DEFAULT '',
    base_ref   TEXT NOT NULL DEFAULT '',
    url        TEXT NOT NULL DEFAULT '',
    labels     TEXT NOT NULL DEFAULT '',
    opened_at  BIGINT NOT NULL DEFAULT 0,
    merged_at  BIGINT NOT NULL DEFAULT 0,
    merge_sha  TEXT NOT NULL DEFAULT '',
    closed_at  BIGINT NOT NULL DEFAULT 0,
    approvers  TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (repo, number)
);
CREATE INDEX changes_merge_sha ON changes (merge_sha);
CREATE INDEX changes_head_sha ON changes (head_sha);

CREATE TABLE pipeline_runs (
    source       TEXT NOT NULL,
    run_id       TEXT NOT NULL,
    name         TEXT NOT NULL DEFAULT '',
    url          TEXT NOT NULL DEFAULT '',
    repo         TEXT NOT NULL DEFAULT '',
    sha          TEXT NOT NULL DEFAULT '',
    branch       TEXT NOT NULL DEFAULT '',
    attempt      BIGINT NOT NULL DEFAULT 0,
    queued_at    BIGINT NOT NULL DEFAULT 0,
    started_at   BIGINT NOT NULL DEFAULT 0,
    finished_at  BIGINT NOT NULL DEFAULT 0,
    outcome      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (source, run_id)
);
CREATE INDEX pipeline_runs_sha ON pipeline_runs (sha);

CREATE TABLE artifacts (
    key            TEXT NOT NULL PRIMARY KEY,
    name           TEXT NOT NULL,
    tag            TEXT NOT NULL DEFAULT '',
    digest         TEXT NOT NULL DEFAULT '',
    source_repo    TEXT NOT NULL DEFAULT '',
    source_commit  TEXT NOT NULL DEFAULT '',
    pipeline_run   TEXT NOT NULL DEFAULT '',
    packaged_at    BIGINT NOT NULL DEFAULT 0,
    published_at   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX artifacts_digest ON artifacts (digest);
CREATE INDEX artifacts_source_commit ON artifacts (source_commit);

CREATE TABLE manifest_changes (
    repo           TEXT NOT NULL,
    commit_sha     TEXT NOT NULL,
    path           TEXT NOT NULL,
    location       TEXT NOT NULL,
    app            TEXT NOT NULL DEFAULT '',
    env            TEXT NOT NULL DEFAULT '',
    time           BIGINT NOT NULL,
    op             TEXT NOT NULL,
    old_image      TEXT NOT NULL DEFAULT '',
    new_image      TEXT NOT NULL DEFAULT '',
    author         TEXT NOT NULL DEFAULT '',
    author_email   TEXT NOT NULL DEFAULT '',
    bot            INTEGER NOT NULL DEFAULT 0,
    pr             BIGINT NOT NULL DEFAULT 0,
    revert         INTEGER NOT NULL DEFAULT 0,
    source_commit  TEXT NOT NULL DEFAULT '',
    subject        TEXT NOT NULL DEFAULT '',
    parent_commit  TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (repo, commit_sha, path, location)
);
CREATE INDEX manifest_changes_app ON manifest_changes (app, env, time);

CREATE TABLE syncs (
    cluster       TEXT NOT NULL,
    application   TEXT NOT NULL,
    started_at    BIGINT NOT NULL,
    app           TEXT NOT NULL DEFAULT '',
    env           TEXT NOT NULL DEFAULT '',
    finished_at   BIGINT NOT NULL DEFAULT 0,
    revision      TEXT NOT NULL DEFAULT '',
    phase         TEXT NOT NULL DEFAULT '',
    message       TEXT NOT NULL DEFAULT '',
    initiated_by  TEXT NOT NULL DEFAULT '',
    automated     INTEGER NOT NULL DEFAULT 0,
    recovered     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (cluster, application, started_at)
);
CREATE INDEX syncs_app ON syncs (app, env, started_at);
CREATE INDEX syncs_revision ON syncs (revision);

CREATE TABLE health (
    cluster      TEXT NOT NULL,
    application  TEXT NOT NULL,
    time         BIGINT NOT NULL,
    app          TEXT NOT NULL DEFAULT '',
    env          TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL,
    message      TEXT NOT NULL DEFAULT '',
    sync_status  TEXT NOT NULL DEFAULT '',
    revision     TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (cluster, application, time)
);
CREATE INDEX health_app ON health (app, env, time);

CREATE TABLE sync_status (
    cluster      TEXT NOT NULL,
    application  TEXT NOT NULL,
    time         BIGINT NOT NULL,
    app          TEXT NOT NULL DEFAULT '',
    env          TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL,
    revision     TEXT NOT NULL DEFAULT '',
    drift        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (cluster, application, time)
);
CREATE INDEX sync_status_app ON sync_status (app, env, time);

CREATE TABLE revisions (
    cluster     TEXT NOT NULL,
    namespace   TEXT NOT NULL,
    name        TEXT NOT NULL,
    app         TEXT NOT NULL DEFAULT '',
    env         TEXT NOT NULL DEFAULT '',
    service     TEXT NOT NULL DEFAULT '',
    image       TEXT NOT NULL DEFAULT '',
    digest      TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL DEFAULT 0,
    ready_at    BIGINT NOT NULL DEFAULT 0,
    failed_at   BIGINT NOT NULL DEFAULT 0,
    reason      TEXT NOT NULL DEFAULT '',
    deleted_at  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (cluster, namespace, name)
);
CREATE INDEX revisions_app ON revisions (app, env, created_at);
CREATE INDEX revisions_digest ON revisions (digest);

CREATE TABLE traffic (
    cluster    TEXT NOT NULL,
    namespace  TEXT NOT NULL,
    service    TEXT NOT NULL,
    time       BIGINT NOT NULL,
    revision   TEXT NOT NULL,
    tag        TEXT NOT NULL DEFAULT '',
    app        TEXT NOT NULL DEFAULT '',
    env        TEXT NOT NULL DEFAULT '',
    percent    INTEGER NOT NULL,
    latest     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (cluster, namespace, service, time, revision, tag)
);
CREATE INDEX traffic_app ON traffic (app, env, time);

CREATE TABLE scale (
    cluster    TEXT NOT NULL,
    namespace  TEXT NOT NULL,
    revision   TEXT NOT NULL,
    time       BIGINT NOT NULL,
    service    TEXT NOT NULL DEFAULT '',
    app        TEXT NOT NULL DEFAULT '',
    env        TEXT NOT NULL DEFAULT '',
    actual     INTEGER NOT NULL,
    desired    INTEGER NOT NULL,
    PRIMARY KEY (cluster, namespace, revision, time)
);
CREATE INDEX scale_app ON scale (app, env, time);

CREATE TABLE deployments (
    source             TEXT NOT NULL,
    event_id           TEXT NOT NULL,
    kind               TEXT NOT NULL,
    app                TEXT NOT NULL,
    env                TEXT NOT NULL,
    time               BIGINT NOT NULL,
    artifact           TEXT NOT NULL DEFAULT '',
    previous_artifact  TEXT NOT NULL DEFAULT '',
    repo               TEXT NOT NULL DEFAULT '',
    manifest_commit    TEXT NOT NULL DEFAULT '',
    source_commit      TEXT NOT NULL DEFAULT '',
    changes            TEXT NOT NULL DEFAULT '',
    inferred_from      TEXT NOT NULL DEFAULT '',
    revision           TEXT NOT NULL DEFAULT '',
    author             TEXT NOT NULL DEFAULT '',
    bot                INTEGER NOT NULL DEFAULT 0,
    pr                 BIGINT NOT NULL DEFAULT 0,
    revert             INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (source, event_id)
);
CREATE INDEX deployments_app ON deployments (app, env, time);
CREATE INDEX deployments_time ON deployments (time);
CREATE INDEX deployments_manifest ON deployments (repo, manifest_commit);

-- GitOps commits that left their branch after a force-push.
CREATE TABLE rewritten_commits (
    repo        TEXT NOT NULL,
    commit_sha  TEXT NOT NULL,
    branch      TEXT NOT NULL DEFAULT '',
    time        BIGINT NOT NULL,
    PRIMARY KEY (repo, commit_sha)
);

-- Where incremental sources resume (e.g. the last imported commit of a
-- repository branch). Operational state, not history: it can be lost and
-- the source re-reads, idempotently.
CREATE TABLE cursors (
    name        TEXT NOT NULL PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE incidents (
    source       TEXT NOT NULL,
    incident_id  TEXT NOT NULL,
    app          TEXT NOT NULL DEFAULT '',
    env          TEXT NOT NULL DEFAULT '',
    title        TEXT NOT NULL DEFAULT '',
    service      TEXT NOT NULL DEFAULT '',
    artifact     TEXT NOT NULL DEFAULT '',
    url          TEXT NOT NULL DEFAULT '',
    severity     TEXT NOT NULL DEFAULT '',
    detected_at  BIGINT NOT NULL DEFAULT 0,
    resolved_at  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (source, incident_id)
);
CREATE INDEX incidents_app ON incidents (app, env, detected_at);
