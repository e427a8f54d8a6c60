package gitlab

import (
	"errors"
	"strings"
	"testing"
)

func TestVerifyToken(t *testing.T) {
	const secret = "s3cr3t-t0ken-for-shiplog"
	tests := []struct {
		name    string
		secret  string
		header  string
		wantErr string // "" for success
	}{
		{"matching token", secret, secret, ""},
		{"missing header", secret, "", "missing X-Gitlab-Token header"},
		{"wrong token", secret, "s3cr3t-t0ken-for-shiplog-not", "X-Gitlab-Token does not match the configured secret token"},
		{"prefix of the token", secret, secret[:10], "does not match"},
		{"different case", secret, strings.ToUpper(secret), "does not match"},
		{"token with a trailing space", secret, secret + " ", "does not match"},
		{"empty secret", "", secret, "no webhook secret token is configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyToken([]byte(tt.secret), tt.header)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("VerifyToken: got %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("VerifyToken: got nil, want an error containing %q", tt.wantErr)
			}
			if !errors.Is(err, ErrBadToken) {
				t.Errorf("VerifyToken: got %v, want an error wrapping ErrBadToken", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("VerifyToken: got %q, want it to contain %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(strings.ToLower(err.Error()), "s3cr3t") {
				t.Errorf("VerifyToken: error %q reveals a token", err)
			}
		})
	}
}
