package gitlab

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
)

// TokenHeader is the header carrying the webhook's secret token.
const TokenHeader = "X-Gitlab-Token"

// ErrBadToken is wrapped by every error VerifyToken returns: the request must
// be rejected.
var ErrBadToken = errors.New("bad webhook token")

// VerifyToken checks header, the value of X-Gitlab-Token, against the shared
// secret. It compares SHA-256 digests in constant time, so neither the
// content nor the length of the secret leaks through timing. Every error
// wraps ErrBadToken and never contains the secret or the header value.
//
// An empty secret never verifies: a secret token must be configured.
func VerifyToken(secret []byte, header string) error {
	if len(secret) == 0 {
		return fmt.Errorf("%w: no webhook secret token is configured", ErrBadToken)
	}
	if header == "" {
		return fmt.Errorf("%w: missing %s header", ErrBadToken, TokenHeader)
	}
	want := sha256.Sum256(secret)
	got := sha256.Sum256([]byte(header))
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return fmt.Errorf("%w: %s does not match the configured secret token", ErrBadToken, TokenHeader)
	}
	return nil
}
