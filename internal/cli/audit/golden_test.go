package audit

import (
	"context"
	"testing"

	"github.com/spf13/cobra"

	"github.com/shiplog-dev/shiplog/internal/cli/clitest"
	"github.com/shiplog-dev/shiplog/internal/cli/cmdutil"
)

func newCmd(f *cmdutil.Factory) *cobra.Command {
	return NewCmdAudit(f, func(ctx context.Context, o *Options) error {
		o.Now = clitest.Clock
		return run(ctx, o)
	})
}

// TestGolden checks the output, CSV and JSON, on the store and through a
// server: the same bytes but for when and how fast the trail was generated
// (go test -update rewrites the files).
func TestGolden(t *testing.T) {
	clitest.RunGolden(t, newCmd, []clitest.Case{
		{Name: "csv", Golden: "audit.csv", Args: nil},
		{Name: "json", Golden: "audit.json", Args: []string{"--format", "json"}},
		{Name: "prod csv", Golden: "audit-prod.csv", Args: []string{"--env", "prod", "--since", "2w"}},
		{Name: "team json", Golden: "audit-platform.json", Args: []string{"--team", "platform", "--format", "json"}},
	}, clitest.GeneratedJSON)
}
