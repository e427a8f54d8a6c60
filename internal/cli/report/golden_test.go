package report

import (
	"context"
	"testing"

	"github.com/spf13/cobra"

	"github.com/shiplog-dev/shiplog/internal/cli/clitest"
	"github.com/shiplog-dev/shiplog/internal/cli/cmdutil"
)

func newCmd(f *cmdutil.Factory) *cobra.Command {
	return NewCmdReport(f, func(ctx context.Context, o *Options) error {
		o.Now = clitest.Clock
		return run(ctx, o)
	})
}

// TestGolden checks the report, Markdown, HTML and JSON, on the store and
// through a server: the same bytes but for when and how fast it was
// generated (go test -update rewrites the files).
func TestGolden(t *testing.T) {
	clitest.RunGolden(t, newCmd, []clitest.Case{
		{Name: "markdown", Golden: "report.md", Args: []string{"--since", "30d", "--before-after", "2026-03-02"}},
		{Name: "html", Golden: "report.html", Args: []string{"--since", "30d", "--before-after", "2026-03-02", "--format", "html"}},
		{Name: "json", Golden: "report.json", Args: []string{"--since", "30d", "--before-after", "2026-03-02", "--format", "json"}},
		{Name: "adoption markdown", Golden: "report-adoption.md", Args: []string{"--since", "30d", "--before-after", "adoption"}},
		{Name: "adoption html", Golden: "report-adoption.html", Args: []string{"--since", "30d", "--before-after", "adoption", "--format", "html"}},
		{Name: "team markdown", Golden: "report-payments.md", Args: []string{"--since", "6w", "--team", "payments", "--env", "prod", "--env", "staging"}},
		{Name: "app json", Golden: "report-gateway.json", Args: []string{"--since", "30d", "--app", "gateway", "--format", "json"}},
	}, clitest.GeneratedText, clitest.GeneratedJSON)
}
