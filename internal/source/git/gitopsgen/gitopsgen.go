// Package gitopsgen generates GitOps repositories with a long, realistic
// history, as fixtures for benchmarks and tests of shiplog's Git source.
//
// Generate writes a non-bare repository whose main branch has an exact number
// of first-parent commits: bot image bumps in dev, promotions of the same tag
// to staging and prod, rollbacks, reverts, merged pull requests, config-only
// changes, apps added and removed. Each app is written in one of the layouts
// shiplog recognises (see docs/git-manifests.md): Knative Services,
// Deployment + Service files, kustomize overlays, Helm umbrella values and
// argocd-image-updater write-back files. The whole history is streamed to a
// single `git fast-import` process, so 50,000 commits take seconds, and only
// the current content of each path is kept in memory.
//
// The same Options give a byte-identical history, commit SHAs included:
// identities and timestamps come from the options and the seed, never from
// the clock or the environment. Stats says what was written, so that tests
// can compare shiplog's findings with the truth.
//
// WriteSourceRepo writes a small Go source repository whose commit SHAs can
// be passed in Options.SourceSHAs, so that image tags name real source
// commits.
package gitopsgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Style is a way of writing an image reference, and the layout of an app.
type Style string

// The styles, as apps are laid out and as image references are written.
const (
	// StyleKnative is a Knative Service, apps/<app>/envs/<env>/service.yaml.
	StyleKnative Style = "knative"
	// StyleDeployment is a multi-document file with a Deployment or
	// StatefulSet, a Service and sometimes a CronJob,
	// apps/<app>/envs/<env>/deployment.yaml. Kustomize bases and
	// image-updater apps with kustomize sources also hold a Deployment,
	// whose image has no tag.
	StyleDeployment Style = "deployment"
	// StyleKustomize is a kustomize overlay,
	// apps/<app>/overlays/<env>/kustomization.yaml, with an images entry.
	StyleKustomize Style = "kustomize"
	// StyleHelm is a Helm umbrella chart, charts/<app>/values-<env>.yaml,
	// with two or three components, each with image.repository and
	// image.tag.
	StyleHelm Style = "helm"
	// StyleImageUpdater is an argocd-image-updater write-back file,
	// apps/<app>/.argocd-source-<app>-<env>.yaml, with Helm parameters or
	// kustomize images.
	StyleImageUpdater Style = "image-updater"
)

// Styles returns every style, in a fixed order.
func Styles() []Style {
	return []Style{StyleKnative, StyleDeployment, StyleKustomize, StyleHelm, StyleImageUpdater}
}

// Defaults for zero Options fields.
const (
	DefaultApps       = 40
	DefaultMergeEvery = 10
)

// DefaultStart is the time of the first commit when Options.Start is zero:
// Monday 2 January 2023, 09:00 UTC.
func DefaultStart() time.Time { return time.Date(2023, time.January, 2, 9, 0, 0, 0, time.UTC) }

// Options says what repository Generate writes.
type Options struct {
	// Commits is the number of commits on the first-parent chain of main,
	// the initial import included. It must be at least 1.
	Commits int
	// Apps is the number of apps in the initial import (default
	// DefaultApps). A few more are added during the history and one or two
	// are removed, when the history is long enough (50 commits or more).
	Apps int
	// Seed drives every choice: the same Options give the same repository,
	// commit SHAs included.
	Seed uint64
	// Start is the time of the first commit (default DefaultStart()). Later
	// commits follow at gaps of minutes in working hours, hours at night,
	// and longer at weekends.
	Start time.Time
	// MergeEvery makes every MergeEvery-th first-parent commit a merge of a
	// pull request branch, with one to three commits of its own (default
	// DefaultMergeEvery; negative: no merges). The initial commit is never a
	// merge.
	MergeEvery int
	// SourceSHAs, when given, are the commits of a source repository, oldest
	// first, such as WriteSourceRepo returns: image tags then name these
	// commits, later builds naming later commits. Otherwise tags name random
	// SHAs. Each must be 40 lower-case hex digits.
	SourceSHAs []string
}

// Stats says what Generate wrote. The counts are exact.
type Stats struct {
	// Commits is the number of commits on the first-parent chain of main
	// (Options.Commits).
	Commits int
	// Merges is the number of merge commits; each merges a pull request
	// branch of SideCommits/Merges commits on average.
	Merges int
	// SideCommits is the number of commits on merged branches, not on the
	// first-parent chain.
	SideCommits int
	// ImageBumps is the number of first-parent commits by the deploy bots
	// (shiplog-bot[bot] and argocd-image-updater): new builds deployed to
	// dev and promotions. Promotions counts the promotions among them.
	ImageBumps int
	Promotions int
	// Rollbacks is the number of first-parent commits that set an image
	// back to one deployed earlier in that app and environment; their
	// subjects, and no others apart from reverts of them, say "rollback" or
	// "roll back".
	Rollbacks int
	// Reverts is the number of `Revert "<subject>"` commits, each undoing a
	// recent commit named in its body.
	Reverts int
	// ConfigChanges is the number of first-parent commits, merges excluded,
	// that change no image reference: settings, ConfigMaps, docs, CI, and
	// reverts of such commits.
	ConfigChanges int
	// DependencyBumps is the number of renovate[bot] commits updating a
	// third-party image (a sidecar or a chart's Redis).
	DependencyBumps int
	// AppsAdded and AppsRemoved count apps added and removed after the
	// initial import.
	AppsAdded   int
	AppsRemoved int
	// ImageChanges counts, by the style the reference is written in, the
	// image references added, changed or removed along the first-parent
	// chain, each commit compared with its first parent (the initial commit
	// with nothing): the manifest changes shiplog should find. Where a
	// reference is the same value written over several fields (a kustomize
	// newTag and digest, a Helm tag and digest), it counts once.
	ImageChanges ImageChanges
	// Files is the number of files in main's tree; FileWrites the number of
	// file additions, modifications and deletions written on the first-parent
	// chain.
	Files      int
	FileWrites int
	// Apps is the number of apps in main's tree.
	Apps int
	// Head is main's commit SHA.
	Head string
}

// ImageChanges counts image references by the style they are written in.
type ImageChanges struct {
	Knative      int
	Deployment   int
	Kustomize    int
	Helm         int
	ImageUpdater int
}

// Of returns the count of one style.
func (c ImageChanges) Of(s Style) int {
	switch s {
	case StyleKnative:
		return c.Knative
	case StyleDeployment:
		return c.Deployment
	case StyleKustomize:
		return c.Kustomize
	case StyleHelm:
		return c.Helm
	case StyleImageUpdater:
		return c.ImageUpdater
	}
	return 0
}

// Total returns the sum over every style.
func (c ImageChanges) Total() int {
	return c.Knative + c.Deployment + c.Kustomize + c.Helm + c.ImageUpdater
}

func (c *ImageChanges) add(s Style, n int) {
	switch s {
	case StyleKnative:
		c.Knative += n
	case StyleDeployment:
		c.Deployment += n
	case StyleKustomize:
		c.Kustomize += n
	case StyleHelm:
		c.Helm += n
	case StyleImageUpdater:
		c.ImageUpdater += n
	}
}

// ErrDirNotEmpty is returned when the target directory of Generate or
// WriteSourceRepo exists and is not empty.
var ErrDirNotEmpty = errors.New("directory exists and is not empty")

// Generate writes a new Git repository at dir, which must not exist or be
// empty, with the history opts describes, and checks out main. Apart from
// the index, which holds file system metadata, the repository depends on
// opts alone: no reflog, no identity or clock of the machine. On error,
// including a canceled ctx, dir is left with a repository that has no
// commit.
func Generate(ctx context.Context, dir string, opts Options) (Stats, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return Stats{}, err
	}
	if err := initRepo(ctx, dir); err != nil {
		return Stats{}, err
	}
	imp, err := startImport(ctx, dir)
	if err != nil {
		return Stats{}, err
	}
	g := newGenerator(opts, imp)
	runErr := g.run(ctx)
	if runErr != nil {
		imp.abort()
		if ctxErr := ctx.Err(); ctxErr != nil {
			return Stats{}, fmt.Errorf("generate %s: %w", dir, ctxErr)
		}
		return Stats{}, fmt.Errorf("generate %s: %w", dir, runErr)
	}
	if err := imp.finish(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return Stats{}, fmt.Errorf("generate %s: %w", dir, ctxErr)
		}
		return Stats{}, fmt.Errorf("generate %s: %w", dir, err)
	}
	if _, err := runGit(ctx, dir, "read-tree", "--reset", "-u", "HEAD"); err != nil {
		return Stats{}, fmt.Errorf("generate %s: check out main: %w", dir, err)
	}
	return g.stats, nil
}

func (o Options) withDefaults() (Options, error) {
	if o.Commits < 1 {
		return o, fmt.Errorf("gitopsgen: Commits is %d, want at least 1", o.Commits)
	}
	switch {
	case o.Apps == 0:
		o.Apps = DefaultApps
	case o.Apps < 0:
		return o, fmt.Errorf("gitopsgen: Apps is %d, want at least 1", o.Apps)
	}
	if o.MergeEvery == 0 {
		o.MergeEvery = DefaultMergeEvery
	}
	if o.Start.IsZero() {
		o.Start = DefaultStart()
	}
	for i, s := range o.SourceSHAs {
		if !isFullSHA(s) {
			return o, fmt.Errorf("gitopsgen: SourceSHAs[%d] is %q, want 40 lower-case hex digits", i, s)
		}
	}
	return o, nil
}

func isFullSHA(s string) bool {
	if len(s) != 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// initRepo creates dir if needed, checks it is empty and runs git init with
// main as the initial branch.
func initRepo(ctx context.Context, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("%s: %w", dir, ErrDirNotEmpty)
	}
	if _, err := runGit(ctx, dir, "init", "--quiet", "--initial-branch=main"); err != nil {
		return fmt.Errorf("git init %s: %w", dir, err)
	}
	return nil
}

// gitCommand returns a git command run in dir, isolated from the caller's
// repository and configuration: GIT_* variables are dropped and neither the
// system nor the global configuration is read. No reflog is written: its
// entries would hold the clock and the user's name and host, and the
// repository must depend on the options alone.
func gitCommand(ctx context.Context, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-c", "core.logAllRefUpdates=false"}, args...)...)
	cmd.Dir = dir
	env := make([]string, 0, len(os.Environ())+3)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull, "LC_ALL=C")
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// runGit runs git in dir and returns its standard output; the error carries
// its standard error.
func runGit(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := gitCommand(ctx, dir, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// importer feeds one git fast-import process.
type importer struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	w      *bufio.Writer
	out    *bufio.Reader
	stderr *tailBuffer
	num    []byte
}

func startImport(ctx context.Context, dir string) (*importer, error) {
	cmd := gitCommand(ctx, dir, "fast-import", "--quiet", "--done")
	// fast-import compresses every object with a fresh zlib stream; by
	// default glibc gives those buffers back to the kernel and faults them
	// in again each time, which costs a quarter of the run. Other C
	// libraries ignore these variables.
	cmd.Env = append(cmd.Env, "MALLOC_TRIM_THRESHOLD_=268435456", "MALLOC_TOP_PAD_=67108864")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("git fast-import: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("git fast-import: %w", err)
	}
	tb := &tailBuffer{max: 8 << 10}
	cmd.Stderr = tb
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start git fast-import: %w", err)
	}
	return &importer{
		cmd:    cmd,
		stdin:  stdin,
		w:      bufio.NewWriterSize(stdin, 256<<10),
		out:    bufio.NewReader(stdout),
		stderr: tb,
	}, nil
}

// str writes s to the stream.
func (im *importer) str(s string) { im.w.WriteString(s) }

// int writes n in decimal.
func (im *importer) int(n int64) {
	im.num = appendInt(im.num[:0], n)
	im.w.Write(im.num)
}

// data writes a data command with b.
func (im *importer) data(b []byte) {
	im.str("data ")
	im.int(int64(len(b)))
	im.w.WriteByte('\n')
	im.w.Write(b)
	im.w.WriteByte('\n')
}

// getMark asks fast-import for the SHA of a mark it has imported.
func (im *importer) getMark(mark int) (string, error) {
	im.str("get-mark :")
	im.int(int64(mark))
	im.w.WriteByte('\n')
	if err := im.w.Flush(); err != nil {
		return "", im.failed(err)
	}
	line, err := im.out.ReadString('\n')
	if err != nil {
		return "", im.failed(err)
	}
	sha := strings.TrimSpace(line)
	if !isFullSHA(sha) {
		return "", fmt.Errorf("git fast-import: get-mark :%d: unexpected answer %q", mark, line)
	}
	return sha, nil
}

// failed wraps a stream error with what fast-import said.
func (im *importer) failed(err error) error {
	if msg := strings.TrimSpace(im.stderr.String()); msg != "" {
		return fmt.Errorf("git fast-import: %w: %s", err, msg)
	}
	return fmt.Errorf("git fast-import: %w", err)
}

// finish ends the stream and waits for fast-import.
func (im *importer) finish() error {
	im.str("done\n")
	if err := im.w.Flush(); err != nil {
		im.abort()
		return im.failed(err)
	}
	if err := im.stdin.Close(); err != nil {
		im.abort()
		return im.failed(err)
	}
	if err := im.cmd.Wait(); err != nil {
		return im.failed(err)
	}
	return nil
}

// abort stops fast-import without finishing the stream: nothing is
// imported.
func (im *importer) abort() {
	_ = im.stdin.Close()
	if im.cmd.Process != nil {
		_ = im.cmd.Process.Kill()
	}
	_ = im.cmd.Wait()
}

// tailBuffer keeps the last max bytes written to it. os/exec writes to it
// from its own goroutine while the process runs.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
