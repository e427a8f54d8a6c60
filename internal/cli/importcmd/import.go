// Package importcmd is `shiplog import`: read history from a source into the store.
package importcmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/shiplog-dev/shiplog/internal/cli/cmdutil"
	"github.com/shiplog-dev/shiplog/internal/config"
	gitsrc "github.com/shiplog-dev/shiplog/internal/source/git"
	"github.com/shiplog-dev/shiplog/internal/source/git/manifest"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// NewCmdImport returns `shiplog import` with its subcommands.
func NewCmdImport(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Import history from a source into the store",
	}
	cmd.AddCommand(NewCmdImportGit(f, nil))
	return cmd
}

// GitOptions are `shiplog import git`'s inputs.
type GitOptions struct {
	Config  config.Config
	Factory *cmdutil.Factory
	Repo    string
	Branch  string
	Sources []string
	Bots    []string
	Output  string
}

// NewCmdImportGit returns the command; runF replaces the run function in tests.
func NewCmdImportGit(f *cmdutil.Factory, runF func(context.Context, *GitOptions) error) *cobra.Command {
	opts := &GitOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "git --repo PATH|URL",
		Short: "Reconstruct deployment history from a GitOps repository",
		Long: `Walk the first-parent history of a GitOps repository's branch and record every
image change (Kubernetes and Knative workloads, kustomize images, Helm values,
argocd-image-updater write-back files) as a deployment of its app and
environment, inferred from Git.

A second run reads only the new commits. A force-pushed branch is read again
and the deployments of commits it dropped are marked rewritten. Files that
cannot be read (missing objects, malformed YAML, Helm templates) are skipped and
listed in the summary. See docs/git-import.md.`,
		Example: `  shiplog import git --repo ./gitops --db shiplog.db
  shiplog import git --repo https://github.com/acme/gitops.git --branch main \
    --source 'ghcr.io/acme/*=https://github.com/acme/app.git'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.Config(cmd)
			if err != nil {
				return err
			}
			opts.Config = cfg
			if opts.Repo == "" {
				return cmdutil.UsageError(fmt.Errorf("--repo is required: a path to a clone (bare or not) or a URL"))
			}
			if opts.Output != "text" && opts.Output != "json" {
				return cmdutil.UsageError(fmt.Errorf("--output %q: want text or json", opts.Output))
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runGit(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Repo, "repo", "", "GitOps repository: path to a clone (bare or not) or URL")
	cmd.Flags().StringVar(&opts.Branch, "branch", "", "branch to read (default: the repository's HEAD branch)")
	cmd.Flags().StringArrayVar(&opts.Sources, "source", nil, "IMAGE_GLOB=REPO: source repository of matching images, for the commits each deployment shipped (repeatable)")
	cmd.Flags().StringArrayVar(&opts.Bots, "bot", nil, "author name or e-mail local part to count as automation (repeatable; adds to git.bots)")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "text", "summary format: text or json")
	return cmd
}

func runGit(ctx context.Context, opts *GitOptions) error {
	var sources []gitsrc.SourceSpec
	for _, s := range opts.Sources {
		spec, err := gitsrc.ParseSourceSpec(s)
		if err != nil {
			return cmdutil.UsageError(err)
		}
		sources = append(sources, spec)
	}
	overrides := make([]manifest.Override, len(opts.Config.Git.Rules))
	for i, r := range opts.Config.Git.Rules {
		overrides[i] = manifest.Override{PathRegex: r.Path, App: r.App, Env: r.Env}
	}
	rules, err := manifest.NewRules(overrides)
	if err != nil {
		return cmdutil.UsageError(fmt.Errorf("git.%w", err))
	}
	log := opts.Factory.Logger(opts.Config)
	st, err := cmdutil.OpenStore(ctx, opts.Config, store.Options{Logger: log}, true)
	if err != nil {
		return err
	}
	defer st.Close()
	sum, err := gitsrc.Import(ctx, st, gitsrc.Options{
		Repo: opts.Repo, Branch: opts.Branch, CacheDir: opts.Config.Git.CacheDir, Rules: rules,
		Bots: append(append([]string(nil), opts.Config.Git.Bots...), opts.Bots...), Sources: sources, Logger: log,
	})
	if err != nil {
		return err
	}
	if opts.Output == "json" {
		return writeJSON(opts.Factory.IO.Out, sum)
	}
	return writeText(opts.Factory.IO.Out, sum)
}

func writeJSON(w io.Writer, s *gitsrc.Summary) error {
	type dep struct {
		App   string `json:"app"`
		Env   string `json:"environment"`
		Count int    `json:"deployments"`
	}
	out := struct {
		*gitsrc.Summary
		Deployments []dep   `json:"deployments"`
		Seconds     float64 `json:"duration_seconds"`
	}{Summary: s, Seconds: s.Duration.Seconds()}
	for ae, n := range s.Deployments {
		out.Deployments = append(out.Deployments, dep{ae.App, ae.Env, n})
	}
	sort.Slice(out.Deployments, func(i, j int) bool {
		a, b := out.Deployments[i], out.Deployments[j]
		return a.App < b.App || (a.App == b.App && a.Env < b.Env)
	})
	if out.Skipped == nil {
		out.Skipped = []gitsrc.Skip{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func writeText(w io.Writer, s *gitsrc.Summary) error {
	mode := "full"
	switch {
	case s.ForcePushed:
		mode = "full (the branch was force-pushed)"
	case s.Incremental:
		mode = "incremental"
	}
	fmt.Fprintf(w, "Imported %s (%s at %.12s), %s, in %s\n", s.Repo, strings.TrimPrefix(s.Branch, "refs/heads/"), s.Head, mode, s.Duration.Round(time.Millisecond))
	if s.Shallow {
		fmt.Fprintln(w, "Note: shallow clone; history before its oldest commit is unknown, and that commit's images count as already deployed.")
	}
	fmt.Fprintf(w, "  commits scanned   %d\n  image changes     %d\n  deployments       %d\n  rollbacks         %d\n  reverts           %d\n  removals          %d\n  rewritten commits %d\n  events stored     %d\n",
		s.CommitsScanned, s.ImageChanges, s.TotalDeployments(), s.Rollbacks, s.Reverts, s.Removals, s.Rewritten, s.Events)
	if len(s.Deployments) > 0 {
		fmt.Fprintln(w, "\nDeployments per app and environment:")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  APP\tENVIRONMENT\tDEPLOYMENTS")
		keys := make([]gitsrc.AppEnv, 0, len(s.Deployments))
		for k := range s.Deployments {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			return keys[i].App < keys[j].App || (keys[i].App == keys[j].App && keys[i].Env < keys[j].Env)
		})
		for _, k := range keys {
			env := k.Env
			if env == "" {
				env = "(unknown)"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%d\n", k.App, env, s.Deployments[k])
		}
		_ = tw.Flush()
	}
	if len(s.Skipped) > 0 {
		fmt.Fprintf(w, "\nSkipped %d files:\n", len(s.Skipped))
		for i, sk := range s.Skipped {
			if i == 20 {
				fmt.Fprintf(w, "  … and %d more (use --output json for all)\n", len(s.Skipped)-20)
				break
			}
			fmt.Fprintf(w, "  %.12s %s: %s\n", sk.Commit, sk.Path, sk.Reason)
		}
	}
	return nil
}
