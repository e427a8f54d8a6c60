package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/shiplog-dev/shiplog/internal/access"
)

// Auth configures who may use the web UI, the JSON API and the live
// stream (docs/security.md). The /ingest endpoints keep their own secrets.
type Auth struct {
	// Mode is none (everyone is an admin: local use and the demo only),
	// token (API tokens; the UI asks for one) or oidc (OIDC sign-in for the
	// UI, API tokens for the CLI and CI).
	Mode string `yaml:"mode"`
	// SessionTTL is how long a UI session lasts after sign-in.
	SessionTTL time.Duration `yaml:"session_ttl"`
	// SessionIdle ends a session unused for this long.
	SessionIdle time.Duration `yaml:"session_idle"`
	// SecureCookies marks session cookies Secure. Default true; false only
	// for plain-HTTP testing on loopback.
	SecureCookies *bool `yaml:"secure_cookies,omitempty"`
	// RateLimit bounds sign-in and token attempts per client address.
	RateLimit RateLimit `yaml:"rate_limit"`
	OIDC      OIDC      `yaml:"oidc"`
	// Groups map identity-provider groups to grants: a user gets the
	// grants of every group they are in.
	Groups []GroupGrant `yaml:"groups"`
	// InsecureAllowAnonymous lets serve run in mode none on an address
	// other hosts can reach (flag --insecure-allow-anonymous only).
	InsecureAllowAnonymous bool `yaml:"-"`
}

// RateLimit is a token bucket per client address.
type RateLimit struct {
	PerMinute int `yaml:"per_minute"`
	Burst     int `yaml:"burst"`
}

// OIDC configures sign-in with an OpenID Connect provider (authorization
// code flow with PKCE).
type OIDC struct {
	Issuer           string     `yaml:"issuer"`
	ClientID         string     `yaml:"client_id"`
	ClientSecretFile string     `yaml:"client_secret_file"`
	ClientSecret     Credential `yaml:"client_secret,omitempty"`
	// RedirectURL is shiplog's callback as the provider knows it:
	// https://shiplog.example.com/auth/callback.
	RedirectURL string   `yaml:"redirect_url"`
	Scopes      []string `yaml:"scopes"`
	// GroupsClaim names the ID-token claim listing the user's groups.
	GroupsClaim string `yaml:"groups_claim"`
	// NameClaim names the claim shown as the user's name (email by default).
	NameClaim string `yaml:"name_claim"`
}

// GroupGrant gives the members of an identity-provider group a role,
// optionally limited to teams, apps and environments.
type GroupGrant struct {
	Group string       `yaml:"group"`
	Role  string       `yaml:"role"`
	Scope access.Scope `yaml:",inline"`
}

// Auth modes.
const (
	AuthNone  = "none"
	AuthToken = "token"
	AuthOIDC  = "oidc"
)

// EnvOIDCClientSecret may hold the OIDC client secret instead of a file.
const EnvOIDCClientSecret = "SHIPLOG_OIDC_CLIENT_SECRET"

func defaultAuth() Auth {
	return Auth{
		Mode:        AuthNone,
		SessionTTL:  12 * time.Hour,
		SessionIdle: 2 * time.Hour,
		RateLimit:   RateLimit{PerMinute: 10, Burst: 10},
		OIDC:        OIDC{Scopes: []string{"openid", "profile", "email", "groups"}, GroupsClaim: "groups", NameClaim: "email"},
	}
}

// Secure reports whether session cookies are marked Secure.
func (a Auth) Secure() bool { return a.SecureCookies == nil || *a.SecureCookies }

// Grants returns the grants of a member of groups.
func (a Auth) Grants(groups []string) []access.Grant {
	var out []access.Grant
	for _, g := range a.Groups {
		for _, m := range groups {
			if m == g.Group {
				r, _ := access.ParseRole(g.Role) // validated at load
				out = append(out, access.Grant{Role: r, Scope: g.Scope})
				break
			}
		}
	}
	return out
}

func (a *Auth) validate(lookupEnv func(string) (string, bool)) []error {
	var errs []error
	switch a.Mode {
	case AuthNone, AuthToken:
	case AuthOIDC:
		o := a.OIDC
		if u, err := url.Parse(o.Issuer); o.Issuer == "" || err != nil || (u.Scheme != "https" && !isLoopbackURL(u)) {
			errs = append(errs, fmt.Errorf("auth.oidc.issuer: %q: want the provider's https URL", o.Issuer))
		}
		if o.ClientID == "" {
			errs = append(errs, errors.New("auth.oidc.client_id: empty"))
		}
		if u, err := url.Parse(o.RedirectURL); o.RedirectURL == "" || err != nil || !u.IsAbs() || u.Path != "/auth/callback" {
			errs = append(errs, fmt.Errorf("auth.oidc.redirect_url: %q: want shiplog's absolute URL ending in /auth/callback", o.RedirectURL))
		}
		if o.GroupsClaim == "" {
			errs = append(errs, errors.New("auth.oidc.groups_claim: empty"))
		}
		if v, ok := lookupEnv(EnvOIDCClientSecret); ok && v != "" && o.ClientSecretFile != "" {
			errs = append(errs, fmt.Errorf("auth.oidc.client_secret_file and $%s are both set: set only one", EnvOIDCClientSecret))
		}
		if len(a.Groups) == 0 {
			errs = append(errs, errors.New("auth.groups: empty: with oidc, map at least one group to a role, or nobody can sign in"))
		}
	default:
		errs = append(errs, fmt.Errorf("auth.mode: %q is not one of none, token, oidc", a.Mode))
	}
	if a.SessionTTL <= 0 || a.SessionIdle <= 0 {
		errs = append(errs, errors.New("auth.session_ttl and auth.session_idle must be positive"))
	}
	if a.RateLimit.PerMinute <= 0 || a.RateLimit.Burst <= 0 {
		errs = append(errs, errors.New("auth.rate_limit.per_minute and auth.rate_limit.burst must be positive"))
	}
	for i, g := range a.Groups {
		if strings.TrimSpace(g.Group) == "" {
			errs = append(errs, fmt.Errorf("auth.groups[%d].group: empty", i))
		}
		if _, err := access.ParseRole(g.Role); err != nil {
			errs = append(errs, fmt.Errorf("auth.groups[%d].role: %v", i, err))
		}
	}
	return errs
}

// CheckExposure refuses mode none on an address other machines can reach,
// unless InsecureAllowAnonymous is set.
func (a *Auth) CheckExposure(listenAddress string) error {
	if a.Mode != AuthNone || IsLoopback(listenAddress) || a.InsecureAllowAnonymous {
		return nil
	}
	return fmt.Errorf("auth.mode is none (no sign-in: everyone is an admin) and web.listen_address %s is reachable from other machines: "+
		"set auth.mode to token or oidc (docs/security.md), listen on 127.0.0.1, or pass --insecure-allow-anonymous", listenAddress)
}

// LoadSecrets reads the OIDC client secret from its file, else from
// $SHIPLOG_OIDC_CLIENT_SECRET.
func (a *Auth) LoadSecrets(lookupEnv func(string) (string, bool)) error {
	if a.Mode != AuthOIDC {
		return nil
	}
	if f := a.OIDC.ClientSecretFile; f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("auth.oidc.client_secret_file: %w", err)
		}
		if a.OIDC.ClientSecret = Credential(trimNewline(string(b))); a.OIDC.ClientSecret == "" {
			return fmt.Errorf("auth.oidc.client_secret_file: %s is empty", f)
		}
		return nil
	}
	if v, ok := lookupEnv(EnvOIDCClientSecret); ok && v != "" {
		a.OIDC.ClientSecret = Credential(trimNewline(v))
	}
	return nil
}

// IsLoopback reports whether a listen address only accepts connections
// from this machine.
func IsLoopback(listenAddress string) bool {
	host, _, err := net.SplitHostPort(listenAddress)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func isLoopbackURL(u *url.URL) bool {
	if u.Scheme != "http" {
		return false
	}
	ip := net.ParseIP(u.Hostname())
	return u.Hostname() == "localhost" || (ip != nil && ip.IsLoopback())
}
