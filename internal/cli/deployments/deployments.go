// Package deployments is `shiplog deployments`: list recorded deployments.
package deployments

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/shiplog-dev/shiplog/internal/cli/cmdutil"
	"github.com/shiplog-dev/shiplog/internal/config"
	"github.com/shiplog-dev/shiplog/internal/delivery"
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
}

// NewCmdDeployments returns the command; runF replaces the run function in tests.
func NewCmdDeployments(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{Factory: f, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "deployments",
		Short: "List deployments, oldest first",
		Long: `List the deployments shiplog recorded — from Git history, Argo CD, Knative or
CDEvents — with the image, the manifest commit, the source commit and the
source commits each one shipped, with their lead time.`,
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
	return cmd
}

// Change is one source commit a deployment shipped.
type Change struct {
	SHA             string     `json:"sha"`
	CommittedAt     *time.Time `json:"committed_at"`
	LeadTimeSeconds *int64     `json:"lead_time_seconds"`
}

// Deployment is one line of output.
type Deployment struct {
	App            string    `json:"app"`
	Environment    string    `json:"environment"`
	DeployedAt     time.Time `json:"deployed_at"`
	Kind           string    `json:"kind"`
	Image          string    `json:"image"`
	PreviousImage  string    `json:"previous_image"`
	Repo           string    `json:"repo,omitempty"`
	ManifestCommit string    `json:"manifest_commit"`
	SourceCommit   *string   `json:"source_commit"`
	Rollback       bool      `json:"rollback"`
	Revert         bool      `json:"revert"`
	Rewritten      bool      `json:"rewritten"`
	Author         string    `json:"author"`
	Bot            bool      `json:"bot"`
	PR             *int64    `json:"pr"`
	InferredFrom   string    `json:"inferred_from"`
	Changes        []Change  `json:"changes"`
}

func run(ctx context.Context, opts *Options) error {
	since, err := cmdutil.ParseSince(opts.Since, opts.Now())
	if err != nil {
		return err
	}
	st, err := cmdutil.OpenStore(ctx, opts.Config, store.Options{Logger: opts.Factory.Logger(opts.Config)}, false)
	if err != nil {
		return err
	}
	defer st.Close()
	deps, err := List(ctx, st, store.ModelFilter{App: opts.App, Env: opts.Env, Since: since})
	if err != nil {
		return err
	}
	if opts.Output != "table" {
		return cmdutil.Encode(opts.Factory.IO.Out, opts.Output, deps)
	}
	return writeTable(opts.Factory.IO.Out, deps)
}

// List reads deployments (not removals) and the commits they shipped.
func List(ctx context.Context, st *store.Store, f store.ModelFilter) ([]Deployment, error) {
	recs, err := st.Deployments(ctx, f)
	if err != nil {
		return nil, err
	}
	var shas []string
	for _, r := range recs {
		shas = append(shas, r.Changes...)
	}
	commits, err := st.CommitsBySHA(ctx, shas)
	if err != nil {
		return nil, err
	}
	out := make([]Deployment, 0, len(recs))
	for _, r := range recs {
		if r.Kind == delivery.ServiceRemoved {
			continue
		}
		d := Deployment{
			App: r.App, Environment: r.Env, DeployedAt: r.Time, Kind: string(r.Kind), Image: r.Artifact, PreviousImage: r.PreviousArtifact,
			Repo: r.Repo, ManifestCommit: r.ManifestCommit, Rollback: r.Kind == delivery.ServiceRolledBack, Revert: r.Revert,
			Rewritten: r.Rewritten, Author: r.Author, Bot: r.Bot, InferredFrom: r.InferredFrom, Changes: []Change{},
		}
		if r.SourceCommit != "" {
			sc := r.SourceCommit
			d.SourceCommit = &sc
		}
		if r.PR != 0 {
			pr := r.PR
			d.PR = &pr
		}
		for _, sha := range r.Changes {
			c := Change{SHA: sha}
			if cr, ok := commits[sha]; ok && !cr.CommittedAt.IsZero() {
				t := cr.CommittedAt
				lead := int64(r.Time.Sub(t) / time.Second)
				c.CommittedAt, c.LeadTimeSeconds = &t, &lead
			}
			d.Changes = append(d.Changes, c)
		}
		out = append(out, d)
	}
	return out, nil
}

func writeTable(w io.Writer, deps []Deployment) error {
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
