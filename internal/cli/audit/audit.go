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
	Remote  cmdutil.Remote
	// Client reads a server's API instead of the store; nil: the store.
	Client *cmdutil.Client
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
to generate. The same trail is at /api/v1/audit and on the Audit page.

With --server (or $SHIPLOG_SERVER), read it from that server's
/api/v1/audit, with the API token in $SHIPLOG_TOKEN or --token-file: the
export is then written to the server's access log.`,
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
	cmd.Flags().StringVar(&opts.Env, "env", "", "only this environment")
	cmd.Flags().StringVar(&opts.Team, "team", "", "only this team's apps")
	cmd.Flags().StringVar(&opts.Format, "format", "csv", "csv or json")
	cmdutil.AddRemoteFlags(cmd, &opts.Remote)
	return cmd
}

func run(ctx context.Context, opts *Options) error {
	now := opts.Now()
	since, err := cmdutil.ParseSince(opts.Since, now)
	if err != nil {
		return err
	}
	var rep api.AuditReport
	if c := opts.Client; c != nil {
		p := cmdutil.Query("app", opts.App, "env", opts.Env, "team", opts.Team, "since", cmdutil.FormatTime(since), "until", cmdutil.FormatTime(now))
		if err := c.Get(ctx, "/api/v1/audit", p, &rep); err != nil {
			return err
		}
	} else if rep, err = local(ctx, opts, since, now); err != nil {
		return err
	}
	if opts.Format == "csv" {
		return api.WriteAuditCSV(opts.Factory.IO.Out, rep.Entries)
	}
	if rep.Entries == nil {
		rep.Entries = []api.AuditEntry{}
	}
	enc := json.NewEncoder(opts.Factory.IO.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// local builds the audit trail of [since, now) from the store.
func local(ctx context.Context, opts *Options, since, now time.Time) (api.AuditReport, error) {
	start := time.Now()
	st, eng, err := opts.Factory.OpenEngine(ctx, opts.Config, opts.Now)
	if err != nil {
		return api.AuditReport{}, err
	}
	defer st.Close()
	all, err := eng.History(ctx)
	if err != nil {
		return api.AuditReport{}, err
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
		return api.AuditReport{}, err
	}
	return api.AuditReport{GeneratedAt: now.UTC(), Since: since, Until: now, Entries: api.AuditEntries(deps, in),
		GenerationMillis: float64(time.Since(start).Microseconds()) / 1000}, nil
}
