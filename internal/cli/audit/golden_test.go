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
	fx := clitest.New(t)
	tests := []struct {
		name, golden string
		args         []string
	}{
		{"csv", "audit.csv", nil},
		{"json", "audit.json", []string{"--format", "json"}},
		{"prod csv", "audit-prod.csv", []string{"--env", "prod", "--since", "2w"}},
		{"team json", "audit-platform.json", []string{"--team", "platform", "--format", "json"}},
	}
	for _, tc := range tests {
		for _, m := range fx.Modes() {
			t.Run(tc.name+"/"+m.Name, func(t *testing.T) {
				out, err := clitest.Exec(t, m.Env, newCmd, append(tc.args, m.Args...)...)
				if err != nil {
					t.Fatal(err)
				}
				clitest.Golden(t, tc.golden, clitest.GeneratedJSON.Apply(out), m.Write)
			})
		}
	}
}
