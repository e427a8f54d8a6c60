package deploy_test

import (
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, …
	args string
}

func parseDockerfile(t *testing.T) []instruction {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var out []instruction
	var cur strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

// TestDockerfile checks the image's shape: multi-stage, a non-root numeric
// user, the OCI labels, the port and the default command.
func TestDockerfile(t *testing.T) {
	ins := parseDockerfile(t)
	var froms []string
	final := 0
	for i, in := range ins {
		if in.cmd == "FROM" {
			froms = append(froms, in.args)
			final = i
		}
	}
	if len(froms) < 2 || !strings.Contains(strings.ToLower(froms[0]), " as build") {
		t.Errorf("FROM %q: want a build stage and a runtime stage", froms)
	}
	if base := froms[len(froms)-1]; base != "gcr.io/distroless/static-debian12:nonroot" && base != "scratch" {
		t.Errorf("runtime stage FROM %s, want distroless static nonroot (or scratch)", base)
	}
	last := map[string]string{}
	labels := map[string]string{}
	for _, in := range ins[final:] {
		last[in.cmd] = in.args
		if in.cmd == "LABEL" {
			for _, m := range regexp.MustCompile(`([\w.-]+)="([^"]*)"`).FindAllStringSubmatch(in.args, -1) {
				labels[m[1]] = m[2]
			}
		}
	}
	user, _, _ := strings.Cut(last["USER"], ":")
	if uid, err := strconv.Atoi(user); err != nil || uid == 0 {
		t.Errorf("USER %q: want a numeric non-root user", last["USER"])
	}
	for label, want := range map[string]string{
		"org.opencontainers.image.revision": "${REVISION}",
		"org.opencontainers.image.source":   "${SOURCE}",
		"org.opencontainers.image.version":  "${VERSION}",
		"org.opencontainers.image.created":  "${CREATED}",
		"org.opencontainers.image.licenses": "${LICENSES}",
		"org.opencontainers.image.title":    "shiplog",
	} {
		if got, ok := labels[label]; !ok || got != want {
			t.Errorf("LABEL %s=%q, want %q", label, got, want)
		}
	}
	if last["EXPOSE"] != "8080" {
		t.Errorf("EXPOSE %q, want 8080", last["EXPOSE"])
	}
	if last["ENTRYPOINT"] != `["shiplog"]` || last["CMD"] != `["serve", "--web.listen-address=:8080", "--auth.mode=token"]` {
		t.Errorf("ENTRYPOINT %s CMD %s, want shiplog serve --web.listen-address=:8080 --auth.mode=token", last["ENTRYPOINT"], last["CMD"])
	}
	if last["VOLUME"] != "/var/lib/shiplog" || last["ENV"] != "XDG_DATA_HOME=/var/lib" {
		t.Errorf("VOLUME %q ENV %q: want the default store /var/lib/shiplog/shiplog.db on a volume", last["VOLUME"], last["ENV"])
	}
}

// TestDockerfileBuild runs the Dockerfile's own `go build` instruction on the
// build context that .dockerignore leaves, as `docker build` would (without
// the cache mounts, into a temporary directory), and checks that `shiplog
// version` reports the injected version and commit.
func TestDockerfileBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds shiplog")
	}
	var build string
	for _, in := range parseDockerfile(t) {
		if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
			build = in.args
		}
	}
	if build == "" {
		t.Fatal("no RUN … go build instruction in the Dockerfile")
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-o /out/shiplog ./cmd/shiplog",
		"-X github.com/shiplog-dev/shiplog/internal/version.Version=${VERSION}",
		"-X github.com/shiplog-dev/shiplog/internal/version.Commit=${REVISION}"} {
		if !strings.Contains(build, want) {
			t.Errorf("the Dockerfile's go build lacks %q: %s", want, build)
		}
	}
	// Drop RUN's own flags (--mount=…): the rest is the shell command.
	for strings.HasPrefix(build, "--") {
		_, build, _ = strings.Cut(build, " ")
		build = strings.TrimSpace(build)
	}
	tmp := t.TempDir()
	buildContext := filepath.Join(tmp, "context")
	copyContext(t, root, buildContext)
	for _, f := range []string{"go.mod", "cmd/shiplog", "internal/web/static"} {
		if _, err := os.Stat(filepath.Join(buildContext, f)); err != nil {
			t.Fatalf("the build context lacks %s: %v", f, err)
		}
	}
	out := filepath.Join(tmp, "out")
	script := strings.ReplaceAll(build, "/out/", out+"/")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", script)
	cmd.Dir = buildContext
	const revision = "4d09b7bd1a2c3e4f5a6b7c8d9e0f1a2b3c4d5e6f"
	cmd.Env = append(os.Environ(), "VERSION=v9.9.9-test", "REVISION="+revision, "TARGETOS=", "TARGETARCH=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the Dockerfile's go build: %v\n%s\n%s", err, script, b)
	}
	b, err := exec.Command(filepath.Join(out, "shiplog"), "version", "-o", "json").Output()
	if err != nil {
		t.Fatalf("shiplog version: %v", err)
	}
	var v struct{ Version, Commit string }
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("shiplog version -o json: %v: %s", err, b)
	}
	if v.Version != "v9.9.9-test" || v.Commit != revision {
		t.Errorf("shiplog version = %s %s, want v9.9.9-test %s", v.Version, v.Commit, revision)
	}

	// The image's default command is one this binary takes.
	var cmdArgs []string
	for _, in := range parseDockerfile(t) {
		if in.cmd == "CMD" {
			cmdArgs = nil
			if err := json.Unmarshal([]byte(in.args), &cmdArgs); err != nil {
				t.Fatalf("CMD %s: %v", in.args, err)
			}
		}
	}
	if len(cmdArgs) == 0 || cmdArgs[0] != "serve" {
		t.Fatalf("CMD %q: want serve …", cmdArgs)
	}
	help, err := exec.Command(filepath.Join(out, "shiplog"), "serve", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("shiplog serve --help: %v\n%s", err, help)
	}
	for _, a := range cmdArgs[1:] {
		flag, _, _ := strings.Cut(a, "=")
		if !regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(flag) + `\b`).Match(help) {
			t.Errorf("CMD flag %s is not in shiplog serve --help", flag)
		}
	}
}

// copyContext copies src to dst, leaving out what .dockerignore excludes.
func copyContext(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(src, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			if strings.HasPrefix(l, "!") {
				t.Fatalf(".dockerignore: exceptions (%s) are not supported by this test", l)
			}
			patterns = append(patterns, path.Clean(l))
		}
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if slices.ContainsFunc(patterns, func(pat string) bool { return dockerignoreMatch(pat, rel) }) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, filepath.FromSlash(rel))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		o, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := io.Copy(o, in); err != nil {
			o.Close()
			return err
		}
		return o.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// dockerignoreMatch reports whether a .dockerignore pattern excludes rel (a
// slash-separated path in the context): patterns are anchored at the
// context's root, `**` matches any number of directories, and a pattern
// that matches a directory excludes what it holds.
func dockerignoreMatch(pattern, rel string) bool {
	pp := strings.Split(pattern, "/")
	rp := strings.Split(rel, "/")
	var match func(pp, rp []string) bool
	match = func(pp, rp []string) bool {
		if len(pp) == 0 {
			return true // a prefix of rel matched: rel is inside it
		}
		if pp[0] == "**" {
			for i := 0; i <= len(rp); i++ {
				if match(pp[1:], rp[i:]) {
					return true
				}
			}
			return false
		}
		if len(rp) == 0 {
			return false
		}
		ok, _ := path.Match(pp[0], rp[0])
		return ok && match(pp[1:], rp[1:])
	}
	return match(pp, rp)
}
