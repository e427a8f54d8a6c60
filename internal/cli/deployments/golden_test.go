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
	clitest.RunGolden(t, newCmd, []clitest.Case{
		{Name: "table", Golden: "deployments.txt", Args: nil},
		{Name: "json", Golden: "deployments.json", Args: []string{"-o", "json"}},
		{Name: "one app in one environment since", Golden: "deployments-checkout-prod.txt", Args: []string{"--app", "checkout", "--env", "prod", "--since", "2w"}},
		{Name: "yaml", Golden: "deployments-gateway.yaml", Args: []string{"--app", "gateway", "-o", "yaml"}},
	})
}
