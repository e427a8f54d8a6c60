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
	fx := clitest.New(t)
	tests := []struct {
		name, golden string
		args         []string
	}{
		{"markdown", "report.md", []string{"--since", "30d", "--before-after", "2026-03-02"}},
		{"html", "report.html", []string{"--since", "30d", "--before-after", "2026-03-02", "--format", "html"}},
		{"json", "report.json", []string{"--since", "30d", "--before-after", "2026-03-02", "--format", "json"}},
		{"team markdown", "report-payments.md", []string{"--since", "6w", "--team", "payments", "--env", "prod", "--env", "staging"}},
		{"app json", "report-gateway.json", []string{"--since", "30d", "--app", "gateway", "--format", "json"}},
	}
	for _, tc := range tests {
		for _, m := range fx.Modes() {
			t.Run(tc.name+"/"+m.Name, func(t *testing.T) {
				out, err := clitest.Exec(t, m.Env, newCmd, append(tc.args, m.Args...)...)
				if err != nil {
					t.Fatal(err)
				}
				clitest.Golden(t, tc.golden, clitest.GeneratedJSON.Apply(clitest.GeneratedText.Apply(out)), m.Write)
			})
		}
	}
}
