package token

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/shiplog-dev/shiplog/internal/access"
	"github.com/shiplog-dev/shiplog/internal/app"
	"github.com/shiplog-dev/shiplog/internal/cli/clitest"
	"github.com/shiplog-dev/shiplog/internal/cli/cmdutil"
	"github.com/shiplog-dev/shiplog/internal/store"
)

func newCmd(f *cmdutil.Factory) *cobra.Command { return NewCmdToken(f, nil) }

func TestCreateListRevoke(t *testing.T) {
	db := filepath.Join(t.TempDir(), "s.db")
	run := func(args ...string) (string, error) {
		return clitest.Exec(t, nil, newCmd, append(args, "--db", db)...)
	}
	out, err := run("create", "--name", "ci-payments", "--role", "operator", "--team", "payments", "--env", "prod", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var ct struct {
		ID, Secret string
		Role       access.Role
		Scope      access.Scope
	}
	if err := json.Unmarshal([]byte(out), &ct); err != nil || !strings.HasPrefix(ct.Secret, access.TokenPrefix) || ct.Role != access.Operator ||
		ct.Scope.String() != "teams=payments envs=prod" {
		t.Fatalf("create: %v %s", err, out)
	}
	out, err = run("list")
	if err != nil || !strings.Contains(out, ct.ID) || !strings.Contains(out, "ci-payments") || !strings.Contains(out, "active") || strings.Contains(out, ct.Secret) {
		t.Errorf("list: %v\n%s\nwant the token, active, without its secret", err, out)
	}
	// Stored hashed, usable until revoked.
	st, err := app.OpenStore(context.Background(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if tok, err := st.TokenByHash(context.Background(), access.Hash(ct.Secret)); err != nil || tok.ID != ct.ID {
		t.Fatalf("token by hash of its secret: %+v %v", tok, err)
	}
	if _, err := run("revoke", ct.ID); err != nil {
		t.Fatal(err)
	}
	if out, _ := run("list"); !strings.Contains(out, "revoked") {
		t.Errorf("list after revoke:\n%s", out)
	}
	if _, err := run("revoke", "tok_nope"); cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "no token tok_nope") {
		t.Errorf("revoke unknown: %v, want a usage error naming it", err)
	}
	if _, err := run("create", "--name", "x", "--role", "boss"); cmdutil.ExitCode(err) != cmdutil.ExitUsage {
		t.Errorf("bad role: %v, want a usage error", err)
	}
	log, err := st.AccessLog(context.Background(), time.Time{}, 10)
	if err != nil || len(log) != 2 || log[0].Action != access.ActionTokenRevoke || log[1].Action != access.ActionTokenCreate {
		t.Errorf("access log: %+v %v, want create then revoke", log, err)
	}
}
