package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/shiplog-dev/shiplog/internal/access"
)

// Access control state: API tokens, UI sessions, OIDC sign-ins in progress
// and the access log (docs/security.md). These are small, individual
// writes, made outside the event log's group commit.

const tokenCols = "id, hash, name, role, scope, created_by, created_at, expires_at, revoked_at, last_used_at"

// CreateToken stores a new API token.
func (s *Store) CreateToken(ctx context.Context, t access.Token) error {
	scope, err := json.Marshal(t.Scope)
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	_, err = s.write.ExecContext(ctx, s.dialect.Rebind("INSERT INTO api_tokens ("+tokenCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0)"),
		t.ID, t.Hash, t.Name, t.Role.String(), string(scope), t.CreatedBy, ns(t.CreatedAt), ns(t.ExpiresAt))
	if err != nil {
		return fmt.Errorf("create token %s: %w", t.Name, err)
	}
	return nil
}

func scanToken(sc func(...any) error) (access.Token, error) {
	var t access.Token
	var role, scope string
	var created, expires, revoked, used int64
	if err := sc(&t.ID, &t.Hash, &t.Name, &role, &scope, &t.CreatedBy, &created, &expires, &revoked, &used); err != nil {
		return t, err
	}
	var err error
	if t.Role, err = access.ParseRole(role); err != nil {
		return t, fmt.Errorf("token %s: %w", t.ID, err)
	}
	if err := json.Unmarshal([]byte(scope), &t.Scope); err != nil {
		return t, fmt.Errorf("token %s: scope: %w", t.ID, err)
	}
	t.CreatedAt, t.ExpiresAt, t.RevokedAt, t.LastUsedAt = fromNS(created), fromNS(expires), fromNS(revoked), fromNS(used)
	return t, nil
}

// Tokens lists every API token, newest first.
func (s *Store) Tokens(ctx context.Context) ([]access.Token, error) {
	rows, err := s.read.QueryContext(ctx, "SELECT "+tokenCols+" FROM api_tokens ORDER BY created_at DESC, id")
	if err != nil {
		return nil, fmt.Errorf("read tokens: %w", err)
	}
	defer rows.Close()
	var out []access.Token
	for rows.Next() {
		t, err := scanToken(rows.Scan)
		if err != nil {
			return nil, fmt.Errorf("read tokens: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// TokenByHash finds a token by the hash of its secret; access.ErrNotFound
// when there is none.
func (s *Store) TokenByHash(ctx context.Context, hash string) (access.Token, error) {
	return s.token(ctx, "hash", hash)
}

// Token finds a token by its id; access.ErrNotFound when there is none.
func (s *Store) Token(ctx context.Context, id string) (access.Token, error) {
	return s.token(ctx, "id", id)
}

// token reads the token whose column col (id or hash, both unique) is v.
func (s *Store) token(ctx context.Context, col, v string) (access.Token, error) {
	row := s.read.QueryRowContext(ctx, s.dialect.Rebind("SELECT "+tokenCols+" FROM api_tokens WHERE "+col+" = ?"), v)
	t, err := scanToken(row.Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return t, access.ErrNotFound
	}
	if err != nil {
		return t, fmt.Errorf("read token: %w", err)
	}
	return t, nil
}

// RevokeToken marks a token revoked at at; access.ErrNotFound when no
// token has this id. Revoking twice keeps the first time.
func (s *Store) RevokeToken(ctx context.Context, id string, at time.Time) error {
	res, err := s.write.ExecContext(ctx, s.dialect.Rebind(
		"UPDATE api_tokens SET revoked_at = CASE WHEN revoked_at = 0 THEN ? ELSE revoked_at END WHERE id = ?"), ns(at), id)
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return access.ErrNotFound
	}
	return nil
}

// TouchToken records that a token was used at at.
func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	_, err := s.write.ExecContext(ctx, s.dialect.Rebind("UPDATE api_tokens SET last_used_at = ? WHERE id = ?"), ns(at), id)
	if err != nil {
		return fmt.Errorf("touch token %s: %w", id, err)
	}
	return nil
}

const sessionCols = "hash, subject, name, grants, csrf, created_at, last_seen_at, expires_at, replaced_at"

// CreateSession stores a new UI session.
func (s *Store) CreateSession(ctx context.Context, se access.Session) error {
	grants, err := json.Marshal(se.Grants)
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	_, err = s.write.ExecContext(ctx, s.dialect.Rebind("INSERT INTO sessions ("+sessionCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)"),
		se.Hash, se.Subject, se.Name, string(grants), se.CSRF, ns(se.CreatedAt), ns(se.LastSeenAt), ns(se.ExpiresAt))
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// Session finds a session by the hash of its id; access.ErrNotFound when
// there is none.
func (s *Store) Session(ctx context.Context, hash string) (access.Session, error) {
	var se access.Session
	var grants string
	var created, seen, expires, replaced int64
	err := s.read.QueryRowContext(ctx, s.dialect.Rebind("SELECT "+sessionCols+" FROM sessions WHERE hash = ?"), hash).
		Scan(&se.Hash, &se.Subject, &se.Name, &grants, &se.CSRF, &created, &seen, &expires, &replaced)
	if errors.Is(err, sql.ErrNoRows) {
		return se, access.ErrNotFound
	}
	if err != nil {
		return se, fmt.Errorf("read session: %w", err)
	}
	if err := json.Unmarshal([]byte(grants), &se.Grants); err != nil {
		return se, fmt.Errorf("read session: grants: %w", err)
	}
	se.CreatedAt, se.LastSeenAt, se.ExpiresAt, se.ReplacedAt = fromNS(created), fromNS(seen), fromNS(expires), fromNS(replaced)
	return se, nil
}

// TouchSession records that a session was used at at.
func (s *Store) TouchSession(ctx context.Context, hash string, at time.Time) error {
	_, err := s.write.ExecContext(ctx, s.dialect.Rebind("UPDATE sessions SET last_seen_at = ? WHERE hash = ?"), ns(at), hash)
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// RotateSession replaces a session's id: next is stored and old is marked
// replaced at next.CreatedAt, in one transaction. access.ErrNotFound when
// old does not exist or was already replaced (another request rotated it).
func (s *Store) RotateSession(ctx context.Context, old string, next access.Session) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("rotate session: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	res, err := tx.ExecContext(ctx, s.dialect.Rebind("UPDATE sessions SET replaced_at = ? WHERE hash = ? AND replaced_at = 0"), ns(next.CreatedAt), old)
	if err != nil {
		return fmt.Errorf("rotate session: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return access.ErrNotFound
	}
	grants, err := json.Marshal(next.Grants)
	if err != nil {
		return fmt.Errorf("rotate session: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.dialect.Rebind("INSERT INTO sessions ("+sessionCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)"),
		next.Hash, next.Subject, next.Name, string(grants), next.CSRF, ns(next.CreatedAt), ns(next.LastSeenAt), ns(next.ExpiresAt)); err != nil {
		return fmt.Errorf("rotate session: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("rotate session: %w", err)
	}
	return nil
}

// DeleteSession ends a session (sign-out).
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	if _, err := s.write.ExecContext(ctx, s.dialect.Rebind("DELETE FROM sessions WHERE hash = ?"), hash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteExpired removes sessions and sign-in states that ended before now.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) error {
	for _, q := range []string{"DELETE FROM sessions WHERE expires_at < ?", "DELETE FROM login_states WHERE expires_at < ?"} {
		if _, err := s.write.ExecContext(ctx, s.dialect.Rebind(q), ns(now)); err != nil {
			return fmt.Errorf("delete expired sessions: %w", err)
		}
	}
	return nil
}

// PutLoginState stores an OIDC sign-in in progress.
func (s *Store) PutLoginState(ctx context.Context, l access.LoginState) error {
	_, err := s.write.ExecContext(ctx, s.dialect.Rebind("INSERT INTO login_states (hash, verifier, nonce, return_to, expires_at) VALUES (?, ?, ?, ?, ?)"),
		l.Hash, l.Verifier, l.Nonce, l.ReturnTo, ns(l.ExpiresAt))
	if err != nil {
		return fmt.Errorf("store sign-in state: %w", err)
	}
	return nil
}

// TakeLoginState returns and deletes a sign-in state: a state can be used
// once. access.ErrNotFound when it does not exist or was already used.
func (s *Store) TakeLoginState(ctx context.Context, hash string) (access.LoginState, error) {
	l := access.LoginState{Hash: hash}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return l, fmt.Errorf("read sign-in state: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var expires int64
	err = tx.QueryRowContext(ctx, s.dialect.Rebind("SELECT verifier, nonce, return_to, expires_at FROM login_states WHERE hash = ?"), hash).
		Scan(&l.Verifier, &l.Nonce, &l.ReturnTo, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return l, access.ErrNotFound
	}
	if err != nil {
		return l, fmt.Errorf("read sign-in state: %w", err)
	}
	res, err := tx.ExecContext(ctx, s.dialect.Rebind("DELETE FROM login_states WHERE hash = ?"), hash)
	if err != nil {
		return l, fmt.Errorf("delete sign-in state: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return l, access.ErrNotFound // taken by a concurrent request
	}
	if err := tx.Commit(); err != nil {
		return l, fmt.Errorf("delete sign-in state: %w", err)
	}
	l.ExpiresAt = fromNS(expires)
	return l, nil
}

// LogAccess appends an entry to the access log.
func (s *Store) LogAccess(ctx context.Context, e access.Entry) error {
	_, err := s.write.ExecContext(ctx, s.dialect.Rebind("INSERT INTO access_log (at, action, actor, outcome, remote, detail) VALUES (?, ?, ?, ?, ?, ?)"),
		ns(e.At), e.Action, e.Actor, e.Outcome, e.Remote, e.Detail)
	if err != nil {
		return fmt.Errorf("write access log: %w", err)
	}
	return nil
}

// AccessLog returns the access log entries at or after since, newest
// first, at most limit of them.
func (s *Store) AccessLog(ctx context.Context, since time.Time, limit int) ([]access.Entry, error) {
	rows, err := s.read.QueryContext(ctx, s.dialect.Rebind(
		"SELECT id, at, action, actor, outcome, remote, detail FROM access_log WHERE at >= ? ORDER BY at DESC, id DESC LIMIT ?"), ns(since), limit)
	if err != nil {
		return nil, fmt.Errorf("read access log: %w", err)
	}
	defer rows.Close()
	var out []access.Entry
	for rows.Next() {
		var e access.Entry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Action, &e.Actor, &e.Outcome, &e.Remote, &e.Detail); err != nil {
			return nil, fmt.Errorf("read access log: %w", err)
		}
		e.At = fromNS(at)
		out = append(out, e)
	}
	return out, rows.Err()
}
