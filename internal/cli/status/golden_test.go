package status

import (
	"context"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/shiplog-dev/shiplog/internal/cli/clitest"
	"github.com/shiplog-dev/shiplog/internal/cli/cmdutil"
)

func newCmd(f *cmdutil.Factory) *cobra.Command {
	return NewCmdStatus(f, func(ctx context.Context, o *Options) error {
		o.Now = clitest.Clock
		return run(ctx, o)
	})
}

// TestGolden checks the output, table and JSON, on the store and through a
// server: the same bytes (go test -update rewrites the files).
func TestGolden(t *testing.T) {
	fx := clitest.New(t)
	tests := []struct {
		name, golden string
		args         []string
	}{
		{"table", "status.txt", nil},
		{"json", "status.json", []string{"-o", "json"}},
		{"yaml", "status.yaml", []string{"-o", "yaml"}},
		{"prod table", "status-prod.txt", []string{"--env", "prod"}},
		{"team json", "status-team-platform.json", []string{"--team", "platform", "-o", "json"}},
	}
	for _, tc := range tests {
		for _, m := range fx.Modes() {
			t.Run(tc.name+"/"+m.Name, func(t *testing.T) {
				out, err := clitest.Exec(t, m.Env, newCmd, append(tc.args, m.Args...)...)
				if err != nil {
					t.Fatal(err)
				}
				clitest.Golden(t, tc.golden, out, m.Write)
			})
		}
	}
}

// TestServerRefuses checks what a command says when the real server
// refuses its credentials.
func TestServerRefuses(t *testing.T) {
	fx := clitest.New(t)
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no token", map[string]string{}, "needs an API token"},
		{"a wrong token", map[string]string{cmdutil.TokenEnv: "shiplog_not-a-token"}, "refused the token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := clitest.Exec(t, tc.env, newCmd, "--server", fx.Server)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "$SHIPLOG_TOKEN") {
				t.Errorf("got %v, want an error saying it %s and naming $SHIPLOG_TOKEN", err, tc.want)
			}
			if cmdutil.ExitCode(err) != cmdutil.ExitFailure {
				t.Errorf("exit code %d, want %d", cmdutil.ExitCode(err), cmdutil.ExitFailure)
			}
		})
	}
}
