package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/access"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// RunAccess checks the access-control state every store keeps: API
// tokens, sessions (with rotation), single-use sign-in states and the
// access log.
func RunAccess(t *testing.T, open Opener) {
	t.Run("Tokens", func(t *testing.T) { testTokens(t, open(t)) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, open(t)) })
	t.Run("LoginStateIsSingleUse", func(t *testing.T) { testLoginStates(t, open(t)) })
	t.Run("AccessLog", func(t *testing.T) { testAccessLog(t, open(t)) })
}

var t0 = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)

func testTokens(t *testing.T, s *store.Store) {
	c := ctx(t)
	secret, id, hash := access.NewToken()
	tok := access.Token{ID: id, Hash: hash, Name: "ci", Role: access.Operator, Scope: access.Scope{Teams: []string{"payments"}, Envs: []string{"prod"}},
		CreatedBy: "user:ann", CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}
	if err := s.CreateToken(c, tok); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateToken(c, tok); err == nil {
		t.Error("creating a token with an existing id: got no error")
	}
	got, err := s.TokenByHash(c, access.Hash(secret))
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != id || got.Name != "ci" || got.Role != access.Operator || got.Scope.String() != "teams=payments envs=prod" ||
		!got.CreatedAt.Equal(t0) || !got.ExpiresAt.Equal(t0.Add(24*time.Hour)) || !got.RevokedAt.IsZero() || got.CreatedBy != "user:ann" {
		t.Errorf("TokenByHash = %+v, want the token created", got)
	}
	if byID, err := s.Token(c, id); err != nil || byID.Hash != hash || byID.Name != "ci" {
		t.Errorf("Token(%s) = %+v, %v; want the token created", id, byID, err)
	}
	if _, err := s.Token(c, "tok_missing"); !errors.Is(err, access.ErrNotFound) {
		t.Errorf("unknown token id: got %v, want ErrNotFound", err)
	}
	if _, err := s.TokenByHash(c, access.Hash("shiplog_wrong")); !errors.Is(err, access.ErrNotFound) {
		t.Errorf("unknown token: got %v, want ErrNotFound", err)
	}
	if err := s.TouchToken(c, id, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(c, id, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(c, id, t0.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(c, "tok_missing", t0); !errors.Is(err, access.ErrNotFound) {
		t.Errorf("revoking an unknown token: got %v, want ErrNotFound", err)
	}
	list, err := s.Tokens(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || !list[0].RevokedAt.Equal(t0.Add(2*time.Hour)) || !list[0].LastUsedAt.Equal(t0.Add(time.Hour)) || list[0].Active(t0.Add(4*time.Hour)) {
		t.Errorf("Tokens = %+v, want one token revoked at the first revocation, last used at +1h", list)
	}
}

func testSessions(t *testing.T, s *store.Store) {
	c := ctx(t)
	se := access.Session{Hash: access.Hash("cookie-1"), Subject: "sub-1", Name: "ann@example.com", CSRF: "csrf",
		Grants:    []access.Grant{{Role: access.Viewer, Scope: access.Scope{Apps: []string{"checkout"}}}},
		CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(12 * time.Hour)}
	if err := s.CreateSession(c, se); err != nil {
		t.Fatal(err)
	}
	got, err := s.Session(c, se.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if got.Subject != "sub-1" || got.Name != "ann@example.com" || got.CSRF != "csrf" || len(got.Grants) != 1 ||
		got.Grants[0].Role != access.Viewer || got.Grants[0].Scope.Apps[0] != "checkout" || !got.ExpiresAt.Equal(se.ExpiresAt) {
		t.Errorf("Session = %+v, want the session created", got)
	}
	next := se
	next.Hash, next.CreatedAt = access.Hash("cookie-2"), t0.Add(20*time.Minute)
	// Two requests rotate at once: one wins, the other is told so.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() {
			n := next
			n.Hash = access.Hash("cookie-2-" + string(rune('a'+i)))
			errs[i] = s.RotateSession(c, se.Hash, n)
		})
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Errorf("concurrent rotations: got %v and %v, want exactly one to succeed", errs[0], errs[1])
	}
	old, err := s.Session(c, se.Hash)
	if err != nil || !old.ReplacedAt.Equal(next.CreatedAt) {
		t.Errorf("rotated session: got %+v %v, want it marked replaced at %s", old, err, next.CreatedAt)
	}
	if err := s.DeleteSession(c, se.Hash); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(c, se.Hash); !errors.Is(err, access.ErrNotFound) {
		t.Errorf("deleted session: got %v, want ErrNotFound", err)
	}
	if err := s.DeleteExpired(c, t0.Add(13*time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"cookie-2-a", "cookie-2-b"} {
		if _, err := s.Session(c, access.Hash(h)); !errors.Is(err, access.ErrNotFound) {
			t.Errorf("expired session %s: got %v, want it purged", h, err)
		}
	}
}

func testLoginStates(t *testing.T, s *store.Store) {
	c := ctx(t)
	ls := access.LoginState{Hash: access.Hash("state"), Verifier: "v", Nonce: "n", ReturnTo: "/apps", ExpiresAt: t0.Add(10 * time.Minute)}
	if err := s.PutLoginState(c, ls); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make([]error, 4)
	for i := range results {
		wg.Go(func() { _, results[i] = s.TakeLoginState(c, ls.Hash) })
	}
	wg.Wait()
	ok := 0
	for _, err := range results {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, access.ErrNotFound):
			t.Errorf("TakeLoginState: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d concurrent takes of one state succeeded, want exactly 1 (a state is single-use)", ok)
	}
}

func testAccessLog(t *testing.T, s *store.Store) {
	c := ctx(t)
	for i, a := range []string{access.ActionSignIn, access.ActionExport, access.ActionTokenUse} {
		if err := s.LogAccess(c, access.Entry{At: t0.Add(time.Duration(i) * time.Minute), Action: a, Actor: "user:ann", Outcome: access.OutcomeOK, Remote: "127.0.0.1", Detail: "d"}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.AccessLog(c, t0.Add(time.Minute), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Action != access.ActionTokenUse || got[1].Action != access.ActionExport || got[1].Remote != "127.0.0.1" {
		t.Errorf("AccessLog since +1m = %+v, want token.use then export", got)
	}
}
