package demo

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// gitCommit is one commit to write with git fast-import.
type gitCommit struct {
	Author    person
	Committer person
	Authored  time.Time
	Committed time.Time
	Message   string
	Files     map[string][]byte
}

// gitCommand runs git in dir, isolated from the user's configuration.
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

// initRepo creates a repository on branch main with an origin URL, so
// that shiplog names it the same way in every run.
func initRepo(ctx context.Context, dir, origin string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if _, err := runGit(ctx, dir, "init", "--quiet", "--initial-branch=main"); err != nil {
		return err
	}
	if origin != "" {
		if _, err := runGit(ctx, dir, "remote", "add", "origin", origin); err != nil {
			return err
		}
	}
	return nil
}

// fastImport appends commits to refs/heads/main of the repository in dir,
// after parent ("" for the first commits of the branch), and returns their
// SHAs in order.
func fastImport(ctx context.Context, dir, parent string, commits []gitCommit) ([]string, error) {
	if len(commits) == 0 {
		return nil, nil
	}
	marks := filepath.Join(dir, ".git", "demo-marks")
	cmd := gitCommand(ctx, dir, "fast-import", "--quiet", "--done", "--force", "--export-marks="+marks)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	var stream bytes.Buffer
	w := bufio.NewWriter(&stream)
	for i, c := range commits {
		fmt.Fprintf(w, "commit refs/heads/main\nmark :%d\n", i+1)
		fmt.Fprintf(w, "author %s <%s> %d +0000\n", c.Author.Name, c.Author.Email(), c.Authored.Unix())
		committer := c.Committer
		if committer.Login == "" {
			committer = c.Author
		}
		fmt.Fprintf(w, "committer %s <%s> %d +0000\n", committer.Name, committer.Email(), c.Committed.Unix())
		fmt.Fprintf(w, "data %d\n%s\n", len(c.Message), c.Message)
		if i == 0 && parent != "" {
			fmt.Fprintf(w, "from %s\n", parent)
		}
		paths := make([]string, 0, len(c.Files))
		for p := range c.Files {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			fmt.Fprintf(w, "M 100644 inline %s\ndata %d\n%s\n", p, len(c.Files[p]), c.Files[p])
		}
		w.WriteString("\n")
	}
	w.WriteString("done\n")
	if err := w.Flush(); err != nil {
		return nil, err
	}
	cmd.Stdin = &stream
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("git fast-import in %s: %w: %s", dir, err, strings.TrimSpace(stderr.String()))
	}
	b, err := os.ReadFile(marks)
	if err != nil {
		return nil, fmt.Errorf("read fast-import marks: %w", err)
	}
	shas := make([]string, len(commits))
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		m, sha, ok := strings.Cut(line, " ")
		n, err := strconv.Atoi(strings.TrimPrefix(m, ":"))
		if !ok || err != nil || n < 1 || n > len(commits) {
			continue
		}
		shas[n-1] = sha
	}
	for i, s := range shas {
		if s == "" {
			return nil, fmt.Errorf("git fast-import: no SHA for commit %d", i+1)
		}
	}
	return shas, nil
}
