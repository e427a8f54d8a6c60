package metricscmd

import (
	"context"
	"testing"

	"github.com/spf13/cobra"

	"github.com/shiplog-dev/shiplog/internal/cli/clitest"
	"github.com/shiplog-dev/shiplog/internal/cli/cmdutil"
)

func newCmd(f *cmdutil.Factory) *cobra.Command {
	return NewCmdMetrics(f, func(ctx context.Context, o *Options) error {
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
		{"table", "metrics.txt", []string{"--since", "30d"}},
		{"json", "metrics.json", []string{"--since", "30d", "-o", "json"}},
		{"before and after table", "metrics-before-after.txt", []string{"--since", "4w", "--before-after", "2026-03-02"}},
		{"team and environments json", "metrics-payments.json", []string{"--since", "30d", "--team", "payments", "--env", "prod", "--env", "staging", "-o", "json"}},
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
