package gitopsgen_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/format"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/source/git/gitopsgen"
)

// git runs git in dir, isolated from the user's configuration, and returns
// its output.
func git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull, "LC_ALL=C")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

func gitInt(t testing.TB, dir string, args ...string) int {
	t.Helper()
	out := strings.TrimSpace(git(t, dir, args...))
	n, err := strconv.Atoi(out)
	if err != nil {
		t.Fatalf("git %s: %q is not a number", strings.Join(args, " "), out)
	}
	return n
}

func generate(t testing.TB, opts gitopsgen.Options) (string, gitopsgen.Stats) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "gitops")
	stats, err := gitopsgen.Generate(context.Background(), dir, opts)
	if err != nil {
		t.Fatalf("Generate(%+v): %v", opts, err)
	}
	return dir, stats
}

// commit is a first-parent commit as git log shows it.
type commit struct {
	sha, subject, body  string
	author, committer   string
	committed           time.Time
	parents             []string
	paths               []string // changed against the first parent
	isMerge, isRollback bool
}

var rollbackRe = regexp.MustCompile(`(?i)\broll(ed)? ?back\b`)

// firstParent returns main's first-parent chain, oldest first.
func firstParent(t *testing.T, dir string) []commit {
	t.Helper()
	out := git(t, dir, "log", "--first-parent", "--reverse", "--diff-merges=first-parent", "--no-renames",
		"--format=%x1e%H%x1f%P%x1f%an%x1f%cn%x1f%ct%x1f%s%x1f%b%x1f", "--name-only", "main")
	var cs []commit
	for _, rec := range strings.Split(out, "\x1e")[1:] {
		f := strings.Split(rec, "\x1f")
		if len(f) != 8 {
			t.Fatalf("git log record with %d fields: %q", len(f), rec)
		}
		ct, _ := strconv.ParseInt(f[4], 10, 64)
		c := commit{
			sha: f[0], parents: strings.Fields(f[1]), author: f[2], committer: f[3],
			committed: time.Unix(ct, 0).UTC(), subject: f[5], body: f[6],
			paths: strings.Fields(f[7]),
		}
		c.isMerge = len(c.parents) > 1
		c.isRollback = !c.isMerge && rollbackRe.MatchString(c.subject) && !strings.HasPrefix(c.subject, `Revert "`)
		cs = append(cs, c)
	}
	return cs
}

// catFile reads blobs with one git cat-file --batch process.
type catFile struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func newCatFile(t *testing.T, dir string) *catFile {
	t.Helper()
	cmd := exec.Command("git", "cat-file", "--batch")
	cmd.Dir = dir
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &catFile{cmd: cmd, in: in, out: bufio.NewReader(out)}
	t.Cleanup(func() {
		in.Close()
		cmd.Wait()
	})
	return c
}

// read returns the content of rev:path, or nil if there is none.
func (c *catFile) read(t *testing.T, rev, path string) []byte {
	t.Helper()
	fmt.Fprintf(c.in, "%s:%s\n", rev, path)
	hdr, err := c.out.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(hdr)
	if len(f) == 2 && f[1] == "missing" {
		return nil
	}
	if len(f) != 3 {
		t.Fatalf("cat-file: unexpected header %q", hdr)
	}
	n, _ := strconv.Atoi(f[2])
	b := make([]byte, n+1)
	if _, err := io.ReadFull(c.out, b); err != nil {
		t.Fatal(err)
	}
	return b[:n]
}

// imageStyle says how a path writes image references, from the layout in
// docs/git-manifests.md, or "" for a file without any.
func imageStyle(p string, content []byte) gitopsgen.Style {
	base := path.Base(p)
	switch {
	case strings.HasPrefix(base, ".argocd-source-"):
		return gitopsgen.StyleImageUpdater
	case base == "kustomization.yaml":
		if bytes.Contains(content, []byte("\nimages:\n")) {
			return gitopsgen.StyleKustomize
		}
	case strings.HasPrefix(base, "values") && strings.HasSuffix(base, ".yaml"):
		return gitopsgen.StyleHelm
	case bytes.Contains(content, []byte("apiVersion: serving.knative.dev/")):
		return gitopsgen.StyleKnative
	case bytes.Contains(content, []byte("\nkind: Deployment\n")) || bytes.Contains(content, []byte("\nkind: StatefulSet\n")):
		return gitopsgen.StyleDeployment
	}
	return ""
}

var (
	imageLineRe = regexp.MustCompile(`^\s*(?:- )?image: (\S+)$`)
	fieldRe     = regexp.MustCompile(`^\s+(registry|repository|name|tag|digest): (\S+)$`)
	paramRe     = regexp.MustCompile(`^  - name: (.+)\.(name|tag|digest)$`)
)

// imageRefs reads the image references of a file as text, knowing how the
// generator lays files out: key → value. It shares no code with the
// generator.
func imageRefs(style gitopsgen.Style, content []byte) map[string]string {
	refs := map[string]string{}
	lines := strings.Split(string(content), "\n")
	switch style {
	case gitopsgen.StyleKnative, gitopsgen.StyleDeployment:
		// Containers never come and go within a file: match by position.
		n := 0
		for _, l := range lines {
			if m := imageLineRe.FindStringSubmatch(l); m != nil {
				refs[strconv.Itoa(n)] = m[1]
				n++
			}
		}
	case gitopsgen.StyleKustomize:
		i := slices.Index(lines, "images:")
		if i >= 0 {
			refs["images"] = strings.Join(lines[i+1:], "|")
		}
	case gitopsgen.StyleHelm:
		top := ""
		for i := 0; i < len(lines); i++ {
			l := lines[i]
			if l != "" && l[0] != ' ' && l[0] != '#' {
				top = strings.TrimSuffix(l, ":")
			}
			if strings.TrimSpace(l) != "image:" {
				continue
			}
			indent := len(l) - len(strings.TrimLeft(l, " "))
			var v []string
			for i+1 < len(lines) && len(lines[i+1])-len(strings.TrimLeft(lines[i+1], " ")) > indent {
				i++
				if m := fieldRe.FindStringSubmatch(lines[i]); m != nil {
					v = append(v, m[1]+"="+m[2])
				}
			}
			refs[top] = strings.Join(v, ",")
		}
	case gitopsgen.StyleImageUpdater:
		for i, l := range lines {
			if m := paramRe.FindStringSubmatch(l); m != nil && i+1 < len(lines) {
				refs[m[1]] += m[2] + "=" + strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(lines[i+1]), "value:")) + ","
			}
			if strings.HasPrefix(l, "  - ") && !strings.HasPrefix(l, "  - name:") {
				img := strings.TrimPrefix(l, "  - ")
				repo, _, _ := strings.Cut(img, "@")
				if j := strings.LastIndex(repo, ":"); j > strings.LastIndex(repo, "/") {
					repo = repo[:j]
				}
				refs[repo] = img
			}
		}
	}
	return refs
}

// changed counts the references added, changed or removed between two
// versions, and returns the new values of the changed or added ones.
func changed(before, after map[string]string) (int, []string) {
	n := 0
	var vals []string
	for k, v := range after {
		if old, ok := before[k]; !ok || old != v {
			n++
			vals = append(vals, k+"\x00"+v)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			n++
		}
	}
	return n, vals
}

func TestGenerate(t *testing.T) {
	start := time.Date(2024, time.March, 4, 8, 30, 0, 0, time.UTC)
	opts := gitopsgen.Options{Commits: 300, Apps: 12, Seed: 42, Start: start, MergeEvery: 10}
	dir, stats := generate(t, opts)
	commits := firstParent(t, dir)

	t.Run("first-parent chain", func(t *testing.T) {
		if got := gitInt(t, dir, "rev-list", "--first-parent", "--count", "main"); got != opts.Commits {
			t.Errorf("rev-list --first-parent --count main: got %d, want %d", got, opts.Commits)
		}
		if stats.Commits != opts.Commits {
			t.Errorf("Stats.Commits: got %d, want %d", stats.Commits, opts.Commits)
		}
		if got, want := gitInt(t, dir, "rev-list", "--count", "main"), opts.Commits+stats.SideCommits; got != want {
			t.Errorf("rev-list --count main: got %d, want Commits+SideCommits = %d", got, want)
		}
	})

	t.Run("merges", func(t *testing.T) {
		want := (opts.Commits - 1) / opts.MergeEvery
		if stats.Merges != want {
			t.Errorf("Stats.Merges: got %d, want %d", stats.Merges, want)
		}
		if got := gitInt(t, dir, "rev-list", "--merges", "--count", "main"); got != want {
			t.Errorf("rev-list --merges --count main: got %d, want %d", got, want)
		}
		mergeRe := regexp.MustCompile(`^Merge pull request #\d+ from acme/[a-z0-9-]+$`)
		side := 0
		for i, c := range commits {
			if got := c.isMerge; got != (i > 0 && i%opts.MergeEvery == 0) {
				t.Errorf("commit %d (%s): merge %v, want every %dth", i, c.subject, got, opts.MergeEvery)
			}
			if !c.isMerge {
				continue
			}
			if !mergeRe.MatchString(c.subject) || c.body == "" || c.committer != "GitHub" {
				t.Errorf("merge %s: subject %q, body %q, committer %q", c.sha, c.subject, c.body, c.committer)
			}
			n := gitInt(t, dir, "rev-list", "--count", c.parents[0]+".."+c.parents[1])
			if n < 1 || n > 3 {
				t.Errorf("merge %s: branch of %d commits, want 1 to 3", c.sha, n)
			}
			side += n
		}
		if side != stats.SideCommits {
			t.Errorf("commits on merged branches: got %d, Stats.SideCommits %d", side, stats.SideCommits)
		}
	})

	t.Run("fsck, refs and work tree", func(t *testing.T) {
		if out := git(t, dir, "fsck", "--full", "--strict", "--no-progress"); out != "" {
			t.Errorf("git fsck: %s", out)
		}
		if got, want := git(t, dir, "for-each-ref", "--format=%(refname)"), "refs/heads/main\n"; got != want {
			t.Errorf("refs: got %q, want %q", got, want)
		}
		if got := strings.TrimSpace(git(t, dir, "rev-parse", "HEAD")); got != stats.Head {
			t.Errorf("HEAD: got %s, Stats.Head %s", got, stats.Head)
		}
		if out := git(t, dir, "status", "--porcelain"); out != "" {
			t.Errorf("work tree not clean: %s", out)
		}
		if got := len(strings.Fields(git(t, dir, "ls-files"))); got != stats.Files {
			t.Errorf("files at HEAD: got %d, Stats.Files %d", got, stats.Files)
		}
		if got := git(t, dir, "ls-files", "-s", "scripts/promote.sh"); !strings.HasPrefix(got, "100755 ") {
			t.Errorf("scripts/promote.sh: got %q, want mode 100755", got)
		}
	})

	t.Run("deterministic", func(t *testing.T) {
		_, again := generate(t, opts)
		if again != stats {
			t.Errorf("same options: got %+v, want %+v", again, stats)
		}
		other := opts
		other.Seed++
		_, diff := generate(t, other)
		if diff.Head == stats.Head {
			t.Errorf("seed %d and %d: both give HEAD %s", opts.Seed, other.Seed, stats.Head)
		}
	})

	t.Run("timestamps", func(t *testing.T) {
		if got := commits[0].committed; !got.Equal(start) {
			t.Errorf("first commit: got %v, want Start %v", got, start)
		}
		for i := 1; i < len(commits); i++ {
			gap := commits[i].committed.Sub(commits[i-1].committed)
			if gap < 40*time.Second || gap > 20*time.Hour {
				t.Errorf("commit %d: %v after its parent, want 40s to 20h", i, gap)
			}
		}
	})

	t.Run("files of every style", func(t *testing.T) {
		files := strings.Fields(git(t, dir, "ls-files"))
		tests := []struct {
			style    gitopsgen.Style
			pattern  string
			contains []string
			minLines int
			maxLines int
		}{
			{gitopsgen.StyleKnative, "apps/*/envs/*/service.yaml", []string{
				"apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: ",
				"autoscaling.knative.dev/min-scale: ", "      containers:\n        - name: ",
				"          image: ", "readinessProbe:", "resources:",
			}, 60, 120},
			{gitopsgen.StyleDeployment, "apps/*/envs/*/deployment.yaml", []string{
				"apiVersion: apps/v1\nkind: ", "\n---\napiVersion: v1\nkind: Service\n", "          image: ",
			}, 40, 200},
			{gitopsgen.StyleKustomize, "apps/*/overlays/*/kustomization.yaml", []string{
				"kind: Kustomization\n", "resources:\n  - ../../base\n", "\nimages:\n  - name: ",
			}, 10, 60},
			{gitopsgen.StyleHelm, "charts/*/values-*.yaml", []string{
				"global:\n  environment: ", "  image:\n    repository: ",
			}, 20, 120},
			{gitopsgen.StyleImageUpdater, "apps/*/.argocd-source-*.yaml", nil, 3, 40},
		}
		for _, tt := range tests {
			t.Run(string(tt.style), func(t *testing.T) {
				n := 0
				for _, f := range files {
					if ok, _ := path.Match(tt.pattern, f); !ok {
						continue
					}
					n++
					content := git(t, dir, "show", "main:"+f)
					if err := checkYAML(content); err != nil {
						t.Errorf("%s: %v", f, err)
					}
					for _, s := range tt.contains {
						if !strings.Contains(content, s) {
							t.Errorf("%s: no %q", f, s)
						}
					}
					if got := strings.Count(content, "\n"); got < tt.minLines || got > tt.maxLines {
						t.Errorf("%s: %d lines, want %d to %d", f, got, tt.minLines, tt.maxLines)
					}
					refs := imageRefs(tt.style, []byte(content))
					switch {
					case len(refs) == 0:
						t.Errorf("%s: no image reference", f)
					case tt.style == gitopsgen.StyleHelm && len(refs) < 2:
						t.Errorf("%s: %d components, want 2 or 3", f, len(refs))
					case tt.style == gitopsgen.StyleImageUpdater &&
						!strings.HasPrefix(content, "helm:\n  parameters:\n  - name: ") &&
						!strings.HasPrefix(content, "kustomize:\n  images:\n  - "):
						t.Errorf("%s: neither Helm parameters nor kustomize images:\n%s", f, content)
					}
				}
				if n == 0 {
					t.Errorf("no file matches %s", tt.pattern)
				}
			})
		}
		for _, f := range files {
			if strings.HasSuffix(f, ".yaml") {
				if err := checkYAML(git(t, dir, "show", "main:"+f)); err != nil {
					t.Errorf("%s: %v", f, err)
				}
			}
		}
	})

	// Walk the history, reading every changed file against the first
	// parent, to count image changes and check rollbacks.
	t.Run("history", func(t *testing.T) {
		cat := newCatFile(t, dir)
		got := map[gitopsgen.Style]int{}
		configOnly, rollbacks := 0, 0
		seen := map[string]bool{} // path \x00 key \x00 value, deployed before
		for i, c := range commits {
			n := 0
			var set []string
			for _, p := range c.paths {
				var before []byte
				if i > 0 {
					before = cat.read(t, c.parents[0], p)
				}
				after := cat.read(t, c.sha, p)
				style := imageStyle(p, after)
				if after == nil {
					style = imageStyle(p, before)
				}
				if style == "" {
					continue
				}
				k, vals := changed(imageRefs(style, before), imageRefs(style, after))
				got[style] += k
				n += k
				for _, v := range vals {
					set = append(set, p+"\x00"+v)
				}
			}
			if n == 0 && !c.isMerge {
				configOnly++
			}
			if c.isRollback {
				rollbacks++
				if len(set) == 0 {
					t.Errorf("rollback %s %q changes no image", c.sha, c.subject)
				}
				for _, s := range set {
					if !seen[s] {
						t.Errorf("rollback %s %q: %q was never deployed there before", c.sha, c.subject, s)
					}
				}
			}
			for _, s := range set {
				seen[s] = true
			}
		}
		total := 0
		for _, s := range gitopsgen.Styles() {
			if got[s] != stats.ImageChanges.Of(s) || got[s] == 0 {
				t.Errorf("image changes in style %s: history has %d, Stats.ImageChanges %d, want equal and > 0", s, got[s], stats.ImageChanges.Of(s))
			}
			total += got[s]
		}
		if stats.ImageChanges.Total() != total {
			t.Errorf("Stats.ImageChanges.Total(): got %d, want %d", stats.ImageChanges.Total(), total)
		}
		if configOnly != stats.ConfigChanges {
			t.Errorf("commits changing no image: got %d, Stats.ConfigChanges %d", configOnly, stats.ConfigChanges)
		}
		if rollbacks != stats.Rollbacks || rollbacks == 0 {
			t.Errorf("rollback commits: got %d, Stats.Rollbacks %d, want equal and > 0", rollbacks, stats.Rollbacks)
		}
	})

	t.Run("reverts", func(t *testing.T) {
		index := map[string]int{}
		for i, c := range commits {
			index[c.sha] = i
		}
		revertRe := regexp.MustCompile(`^Revert "(.+)"$`)
		bodyRe := regexp.MustCompile(`^This reverts commit ([0-9a-f]{40})\.\n`)
		n := 0
		for i, c := range commits {
			m := revertRe.FindStringSubmatch(c.subject)
			if m == nil {
				continue
			}
			n++
			b := bodyRe.FindStringSubmatch(c.body)
			if b == nil {
				t.Errorf("revert %s: body %q", c.sha, c.body)
				continue
			}
			j, ok := index[b[1]]
			if !ok || j >= i || commits[j].isMerge {
				t.Errorf("revert %s: reverts %s, not an earlier commit of main", c.sha, b[1])
				continue
			}
			if commits[j].subject != m[1] {
				t.Errorf("revert %s: subject says %q, %s is %q", c.sha, m[1], b[1], commits[j].subject)
			}
			del, add := diffLines(t, dir, c.sha)
			tdel, tadd := diffLines(t, dir, b[1])
			if !slices.Equal(del, tadd) || !slices.Equal(add, tdel) {
				t.Errorf("revert %s does not undo %s:\n-%q\n+%q\nundoes\n-%q\n+%q", c.sha, b[1], del, add, tdel, tadd)
			}
		}
		if n != stats.Reverts || n == 0 {
			t.Errorf("revert commits: got %d, Stats.Reverts %d, want equal and > 0", n, stats.Reverts)
		}
	})

	t.Run("authors and subjects", func(t *testing.T) {
		bots, renovate, squashed, added, removed := 0, 0, 0, 0, 0
		prRe := regexp.MustCompile(` \(#\d+\)$`)
		for _, c := range commits {
			if c.subject == "" || len(c.subject) > 120 {
				t.Errorf("commit %s: subject %q", c.sha, c.subject)
			}
			switch c.author {
			case "shiplog-bot[bot]", "argocd-image-updater":
				bots++
			case "renovate[bot]":
				renovate++
			}
			if prRe.MatchString(c.subject) {
				squashed++
				if c.committer != "GitHub" {
					t.Errorf("squash merge %s %q: committer %q, want GitHub", c.sha, c.subject, c.committer)
				}
			}
			if strings.Contains(c.subject, ": onboard ") {
				added++
			}
			if strings.Contains(c.subject, ": decommission ") {
				removed++
			}
		}
		if bots != stats.ImageBumps {
			t.Errorf("commits by the deploy bots: got %d, Stats.ImageBumps %d", bots, stats.ImageBumps)
		}
		if renovate != stats.DependencyBumps {
			t.Errorf("commits by renovate: got %d, Stats.DependencyBumps %d", renovate, stats.DependencyBumps)
		}
		if squashed == 0 {
			t.Error("no squash-merged commit")
		}
		if added != stats.AppsAdded || removed != stats.AppsRemoved || added == 0 || removed == 0 {
			t.Errorf("apps added %d and removed %d, Stats say %d and %d, want equal and > 0", added, removed, stats.AppsAdded, stats.AppsRemoved)
		}
		if want := opts.Apps + stats.AppsAdded - stats.AppsRemoved; stats.Apps != want {
			t.Errorf("Stats.Apps: got %d, want %d", stats.Apps, want)
		}
		apps := map[string]bool{}
		for _, f := range strings.Fields(git(t, dir, "ls-files", "apps", "charts")) {
			apps[strings.Split(f, "/")[1]] = true
		}
		if len(apps) != stats.Apps {
			t.Errorf("app directories at HEAD: got %d, Stats.Apps %d", len(apps), stats.Apps)
		}
	})
}

// diffLines returns the lines a commit removes and adds, each sorted.
func diffLines(t *testing.T, dir, sha string) (del, add []string) {
	t.Helper()
	for _, l := range strings.Split(git(t, dir, "show", "--format=", "-U0", "--no-renames", sha), "\n") {
		switch {
		case strings.HasPrefix(l, "---"), strings.HasPrefix(l, "+++"):
		case strings.HasPrefix(l, "-"):
			del = append(del, l[1:])
		case strings.HasPrefix(l, "+"):
			add = append(add, l[1:])
		}
	}
	slices.Sort(del)
	slices.Sort(add)
	return del, add
}

var (
	yamlKeyRe   = regexp.MustCompile(`^([A-Za-z0-9_./$-]+|"[^"]*"):(?: (.*))?$`)
	yamlPlainRe = regexp.MustCompile(`^[^\s"'\[\]{}#&*!|>%@` + "`" + `][^#]*$`)
)

// checkYAML is a light check that content is block-style YAML as the
// generator writes it: no tabs, two-space indentation, every line a
// comment, a document separator, a "key: value", a "key:" or a list item,
// values plain or quoted or a flow sequence, block scalars indented.
func checkYAML(content string) error {
	if !strings.HasSuffix(content, "\n") {
		return errors.New("no newline at the end")
	}
	block := -1 // indentation of the key owning a block scalar
	for i, line := range strings.Split(strings.TrimSuffix(content, "\n"), "\n") {
		n := i + 1
		if strings.Contains(line, "\t") {
			return fmt.Errorf("line %d: tab", n)
		}
		trimmed := strings.TrimLeft(line, " ")
		indent := len(line) - len(trimmed)
		if block >= 0 {
			if trimmed == "" || indent > block {
				continue
			}
			block = -1
		}
		if trimmed == "" || strings.HasPrefix(trimmed, "#") || line == "---" {
			continue
		}
		if indent%2 != 0 {
			return fmt.Errorf("line %d: odd indentation: %q", n, line)
		}
		item := trimmed
		for strings.HasPrefix(item, "- ") {
			item = item[2:]
			indent += 2
		}
		value := item
		if m := yamlKeyRe.FindStringSubmatch(item); m != nil {
			value = m[2]
		} else if item == trimmed {
			return fmt.Errorf("line %d: neither a key nor a list item: %q", n, line)
		}
		switch {
		case value == "":
		case value == "|" || value == "|-" || value == ">":
			block = indent
		case strings.HasPrefix(value, `"`):
			if uq, err := strconv.Unquote(value); err != nil || strings.Contains(uq, "\n") {
				return fmt.Errorf("line %d: bad quoted value: %q", n, line)
			}
		case strings.HasPrefix(value, "["):
			if !strings.HasSuffix(value, "]") {
				return fmt.Errorf("line %d: unclosed flow sequence: %q", n, line)
			}
		case !yamlPlainRe.MatchString(value) || strings.Contains(value, ": "):
			return fmt.Errorf("line %d: plain value that needs quotes: %q", n, line)
		}
	}
	return nil
}

func TestCheckYAML(t *testing.T) {
	tests := []struct {
		name    string
		content string
		ok      bool
	}{
		{"map", "a:\n  b: c\n  d: \"e: f\"\n", true},
		{"list", "a:\n  - b\n  - name: c\n    value: d\n", true},
		{"block", "a: |-\n  x: {{ y\n   z\nb: c\n", true},
		{"tab", "a:\n\tb: c\n", false},
		{"odd indent", "a:\n   b: c\n", false},
		{"no key", "a:\nb\n", false},
		{"colon in plain value", "a: b: c\n", false},
		{"unclosed quote", "a: \"b\n", false},
		{"unclosed flow", "a: [b\n", false},
		{"no final newline", "a: b", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := checkYAML(tt.content); (err == nil) != tt.ok {
				t.Errorf("checkYAML(%q): got %v, want ok %v", tt.content, err, tt.ok)
			}
		})
	}
}

func TestGenerateMergeEvery(t *testing.T) {
	tests := []struct {
		name       string
		commits    int
		mergeEvery int
		merges     int
	}{
		{"one commit", 1, 0, 0},
		{"two commits", 2, 0, 0},
		{"default", 25, 0, 2},
		{"no merges", 60, -1, 0},
		{"every commit but the first", 12, 1, 11},
		{"every third", 31, 3, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, stats := generate(t, gitopsgen.Options{Commits: tt.commits, Apps: 6, Seed: 7, MergeEvery: tt.mergeEvery})
			if got := gitInt(t, dir, "rev-list", "--first-parent", "--count", "main"); got != tt.commits {
				t.Errorf("first-parent commits: got %d, want %d", got, tt.commits)
			}
			if got := gitInt(t, dir, "rev-list", "--merges", "--count", "main"); got != tt.merges || stats.Merges != tt.merges {
				t.Errorf("merges: got %d, Stats.Merges %d, want %d", got, stats.Merges, tt.merges)
			}
			if out := git(t, dir, "fsck", "--full", "--strict", "--no-progress"); out != "" {
				t.Errorf("git fsck: %s", out)
			}
			if got, want := git(t, dir, "for-each-ref", "--format=%(refname)"), "refs/heads/main\n"; got != want {
				t.Errorf("refs: got %q, want %q", got, want)
			}
		})
	}
}

func TestGenerateSourceSHAs(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	shas, err := gitopsgen.WriteSourceRepo(context.Background(), src, 150, 9)
	if err != nil {
		t.Fatalf("WriteSourceRepo: %v", err)
	}
	if got := strings.Fields(git(t, src, "rev-list", "--reverse", "main")); !slices.Equal(got, shas) {
		t.Fatalf("WriteSourceRepo: returned %d SHAs, rev-list --reverse has %d, or they differ", len(shas), len(got))
	}
	dir, _ := generate(t, gitopsgen.Options{Commits: 200, Seed: 3, SourceSHAs: shas})

	// Every source SHA in a tag at HEAD, whatever the pattern, is a commit
	// of the source repository.
	patterns := map[string]*regexp.Regexp{
		"sha-<sha>":               regexp.MustCompile(`[:"' ]sha-([0-9a-f]{7})\b`),
		"<semver>-<sha>":          regexp.MustCompile(`\bv?\d+\.\d+\.\d+-([0-9a-f]{7,8})\b`),
		"<env>-<sha>-<timestamp>": regexp.MustCompile(`\b(?:prod|main|release)-([0-9a-f]{7})-\d{8}T\d{6}Z\b`),
		"full SHA":                regexp.MustCompile(`[:"' ]([0-9a-f]{40})\b`),
	}
	content := git(t, dir, "grep", "-h", "-e", "image", "-e", "tag", "-e", "value", "main", "--", "apps", "charts")
	for name, re := range patterns {
		ms := re.FindAllStringSubmatch(content, -1)
		if len(ms) == 0 {
			t.Errorf("no tag of the form %s at HEAD", name)
		}
		for _, m := range ms {
			if !slices.ContainsFunc(shas, func(s string) bool { return strings.HasPrefix(s, m[1]) }) {
				t.Errorf("%s tag %q: %s is no source commit", name, m[0], m[1])
			}
		}
	}
	bodies := git(t, dir, "log", "--format=%b", "main")
	srcRe := regexp.MustCompile(`Source: https://github.com/acme/platform/commit/([0-9a-f]{40})`)
	ms := srcRe.FindAllStringSubmatch(bodies, -1)
	if len(ms) == 0 {
		t.Error("no commit names its source commit")
	}
	for _, m := range ms {
		if !slices.Contains(shas, m[1]) {
			t.Errorf("commit body names %s, no source commit", m[1])
		}
	}
}

func TestWriteSourceRepo(t *testing.T) {
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	shasA, err := gitopsgen.WriteSourceRepo(context.Background(), a, 60, 4)
	if err != nil {
		t.Fatalf("WriteSourceRepo: %v", err)
	}
	shasB, err := gitopsgen.WriteSourceRepo(context.Background(), b, 60, 4)
	if err != nil {
		t.Fatalf("WriteSourceRepo: %v", err)
	}
	if len(shasA) != 60 || !slices.Equal(shasA, shasB) {
		t.Errorf("same seed: got %d and %d SHAs, equal %v; want 60, equal", len(shasA), len(shasB), slices.Equal(shasA, shasB))
	}
	if out := git(t, a, "fsck", "--full", "--strict", "--no-progress"); out != "" {
		t.Errorf("git fsck: %s", out)
	}
	files := strings.Fields(git(t, a, "ls-files", "*.go"))
	if len(files) == 0 {
		t.Fatal("no Go file")
	}
	for _, f := range files {
		src, err := os.ReadFile(filepath.Join(a, f))
		if err != nil {
			t.Fatal(err)
		}
		formatted, err := format.Source(src)
		if err != nil || !bytes.Equal(formatted, src) {
			t.Errorf("%s: not gofmt-formatted Go (%v)", f, err)
		}
	}
}

func TestGenerateErrors(t *testing.T) {
	nonEmpty := t.TempDir()
	if err := os.WriteFile(filepath.Join(nonEmpty, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		dir     string
		opts    gitopsgen.Options
		target  error
		message string
	}{
		{"no commits", "", gitopsgen.Options{}, nil, "Commits is 0"},
		{"negative apps", "", gitopsgen.Options{Commits: 5, Apps: -1}, nil, "Apps is -1"},
		{"bad source SHA", "", gitopsgen.Options{Commits: 5, SourceSHAs: []string{"4d09b7b"}}, nil, `SourceSHAs[0] is "4d09b7b"`},
		{"directory not empty", nonEmpty, gitopsgen.Options{Commits: 5}, gitopsgen.ErrDirNotEmpty, "not empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.dir
			if dir == "" {
				dir = filepath.Join(t.TempDir(), "repo")
			}
			_, err := gitopsgen.Generate(context.Background(), dir, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.message) || (tt.target != nil && !errors.Is(err, tt.target)) {
				t.Errorf("Generate: got %v, want an error with %q (is %v)", err, tt.message, tt.target)
			}
		})
	}
	if _, err := gitopsgen.WriteSourceRepo(context.Background(), nonEmpty, 5, 1); !errors.Is(err, gitopsgen.ErrDirNotEmpty) {
		t.Errorf("WriteSourceRepo in a non-empty directory: got %v, want ErrDirNotEmpty", err)
	}
}

// countdownCtx is canceled at the n-th call of Err, so that a test can
// cancel Generate part-way without timing.
type countdownCtx struct {
	context.Context
	mu   sync.Mutex
	left int
	done chan struct{}
}

func (c *countdownCtx) Done() <-chan struct{} { return c.done }

func (c *countdownCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.left > 0 {
		c.left--
		if c.left > 0 {
			return nil
		}
		close(c.done)
	}
	return context.Canceled
}

func TestGenerateCanceled(t *testing.T) {
	t.Run("before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := gitopsgen.Generate(ctx, filepath.Join(t.TempDir(), "repo"), gitopsgen.Options{Commits: 10})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Generate: got %v, want context.Canceled", err)
		}
	})
	t.Run("during", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "repo")
		ctx := &countdownCtx{Context: context.Background(), left: 3, done: make(chan struct{})}
		_, err := gitopsgen.Generate(ctx, dir, gitopsgen.Options{Commits: 5000, Apps: 5})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Generate: got %v, want context.Canceled", err)
		}
		if out := git(t, dir, "for-each-ref"); out != "" {
			t.Errorf("refs after a canceled import: %q, want none", out)
		}
	})
}

func BenchmarkGenerate5k(b *testing.B) {
	root := b.TempDir()
	opts := gitopsgen.Options{Commits: 5000, Seed: 1}
	i := 0
	for b.Loop() {
		dir := filepath.Join(root, strconv.Itoa(i))
		i++
		if _, err := gitopsgen.Generate(context.Background(), dir, opts); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(opts.Commits*i)/b.Elapsed().Seconds(), "commits/s")
}
