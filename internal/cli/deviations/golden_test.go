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
	fx := clitest.New(t)
	tests := []struct {
		name, golden string
		args         []string
	}{
		{"table", "deviations.txt", nil},
		{"json", "deviations.json", []string{"-o", "json"}},
		{"critical in prod", "deviations-critical-prod.txt", []string{"--env", "prod", "--severity", "critical"}},
		{"one rule of one team json", "deviations-payments-not-pinned.json", []string{"--team", "payments", "--rule", "image-not-pinned", "-o", "json"}},
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
	for _, m := range fx.Modes() {
		t.Run("unknown rule/"+m.Name, func(t *testing.T) {
			_, err := clitest.Exec(t, m.Env, newCmd, append([]string{"--rule", "no-such-rule"}, m.Args...)...)
			if cmdutil.ExitCode(err) != cmdutil.ExitUsage {
				t.Errorf("got %v (exit %d), want a usage error", err, cmdutil.ExitCode(err))
			}
		})
	}
}
