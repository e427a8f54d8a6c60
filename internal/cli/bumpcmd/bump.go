// Package bumpcmd is `shiplog bump`: the CI step that changes an image in a
// GitOps manifest and commits it with provenance trailers.
package bumpcmd

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/shiplog-dev/shiplog/internal/bump"
	"github.com/shiplog-dev/shiplog/internal/cli/cmdutil"
	"github.com/shiplog-dev/shiplog/internal/source/git/manifest"
)

// Options are the command's inputs.
type Options struct {
	Factory      *cmdutil.Factory
	File         string
	Image        string
	Container    string
	Commit       bool
	Message      string
	SourceCommit string
	PipelineRun  string
}

// NewCmdBump returns the command; runF replaces the run function in tests.
func NewCmdBump(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{Factory: f}
	cmd := &cobra.Command{
		Use:   "bump --file PATH --image NEW",
		Short: "Change an image in a GitOps manifest, keeping every other byte, and commit it",
		Long: `Set the image of a Knative Service or workload container, a kustomization
images[] entry, or Helm values (image.repository + image.tag) to --image. Only
the value's characters change: comments, quoting and formatting stay.

With --commit, the file is committed in its repository with provenance
trailers that shiplog import git reads: Shiplog-Source-Commit,
Shiplog-Artifact-Digest and Shiplog-Pipeline-Run.`,
		Example: `  shiplog bump --file apps/api/envs/dev/service.yaml \
    --image ghcr.io/acme/api:sha-4d09b7b@sha256:… --commit \
    --source-commit $GITHUB_SHA --pipeline-run $RUN_URL`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.File == "" || opts.Image == "" {
				return cmdutil.UsageError(fmt.Errorf("--file and --image are required"))
			}
			if opts.SourceCommit != "" && !isHex(opts.SourceCommit) {
				return cmdutil.UsageError(fmt.Errorf("--source-commit %q: want a commit SHA", opts.SourceCommit))
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.File, "file", "", "the manifest to change")
	cmd.Flags().StringVar(&opts.Image, "image", "", "the new image reference (repo:tag, repo@sha256:…, or both)")
	cmd.Flags().StringVar(&opts.Container, "container", "", "only this container of a workload (default: every container of the image's repository)")
	cmd.Flags().BoolVar(&opts.Commit, "commit", false, "commit the change in the file's Git repository")
	cmd.Flags().StringVar(&opts.Message, "message", "", "commit subject (default: Bump <image name> to <tag or digest>)")
	cmd.Flags().StringVar(&opts.SourceCommit, "source-commit", "", "the source commit the image was built from (trailer Shiplog-Source-Commit)")
	cmd.Flags().StringVar(&opts.PipelineRun, "pipeline-run", "", "the CI run that built it (trailer Shiplog-Pipeline-Run)")
	return cmd
}

func isHex(s string) bool {
	if len(s) < 7 || len(s) > 64 {
		return false
	}
	return strings.Trim(strings.ToLower(s), "0123456789abcdef") == ""
}

func run(ctx context.Context, opts *Options) error {
	content, err := os.ReadFile(opts.File)
	if err != nil {
		return err
	}
	out, changes, err := bump.Apply(filepath.ToSlash(opts.File), content, bump.Request{Image: opts.Image, Container: opts.Container})
	if err != nil {
		return err
	}
	if len(changes) == 0 {
		fmt.Fprintf(opts.Factory.IO.Out, "%s already uses %s: nothing to change\n", opts.File, opts.Image)
		return nil
	}
	info, err := os.Stat(opts.File)
	if err != nil {
		return err
	}
	if err := os.WriteFile(opts.File, out, info.Mode().Perm()); err != nil {
		return err
	}
	for _, c := range changes {
		fmt.Fprintf(opts.Factory.IO.Out, "%s:%d %s: %s → %s\n", opts.File, c.Line, c.What, c.Old, c.New)
	}
	if !opts.Commit {
		return nil
	}
	img, _ := manifest.ParseImage(opts.Image)
	subject := opts.Message
	if subject == "" {
		to := img.Tag
		if to == "" || img.TagImplicit {
			to = img.Digest
		}
		subject = fmt.Sprintf("Bump %s to %s", img.Name(), to)
	}
	var trailers []string
	if opts.SourceCommit != "" {
		trailers = append(trailers, "Shiplog-Source-Commit: "+strings.ToLower(opts.SourceCommit))
	}
	if img.Digest != "" {
		trailers = append(trailers, "Shiplog-Artifact-Digest: "+img.Digest)
	}
	if opts.PipelineRun != "" {
		trailers = append(trailers, "Shiplog-Pipeline-Run: "+opts.PipelineRun)
	}
	msg := subject
	if len(trailers) > 0 {
		msg += "\n\n" + strings.Join(trailers, "\n")
	}
	dir, name := filepath.Split(opts.File)
	if dir == "" {
		dir = "."
	}
	for _, args := range [][]string{{"add", "--", name}, {"commit", "-q", "-m", msg, "--", name}} {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = dir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("git %s: %s", args[0], strings.TrimSpace(stderr.String()))
		}
	}
	fmt.Fprintf(opts.Factory.IO.Out, "committed: %s\n", subject)
	return nil
}
