-- shiplog schema version 4 (PostgreSQL): indexes for "where is my change".
-- Traces look commits and pull requests up by author, number and branch,
-- and traffic by revision, instead of reading whole tables (docs/store.md,
-- "Looking up traces"). Authors are compared ignoring case through
-- lower(): SQLite's folds ASCII letters only (internal/store/lookup.go).
CREATE INDEX changes_number ON changes (number);
CREATE INDEX changes_head_ref ON changes (head_ref);
CREATE INDEX changes_author_lower ON changes (lower(author));
CREATE INDEX commits_author_name_lower ON commits (lower(author_name));
CREATE INDEX commits_author_email_lower ON commits (lower(author_email));
CREATE INDEX traffic_revision ON traffic (revision);
