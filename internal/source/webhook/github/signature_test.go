package github

import (
	"errors"
	"strings"
	"testing"
)

func TestVerifySignature(t *testing.T) {
	const (
		secret = "It's a Secret to Everybody"
		body   = "Hello, World!"
		good   = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	)
	tests := []struct {
		name    string
		secret  string
		body    string
		header  string
		wantErr string // "" for success
	}{
		{"GitHub test vector", secret, body, good, ""},
		{"upper-case hex", secret, body, "sha256=" + strings.ToUpper(strings.TrimPrefix(good, "sha256=")), ""},
		{"surrounding spaces", secret, body, " " + good + " ", ""},
		{"missing header", secret, body, "", "missing X-Hub-Signature-256 header"},
		{"sha1 signature", secret, body, "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59", `does not start with "sha256="`},
		{"no prefix", secret, body, strings.TrimPrefix(good, "sha256="), `does not start with "sha256="`},
		{"not hex", secret, body, "sha256=zz7107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", "is not hexadecimal"},
		{"truncated", secret, body, good[:len(good)-2], "has 31 bytes, want 32"},
		{"body changed", secret, body + "\n", good, "does not match the body"},
		{"wrong secret", "It's a Secret to Nobody", body, good, "does not match the body"},
		{"empty secret", "", body, good, "no webhook secret is configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifySignature([]byte(tt.secret), []byte(tt.body), tt.header)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("VerifySignature: got %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("VerifySignature: got nil, want an error containing %q", tt.wantErr)
			}
			if !errors.Is(err, ErrBadSignature) {
				t.Errorf("VerifySignature: got %v, want an error wrapping ErrBadSignature", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("VerifySignature: got %q, want it to contain %q", err, tt.wantErr)
			}
			if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("VerifySignature: error %q reveals the secret", err)
			}
			if strings.Contains(err.Error(), "757107ea") {
				t.Errorf("VerifySignature: error %q repeats a signature", err)
			}
		})
	}
}
