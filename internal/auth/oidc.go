package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/shiplog-dev/shiplog/internal/config"
)

// oidcClient signs users in with an OpenID Connect provider. The
// provider's discovery document is fetched on first use (and again after a
// failure), so that shiplog starts while the provider is down.
type oidcClient struct {
	cfg    config.Auth
	client *http.Client

	mu       sync.Mutex
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
	oauth    oauth2.Config
}

func newOIDCClient(cfg config.Auth, client *http.Client) *oidcClient {
	return &oidcClient{cfg: cfg, client: client}
}

func (c *oidcClient) ctx(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, c.client)
}

// setup discovers the provider once.
func (c *oidcClient) setup(ctx context.Context) (*oidc.IDTokenVerifier, oauth2.Config, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.provider != nil {
		return c.verifier, c.oauth, nil
	}
	o := c.cfg.OIDC
	p, err := oidc.NewProvider(c.ctx(ctx), o.Issuer)
	if err != nil {
		return nil, oauth2.Config{}, fmt.Errorf("identity provider %s: %w", o.Issuer, err)
	}
	c.provider = p
	c.verifier = p.Verifier(&oidc.Config{ClientID: o.ClientID})
	c.oauth = oauth2.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret.Reveal(), RedirectURL: o.RedirectURL,
		Endpoint: p.Endpoint(), Scopes: o.Scopes}
	return c.verifier, c.oauth, nil
}

// authURL is where the browser goes to sign in.
func (c *oidcClient) authURL(ctx context.Context, state, nonce, verifier string) (string, error) {
	_, oc, err := c.setup(ctx)
	if err != nil {
		return "", err
	}
	return oc.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), nil
}

// identity is who the provider says signed in.
type identity struct {
	Subject string
	Name    string
	Groups  []string
}

// exchange trades the authorization code for tokens and verifies the ID
// token: signature, issuer, audience, expiry, and the sign-in's nonce.
func (c *oidcClient) exchange(ctx context.Context, code, verifier, nonce string) (identity, error) {
	v, oc, err := c.setup(ctx)
	if err != nil {
		return identity{}, err
	}
	tok, err := oc.Exchange(c.ctx(ctx), code, oauth2.VerifierOption(verifier))
	if err != nil {
		return identity{}, fmt.Errorf("code exchange: %w", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return identity{}, errors.New("the provider returned no ID token")
	}
	idt, err := v.Verify(c.ctx(ctx), raw)
	if err != nil {
		return identity{}, fmt.Errorf("ID token: %w", err)
	}
	if idt.Nonce != nonce {
		return identity{}, errors.New("ID token: nonce does not match this sign-in")
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return identity{}, fmt.Errorf("ID token claims: %w", err)
	}
	id := identity{Subject: idt.Subject, Name: idt.Subject}
	if s, ok := claims[c.cfg.OIDC.NameClaim].(string); ok && s != "" {
		id.Name = s
	}
	switch g := claims[c.cfg.OIDC.GroupsClaim].(type) {
	case []any:
		for _, v := range g {
			if s, ok := v.(string); ok {
				id.Groups = append(id.Groups, s)
			}
		}
	case string:
		id.Groups = []string{g}
	}
	return id, nil
}
