// Package status is `shiplog status`: apps × environments right now.
package status

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
	"github.com/shiplog-dev/shiplog/internal/store"
)

// Options are the command's inputs.
type Options struct {
	Config  config.Config
	Factory *cmdutil.Factory
	Env     string
	Team    string
	Output  string
	Now     func() time.Time
	Remote  cmdutil.Remote
	// Client reads a server's API instead of the store; nil: the store.
	Client *cmdutil.Client
}

// NewCmdStatus returns the command; runF replaces the run function in tests.
func NewCmdStatus(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{Factory: f, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Apps × environments: live version, sync and health, traffic split, replicas",
		Args:  cobra.NoArgs,
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
	cmd.Flags().StringVar(&opts.Env, "env", "", "only this environment")
	cmd.Flags().StringVar(&opts.Team, "team", "", "only this team's apps")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "table", "table, json or yaml")
	cmdutil.AddRemoteFlags(cmd, &opts.Remote)
	return cmd
}

// Row is one app in one environment; Target one revision's share of
// traffic.
type (
	Row    = api.StatusRow
	Target = api.TrafficTarget
)

// Status builds one row per app and environment known to the store, at
// now: what the command and /api/v1/status show.
func Status(ctx context.Context, eng *engine.Engine, st *store.Store, now time.Time) ([]Row, error) {
	return api.Status(ctx, eng, st, api.StatusQuery{Now: now})
}

func run(ctx context.Context, opts *Options) error {
	now := opts.Now()
	var rows []Row
	if c := opts.Client; c != nil {
		var resp api.StatusResponse
		if err := c.Get(ctx, "/api/v1/status", cmdutil.Query("env", opts.Env, "team", opts.Team), &resp); err != nil {
			return err
		}
		rows = resp.Items
	} else {
		st, eng, err := opts.Factory.OpenEngine(ctx, opts.Config, opts.Now)
		if err != nil {
			return err
		}
		defer st.Close()
		if rows, err = api.Status(ctx, eng, st, api.StatusQuery{Env: opts.Env, Team: opts.Team, Now: now}); err != nil {
			return err
		}
	}
	if opts.Output != "table" {
		if rows == nil {
			rows = []Row{}
		}
		return cmdutil.Encode(opts.Factory.IO.Out, opts.Output, rows)
	}
	return writeTable(opts.Factory.IO.Out, rows, now)
}

func writeTable(w io.Writer, rows []Row, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "APP\tENV\tLIVE\tSINCE\tBY\tSYNC\tHEALTH\tTRAFFIC\tREPLICAS")
	for _, r := range rows {
		live, since := dash(r.Artifact), "-"
		if r.Failed {
			live += " (failed)"
		}
		if !r.LiveSince.IsZero() {
			since = age(now.Sub(r.LiveSince)) + " ago"
		}
		var split []string
		for _, t := range r.Traffic {
			split = append(split, fmt.Sprintf("%s %d%%", t.Revision, t.Percent))
		}
		replicas := "-"
		if r.Replicas != nil {
			replicas = fmt.Sprint(*r.Replicas)
			if *r.Replicas == 0 {
				replicas = "0 (scaled to zero)"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.App, dash(r.Environment), live, since, dash(r.DeployedBy),
			dash(r.Sync), dash(r.Health), dash(strings.Join(split, ", ")), replicas)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func age(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d >= time.Hour:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d >= time.Minute:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", max(d, 0)/time.Second)
}
