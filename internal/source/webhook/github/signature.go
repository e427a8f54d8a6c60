package github

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// SignatureHeader is the header carrying the HMAC-SHA256 of the body.
const SignatureHeader = "X-Hub-Signature-256"

// ErrBadSignature is wrapped by every error VerifySignature returns: the
// request must be rejected.
var ErrBadSignature = errors.New("bad webhook signature")

// VerifySignature checks header, the value of X-Hub-Signature-256
// ("sha256=<hex>"), against the HMAC-SHA256 of body keyed with secret. It
// compares in constant time. Every error wraps ErrBadSignature and says what
// was wrong without revealing the secret or the expected value.
//
// An empty secret never verifies: a webhook secret must be configured.
func VerifySignature(secret, body []byte, header string) error {
	if len(secret) == 0 {
		return fmt.Errorf("%w: no webhook secret is configured", ErrBadSignature)
	}
	header = strings.TrimSpace(header)
	if header == "" {
		return fmt.Errorf("%w: missing %s header", ErrBadSignature, SignatureHeader)
	}
	digest, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return fmt.Errorf("%w: %s does not start with \"sha256=\"", ErrBadSignature, SignatureHeader)
	}
	got, err := hex.DecodeString(digest)
	if err != nil {
		return fmt.Errorf("%w: %s is not hexadecimal", ErrBadSignature, SignatureHeader)
	}
	if len(got) != sha256.Size {
		return fmt.Errorf("%w: %s has %d bytes, want %d", ErrBadSignature, SignatureHeader, len(got), sha256.Size)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return fmt.Errorf("%w: %s does not match the body (wrong secret, or the body was changed)", ErrBadSignature, SignatureHeader)
	}
	return nil
}
