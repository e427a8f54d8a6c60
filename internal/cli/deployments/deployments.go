// Package deployments is `shiplog deployments`: list recorded deployments.
package deployments

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/shiplog-dev/shiplog/internal/api"
	"github.com/shiplog-dev/shiplog/internal/cli/cmdutil"
	"github.com/shiplog-dev/shiplog/internal/config"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// Options are the command's inputs.
type Options struct {
	Config  config.Config
	Factory *cmdutil.Factory
	App     string
	Env     string
	Since   string
	Output  string
	Now     func() time.Time
	Remote  cmdutil.Remote
	// Client reads a server's API instead of the store; nil: the store.
	Client *cmdutil.Client
}

// NewCmdDeployments returns the command; runF replaces the run function in tests.
func NewCmdDeployments(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{Factory: f, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "deployments",
		Short: "List deployments, oldest first",
		Long: `List the deployments shiplog recorded — from Git history, Argo CD, Knative or
CDEvents — with the image, the manifest commit, the source commit and the
source commits each one shipped, with their lead time.

With --server (or $SHIPLOG_SERVER), read them from a shiplog server's API
(/api/v1/deployment-records) instead of the store, with the API token in
$SHIPLOG_TOKEN or --token-file.`,
		Example: `  shiplog deployments --app checkout --env prod --since 30d
  shiplog deployments --output json | jq '.[] | select(.rollback)'`,
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
	cmd.Flags().StringVar(&opts.App, "app", "", "only this app")
	cmd.Flags().StringVar(&opts.Env, "env", "", "only this environment")
	cmd.Flags().StringVar(&opts.Since, "since", "", "only deployments since: a duration (90d, 2w, 12h) or a date")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "table", "table, json or yaml")
	cmdutil.AddRemoteFlags(cmd, &opts.Remote)
	return cmd
}

func run(ctx context.Context, opts *Options) error {
	since, err := cmdutil.ParseSince(opts.Since, opts.Now())
	if err != nil {
		return err
	}
	var deps []api.RecordedDeployment
	if c := opts.Client; c != nil {
		p := cmdutil.Query("app", opts.App, "env", opts.Env)
		if !since.IsZero() {
			p.Set("since", cmdutil.FormatTime(since))
		}
		if deps, err = cmdutil.GetAll[api.RecordedDeployment](ctx, c, "/api/v1/deployment-records", p); err != nil {
			return err
		}
	} else {
		st, err := cmdutil.OpenStore(ctx, opts.Config, store.Options{Logger: opts.Factory.Logger(opts.Config)}, false)
		if err != nil {
			return err
		}
		defer st.Close()
		if deps, err = api.RecordedDeployments(ctx, st, store.ModelFilter{App: opts.App, Env: opts.Env, Since: since}); err != nil {
			return err
		}
	}
	if opts.Output != "table" {
		return cmdutil.Encode(opts.Factory.IO.Out, opts.Output, deps)
	}
	return writeTable(opts.Factory.IO.Out, deps)
}

func writeTable(w io.Writer, deps []api.RecordedDeployment) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DEPLOYED AT\tAPP\tENV\tIMAGE\tMANIFEST\tSOURCE\tCHANGES\tBY\tFLAGS")
	for _, d := range deps {
		src := "-"
		if d.SourceCommit != nil {
			src = short(*d.SourceCommit)
		}
		by := d.Author
		if d.Bot {
			by += " (bot)"
		}
		flags := ""
		for _, fl := range []struct {
			on   bool
			name string
		}{{d.Rollback, "rollback"}, {d.Revert, "revert"}, {d.Rewritten, "rewritten"}} {
			if fl.on {
				if flags != "" {
					flags += ","
				}
				flags += fl.name
			}
		}
		env := d.Environment
		if env == "" {
			env = "?"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", d.DeployedAt.UTC().Format(time.RFC3339), d.App, env, d.Image,
			short(d.ManifestCommit), src, len(d.Changes), by, flags)
	}
	return tw.Flush()
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
