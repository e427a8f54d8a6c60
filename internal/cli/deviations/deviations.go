// Package deviations is `shiplog deviations`: deployments that break a policy.
package deviations

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/shiplog-dev/shiplog/internal/cli/cmdutil"
	"github.com/shiplog-dev/shiplog/internal/config"
	"github.com/shiplog-dev/shiplog/internal/engine"
	"github.com/shiplog-dev/shiplog/internal/engine/policy"
)

// Options are the command's inputs.
type Options struct {
	Config   config.Config
	Factory  *cmdutil.Factory
	Since    string
	App      string
	Team     string
	Envs     []string
	Rules    []string
	Severity string
	Output   string
	Now      func() time.Time
}

// NewCmdDeviations returns the command; runF replaces the run function in tests.
func NewCmdDeviations(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{Factory: f, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "deviations",
		Short: "List deployments that break a policy",
		Long: `Evaluate the policies (config key policies; the starter set when it is
absent) over the deployments of a window and list each deviation with the rule
that fired and the values that made it fire. Writing rules: docs/policies.md.`,
		Example: `  shiplog deviations --since 30d --env prod
  shiplog deviations --rule no-approval --severity critical -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.Config(cmd)
			if err != nil {
				return err
			}
			opts.Config = cfg
			if err := cmdutil.CheckOutput(opts.Output); err != nil {
				return err
			}
			if opts.Severity != "" {
				if _, err := policy.ParseSeverity(opts.Severity); err != nil {
					return cmdutil.UsageError(fmt.Errorf("--severity: %w", err))
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Since, "since", "30d", "window start: a duration back from now (30d, 2w) or a date")
	cmd.Flags().StringVar(&opts.App, "app", "", "only this app")
	cmd.Flags().StringVar(&opts.Team, "team", "", "only this team's apps")
	cmd.Flags().StringArrayVar(&opts.Envs, "env", nil, "environments (repeatable; default every environment)")
	cmd.Flags().StringArrayVar(&opts.Rules, "rule", nil, "only these rules (repeatable)")
	cmd.Flags().StringVar(&opts.Severity, "severity", "", "only rules of this severity: info, warning, critical")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "table", "table, json or yaml")
	return cmd
}

func run(ctx context.Context, opts *Options) error {
	now := opts.Now()
	since, err := cmdutil.ParseSince(opts.Since, now)
	if err != nil {
		return err
	}
	st, eng, err := opts.Factory.OpenEngine(ctx, opts.Config, opts.Now)
	if err != nil {
		return err
	}
	defer st.Close()
	sev, _ := policy.ParseSeverity(opts.Severity)
	if opts.Severity == "" {
		sev = ""
	}
	res, err := eng.Deviations(ctx, engine.DeviationQuery{App: opts.App, Team: opts.Team, Envs: opts.Envs, Since: since, Until: now,
		Rules: opts.Rules, Severity: sev})
	if err != nil {
		return err
	}
	if opts.Output != "table" {
		return cmdutil.Encode(opts.Factory.IO.Out, opts.Output, res)
	}
	return writeTable(opts.Factory.IO.Out, res)
}

func writeTable(w io.Writer, res policy.Result) error {
	fmt.Fprintf(w, "%d deviations in %d deployments\n\n", len(res.Deviations), res.Deployments)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LIVE AT\tAPP\tENV\tRULE\tSEVERITY\tARTIFACT")
	for _, d := range res.Deviations {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.Deployment.LiveAt.UTC().Format(time.RFC3339), d.Deployment.App, d.Deployment.Env,
			d.Rule, d.Severity, d.Deployment.Artifact)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, e := range res.Errors {
		fmt.Fprintf(w, "could not evaluate: %+v\n", e)
	}
	return nil
}
