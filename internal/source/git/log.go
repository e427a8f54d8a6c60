package git

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Commit is one first-parent commit with the YAML files it changed against
// its first parent.
type Commit struct {
	SHA         string
	Parents     []string
	AuthorName  string
	AuthorEmail string
	AuthoredAt  time.Time
	CommittedAt time.Time
	Subject     string
	Body        string
	Files       []FileChange
}

// FileChange is one changed file: its status (A added, M modified, D
// deleted, T type changed) and blob ids ("" when absent on that side).
type FileChange struct {
	Status  byte
	OldBlob string
	NewBlob string
	Path    string

	content []byte // the new version, read ahead
	readErr error  // why it could not be read
}

const zeroSHA = "0000000000000000000000000000000000000000"

// logFormat puts each commit's fields between \x01 and \x02, NUL-separated.
const logFormat = "%x01%H%x00%P%x00%an%x00%ae%x00%at%x00%ct%x00%s%x00%b%x02"

// Pathspecs selects the files the importer reads.
var Pathspecs = []string{"*.yaml", "*.yml"}

// walkLog streams the first-parent history of rangeSpec, oldest first,
// calling fn for every commit that changed a YAML file. A merge counts with
// its whole diff against its first parent.
func (r *Repo) walkLog(ctx context.Context, rangeSpec []string, fn func(*Commit) error) error {
	args := append([]string{"log", "--first-parent", "--reverse", "--raw", "--no-renames", "--no-abbrev", "-z",
		"--diff-merges=first-parent", "--format=" + logFormat}, rangeSpec...)
	args = append(args, "--")
	args = append(args, Pathspecs...)
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = r.Dir
	cmd.Env = gitEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start git log: %w", err)
	}
	perr := parseLog(bufio.NewReaderSize(stdout, 1<<20), fn)
	if perr != nil {
		_ = cmd.Process.Kill()
		_, _ = io.Copy(io.Discard, stdout)
	}
	werr := cmd.Wait()
	if perr != nil {
		return perr
	}
	if werr != nil {
		return fmt.Errorf("git log: %s", strings.TrimSpace(stderr.String()))
	}
	return nil
}

// parseLog reads the output of walkLog's git log.
func parseLog(br *bufio.Reader, fn func(*Commit) error) error {
	// Skip to the first commit.
	if _, err := br.ReadBytes('\x01'); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return err
	}
	for {
		head, err := br.ReadBytes('\x02')
		if err != nil {
			return fmt.Errorf("git log output: truncated commit header")
		}
		c, err := parseHeader(head[:len(head)-1])
		if err != nil {
			return err
		}
		rest, err := br.ReadBytes('\x01')
		last := errors.Is(err, io.EOF)
		if err != nil && !last {
			return err
		}
		if !last {
			rest = rest[:len(rest)-1]
		}
		if err := parseRaw(rest, c); err != nil {
			return fmt.Errorf("commit %s: %w", c.SHA, err)
		}
		if err := fn(c); err != nil {
			return err
		}
		if last {
			return nil
		}
	}
}

func parseHeader(b []byte) (*Commit, error) {
	f := strings.SplitN(string(b), "\x00", 8)
	if len(f) != 8 {
		return nil, fmt.Errorf("git log output: commit header with %d fields", len(f))
	}
	at, err1 := strconv.ParseInt(f[4], 10, 64)
	ct, err2 := strconv.ParseInt(f[5], 10, 64)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("git log output: commit %s: bad timestamps %q %q", f[0], f[4], f[5])
	}
	return &Commit{
		SHA: f[0], Parents: strings.Fields(f[1]), AuthorName: f[2], AuthorEmail: f[3],
		AuthoredAt: time.Unix(at, 0).UTC(), CommittedAt: time.Unix(ct, 0).UTC(),
		Subject: f[6], Body: strings.TrimRight(f[7], "\n"),
	}, nil
}

// parseRaw reads -z --raw entries: ":old new oldsha newsha S\0path\0".
func parseRaw(b []byte, c *Commit) error {
	for len(b) > 0 {
		// Skip separators between the header and the entries.
		for len(b) > 0 && (b[0] == 0 || b[0] == '\n') {
			b = b[1:]
		}
		if len(b) == 0 {
			return nil
		}
		if b[0] != ':' {
			return fmt.Errorf("unexpected raw diff entry %q", clip(b))
		}
		meta, rest, ok := bytes.Cut(b, []byte{0})
		if !ok {
			return fmt.Errorf("truncated raw diff entry")
		}
		path, rest2, ok := bytes.Cut(rest, []byte{0})
		if !ok {
			path, rest2 = rest, nil
		}
		f := strings.Fields(string(meta[1:]))
		if len(f) != 5 || len(f[4]) == 0 {
			return fmt.Errorf("bad raw diff entry %q", meta)
		}
		fc := FileChange{Status: f[4][0], OldBlob: f[2], NewBlob: f[3], Path: string(path)}
		if fc.OldBlob == zeroSHA {
			fc.OldBlob = ""
		}
		if fc.NewBlob == zeroSHA {
			fc.NewBlob = ""
		}
		// Submodules (mode 160000) and symlinks (120000) have no YAML content.
		if !strings.HasPrefix(f[0], "160000") && !strings.HasPrefix(f[1], "160000") &&
			!strings.HasPrefix(f[0], "120000") && !strings.HasPrefix(f[1], "120000") {
			c.Files = append(c.Files, fc)
		}
		b = rest2
	}
	return nil
}

func clip(b []byte) string {
	if len(b) > 60 {
		return string(b[:60]) + "…"
	}
	return string(b)
}

// countCommits counts the first-parent commits of rangeSpec.
func (r *Repo) countCommits(ctx context.Context, rangeSpec []string) (int, error) {
	out, err := runGit(ctx, r.Dir, append([]string{"rev-list", "--first-parent", "--count"}, rangeSpec...)...)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(out)))
}
