package access

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"strings"
	"time"
)

// ErrNotFound is returned by the store when a token, session or login
// state does not exist (or was already used).
var ErrNotFound = errors.New("not found")

// Token is an API token as stored: its secret is never kept, only a hash.
type Token struct {
	ID         string    `json:"id"`
	Hash       string    `json:"-"`
	Name       string    `json:"name"`
	Role       Role      `json:"role"`
	Scope      Scope     `json:"scope"`
	CreatedBy  string    `json:"created_by"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"` // zero: never
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

// Active reports whether the token may be used at now.
func (t Token) Active(now time.Time) bool {
	return t.RevokedAt.IsZero() && (t.ExpiresAt.IsZero() || now.Before(t.ExpiresAt))
}

// State is "active", "revoked" or "expired".
func (t Token) State(now time.Time) string {
	switch {
	case !t.RevokedAt.IsZero():
		return "revoked"
	case !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt):
		return "expired"
	}
	return "active"
}

// Principal is who a request with this token acts as.
func (t Token) Principal() Principal {
	return Principal{Kind: KindToken, ID: t.ID, Name: t.Name, Grants: []Grant{{Role: t.Role, Scope: t.Scope}}}
}

// TokenPrefix starts every API token, so secret scanners can find leaked ones.
const TokenPrefix = "shiplog_"

// NewToken returns a new token's secret (shown once to its creator) and
// its id and hash (stored).
func NewToken() (secret, id, hash string) {
	id = "tok_" + strings.ToLower(randomString(8))
	secret = TokenPrefix + strings.ToLower(randomString(32))
	return secret, id, Hash(secret)
}

// Hash is the stored form of a secret (token, session id, login state):
// SHA-256, hex. The secrets are 160+ random bits, so a fast hash is enough.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// RandomSecret returns n random bytes, base32-encoded without padding.
func RandomSecret(n int) string { return randomString(n) }

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)
}

// Session is a signed-in UI user, as stored (keyed by the hash of the
// cookie value).
type Session struct {
	Hash       string
	Subject    string
	Name       string
	Grants     []Grant
	CSRF       string // the token forms and scripts send back
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
	// ReplacedAt is when the session id was rotated: the old id keeps
	// working for a short grace period (requests already in flight).
	ReplacedAt time.Time
}

// Principal is who a request in this session acts as.
// A session opened with an API token (mode token) acts as the token.
func (s Session) Principal() Principal {
	kind := KindUser
	if strings.HasPrefix(s.Subject, "tok_") {
		kind = KindToken
	}
	return Principal{Kind: kind, ID: s.Subject, Name: s.Name, Grants: s.Grants}
}

// LoginState is an OIDC sign-in in progress, keyed by the hash of its
// state parameter; it is used once.
type LoginState struct {
	Hash      string
	Verifier  string // PKCE code verifier
	Nonce     string
	ReturnTo  string
	ExpiresAt time.Time
}

// Entry is one line of the access log: a sign-in, a token created,
// revoked or used, an export.
type Entry struct {
	ID      int64     `json:"id"`
	At      time.Time `json:"at"`
	Action  string    `json:"action"`
	Actor   string    `json:"actor"`
	Outcome string    `json:"outcome"` // ok, denied, failed
	Remote  string    `json:"remote,omitempty"`
	Detail  string    `json:"detail,omitempty"`
}

// Access-log actions.
const (
	ActionSignIn       = "signin"
	ActionSignOut      = "signout"
	ActionTokenCreate  = "token.create"
	ActionTokenRevoke  = "token.revoke"
	ActionTokenUse     = "token.use"
	ActionExport       = "export"
	ActionRollback     = "rollback.prepare"
	ActionDenied       = "denied"
	OutcomeOK          = "ok"
	OutcomeDenied      = "denied"
	OutcomeFailed      = "failed"
	OutcomeRateLimited = "rate-limited"
)
