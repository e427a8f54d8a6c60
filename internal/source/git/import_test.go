package git_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	gitsrc "github.com/shiplog-dev/shiplog/internal/source/git"
	"github.com/shiplog-dev/shiplog/internal/store"
	"github.com/shiplog-dev/shiplog/internal/store/sqlite"
)

// repo is a real Git repository built by a test.
type repo struct {
	t   *testing.T
	dir string
	now time.Time
}

var t0 = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

func newRepo(t *testing.T) *repo {
	t.Helper()
	r := &repo{t: t, dir: t.TempDir(), now: t0}
	r.git("init", "-q", "-b", "main")
	return r
}

func (r *repo) git(args ...string) string {
	r.t.Helper()
	return gitIn(r.t, r.dir, r.now, "Ann Dev", "ann@acme.io", args...)
}

func gitIn(t *testing.T, dir string, at time.Time, name, email string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	date := at.Format(time.RFC3339)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME="+name, "GIT_AUTHOR_EMAIL="+email, "GIT_COMMITTER_NAME="+name,
		"GIT_COMMITTER_EMAIL="+email, "GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date, "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func (r *repo) write(path, content string) {
	r.t.Helper()
	p := filepath.Join(r.dir, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// commit commits everything an hour after the previous commit and returns its SHA.
func (r *repo) commit(msg string) string {
	return r.commitAs("Ann Dev", "ann@acme.io", msg)
}

func (r *repo) commitAs(name, email, msg string) string {
	r.t.Helper()
	r.now = r.now.Add(time.Hour)
	gitIn(r.t, r.dir, r.now, name, email, "add", "-A")
	gitIn(r.t, r.dir, r.now, name, email, "commit", "-q", "--allow-empty", "-m", msg)
	return r.git("rev-parse", "HEAD")
}

func knative(name, ns, image string) string {
	return fmt.Sprintf(`apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: %s
  namespace: %s
  annotations:
    serving.knative.dev/creator: ci
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/min-scale: "0"
    spec:
      containers:
        - name: app
          image: %s
          ports:
            - containerPort: 8080
`, name, ns, image)
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func importRepo(t *testing.T, s *store.Store, opts gitsrc.Options) *gitsrc.Summary {
	t.Helper()
	opts.CacheDir = filepath.Join(t.TempDir(), "cache")
	sum, err := gitsrc.Import(context.Background(), s, opts)
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	return sum
}

// dep is the part of a deployment the tests compare.
type dep struct {
	App, Env, Kind, Image, Previous, Source string
	PR                                      int64
	Revert, Bot, Rewritten                  bool
	Changes                                 int
}

func deployments(t *testing.T, s *store.Store) []dep {
	t.Helper()
	recs, err := s.Deployments(context.Background(), store.ModelFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var out []dep
	for _, r := range recs {
		out = append(out, dep{App: r.App, Env: r.Env, Kind: strings.TrimPrefix(string(r.Kind), "service."), Image: r.Artifact,
			Previous: r.PreviousArtifact, Source: r.SourceCommit, PR: r.PR, Revert: r.Revert, Bot: r.Bot, Rewritten: r.Rewritten, Changes: len(r.Changes)})
	}
	return out
}

func sameDeps(t *testing.T, got, want []dep) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("deployments:\n got:")
		for _, d := range got {
			t.Errorf("  %+v", d)
		}
		t.Errorf(" want:")
		for _, d := range want {
			t.Errorf("  %+v", d)
		}
	}
}

func TestImportManifestStyles(t *testing.T) {
	r := newRepo(t)
	r.write("apps/api/envs/prod/service.yaml", knative("api", "api-prod", "ghcr.io/acme/api:1.0.0"))
	r.write("apps/web/overlays/staging/kustomization.yaml", `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [../../base]
images:
  - name: web
    newName: ghcr.io/acme/web
    newTag: sha-4d09b7b
`)
	r.write("charts/shop/values-dev.yaml", `cart:
  image:
    repository: ghcr.io/acme/cart
    tag: "2.0.0"
pay:
  image:
    repository: ghcr.io/acme/pay
    tag: "3.0.0"
`)
	r.write("apps/jobs/envs/prod/workloads.yaml", `apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker
  namespace: jobs-prod
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          image: ghcr.io/acme/migrate:1
      containers:
        - name: worker
          image: ghcr.io/acme/worker:1
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
  namespace: jobs-prod
spec:
  schedule: "0 2 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
            - name: nightly
              image: ghcr.io/acme/nightly:1
`)
	r.write("apps/batch/.argocd-source-batch-staging.yaml", `helm:
  parameters:
    - name: image.name
      value: ghcr.io/acme/batch
    - name: image.tag
      value: 0.9.0
`)
	r.commit("Initial manifests")
	r.write("apps/api/envs/prod/service.yaml", knative("api", "api-prod", "ghcr.io/acme/api:1.1.0"))
	r.write("apps/web/overlays/staging/kustomization.yaml", `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [../../base]
images:
  - name: web
    newName: ghcr.io/acme/web
    newTag: sha-abcdef1
`)
	r.write("charts/shop/values-dev.yaml", `cart:
  image:
    repository: ghcr.io/acme/cart
    tag: "2.1.0"
pay:
  image:
    repository: ghcr.io/acme/pay
    tag: "3.0.0"
`)
	r.write("apps/batch/.argocd-source-batch-staging.yaml", `helm:
  parameters:
    - name: image.name
      value: ghcr.io/acme/batch
    - name: image.tag
      value: 1.0.0
`)
	r.commit("Bump api, web, cart and batch")

	s := openStore(t)
	sum := importRepo(t, s, gitsrc.Options{Repo: r.dir})
	// 8 references appear, then 4 change.
	if sum.CommitsScanned != 2 || sum.ImageChanges != 12 || len(sum.Skipped) != 0 {
		t.Errorf("summary: %d commits, %d image changes, skipped %v; want 2, 12, none", sum.CommitsScanned, sum.ImageChanges, sum.Skipped)
	}
	// Workloads are apps by name (worker with its init container, nightly);
	// kustomize, Helm and image-updater files by path; a deployment's image
	// is its first changed reference (cart before pay).
	sameDeps(t, deployments(t, s), []dep{
		{App: "api", Env: "prod", Kind: "deployed", Image: "ghcr.io/acme/api:1.0.0", Changes: 0},
		{App: "batch", Env: "staging", Kind: "deployed", Image: "ghcr.io/acme/batch:0.9.0"},
		{App: "nightly", Env: "prod", Kind: "deployed", Image: "ghcr.io/acme/nightly:1"},
		{App: "shop", Env: "dev", Kind: "deployed", Image: "ghcr.io/acme/cart:2.0.0"},
		{App: "web", Env: "staging", Kind: "deployed", Image: "ghcr.io/acme/web:sha-4d09b7b", Source: "4d09b7b", Changes: 1},
		{App: "worker", Env: "prod", Kind: "deployed", Image: "ghcr.io/acme/worker:1"},
		{App: "api", Env: "prod", Kind: "upgraded", Image: "ghcr.io/acme/api:1.1.0", Previous: "ghcr.io/acme/api:1.0.0"},
		{App: "batch", Env: "staging", Kind: "upgraded", Image: "ghcr.io/acme/batch:1.0.0", Previous: "ghcr.io/acme/batch:0.9.0"},
		{App: "shop", Env: "dev", Kind: "upgraded", Image: "ghcr.io/acme/cart:2.1.0", Previous: "ghcr.io/acme/cart:2.0.0"},
		{App: "web", Env: "staging", Kind: "upgraded", Image: "ghcr.io/acme/web:sha-abcdef1", Previous: "ghcr.io/acme/web:sha-4d09b7b", Source: "abcdef1", Changes: 1},
	})
}

func TestImportHistorySemantics(t *testing.T) {
	r := newRepo(t)
	svc := "apps/api/envs/prod/service.yaml"
	r.write(svc, knative("api", "api-prod", "ghcr.io/acme/api:1.0.0"))
	r.commit("Add api")
	// A squash-merged PR by a person.
	r.write(svc, knative("api", "api-prod", "ghcr.io/acme/api:1.1.0"))
	r.commit("Bump api to 1.1.0 (#41)")
	// A bot bump on a branch, merged with a merge commit.
	r.git("checkout", "-q", "-b", "bump")
	r.write(svc, knative("api", "api-prod", "ghcr.io/acme/api:1.2.0"))
	r.commitAs("renovate[bot]", "29139614+renovate[bot]@users.noreply.github.com", "chore(deps): update api to 1.2.0")
	r.git("checkout", "-q", "main")
	r.now = r.now.Add(time.Hour)
	r.git("merge", "-q", "--no-ff", "bump", "-m", "Merge pull request #42 from acme/bump")
	merge := r.git("rev-parse", "HEAD")
	// git revert of the merge's change: back to 1.1.0, a rollback and a revert.
	r.now = r.now.Add(time.Hour)
	r.git("revert", "--no-edit", "-m", "1", merge)
	// The image updater writes the same version again: an upgrade.
	r.write(svc, knative("api", "api-prod", "ghcr.io/acme/api:1.3.0"))
	r.commitAs("argocd-image-updater", "noreply@argoproj.io", "build: automatic update of api")
	// A semantic-version downgrade to a version never deployed: a rollback.
	r.write(svc, knative("api", "api-prod", "ghcr.io/acme/api:1.2.9"))
	r.commit("Pin api below 1.3 until the leak is fixed")
	// A new app appears, then goes.
	r.write("apps/cron/envs/prod/service.yaml", knative("cron", "cron-prod", "ghcr.io/acme/cron:1"))
	r.commit("Add cron")
	if err := os.Remove(filepath.Join(r.dir, "apps/cron/envs/prod/service.yaml")); err != nil {
		t.Fatal(err)
	}
	r.commit("Remove cron")
	// A commit touching no image.
	r.write("README.md", "gitops\n")
	r.write("apps/api/envs/prod/config.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: api}\ndata: {A: b}\n")
	r.commit("Docs and config")

	s := openStore(t)
	sum := importRepo(t, s, gitsrc.Options{Repo: r.dir})
	// The bot's commit is on the merged branch, not on the first-parent line.
	if sum.CommitsScanned != 9 || sum.Rollbacks != 2 || sum.Reverts != 1 || sum.Removals != 1 {
		t.Errorf("summary: %d commits, %d rollbacks, %d reverts, %d removals; want 9, 2, 1, 1", sum.CommitsScanned, sum.Rollbacks, sum.Reverts, sum.Removals)
	}
	api := "ghcr.io/acme/api:"
	sameDeps(t, deployments(t, s), []dep{
		{App: "api", Env: "prod", Kind: "deployed", Image: api + "1.0.0"},
		{App: "api", Env: "prod", Kind: "upgraded", Image: api + "1.1.0", Previous: api + "1.0.0", PR: 41},
		{App: "api", Env: "prod", Kind: "upgraded", Image: api + "1.2.0", Previous: api + "1.1.0", PR: 42},
		{App: "api", Env: "prod", Kind: "rolledback", Image: api + "1.1.0", Previous: api + "1.2.0", Revert: true},
		{App: "api", Env: "prod", Kind: "upgraded", Image: api + "1.3.0", Previous: api + "1.1.0", Bot: true},
		{App: "api", Env: "prod", Kind: "rolledback", Image: api + "1.2.9", Previous: api + "1.3.0"},
		{App: "cron", Env: "prod", Kind: "deployed", Image: "ghcr.io/acme/cron:1"},
		{App: "cron", Env: "prod", Kind: "removed", Previous: "ghcr.io/acme/cron:1"},
	})
	// The bot commit on the merged branch is not on the first-parent line:
	// its authorship shows on the merge's manifest change, attributed to the merger.
	mcs, err := s.ManifestChanges(context.Background(), store.ModelFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(mcs) != 8 {
		t.Fatalf("%d manifest changes, want 8", len(mcs))
	}
	if mcs[2].Commit != merge || mcs[2].PR != 42 || mcs[2].Bot {
		t.Errorf("merge's manifest change: %+v", mcs[2])
	}
}

func TestImportIncrementalAndIdempotent(t *testing.T) {
	r := newRepo(t)
	svc := "apps/api/envs/dev/service.yaml"
	r.write(svc, knative("api", "api-dev", "ghcr.io/acme/api:1"))
	r.commit("one")
	r.write(svc, knative("api", "api-dev", "ghcr.io/acme/api:2"))
	r.commit("two")
	s := openStore(t)
	first := importRepo(t, s, gitsrc.Options{Repo: r.dir})
	if first.Incremental || first.CommitsScanned != 2 || first.Events != 4 {
		t.Fatalf("first import: incremental %v, %d commits, %d events; want false, 2, 4", first.Incremental, first.CommitsScanned, first.Events)
	}
	again := importRepo(t, s, gitsrc.Options{Repo: r.dir})
	if !again.Incremental || again.CommitsScanned != 0 || again.Events != 0 {
		t.Fatalf("re-run: incremental %v, %d commits, %d events; want true, 0, 0", again.Incremental, again.CommitsScanned, again.Events)
	}
	r.write(svc, knative("api", "api-dev", "ghcr.io/acme/api:3"))
	r.commit("three")
	r.write(svc, knative("api", "api-dev", "ghcr.io/acme/api:1"))
	r.commit("back to one")
	next := importRepo(t, s, gitsrc.Options{Repo: r.dir})
	if !next.Incremental || next.CommitsScanned != 2 || next.Events != 4 || next.Rollbacks != 1 {
		t.Fatalf("incremental import: incremental %v, %d commits, %d events, %d rollbacks; want true, 2, 4, 1",
			next.Incremental, next.CommitsScanned, next.Events, next.Rollbacks)
	}
	got := deployments(t, s)
	if len(got) != 4 || got[2].Kind != "upgraded" || got[2].Previous != "ghcr.io/acme/api:2" || got[3].Kind != "rolledback" {
		t.Errorf("deployments after the incremental import: %+v", got)
	}
	// The same history imported in one go gives the same deployments.
	whole := openStore(t)
	importRepo(t, whole, gitsrc.Options{Repo: r.dir})
	sameDeps(t, got, deployments(t, whole))
}

func TestImportForcePush(t *testing.T) {
	r := newRepo(t)
	svc := "apps/api/envs/prod/service.yaml"
	r.write(svc, knative("api", "api-prod", "ghcr.io/acme/api:1"))
	r.commit("one")
	r.write(svc, knative("api", "api-prod", "ghcr.io/acme/api:2"))
	dropped := r.commit("two, to be dropped")
	s := openStore(t)
	importRepo(t, s, gitsrc.Options{Repo: r.dir})
	// Rewrite history: drop "two", commit "2b" instead.
	r.git("reset", "-q", "--hard", "HEAD~1")
	r.write(svc, knative("api", "api-prod", "ghcr.io/acme/api:2b"))
	r.commit("two, rewritten")
	sum := importRepo(t, s, gitsrc.Options{Repo: r.dir})
	if !sum.ForcePushed || sum.Rewritten != 1 {
		t.Fatalf("force-push: detected %v, %d rewritten commits; want true, 1", sum.ForcePushed, sum.Rewritten)
	}
	sameDeps(t, deployments(t, s), []dep{
		{App: "api", Env: "prod", Kind: "deployed", Image: "ghcr.io/acme/api:1"},
		{App: "api", Env: "prod", Kind: "upgraded", Image: "ghcr.io/acme/api:2", Previous: "ghcr.io/acme/api:1", Rewritten: true},
		{App: "api", Env: "prod", Kind: "upgraded", Image: "ghcr.io/acme/api:2b", Previous: "ghcr.io/acme/api:1"},
	})
	rw, err := s.RewrittenCommits(context.Background(), store.ModelFilter{})
	if err != nil || len(rw) != 1 || rw[0].Commit != dropped {
		t.Errorf("rewritten commits %+v (%v), want only %s", rw, err, dropped)
	}
	// Importing again changes nothing.
	if again := importRepo(t, s, gitsrc.Options{Repo: r.dir}); again.Events != 0 || again.ForcePushed {
		t.Errorf("re-run after the force-push stored %d events (force-pushed %v)", again.Events, again.ForcePushed)
	}
}

func TestImportBareRepository(t *testing.T) {
	r := newRepo(t)
	r.write("apps/api/envs/prod/service.yaml", knative("api", "api-prod", "ghcr.io/acme/api:1"))
	r.commit("one")
	bare := filepath.Join(t.TempDir(), "gitops.git")
	gitIn(t, r.dir, r.now, "x", "x@x", "clone", "-q", "--bare", r.dir, bare)
	s := openStore(t)
	sum := importRepo(t, s, gitsrc.Options{Repo: bare, Branch: "main"})
	if sum.Repo != bare || sum.Branch != "refs/heads/main" {
		t.Errorf("repo %q branch %q, want %q refs/heads/main", sum.Repo, sum.Branch, bare)
	}
	sameDeps(t, deployments(t, s), []dep{{App: "api", Env: "prod", Kind: "deployed", Image: "ghcr.io/acme/api:1"}})
}

func TestImportBadFilesAreSkipped(t *testing.T) {
	r := newRepo(t)
	r.write("apps/api/envs/prod/service.yaml", knative("api", "api-prod", "ghcr.io/acme/api:1"))
	r.write("apps/web/envs/prod/service.yaml", knative("web", "web-prod", "ghcr.io/acme/web:1"))
	r.commit("one")
	r.write("apps/api/envs/prod/service.yaml", knative("api", "api-prod", "ghcr.io/acme/api:2"))
	r.write("apps/web/envs/prod/service.yaml", "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: web\n   bad: indent\nspec: [\n")
	r.write("charts/shop/templates/values.yaml", "image:\n  repository: ghcr.io/acme/shop\n  tag: {{ .Values.tag }}\n")
	r.commit("two: api bumped, web broken, a template")
	r.write("apps/web/envs/prod/service.yaml", knative("web", "web-prod", "ghcr.io/acme/web:2"))
	r.commit("three: web fixed and bumped")
	// A missing object: remove the loose blob of api:2 from the repository.
	blob := r.git("rev-parse", "HEAD~1:apps/api/envs/prod/service.yaml")
	if err := os.Remove(filepath.Join(r.dir, ".git", "objects", blob[:2], blob[2:])); err != nil {
		t.Fatal(err)
	}
	s := openStore(t)
	sum := importRepo(t, s, gitsrc.Options{Repo: r.dir})
	var reasons []string
	for _, sk := range sum.Skipped {
		reasons = append(reasons, sk.Path+": "+sk.Reason)
	}
	if len(sum.Skipped) != 3 ||
		!strings.Contains(reasons[0], "apps/api/envs/prod/service.yaml: blob "+blob+": object missing") ||
		!strings.Contains(reasons[1], "apps/web/envs/prod/service.yaml: line 5: malformed YAML") ||
		!strings.Contains(reasons[2], "charts/shop/templates/values.yaml: line 3: helm template, not rendered values") {
		t.Errorf("skipped:\n%s", strings.Join(reasons, "\n"))
	}
	// api:2 is unreadable, so nothing is recorded for it; web goes from its
	// last readable version (1) to 2.
	sameDeps(t, deployments(t, s), []dep{
		{App: "api", Env: "prod", Kind: "deployed", Image: "ghcr.io/acme/api:1"},
		{App: "web", Env: "prod", Kind: "deployed", Image: "ghcr.io/acme/web:1"},
		{App: "web", Env: "prod", Kind: "upgraded", Image: "ghcr.io/acme/web:2", Previous: "ghcr.io/acme/web:1"},
	})
}

func TestImportNotARepository(t *testing.T) {
	_, err := gitsrc.Import(context.Background(), openStore(t), gitsrc.Options{Repo: t.TempDir()})
	if !errors.Is(err, gitsrc.ErrNotRepository) {
		t.Errorf("Import of a plain directory: %v, want ErrNotRepository", err)
	}
	_, err = gitsrc.Import(context.Background(), openStore(t), gitsrc.Options{Repo: filepath.Join(t.TempDir(), "nope")})
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("Import of a missing path: %v", err)
	}
}

func TestImportShallowClone(t *testing.T) {
	r := newRepo(t)
	svc := "apps/api/envs/prod/service.yaml"
	for i := 1; i <= 4; i++ {
		r.write(svc, knative("api", "api-prod", fmt.Sprintf("ghcr.io/acme/api:%d", i)))
		r.commit(fmt.Sprintf("v%d", i))
	}
	shallow := filepath.Join(t.TempDir(), "shallow")
	gitIn(t, t.TempDir(), r.now, "x", "x@x", "clone", "-q", "--depth", "2", "file://"+r.dir, shallow)
	s := openStore(t)
	sum := importRepo(t, s, gitsrc.Options{Repo: shallow})
	if !sum.Shallow || sum.CommitsScanned != 2 {
		t.Errorf("shallow %v, %d commits; want true, 2", sum.Shallow, sum.CommitsScanned)
	}
	// The oldest commit of the clone is the starting state, not a deployment.
	sameDeps(t, deployments(t, s), []dep{
		{App: "api", Env: "prod", Kind: "upgraded", Image: "ghcr.io/acme/api:4", Previous: "ghcr.io/acme/api:3"},
	})
}

func TestImportSourceRepositoryLeadTimes(t *testing.T) {
	src := newRepo(t)
	var shas []string
	for i := 1; i <= 5; i++ {
		src.write("main.go", fmt.Sprintf("package main // %d\n", i))
		shas = append(shas, src.commit(fmt.Sprintf("feat: change %d", i)))
	}
	g := newRepo(t)
	g.now = src.now.Add(2 * time.Hour)
	svc := "apps/api/envs/prod/service.yaml"
	g.write(svc, knative("api", "api-prod", "ghcr.io/acme/api:sha-"+shas[1][:7]))
	g.commit("deploy change 2")
	g.write(svc, knative("api", "api-prod", "ghcr.io/acme/api:1.4.0-"+shas[4][:8]))
	deployed := g.now.Add(time.Hour)
	g.commit("deploy change 5")
	s := openStore(t)
	importRepo(t, s, gitsrc.Options{Repo: g.dir, Sources: []gitsrc.SourceSpec{{ImageGlob: "ghcr.io/acme/*", Repo: src.dir}}})
	recs, err := s.Deployments(context.Background(), store.ModelFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("%d deployments, want 2", len(recs))
	}
	// The first deployment ships only its own commit, not the history before it.
	if recs[0].SourceCommit != shas[1] || !reflect.DeepEqual(recs[0].Changes, []string{shas[1]}) {
		t.Errorf("first deployment: source %s changes %v; want %s [%s]", recs[0].SourceCommit, recs[0].Changes, shas[1], shas[1])
	}
	// The second ships changes 3, 4 and 5, newest first.
	if recs[1].SourceCommit != shas[4] || !reflect.DeepEqual(recs[1].Changes, []string{shas[4], shas[3], shas[2]}) {
		t.Errorf("second deployment: source %s changes %v; want %s [%s %s %s]", recs[1].SourceCommit, recs[1].Changes, shas[4], shas[4], shas[3], shas[2])
	}
	commits, err := s.CommitsBySHA(context.Background(), recs[1].Changes)
	if err != nil {
		t.Fatal(err)
	}
	// Source commits were an hour apart, the last one 4 hours before the deployment.
	for i, sha := range recs[1].Changes {
		want := time.Duration(4+i) * time.Hour
		if lead := deployed.Sub(commits[sha].CommittedAt); lead != want {
			t.Errorf("change %s: lead time %s, want %s", sha[:7], lead, want)
		}
	}
}

func TestImportPartialCloneWithoutItsRemote(t *testing.T) {
	r := newRepo(t)
	r.git("config", "uploadpack.allowFilter", "true")
	for i := 1; i <= 3; i++ {
		r.write("apps/api/envs/prod/service.yaml", knative("api", "api-prod", fmt.Sprintf("ghcr.io/acme/api:%d", i)))
		r.commit(fmt.Sprintf("v%d", i))
	}
	partial := filepath.Join(t.TempDir(), "partial.git")
	gitIn(t, t.TempDir(), r.now, "x", "x@x", "clone", "-q", "--no-local", "--bare", "--filter=blob:none", "file://"+r.dir, partial)
	// The remote is gone: git must not try to fetch what is missing.
	if err := os.RemoveAll(r.dir); err != nil {
		t.Fatal(err)
	}
	s := openStore(t)
	sum := importRepo(t, s, gitsrc.Options{Repo: partial})
	if sum.CommitsScanned != 3 || len(sum.Skipped) != 3 {
		t.Fatalf("%d commits, skipped %v; want 3 commits, 3 files skipped", sum.CommitsScanned, sum.Skipped)
	}
	for _, sk := range sum.Skipped {
		if !strings.Contains(sk.Reason, "object missing from the repository (partial clone)") {
			t.Errorf("skip reason %q", sk.Reason)
		}
	}
	if got := deployments(t, s); len(got) != 0 {
		t.Errorf("deployments from unreadable files: %+v", got)
	}
}
