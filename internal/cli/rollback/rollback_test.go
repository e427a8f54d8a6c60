package rollback

import (
	"bytes"
	"context"
	_ "github.com/shiplog-dev/shiplog/internal/cli/clitest" // the -update flag every CLI test binary accepts
	rollbackplan "github.com/shiplog-dev/shiplog/internal/engine/rollback"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/cli/cmdutil"
	"github.com/shiplog-dev/shiplog/internal/config"
	gitsrc "github.com/shiplog-dev/shiplog/internal/source/git"
	"github.com/shiplog-dev/shiplog/internal/store"
	"github.com/shiplog-dev/shiplog/internal/store/sqlite"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func gitAt(t *testing.T, dir string, at time.Time, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	d := at.Format(time.RFC3339)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=ann", "GIT_AUTHOR_EMAIL=ann@acme.io", "GIT_COMMITTER_NAME=ann",
		"GIT_COMMITTER_EMAIL=ann@acme.io", "GIT_AUTHOR_DATE="+d, "GIT_COMMITTER_DATE="+d, "HOME="+dir, "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func service(tag string) string {
	return "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: api\nspec:\n  template:\n    spec:\n      containers:\n        - image: ghcr.io/acme/api:" + tag + " # by CI\n"
}

// setup makes a GitOps repository with api 1.0, 1.1, 1.2 in prod and a
// store that imported it.
func setup(t *testing.T) (repo, db string) {
	t.Helper()
	repo = t.TempDir()
	gitAt(t, repo, t0, "init", "-q", "-b", "main")
	file := filepath.Join(repo, "apps/api/envs/prod/service.yaml")
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	for i, tag := range []string{"1.0", "1.1", "1.2"} {
		if err := os.WriteFile(file, []byte(service(tag)), 0o644); err != nil {
			t.Fatal(err)
		}
		at := t0.Add(time.Duration(i) * time.Hour)
		gitAt(t, repo, at, "add", ".")
		gitAt(t, repo, at, "commit", "-q", "-m", "api "+tag)
	}
	db = filepath.Join(t.TempDir(), "s.db")
	importInto(t, repo, db)
	return repo, db
}

func importInto(t *testing.T, repo, db string) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := gitsrc.Import(context.Background(), st, gitsrc.Options{Repo: repo, CacheDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
}

func rollback(t *testing.T, repo, db, to string) string {
	t.Helper()
	t.Setenv("GIT_AUTHOR_NAME", "ann")
	t.Setenv("GIT_AUTHOR_EMAIL", "ann@acme.io")
	t.Setenv("GIT_COMMITTER_NAME", "ann")
	t.Setenv("GIT_COMMITTER_EMAIL", "ann@acme.io")
	t.Setenv("HOME", repo)
	var out bytes.Buffer
	cfg := config.Default()
	cfg.DB = config.Secret(db)
	opts := &Options{Config: cfg, Factory: &cmdutil.Factory{IO: cmdutil.IOStreams{Out: &out, ErrOut: &bytes.Buffer{}}},
		App: "api", Env: "prod", Repo: repo, To: to, Now: func() time.Time { return t0.Add(10 * time.Hour) }}
	if err := run(context.Background(), opts); err != nil {
		t.Fatalf("rollback: %v\n%s", err, out.String())
	}
	return out.String()
}

// mergeAndImport merges the rollback branch into main and imports again; it
// returns the kind and image of the newest deployment.
func mergeAndImport(t *testing.T, repo, db string) (string, string, bool) {
	t.Helper()
	branch := gitAt(t, repo, t0, "rev-parse", "--abbrev-ref", "HEAD")
	at := t0.Add(5 * time.Hour)
	gitAt(t, repo, at, "checkout", "-q", "main")
	// As GitHub merges a pull request: its title in the body.
	title := gitAt(t, repo, at, "log", "-1", "--format=%s", branch)
	gitAt(t, repo, at, "merge", "-q", "--no-ff", branch, "-m", "Merge pull request #77 from acme/"+branch+"\n\n"+title)
	importInto(t, repo, db)
	st, err := sqlite.Open(context.Background(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	deps, err := st.Deployments(context.Background(), store.ModelFilter{})
	if err != nil {
		t.Fatal(err)
	}
	last := deps[len(deps)-1]
	return string(last.Kind), last.Artifact, last.Revert
}

func TestRollbackByRevert(t *testing.T) {
	repo, db := setup(t)
	out := rollback(t, repo, db, "")
	if !strings.Contains(out, "target:  ghcr.io/acme/api:1.1") || !strings.Contains(out, "reverted") || !strings.Contains(out, "git -C "+repo+" push -u origin shiplog/rollback-api-prod-") {
		t.Errorf("output:\n%s", out)
	}
	kind, image, revert := mergeAndImport(t, repo, db)
	if kind != "service.rolledback" || image != "ghcr.io/acme/api:1.1" || !revert {
		t.Errorf("after merging: %s %s revert=%v; want a rolled-back revert to 1.1", kind, image, revert)
	}
	got, _ := os.ReadFile(filepath.Join(repo, "apps/api/envs/prod/service.yaml"))
	if string(got) != service("1.1") {
		t.Errorf("manifest after the rollback:\n%s", got)
	}
}

func TestRollbackToAnEarlierImage(t *testing.T) {
	repo, db := setup(t)
	out := rollback(t, repo, db, "ghcr.io/acme/api:1.0")
	if !strings.Contains(out, `committed "Roll back api in prod to ghcr.io/acme/api:1.0"`) {
		t.Errorf("output:\n%s", out)
	}
	body := gitAt(t, repo, t0, "log", "-1", "--format=%B")
	if !strings.Contains(body, "Shiplog-Rollback-Of: ") {
		t.Errorf("commit message:\n%s", body)
	}
	kind, image, _ := mergeAndImport(t, repo, db)
	if kind != "service.rolledback" || image != "ghcr.io/acme/api:1.0" {
		t.Errorf("after merging: %s %s; want a rollback to 1.0", kind, image)
	}
	// Comments and formatting survive.
	got, _ := os.ReadFile(filepath.Join(repo, "apps/api/envs/prod/service.yaml"))
	if string(got) != service("1.0") {
		t.Errorf("manifest after the rollback:\n%s", got)
	}
}

func TestRollbackRefuses(t *testing.T) {
	if _, err := rollbackplan.Choose(nil, "web", "prod", ""); err == nil || !strings.Contains(err.Error(), "no deployment of web in prod") {
		t.Errorf("unknown app: %v", err)
	}
	repo, db := setup(t)
	var out bytes.Buffer
	cfg := config.Default()
	cfg.DB = config.Secret(db)
	opts := &Options{Config: cfg, Factory: &cmdutil.Factory{IO: cmdutil.IOStreams{Out: &out, ErrOut: &bytes.Buffer{}}},
		App: "api", Env: "prod", Repo: repo, To: "ghcr.io/acme/api:9", Now: time.Now}
	err := run(context.Background(), opts)
	if err == nil || !strings.Contains(err.Error(), `no earlier deployment of api in prod matches "ghcr.io/acme/api:9"`) {
		t.Errorf("unknown target: %v", err)
	}
	if branch := gitAt(t, repo, t0, "rev-parse", "--abbrev-ref", "HEAD"); branch != "main" {
		t.Errorf("a refused rollback left the repository on %s", branch)
	}
}
