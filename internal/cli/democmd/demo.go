// Package democmd is `shiplog demo`: shiplog on a simulated organisation.
package democmd

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/shiplog-dev/shiplog/internal/cli/cmdutil"
	"github.com/shiplog-dev/shiplog/internal/demo"
)

// Options are demo's inputs.
type Options struct {
	Factory       *cmdutil.Factory
	Addr          string
	Seed          uint64
	DB            string
	Dir           string
	LiveInterval  time.Duration
	StageInterval time.Duration
	LogLevel      string
	LogFormat     string
}

// NewCmdDemo returns the command; runF replaces the run function in tests.
func NewCmdDemo(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{Factory: f}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run shiplog on a simulated organisation, with live changes",
		Long: `Run shiplog on a simulated organisation: three teams, ten apps,
dev/staging/prod, about six months of history — manual deployments before
the GitOps adoption date, then pull requests, CI, images, GitOps commits and
Argo CD syncs — and a new change every few seconds, live.

Everything goes through shiplog's own paths: real Git repositories read by
the Git importer, and webhooks posted to the running server. The store is
a new SQLite file, in a temporary directory removed on exit unless --db or
--dir is given. docs/demo.md explains what is simulated.
Ctrl-C stops the demo.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.LiveInterval < 0 || opts.StageInterval <= 0 {
				return cmdutil.UsageError(fmt.Errorf("--live-interval must be positive (0: no live changes) and --stage-interval positive"))
			}
			cfg, err := f.Config(cmd)
			if err != nil {
				return err
			}
			opts.LogLevel, opts.LogFormat = cfg.Log.Level, cfg.Log.Format
			if cmd.Flags().Changed("db") {
				opts.DB = string(cfg.DB)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return run(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Addr, "addr", demo.DefaultAddr, "address the server listens on")
	fl.Uint64Var(&opts.Seed, "seed", 1, "seed of the simulation: the same seed gives the same history")
	fl.StringVar(&opts.Dir, "dir", "", "directory for the generated Git repositories (and the store), kept on exit; default a temporary directory")
	fl.DurationVar(&opts.LiveInterval, "live-interval", demo.DefaultLiveInterval, "how often a new live change starts (0: none)")
	fl.DurationVar(&opts.StageInterval, "stage-interval", demo.DefaultStageInterval, "how long each stage of a live change takes")
	// --db is the root command's persistent flag: here a new SQLite file.
	return cmd
}

func run(ctx context.Context, opts *Options) error {
	f := opts.Factory
	cfg, _ := f.Config(&cobra.Command{})
	cfg.Log.Level, cfg.Log.Format = opts.LogLevel, opts.LogFormat
	log := f.Logger(cfg)
	live := opts.LiveInterval
	if live == 0 {
		live = -1
	}
	d, err := demo.Start(ctx, demo.Options{
		Addr: opts.Addr, Seed: opts.Seed, DB: opts.DB, Dir: opts.Dir,
		LiveInterval: live, StageInterval: opts.StageInterval, Logger: log,
	})
	if err != nil {
		return err
	}
	tr := d.Truth
	before, after := tr.Before("prod"), tr.After("prod")
	out := f.IO.Out
	fmt.Fprintf(out, "shiplog demo ready in %s: %s\n", d.Stats.Elapsed.Round(time.Millisecond), d.URL)
	fmt.Fprintf(out, "  history %s → %s, GitOps adopted %s\n", tr.Start.Format(time.DateOnly), tr.End.Format(time.DateOnly), tr.Adoption.Format(time.DateOnly))
	fmt.Fprintf(out, "  %d source commits, %d GitOps commits, %d webhooks; repositories in %s\n",
		d.Stats.SourceCommits, d.Stats.GitOpsCommits, d.Stats.Webhooks, d.Dir)
	fmt.Fprintf(out, "  prod before: %d deployments (%.2f/day), median lead time %s, change failure rate %.0f %%\n",
		before.Deployments, before.PerDay, dur(before.LeadTimeMedianSeconds), 100*before.ChangeFailureRate)
	fmt.Fprintf(out, "  prod after:  %d deployments (%.2f/day), median lead time %s, change failure rate %.0f %%\n",
		after.Deployments, after.PerDay, dur(after.LeadTimeMedianSeconds), 100*after.ChangeFailureRate)
	fmt.Fprintf(out, "  try %s/api/v1/metrics?env=prod&since=%s&before_after=%s\n", d.URL, tr.Start.Format(time.DateOnly), tr.Adoption.Format(time.DateOnly))
	fmt.Fprintln(out, "Ctrl-C stops the demo.")
	return d.Wait()
}

func dur(secs float64) string { return (time.Duration(secs) * time.Second).Round(time.Minute).String() }
