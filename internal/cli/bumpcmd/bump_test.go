package bumpcmd

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shiplog-dev/shiplog/internal/cli/cmdutil"
	gitsrc "github.com/shiplog-dev/shiplog/internal/source/git"
	"github.com/shiplog-dev/shiplog/internal/store"
	"github.com/shiplog-dev/shiplog/internal/store/sqlite"
)

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=ci", "GIT_AUTHOR_EMAIL=ci@acme.io", "GIT_COMMITTER_NAME=ci", "GIT_COMMITTER_EMAIL=ci@acme.io", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestBumpCommitIsImported bumps a manifest with --commit, then imports the
// repository: the deployment carries the source commit from the trailer.
func TestBumpCommitIsImported(t *testing.T) {
	dir := t.TempDir()
	git(t, dir, "init", "-q", "-b", "main")
	file := filepath.Join(dir, "apps", "api", "envs", "prod", "service.yaml")
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	orig := "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: api\nspec:\n  template:\n    spec:\n      containers:\n        - image: ghcr.io/acme/api:1.0.0 # managed by CI\n"
	if err := os.WriteFile(file, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "add", ".")
	git(t, dir, "commit", "-q", "-m", "init")
	t.Setenv("HOME", dir)
	t.Setenv("GIT_AUTHOR_NAME", "ci")
	t.Setenv("GIT_AUTHOR_EMAIL", "ci@acme.io")
	t.Setenv("GIT_COMMITTER_NAME", "ci")
	t.Setenv("GIT_COMMITTER_EMAIL", "ci@acme.io")
	src := strings.Repeat("4d09b7bd", 5)
	var out bytes.Buffer
	opts := &Options{Factory: &cmdutil.Factory{IO: cmdutil.IOStreams{Out: &out, ErrOut: &bytes.Buffer{}}}, File: file,
		Image: "ghcr.io/acme/api:1.1.0@sha256:" + strings.Repeat("c", 64), Commit: true, SourceCommit: src, PipelineRun: "https://ci/run/9"}
	if err := run(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(file)
	want := strings.Replace(orig, "ghcr.io/acme/api:1.0.0", "ghcr.io/acme/api:1.1.0@sha256:"+strings.Repeat("c", 64), 1)
	if string(got) != want {
		t.Errorf("file:\n%s\nwant:\n%s", got, want)
	}
	body := git(t, dir, "log", "-1", "--format=%B")
	for _, w := range []string{"Bump ghcr.io/acme/api to 1.1.0", "Shiplog-Source-Commit: " + src, "Shiplog-Artifact-Digest: sha256:", "Shiplog-Pipeline-Run: https://ci/run/9"} {
		if !strings.Contains(body, w) {
			t.Errorf("commit message lacks %q:\n%s", w, body)
		}
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := gitsrc.Import(context.Background(), st, gitsrc.Options{Repo: dir, CacheDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	deps, err := st.Deployments(context.Background(), store.ModelFilter{})
	if err != nil || len(deps) != 2 {
		t.Fatalf("deployments %+v (%v), want 2", deps, err)
	}
	for _, d := range deps {
		if d.Kind == "service.upgraded" && (d.SourceCommit != src || !strings.HasPrefix(d.Artifact, "ghcr.io/acme/api:1.1.0@")) {
			t.Errorf("the bump's deployment %+v: want the source commit from its trailer", d)
		}
	}
}
