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
	clitest.RunGolden(t, newCmd, []clitest.Case{
		{Name: "table", Golden: "metrics.txt", Args: []string{"--since", "30d"}},
		{Name: "json", Golden: "metrics.json", Args: []string{"--since", "30d", "-o", "json"}},
		{Name: "before and after table", Golden: "metrics-before-after.txt", Args: []string{"--since", "4w", "--before-after", "2026-03-02"}},
		{Name: "before and after adoption table", Golden: "metrics-adoption.txt", Args: []string{"--since", "4w", "--before-after", "adoption"}},
		{Name: "before and after adoption json", Golden: "metrics-adoption.json", Args: []string{"--since", "4w", "--before-after", "adoption", "-o", "json"}},
		{Name: "team and environments json", Golden: "metrics-payments.json", Args: []string{"--since", "30d", "--team", "payments", "--env", "prod", "--env", "staging", "-o", "json"}},
	})
}
