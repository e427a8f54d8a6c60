// Package git reads a GitOps repository's history with the real git command
// and turns every image change into deployment events: the repository's
// history is its deployment history.
package git

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Repo is a local Git repository (a working clone or a bare one).
type Repo struct {
	Dir     string // where git runs (the work tree or the bare repository)
	GitDir  string
	Bare    bool
	Shallow bool
	Partial bool   // a partial clone: some objects may be absent
	ID      string // how events name the repository: its URL, else its absolute path
}

// ErrNotRepository means the path is not a Git repository.
var ErrNotRepository = errors.New("not a git repository")

// gitEnv keeps git from prompting, from localising its output, and from
// fetching missing objects of a partial clone behind our back.
func gitEnv() []string {
	return append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "LC_ALL=C", "GIT_NO_LAZY_FETCH=1", "GIT_OPTIONAL_LOCKS=0")
}

// git runs a git command in dir and returns its standard output.
func runGit(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = gitEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return out, fmt.Errorf("git %s: %s", args[0], msg)
	}
	return out, nil
}

// IsURL reports whether spec names a remote repository rather than a path.
func IsURL(spec string) bool {
	return strings.Contains(spec, "://") || (strings.Contains(spec, "@") && strings.Contains(spec, ":") && !strings.HasPrefix(spec, "/"))
}

// Open opens the repository at spec: a path to a working clone or a bare
// repository, or a URL, which is cloned (bare) into cacheDir on first use
// and fetched afterwards.
func Open(ctx context.Context, spec, cacheDir string) (*Repo, error) {
	if spec == "" {
		return nil, errors.New("no repository given")
	}
	if IsURL(spec) {
		return openURL(ctx, spec, cacheDir)
	}
	abs, err := filepath.Abs(spec)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("repository %s: %w", spec, err)
	}
	r, err := inspect(ctx, abs)
	if err != nil {
		return nil, err
	}
	r.ID = abs
	if out, err := runGit(ctx, abs, "config", "--get", "remote.origin.url"); err == nil {
		if u := strings.TrimSpace(string(out)); u != "" && IsURL(u) {
			r.ID = u
		}
	}
	return r, nil
}

func openURL(ctx context.Context, url, cacheDir string) (*Repo, error) {
	if cacheDir == "" {
		return nil, errors.New("a cache directory is needed to clone " + redactURL(url))
	}
	sum := sha256.Sum256([]byte(url))
	dir := filepath.Join(cacheDir, hex.EncodeToString(sum[:8])+".git")
	if _, err := os.Stat(filepath.Join(dir, "HEAD")); err == nil {
		if _, err := runGit(ctx, dir, "fetch", "--prune", "--force", "origin", "+refs/heads/*:refs/heads/*"); err != nil {
			return nil, fmt.Errorf("fetch %s: %w", redactURL(url), err)
		}
	} else {
		if err := os.MkdirAll(cacheDir, 0o755); err != nil {
			return nil, err
		}
		if _, err := runGit(ctx, cacheDir, "clone", "--bare", "--quiet", url, dir); err != nil {
			return nil, fmt.Errorf("clone %s: %w", redactURL(url), err)
		}
	}
	r, err := inspect(ctx, dir)
	if err != nil {
		return nil, err
	}
	r.ID = redactURL(url)
	return r, nil
}

// redactURL removes credentials from a URL so it can be logged and stored.
func redactURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	if at := strings.Index(rest, "@"); at >= 0 && at < strings.IndexAny(rest+"/", "/") {
		rest = rest[at+1:]
	}
	return scheme + "://" + rest
}

func inspect(ctx context.Context, dir string) (*Repo, error) {
	out, err := runGit(ctx, dir, "rev-parse", "--absolute-git-dir", "--is-bare-repository", "--is-shallow-repository")
	if err != nil {
		return nil, fmt.Errorf("%s: %w (%v)", dir, ErrNotRepository, err)
	}
	f := strings.Fields(string(out))
	if len(f) != 3 {
		return nil, fmt.Errorf("%s: unexpected git rev-parse output %q", dir, out)
	}
	r := &Repo{Dir: dir, GitDir: f[0], Bare: f[1] == "true", Shallow: f[2] == "true"}
	// A partial clone names its promisor remote one way or the other.
	if out, err := runGit(ctx, dir, "config", "--get", "extensions.partialclone"); err == nil && strings.TrimSpace(string(out)) != "" {
		r.Partial = true
	}
	if out, err := runGit(ctx, dir, "config", "--get-regexp", `^remote\..*\.promisor$`); err == nil && strings.Contains(string(out), "true") {
		r.Partial = true
	}
	return r, nil
}

// Branch resolves a branch name to its full ref; "" means the branch HEAD
// points at.
func (r *Repo) Branch(ctx context.Context, name string) (string, error) {
	if name == "" {
		out, err := runGit(ctx, r.Dir, "symbolic-ref", "-q", "HEAD")
		if err != nil {
			return "", fmt.Errorf("repository HEAD is not a branch; give --branch: %w", err)
		}
		return strings.TrimSpace(string(out)), nil
	}
	for _, ref := range []string{name, "refs/heads/" + name, "refs/remotes/origin/" + name} {
		if _, err := runGit(ctx, r.Dir, "rev-parse", "--verify", "-q", ref+"^{commit}"); err == nil {
			if strings.HasPrefix(ref, "refs/") {
				return ref, nil
			}
			if out, err := runGit(ctx, r.Dir, "rev-parse", "--symbolic-full-name", ref); err == nil && strings.TrimSpace(string(out)) != "" {
				return strings.TrimSpace(string(out)), nil
			}
			return ref, nil
		}
	}
	return "", fmt.Errorf("branch %q not found", name)
}

// RevParse resolves a revision to a full commit SHA.
func (r *Repo) RevParse(ctx context.Context, rev string) (string, error) {
	out, err := runGit(ctx, r.Dir, "rev-parse", "--verify", "-q", rev+"^{commit}")
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", rev, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// IsAncestor reports whether commit a is an ancestor of (or equal to) b.
func (r *Repo) IsAncestor(ctx context.Context, a, b string) bool {
	_, err := runGit(ctx, r.Dir, "merge-base", "--is-ancestor", a, b)
	return err == nil
}

// FirstParentChain lists the first-parent history of rev, newest first.
func (r *Repo) FirstParentChain(ctx context.Context, rev string) ([]string, error) {
	out, err := runGit(ctx, r.Dir, "rev-list", "--first-parent", rev)
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(out)), nil
}

// ShallowBoundary returns the commits whose parents a shallow clone lacks.
func (r *Repo) ShallowBoundary() map[string]bool {
	b, err := os.ReadFile(filepath.Join(r.GitDir, "shallow"))
	if err != nil {
		return nil
	}
	out := map[string]bool{}
	for _, s := range strings.Fields(string(b)) {
		out[s] = true
	}
	return out
}
