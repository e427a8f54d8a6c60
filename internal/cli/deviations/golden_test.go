package deviations

import (
	"context"
	"testing"

	"github.com/spf13/cobra"

	"github.com/shiplog-dev/shiplog/internal/cli/clitest"
	"github.com/shiplog-dev/shiplog/internal/cli/cmdutil"
)

func newCmd(f *cmdutil.Factory) *cobra.Command {
	return NewCmdDeviations(f, func(ctx context.Context, o *Options) error {
		o.Now = clitest.Clock
		return run(ctx, o)
	})
}

// TestGolden checks the output, table and JSON, on the store and through a
// server: the same bytes (go test -update rewrites the files).
func TestGolden(t *testing.T) {
	clitest.RunGolden(t, newCmd, []clitest.Case{
		{Name: "table", Golden: "deviations.txt", Args: nil},
		{Name: "json", Golden: "deviations.json", Args: []string{"-o", "json"}},
		{Name: "critical in prod", Golden: "deviations-critical-prod.txt", Args: []string{"--env", "prod", "--severity", "critical"}},
		{Name: "one rule of one team json", Golden: "deviations-payments-not-pinned.json", Args: []string{"--team", "payments", "--rule", "image-not-pinned", "-o", "json"}},
	})
	for _, m := range clitest.New(t).Modes() {
		t.Run("unknown rule/"+m.Name, func(t *testing.T) {
			_, err := clitest.Exec(t, m.Env, newCmd, append([]string{"--rule", "no-such-rule"}, m.Args...)...)
			if cmdutil.ExitCode(err) != cmdutil.ExitUsage {
				t.Errorf("got %v (exit %d), want a usage error", err, cmdutil.ExitCode(err))
			}
		})
	}
}
