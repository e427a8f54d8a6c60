// Package root assembles the shiplog command tree.
package root

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/shiplog-dev/shiplog/internal/cli/audit"
	"github.com/shiplog-dev/shiplog/internal/cli/bumpcmd"
	"github.com/shiplog-dev/shiplog/internal/cli/cmdutil"
	"github.com/shiplog-dev/shiplog/internal/cli/configcmd"
	"github.com/shiplog-dev/shiplog/internal/cli/democmd"
	"github.com/shiplog-dev/shiplog/internal/cli/deployments"
	"github.com/shiplog-dev/shiplog/internal/cli/deviations"
	"github.com/shiplog-dev/shiplog/internal/cli/emit"
	"github.com/shiplog-dev/shiplog/internal/cli/importcmd"
	"github.com/shiplog-dev/shiplog/internal/cli/metricscmd"
	"github.com/shiplog-dev/shiplog/internal/cli/migrate"
	"github.com/shiplog-dev/shiplog/internal/cli/report"
	"github.com/shiplog-dev/shiplog/internal/cli/rollback"
	"github.com/shiplog-dev/shiplog/internal/cli/serve"
	"github.com/shiplog-dev/shiplog/internal/cli/status"
	"github.com/shiplog-dev/shiplog/internal/cli/token"
	"github.com/shiplog-dev/shiplog/internal/cli/versioncmd"
	"github.com/shiplog-dev/shiplog/internal/cli/where"
	"github.com/shiplog-dev/shiplog/internal/config"
)

// NewCmdRoot returns the root command with every subcommand.
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "shiplog",
		Short: "See and measure the GitOps delivery flow, from commit to live traffic",
		Long: `shiplog records every step of the GitOps delivery flow — commit, pull
request, CI, image, manifest change, Argo CD sync, Knative revision, traffic —
links them into per-change traces and computes delivery metrics.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.SetIn(f.IO.In)
	cmd.SetOut(f.IO.Out)
	cmd.SetErr(f.IO.ErrOut)
	cmd.PersistentFlags().String("config.file", "", "configuration file (shiplog.yaml); default $"+cmdutil.ConfigFileEnv)
	config.AddFlags(cmd.PersistentFlags(), "db", "log.level", "log.format")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cmdutil.UsageError(err) })
	serveCmd := serve.NewCmdServe(f, nil)
	// The /ingest endpoints' settings, on the command that serves them.
	config.AddFlags(serveCmd.Flags(), config.IngestFlags()...)
	cmd.AddCommand(
		serveCmd,
		migrate.NewCmdMigrate(f, nil),
		versioncmd.NewCmdVersion(f),
		configcmd.NewCmdConfig(f),
		importcmd.NewCmdImport(f),
		deployments.NewCmdDeployments(f, nil),
		emit.NewCmdEmit(f, nil),
		metricscmd.NewCmdMetrics(f, nil),
		democmd.NewCmdDemo(f, nil),
		deviations.NewCmdDeviations(f, nil),
		where.NewCmdWhere(f, nil),
		status.NewCmdStatus(f, nil),
		audit.NewCmdAudit(f, nil),
		bumpcmd.NewCmdBump(f, nil),
		rollback.NewCmdRollback(f, nil),
		report.NewCmdReport(f, nil),
		token.NewCmdToken(f, nil),
	)
	return cmd
}

// Main runs the command line args and returns the process exit code.
func Main(ctx context.Context, args []string, in io.Reader, out, errOut io.Writer) int {
	f := cmdutil.NewFactory(in, out, errOut)
	cmd := NewCmdRoot(f)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err != nil {
		code := cmdutil.ExitCode(err)
		if code == cmdutil.ExitFailure && isCobraUsage(err) {
			code = cmdutil.ExitUsage
		}
		fmt.Fprintf(errOut, "shiplog: %v\n", err)
		return code
	}
	return cmdutil.ExitOK
}

// isCobraUsage recognises cobra's own argument errors (unknown command,
// wrong number of arguments), which it returns as plain errors.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "unknown flag", "unknown shorthand"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}
