package deployments

import (
	"context"
	"testing"

	"github.com/spf13/cobra"

	"github.com/shiplog-dev/shiplog/internal/cli/clitest"
	"github.com/shiplog-dev/shiplog/internal/cli/cmdutil"
)

func newCmd(f *cmdutil.Factory) *cobra.Command {
	return NewCmdDeployments(f, func(ctx context.Context, o *Options) error {
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
		{"table", "deployments.txt", nil},
		{"json", "deployments.json", []string{"-o", "json"}},
		{"one app in one environment since", "deployments-checkout-prod.txt", []string{"--app", "checkout", "--env", "prod", "--since", "2w"}},
		{"yaml", "deployments-gateway.yaml", []string{"--app", "gateway", "-o", "yaml"}},
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
