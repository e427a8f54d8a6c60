// Package metricscmd is `shiplog metrics`: delivery KPIs from the store.
package metricscmd

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/shiplog-dev/shiplog/internal/api"
	"github.com/shiplog-dev/shiplog/internal/cli/cmdutil"
	"github.com/shiplog-dev/shiplog/internal/config"
	"github.com/shiplog-dev/shiplog/internal/engine"
	"github.com/shiplog-dev/shiplog/internal/engine/metrics"
)

// Options are the command's inputs.
type Options struct {
	Config      config.Config
	Factory     *cmdutil.Factory
	Since       string
	App         string
	Team        string
	Envs        []string
	BeforeAfter string
	Output      string
	Now         func() time.Time
	Remote      cmdutil.Remote
	// Client reads a server's API instead of the store; nil: the store.
	Client *cmdutil.Client
}

// NewCmdMetrics returns the command; runF replaces the run function in tests.
func NewCmdMetrics(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{Factory: f, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "metrics",
		Short: "Delivery metrics (DORA) with tiers, from the store",
		Long: `Compute the delivery metrics — deployment frequency, lead time for changes
(median, p90, where the time goes), change failure rate, failed-deployment
recovery time, rework rate — with their DORA tiers, over a window, for the
production environments unless --env says otherwise. Definitions:
docs/metrics.md.

With --server (or $SHIPLOG_SERVER), read a shiplog server's API instead of
the store, with the API token in $SHIPLOG_TOKEN or --token-file.`,
		Example: `  shiplog metrics --since 90d
  shiplog metrics --since 180d --team payments --before-after 2026-03-01 -o json
  shiplog metrics --since 180d --before-after adoption`,
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
			if opts.Client, err = f.Client(cmd, opts.Remote); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Since, "since", "90d", "window start: a duration back from now (90d, 2w) or a date")
	cmd.Flags().StringVar(&opts.App, "app", "", "only this app")
	cmd.Flags().StringVar(&opts.Team, "team", "", "only this team's apps (config key teams)")
	cmd.Flags().StringArrayVar(&opts.Envs, "env", nil, "environments to count (repeatable; default metrics.production_envs)")
	cmd.Flags().StringVar(&opts.BeforeAfter, "before-after", "", "also compare before and after this date, or \"adoption\": each app's own GitOps adoption date")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "table", "table, json or yaml")
	cmdutil.AddRemoteFlags(cmd, &opts.Remote)
	return cmd
}

// Output is what --output json prints.
type Output struct {
	metrics.Report
	BeforeAfter *metrics.Comparison `json:"before_after,omitempty"`
}

func run(ctx context.Context, opts *Options) error {
	now := opts.Now()
	since, err := cmdutil.ParseSince(opts.Since, now)
	if err != nil {
		return err
	}
	var at time.Time
	adoption := opts.BeforeAfter == api.BeforeAfterAdoption
	if opts.BeforeAfter != "" && !adoption {
		if at, err = time.Parse("2006-01-02", opts.BeforeAfter); err != nil {
			if at, err = time.Parse(time.RFC3339, opts.BeforeAfter); err != nil {
				return cmdutil.UsageError(fmt.Errorf("--before-after %q: want a date (2006-01-02), an RFC 3339 time or %q", opts.BeforeAfter, api.BeforeAfterAdoption))
			}
		}
		if !at.After(since) || !at.Before(now) {
			return cmdutil.UsageError(fmt.Errorf("--before-after %s is outside the window %s – now", at.Format(time.DateOnly), since.Format(time.DateOnly)))
		}
	}
	q := engine.Query{App: opts.App, Team: opts.Team, Envs: opts.Envs, Since: since, Until: now}
	var out Output
	if opts.Client != nil {
		out, err = remote(ctx, opts.Client, q, at, adoption)
	} else {
		out, err = local(ctx, opts, q, at, adoption)
	}
	if err != nil {
		return err
	}
	if opts.Output != "table" {
		return cmdutil.Encode(opts.Factory.IO.Out, opts.Output, out)
	}
	return writeTable(opts.Factory.IO.Out, out)
}

// local computes the metrics of q from the store.
// With adoption, it compares before and after each app's GitOps adoption.
func local(ctx context.Context, opts *Options, q engine.Query, at time.Time, adoption bool) (Output, error) {
	st, eng, err := opts.Factory.OpenEngine(ctx, opts.Config, opts.Now)
	if err != nil {
		return Output{}, err
	}
	defer st.Close()
	rep, _, err := eng.Metrics(ctx, q)
	if err != nil {
		return Output{}, err
	}
	out := Output{Report: rep}
	if adoption {
		c, err := eng.CompareAdoption(ctx, q)
		if err != nil {
			return Output{}, err
		}
		out.BeforeAfter = &c
	} else if !at.IsZero() {
		c, err := eng.Compare(ctx, q, at)
		if err != nil {
			return Output{}, err
		}
		out.BeforeAfter = &c
	}
	return out, nil
}

// remote reads the metrics of q from the server's /api/v1/metrics, whose
// answer holds Output's fields and more.
func remote(ctx context.Context, c *cmdutil.Client, q engine.Query, at time.Time, adoption bool) (Output, error) {
	p := cmdutil.Query("app", q.App, "team", q.Team, "since", cmdutil.FormatTime(q.Since), "until", cmdutil.FormatTime(q.Until))
	for _, e := range q.Envs {
		p.Add("env", e)
	}
	if adoption {
		p.Set("before_after", api.BeforeAfterAdoption)
	} else if !at.IsZero() {
		p.Set("before_after", cmdutil.FormatTime(at))
	}
	var out Output
	return out, c.Get(ctx, "/api/v1/metrics", p, &out)
}

func writeTable(w io.Writer, o Output) error {
	r := o.Report
	scope := "all apps"
	if r.Filter.App != "" {
		scope = "app " + r.Filter.App
	} else if r.Filter.Team != "" {
		scope = "team " + r.Filter.Team
	}
	fmt.Fprintf(w, "Delivery metrics, %s, environments %s, %s – %s\n\n", scope, strings.Join(r.Filter.Envs, ", "),
		r.Since.UTC().Format(time.DateOnly), r.Until.UTC().Format(time.DateOnly))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "METRIC\tVALUE\tTIER\tBASED ON")
	fmt.Fprintf(tw, "Deployment frequency\t%.2f/day (%d deploy days)\t%s\t%d deployments\n", r.DeploymentFrequencyPerDay, r.DeployDays, r.Tiers["deployment_frequency"], r.Deployments)
	fmt.Fprintf(tw, "Lead time for changes\tmedian %s, p90 %s\t%s\t%d changes (%d without a commit time)\n", dur(r.LeadTimeMedianSeconds), dur(r.LeadTimeP90Seconds), r.Tiers["lead_time"], r.LeadTimeChanges, r.ChangesWithoutTime)
	fmt.Fprintf(tw, "Change failure rate\t%s\t%s\t%d failed of %d\n", pct(r.ChangeFailureRate), r.Tiers["change_failure_rate"], r.FailedDeployments, r.Deployments)
	fmt.Fprintf(tw, "Recovery time\tmedian %s\t%s\t%d recovered, %d not yet\n", dur(r.RecoveryTimeMedianSeconds), r.Tiers["recovery_time"], r.Recovered, r.Unrecovered)
	fmt.Fprintf(tw, "Rework rate\t%s\t\t%d rollbacks, reverts or hotfixes\n", pct(r.ReworkRate), r.ReworkDeployments)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Stages) > 0 {
		fmt.Fprintln(w, "\nWhere the lead time goes (mean per change):")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, s := range r.Stages {
			v := s.MeanSeconds
			fmt.Fprintf(tw, "  %s\t%s\t(known for %d changes)\n", s.Name, dur(&v), s.Known)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if c := o.BeforeAfter; c != nil {
		if c.By == api.BeforeAfterAdoption {
			fmt.Fprintln(w, "\nBefore and after each app's GitOps adoption:")
		} else {
			fmt.Fprintf(w, "\nBefore and after %s:\n", c.At.UTC().Format(time.DateOnly))
		}
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  METRIC\tBEFORE\tAFTER")
		per := "day"
		if c.By == api.BeforeAfterAdoption {
			per = "app-day"
		}
		fmt.Fprintf(tw, "  Deployments per %s\t%.2f\t%.2f\n", per, c.Before.DeploymentFrequencyPerDay, c.After.DeploymentFrequencyPerDay)
		fmt.Fprintf(tw, "  Lead time (median)\t%s\t%s\n", dur(c.Before.LeadTimeMedianSeconds), dur(c.After.LeadTimeMedianSeconds))
		fmt.Fprintf(tw, "  Change failure rate\t%s\t%s\n", pct(c.Before.ChangeFailureRate), pct(c.After.ChangeFailureRate))
		fmt.Fprintf(tw, "  Recovery time (median)\t%s\t%s\n", dur(c.Before.RecoveryTimeMedianSeconds), dur(c.After.RecoveryTimeMedianSeconds))
		fmt.Fprintf(tw, "  Rework rate\t%s\t%s\n", pct(c.Before.ReworkRate), pct(c.After.ReworkRate))
		if err := tw.Flush(); err != nil {
			return err
		}
		if len(c.Apps) > 0 {
			fmt.Fprintln(w)
			tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  APP\tADOPTED\tFROM\tBEFORE\tAFTER")
			for _, a := range c.Apps {
				adopted, from := "never (all before)", "-"
				if a.AdoptedAt != nil {
					adopted, from = a.AdoptedAt.UTC().Format(time.DateOnly), a.Source
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%d\n", a.App, adopted, from, a.BeforeDeployments, a.AfterDeployments)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

func pct(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.1f %%", *v*100)
}

// dur prints seconds the way people read lead times: 3d 4h, 5h 12m, 40m, 12s.
func dur(v *float64) string {
	if v == nil {
		return "n/a"
	}
	d := time.Duration(*v * float64(time.Second)).Round(time.Second)
	switch {
	case d >= 24*time.Hour:
		return fmt.Sprintf("%dd %dh", d/(24*time.Hour), (d%(24*time.Hour))/time.Hour)
	case d >= time.Hour:
		return fmt.Sprintf("%dh %dm", d/time.Hour, (d%time.Hour)/time.Minute)
	case d >= time.Minute:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}
