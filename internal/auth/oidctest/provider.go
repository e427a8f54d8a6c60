// Package oidctest is an OpenID Connect provider for tests: discovery,
// a JWKS endpoint, an authorization endpoint that signs in a configured
// user at once, and a token endpoint that checks the client secret and
// the PKCE verifier and issues RS256-signed ID tokens. Knobs make it issue
// the bad tokens a relying party must refuse.
package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// User is who signs in.
type User struct {
	Subject string
	Email   string
	Groups  []string
}

// Provider is a running test provider. Set its fields before a sign-in.
type Provider struct {
	URL          string // the issuer
	ClientID     string
	ClientSecret string

	mu   sync.Mutex
	user User
	// Knobs for the next ID tokens.
	audience  string        // "" : ClientID
	expiresIn time.Duration // 0: one hour; negative: already expired
	tamper    bool          // corrupt the signature
	key       *rsa.PrivateKey
	codes     map[string]grant
	srv       *httptest.Server
}

type grant struct {
	nonce, challenge, redirect string
	user                       User
}

// Start starts a provider on loopback, stopped when the test ends.
func Start(t testing.TB) *Provider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &Provider{ClientID: "shiplog", ClientSecret: "s3cret", key: key, codes: map[string]grant{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /keys", p.keys)
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	p.srv = httptest.NewServer(mux)
	p.URL = p.srv.URL
	t.Cleanup(p.srv.Close)
	return p
}

// SignIn sets the user the next authorization signs in.
func (p *Provider) SignIn(u User) { p.mu.Lock(); p.user = u; p.mu.Unlock() }

// Audience sets the aud claim of the next tokens ("" : the client id).
func (p *Provider) Audience(aud string) { p.mu.Lock(); p.audience = aud; p.mu.Unlock() }

// ExpiresIn sets the lifetime of the next tokens (negative: expired).
func (p *Provider) ExpiresIn(d time.Duration) { p.mu.Lock(); p.expiresIn = d; p.mu.Unlock() }

// Tamper makes the next tokens' signatures invalid.
func (p *Provider) Tamper(on bool) { p.mu.Lock(); p.tamper = on; p.mu.Unlock() }

func (p *Provider) discovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, map[string]any{
		"issuer":                                p.URL,
		"authorization_endpoint":                p.URL + "/authorize",
		"token_endpoint":                        p.URL + "/token",
		"jwks_uri":                              p.URL + "/keys",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported":      []string{"S256"},
	})
}

func (p *Provider) keys(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &p.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
}

func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != p.ClientID || q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		http.Error(w, "bad authorization request: want client_id, response_type=code and a S256 code_challenge", http.StatusBadRequest)
		return
	}
	code := rand.Text()
	p.mu.Lock()
	p.codes[code] = grant{nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri"), user: p.user}
	p.mu.Unlock()
	u, err := url.Parse(q.Get("redirect_uri"))
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	v := u.Query()
	v.Set("code", code)
	v.Set("state", q.Get("state"))
	u.RawQuery = v.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
	}
	if id != p.ClientID || secret != p.ClientSecret {
		w.WriteHeader(http.StatusUnauthorized)
		writeJSON(w, map[string]string{"error": "invalid_client"})
		return
	}
	p.mu.Lock()
	g, found := p.codes[r.PostFormValue("code")]
	delete(p.codes, r.PostFormValue("code"))
	aud, exp, tamper := p.audience, p.expiresIn, p.tamper
	p.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
	if !found || r.PostFormValue("grant_type") != "authorization_code" || r.PostFormValue("redirect_uri") != g.redirect ||
		base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
		w.WriteHeader(http.StatusBadRequest)
		writeJSON(w, map[string]string{"error": "invalid_grant"})
		return
	}
	if aud == "" {
		aud = p.ClientID
	}
	if exp == 0 {
		exp = time.Hour
	}
	now := time.Now()
	claims, _ := json.Marshal(map[string]any{
		"iss": p.URL, "sub": g.user.Subject, "aud": aud, "iat": now.Unix(), "exp": now.Add(exp).Unix(),
		"nonce": g.nonce, "email": g.user.Email, "groups": g.user.Groups,
	})
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: p.key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	jws, err := signer.Sign(claims)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if tamper { // flip a character of the signature
		b := []byte(raw)
		i := len(b) - 5
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		raw = string(b)
	}
	writeJSON(w, map[string]any{"access_token": rand.Text(), "token_type": "Bearer", "expires_in": 3600, "id_token": raw})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
