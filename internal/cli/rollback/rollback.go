// Package rollback is `shiplog rollback`: prepare the GitOps rollback of an
// app in an environment as a commit on a new branch — a revert, the earlier
// image written back, or for a Knative Service a traffic pin to the earlier
// revision. It never touches a cluster: the rollback takes effect when the
// branch is merged and synced.
package rollback

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shiplog-dev/shiplog/internal/bump"
	"github.com/shiplog-dev/shiplog/internal/cli/cmdutil"
	"github.com/shiplog-dev/shiplog/internal/config"
	"github.com/shiplog-dev/shiplog/internal/engine/history"
	rollbackplan "github.com/shiplog-dev/shiplog/internal/engine/rollback"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// Options are the command's inputs.
type Options struct {
	Config  config.Config
	Factory *cmdutil.Factory
	App     string
	Env     string
	To      string // manifest commit prefix or artifact of the deployment to return to
	Repo    string // working clone of the GitOps repository
	Pin     bool   // Knative: pin the traffic to the target's revision instead of changing the image
	Now     func() time.Time
}

// NewCmdRollback returns the command; runF replaces the run function in tests.
func NewCmdRollback(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{Factory: f, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "rollback <app> --env ENV --repo PATH",
		Short: "Prepare the GitOps rollback of an app as a commit on a new branch",
		Long: `Find the version to return to — the deployment given by --to (a manifest
commit prefix or an image), else the latest earlier deployment that did not fail
and runs another image — and prepare the rollback in the GitOps repository
(--repo, a working clone) on a new branch: a git revert of the current manifest
commit when the target is the deployment just before it, else the target's
image written back into the manifest with the same edit as shiplog bump.

With --pin, for an app that runs as a Knative Service, the image stays and
the Service's spec.traffic sends 100 % to the revision that served the
target (the latest revision stays reachable with 0 % under the tag
"latest"); an existing spec.traffic block is replaced, the rest of the file
is left as it is. The revision must be known to shiplog and not
garbage-collected.

It prints the commands to push the branch and open a pull request. It never
changes a cluster.`,
		Example: `  shiplog rollback checkout --env prod --repo ./gitops
  shiplog rollback checkout --env prod --repo ./gitops --to ghcr.io/acme/checkout:2.4.1
  shiplog rollback checkout --env prod --repo ./gitops --pin`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.Config(cmd)
			if err != nil {
				return err
			}
			opts.Config, opts.App = cfg, args[0]
			if opts.Env == "" || opts.Repo == "" {
				return cmdutil.UsageError(errors.New("--env and --repo are required"))
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Env, "env", "", "the environment to roll back")
	cmd.Flags().StringVar(&opts.To, "to", "", "the deployment to return to: a manifest commit prefix or an image (default: the last good one)")
	cmd.Flags().StringVar(&opts.Repo, "repo", "", "a working clone of the GitOps repository")
	cmd.Flags().BoolVar(&opts.Pin, "pin", false, "Knative: pin all traffic to the target's revision (spec.traffic) instead of changing the image")
	return cmd
}

func run(ctx context.Context, opts *Options) error {
	st, eng, err := opts.Factory.OpenEngine(ctx, opts.Config, opts.Now)
	if err != nil {
		return err
	}
	defer st.Close()
	deps, err := eng.History(ctx)
	if err != nil {
		return err
	}
	plan, err := rollbackplan.Choose(deps, opts.App, opts.Env, opts.To)
	if err != nil {
		return err
	}
	out := opts.Factory.IO.Out
	fmt.Fprintf(out, "current: %s (live %s, manifest %.7s)\ntarget:  %s (live %s, manifest %.7s)\n", plan.Current.Artifact,
		plan.Current.LiveAt.UTC().Format(time.RFC3339), plan.Current.ManifestCommit, plan.Target.Artifact,
		plan.Target.LiveAt.UTC().Format(time.RFC3339), plan.Target.ManifestCommit)
	var pin *trafficPin
	if opts.Pin {
		// Everything is checked before the repository changes.
		if pin, err = planPin(ctx, st, opts, plan); err != nil {
			return err
		}
	}
	branch := fmt.Sprintf("shiplog/rollback-%s-%s-%d", opts.App, opts.Env, opts.Now().Unix())
	if err := git(ctx, opts.Repo, "checkout", "-q", "-b", branch); err != nil {
		return err
	}
	subject := fmt.Sprintf("Roll back %s in %s to %s", opts.App, opts.Env, plan.Target.Artifact)
	trailer := "\n\nShiplog-Rollback-Of: " + plan.Current.ManifestCommit
	switch {
	case pin != nil:
		subject = fmt.Sprintf("Pin %s in %s to revision %s", opts.App, opts.Env, pin.revision.Name)
		if err := pin.write(ctx, opts.Repo, subject+trailer+"\nShiplog-Pinned-Revision: "+pin.revision.Name); err != nil {
			return err
		}
		fmt.Fprintf(out, "committed %q on branch %s\n", subject, branch)
		pin.notes(out)
	case plan.Revert:
		if err := git(ctx, opts.Repo, "revert", "--no-edit", plan.Current.ManifestCommit); err != nil {
			return err
		}
		fmt.Fprintf(out, "reverted %.7s on branch %s\n", plan.Current.ManifestCommit, branch)
	default:
		if err := writeImage(ctx, st, opts.Repo, plan); err != nil {
			return err
		}
		if err := git(ctx, opts.Repo, "commit", "-q", "-m", subject+trailer); err != nil {
			return err
		}
		fmt.Fprintf(out, "committed %q on branch %s\n", subject, branch)
	}
	if automated(ctx, st, opts.App, opts.Env) {
		fmt.Fprintln(out, "note: Argo CD syncs this app automatically: the rollback takes effect once the branch is merged; a change made in the cluster by hand would be undone by the next sync.")
	}
	fmt.Fprintf(out, "next:\n  git -C %s push -u origin %s\n  gh pr create --head %s --title %q\n", opts.Repo, branch, branch, subject)
	return nil
}

// writeImage writes the target's image back into the files the current
// manifest commit changed, and stages them.
func writeImage(ctx context.Context, st *store.Store, repo string, plan rollbackplan.Plan) error {
	files, err := manifestFiles(ctx, st, plan.Current)
	if err != nil {
		return err
	}
	for _, f := range files {
		p := filepath.Join(repo, filepath.FromSlash(f))
		content, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		next, changes, err := bump.Apply(f, content, bump.Request{Image: plan.Target.Artifact})
		if err != nil {
			return err
		}
		if len(changes) == 0 {
			continue
		}
		if err := os.WriteFile(p, next, 0o644); err != nil {
			return err
		}
		if err := git(ctx, repo, "add", "--", f); err != nil {
			return err
		}
	}
	return nil
}

func manifestFiles(ctx context.Context, st *store.Store, d history.Deployment) ([]string, error) {
	mcs, err := st.ManifestChanges(ctx, store.ModelFilter{App: d.App, Env: d.Env, Repo: d.Repo})
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var files []string
	for _, mc := range mcs {
		if mc.Commit == d.ManifestCommit && !seen[mc.Path] {
			seen[mc.Path] = true
			files = append(files, mc.Path)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("the manifest commit %.7s changed no file shiplog knows for %s in %s: import the repository first", d.ManifestCommit, d.App, d.Env)
	}
	return files, nil
}

func automated(ctx context.Context, st *store.Store, app, env string) bool {
	syncs, err := st.Syncs(ctx, store.ModelFilter{App: app, Env: env})
	return err == nil && len(syncs) > 0 && syncs[len(syncs)-1].Automated
}

func git(ctx context.Context, dir string, args ...string) error {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("git %s: %s", args[0], strings.TrimSpace(stderr.String()))
	}
	return nil
}
