// Package audit is `shiplog audit`: who deployed what and when.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/shiplog-dev/shiplog/internal/api"
	"github.com/shiplog-dev/shiplog/internal/cli/cmdutil"
	"github.com/shiplog-dev/shiplog/internal/config"
	"github.com/shiplog-dev/shiplog/internal/engine/history"
)

// Options are the command's inputs.
type Options struct {
	Config  config.Config
	Factory *cmdutil.Factory
	Since   string
	App     string
	Env     string
	Team    string
	Format  string
	Now     func() time.Time
}

// NewCmdAudit returns the command; runF replaces the run function in tests.
func NewCmdAudit(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{Factory: f, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Who deployed what and when: the audit trail, as CSV or JSON",
		Long: `Print every deployment of a window, newest first, with its artifact and
digest, manifest commit, author (bot or person), pull request and approvers, CI
run, and who initiated the Argo CD sync. The JSON report says how long it took
to generate. The same trail is at /api/v1/audit and on the Audit page.`,
		Example: `  shiplog audit --since 90d --env prod --format csv > audit.csv`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.Config(cmd)
			if err != nil {
				return err
			}
			opts.Config = cfg
			if opts.Format != "csv" && opts.Format != "json" {
				return cmdutil.UsageError(fmt.Errorf("--format %q: want csv or json", opts.Format))
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Since, "since", "90d", "window start: a duration back from now (90d, 2w) or a date")
	cmd.Flags().StringVar(&opts.App, "app", "", "only this app")
	cmd.Flags().StringVar(&opts.Env, "env", "", "only this environment")
	cmd.Flags().StringVar(&opts.Team, "team", "", "only this team's apps")
	cmd.Flags().StringVar(&opts.Format, "format", "csv", "csv or json")
	return cmd
}

func run(ctx context.Context, opts *Options) error {
	start := time.Now()
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
	all, err := eng.History(ctx)
	if err != nil {
		return err
	}
	var deps []history.Deployment
	for _, d := range all {
		if (opts.App == "" || d.App == opts.App) && (opts.Env == "" || d.Env == opts.Env) && (opts.Team == "" || d.Team == opts.Team) &&
			!d.LiveAt.Before(since) && d.LiveAt.Before(now) {
			deps = append(deps, d)
		}
	}
	slices.Reverse(deps)
	in, err := eng.TraceInput(ctx, all)
	if err != nil {
		return err
	}
	entries := api.AuditEntries(deps, in)
	if opts.Format == "csv" {
		return api.WriteAuditCSV(opts.Factory.IO.Out, entries)
	}
	rep := api.AuditReport{GeneratedAt: now.UTC(), Since: since, Until: now, Entries: entries,
		GenerationMillis: float64(time.Since(start).Microseconds()) / 1000}
	if rep.Entries == nil {
		rep.Entries = []api.AuditEntry{}
	}
	enc := json.NewEncoder(opts.Factory.IO.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
