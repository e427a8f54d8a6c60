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
	clitest.RunGolden(t, newCmd, []clitest.Case{
		{Name: "table", Golden: "status.txt", Args: nil},
		{Name: "json", Golden: "status.json", Args: []string{"-o", "json"}},
		{Name: "yaml", Golden: "status.yaml", Args: []string{"-o", "yaml"}},
		{Name: "prod table", Golden: "status-prod.txt", Args: []string{"--env", "prod"}},
		{Name: "team json", Golden: "status-team-platform.json", Args: []string{"--team", "platform", "-o", "json"}},
	})
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
