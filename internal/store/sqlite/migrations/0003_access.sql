-- Access control (docs/security.md): API tokens, UI sessions, OIDC sign-ins
-- in progress, and the access log. Secrets are stored as SHA-256 hashes.

CREATE TABLE api_tokens (
    id            TEXT NOT NULL PRIMARY KEY,
    hash          TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL,
    scope         TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL DEFAULT 0,
    revoked_at    BIGINT NOT NULL DEFAULT 0,
    last_used_at  BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE sessions (
    hash          TEXT NOT NULL PRIMARY KEY,
    subject       TEXT NOT NULL,
    name          TEXT NOT NULL,
    grants        TEXT NOT NULL,
    csrf          TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    replaced_at   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE login_states (
    hash        TEXT NOT NULL PRIMARY KEY,
    verifier    TEXT NOT NULL,
    nonce       TEXT NOT NULL,
    return_to   TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);

CREATE TABLE access_log (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       BIGINT NOT NULL,
    action   TEXT NOT NULL,
    actor    TEXT NOT NULL,
    outcome  TEXT NOT NULL,
    remote   TEXT NOT NULL DEFAULT '',
    detail   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX access_log_at ON access_log (at);
