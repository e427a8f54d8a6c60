// Package deviations is `shiplog deviations`: deployments that break a policy.
package deviations

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/shiplog-dev/shiplog/internal/api"
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
	Remote   cmdutil.Remote
	// Client reads a server's API instead of the store; nil: the store.
	Client *cmdutil.Client
}

// NewCmdDeviations returns the command; runF replaces the run function in tests.
func NewCmdDeviations(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{Factory: f, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "deviations",
		Short: "List deployments that break a policy",
		Long: `Evaluate the policies (config key policies; the starter set when it is
absent) over the deployments of a window and list each deviation with the rule
that fired and the values that made it fire. Writing rules: docs/policies.md.

With --server (or $SHIPLOG_SERVER), read them from a shiplog server's API
instead of the store, with the API token in $SHIPLOG_TOKEN or --token-file.`,
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
			if opts.Client, err = f.Client(cmd, opts.Remote); err != nil {
				return err
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
	cmdutil.AddRemoteFlags(cmd, &opts.Remote)
	return cmd
}

func run(ctx context.Context, opts *Options) error {
	now := opts.Now()
	since, err := cmdutil.ParseSince(opts.Since, now)
	if err != nil {
		return err
	}
	var sev policy.Severity
	if opts.Severity != "" {
		sev, _ = policy.ParseSeverity(opts.Severity)
	}
	q := engine.DeviationQuery{App: opts.App, Team: opts.Team, Envs: opts.Envs, Since: since, Until: now, Rules: opts.Rules, Severity: sev}
	var res policy.Result
	if opts.Client != nil {
		res, err = remote(ctx, opts.Client, q)
	} else {
		res, err = local(ctx, opts, q)
	}
	if err != nil {
		return err
	}
	if opts.Output != "table" {
		return cmdutil.Encode(opts.Factory.IO.Out, opts.Output, res)
	}
	return writeTable(opts.Factory.IO.Out, res)
}

// local evaluates the policies over the store.
func local(ctx context.Context, opts *Options, q engine.DeviationQuery) (policy.Result, error) {
	st, eng, err := opts.Factory.OpenEngine(ctx, opts.Config, opts.Now)
	if err != nil {
		return policy.Result{}, err
	}
	defer st.Close()
	rules, err := eng.Rules()
	if err != nil {
		return policy.Result{}, err
	}
	var names []string
	for _, r := range rules {
		names = append(names, r.Name)
	}
	for _, r := range q.Rules {
		if !slices.Contains(names, r) {
			return policy.Result{}, cmdutil.UsageError(fmt.Errorf("--rule: no policy is named %q (policies: %s)", r, strings.Join(names, ", ")))
		}
	}
	return eng.Deviations(ctx, q)
}

// remote reads every page of the server's /api/v1/deviations.
func remote(ctx context.Context, c *cmdutil.Client, q engine.DeviationQuery) (policy.Result, error) {
	p := cmdutil.Query("app", q.App, "team", q.Team, "severity", string(q.Severity), "since", cmdutil.FormatTime(q.Since), "until", cmdutil.FormatTime(q.Until))
	for _, e := range q.Envs {
		p.Add("env", e)
	}
	for _, r := range q.Rules {
		p.Add("rule", r)
	}
	p.Set("limit", "1000")
	res := policy.Result{Deviations: []policy.Deviation{}, Errors: []policy.EvalError{}}
	for offset := 0; ; {
		p.Set("offset", strconv.Itoa(offset))
		var page api.DeviationsPage
		if err := c.Get(ctx, "/api/v1/deviations", p, &page); err != nil {
			return policy.Result{}, err
		}
		res.Deviations = append(res.Deviations, page.Items...)
		res.Deployments = page.Deployments
		if offset == 0 && page.Errors != nil {
			res.Errors = page.Errors
		}
		if page.NextOffset == nil || *page.NextOffset <= offset {
			return res, nil
		}
		offset = *page.NextOffset
	}
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
