package rollback

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/cli/clitest"
	"github.com/shiplog-dev/shiplog/internal/cli/cmdutil"
	"github.com/shiplog-dev/shiplog/internal/config"
	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/store"
	"github.com/shiplog-dev/shiplog/internal/store/sqlite"
)

const (
	serviceFile = "apps/api/envs/prod/service.yaml"
	pinComment  = " # pinned by shiplog rollback: delete this block to route to the latest revision again"
)

var versions = []struct{ tag, digest, revision string }{
	{"1.0", dg('a'), "api-00001"},
	{"1.1", dg('b'), "api-00002"},
	{"1.2", dg('c'), "api-00003"},
}

func dg(c byte) string { return "sha256:" + strings.Repeat(string(c), 64) }

// knService is the api's Knative Service as the team writes it: comments,
// quotes, sequences indented under their keys.
func knService(tag, digest string) string {
	return `# api: the shop's public API
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: api
  namespace: shop
  labels:
    app.kubernetes.io/part-of: shop # for the cost report
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/min-scale: "1"
    spec:
      containers:
        - name: api
          image: ghcr.io/acme/api:` + tag + "@" + digest + ` # by CI
          ports:
            - containerPort: 8080
  # scaling: see the platform team's defaults

# reviewed by the platform team
`
}

// knServiceWithTraffic spells out a traffic block before the template.
func knServiceWithTraffic(tag, digest string) string {
	return strings.Replace(knService(tag, digest), "spec:\n  template:\n", `spec:
  traffic: # the default, spelled out
    - latestRevision: true
      percent: 100
  template:
`, 1)
}

func deployment(tag, digest string) string {
	return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  template:\n    spec:\n      containers:\n        - name: api\n          image: ghcr.io/acme/api:" + tag + "@" + digest + "\n"
}

type knSetup struct {
	render  func(tag, digest string) string
	watched int  // versions from this one on ran while shiplog watched the cluster
	deleted bool // the revision of 1.1 was garbage-collected
}

// setupKnative makes a GitOps repository with api 1.0, 1.1, 1.2 in prod,
// one commit each, and a store that imported it and recorded, from the
// cluster, the Knative revisions and deployments of the watched versions.
func setupKnative(t *testing.T, s knSetup) (repo, db string, commits []string) {
	t.Helper()
	repo = t.TempDir()
	gitAt(t, repo, t0, "init", "-q", "-b", "main")
	file := filepath.Join(repo, filepath.FromSlash(serviceFile))
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	for i, v := range versions {
		if err := os.WriteFile(file, []byte(s.render(v.tag, v.digest)), 0o644); err != nil {
			t.Fatal(err)
		}
		at := t0.Add(time.Duration(i) * time.Hour)
		gitAt(t, repo, at, "add", ".")
		gitAt(t, repo, at, "commit", "-q", "-m", "api "+v.tag)
		commits = append(commits, gitAt(t, repo, at, "rev-parse", "HEAD"))
	}
	db = filepath.Join(t.TempDir(), "s.db")
	importInto(t, repo, db)

	var evs []delivery.Event
	add := func(id string, typ delivery.EventType, at time.Time, p delivery.Payload) {
		evs = append(evs, delivery.Event{Source: "kube", ID: "knative/prod-eu/shop/" + id, Type: typ, Time: at, App: "api", Env: "prod",
			Cluster: "prod-eu", Namespace: "shop", Payload: p})
	}
	for i, v := range versions[s.watched:] {
		i += s.watched
		created := t0.Add(time.Duration(i)*time.Hour + time.Minute)
		rev := func(typ delivery.EventType, suffix string, at time.Time) {
			add("revision/"+v.revision+"/"+created.Format(time.RFC3339)+"/"+suffix, typ, at,
				&delivery.Revision{Name: v.revision, Service: "api", Image: "ghcr.io/acme/api:" + v.tag + "@" + v.digest, Digest: v.digest})
		}
		rev(delivery.RevisionCreated, "created", created)
		rev(delivery.RevisionReady, "ready", created.Add(time.Minute))
		kind := delivery.ServiceUpgraded
		if i == s.watched {
			kind = delivery.ServiceDeployed
		}
		add("service/api/deployment/"+v.revision+"/"+string(rune('0'+i)), kind, created.Add(2*time.Minute),
			&delivery.Deployment{Artifact: "ghcr.io/acme/api@" + v.digest, InferredFrom: "knative", Revision: v.revision})
		if s.deleted && v.tag == "1.1" {
			rev(delivery.RevisionDeleted, "deleted", t0.Add(4*time.Hour))
		}
	}
	st, err := sqlite.Open(context.Background(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Append(context.Background(), evs...); err != nil {
		t.Fatal(err)
	}
	return repo, db, commits
}

// pin runs shiplog rollback api --env prod --pin [--to to].
func pin(t *testing.T, repo, db, to string) (string, error) {
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
		App: "api", Env: "prod", Repo: repo, To: to, Pin: true, Now: func() time.Time { return t0.Add(10 * time.Hour) }}
	err := run(context.Background(), opts)
	return strings.ReplaceAll(out.String(), repo, "REPO"), err
}

func TestRollbackPin(t *testing.T) {
	const block = `  traffic: # pinned by shiplog rollback: delete this block to route to the latest revision again
    - revisionName: api-00002
      percent: 100
    - latestRevision: true
      percent: 0
      tag: latest
`
	tests := []struct {
		name   string
		render func(tag, digest string) string
		was    string // the traffic block before
	}{
		{"pin", knService, ""},
		{"pin-replace", knServiceWithTraffic, "  traffic: # the default, spelled out\n    - latestRevision: true\n      percent: 100\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			repo, db, commits := setupKnative(t, knSetup{render: tc.render, watched: 1})
			out, err := pin(t, repo, db, "")
			if err != nil {
				t.Fatalf("rollback --pin: %v\n%s", err, out)
			}
			clitest.Golden(t, tc.name+".out", out, true)
			got, err := os.ReadFile(filepath.Join(repo, filepath.FromSlash(serviceFile)))
			if err != nil {
				t.Fatal(err)
			}
			clitest.Golden(t, tc.name+".yaml", string(got), true)
			// Every other byte as it was.
			if before := tc.render("1.2", dg('c')); strings.Count(string(got), block) != 1 || strings.Replace(string(got), block, tc.was, 1) != before {
				t.Errorf("the file changed beyond the traffic block:\n%s", got)
			}

			if subject := gitAt(t, repo, t0, "log", "-1", "--format=%s"); subject != "Pin api in prod to revision api-00002" {
				t.Errorf("subject: got %q", subject)
			}
			trailers := gitAt(t, repo, t0, "log", "-1", "--format=%(trailers:only,unfold)")
			if want := "Shiplog-Rollback-Of: " + commits[2] + "\nShiplog-Pinned-Revision: api-00002"; trailers != want {
				t.Errorf("trailers: got\n%s\nwant\n%s", trailers, want)
			}
			if files := gitAt(t, repo, t0, "show", "--format=", "--name-only", "HEAD"); files != serviceFile {
				t.Errorf("files committed: got %q, want %s", files, serviceFile)
			}
			if branch := gitAt(t, repo, t0, "rev-parse", "--abbrev-ref", "HEAD"); !strings.HasPrefix(branch, "shiplog/rollback-api-prod-") {
				t.Errorf("branch: got %s", branch)
			}
			// Merged, it deploys nothing by Git: the image is unchanged.
			if kind, image, _ := mergeAndImport(t, repo, db); image != "ghcr.io/acme/api@"+dg('c') {
				t.Errorf("after merging, the newest deployment: %s %s; want the live one, unchanged", kind, image)
			}
		})
	}
}

func TestRollbackPinRefuses(t *testing.T) {
	tests := []struct {
		name  string
		setup knSetup
		to    func(commits []string) string
		want  []string
	}{
		{
			name:  "not a Knative Service",
			setup: knSetup{render: deployment, watched: 1},
			want:  []string{"--pin: api in prod is not a Knative Service", "(" + serviceFile + ")", "without --pin"},
		},
		{
			name: "already pinned there",
			setup: knSetup{render: func(tag, digest string) string {
				return strings.Replace(knService(tag, digest), "spec:\n", "spec:\n  traffic:"+pinComment+"\n  - revisionName: api-00002\n    percent: 100\n  - latestRevision: true\n    percent: 0\n    tag: latest\n", 1)
			}, watched: 1},
			want: []string{"--pin: " + serviceFile + " already pins the traffic of api in prod to revision api-00002"},
		},
		{
			name:  "revision unknown to shiplog",
			setup: knSetup{render: knService, watched: 1},
			to:    func(c []string) string { return c[0][:7] }, // 1.0 ran before shiplog watched the cluster
			want:  []string{"no Knative revision of api in prod that ran ghcr.io/acme/api:1.0@" + dg('a') + " is known to shiplog", "without --pin"},
		},
		{
			name:  "revision garbage-collected",
			setup: knSetup{render: knService, watched: 1, deleted: true},
			want: []string{"revision api-00002, which ran ghcr.io/acme/api@" + dg('b') + " for api in prod, was garbage-collected (deleted at 2026-03-02T13:00:00Z)",
				"roll back by image instead, which makes a new revision: shiplog rollback api --env prod --repo REPO --to ghcr.io/acme/api@" + dg('b')},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			repo, db, commits := setupKnative(t, tc.setup)
			to := ""
			if tc.to != nil {
				to = tc.to(commits)
			}
			_, err := pin(t, repo, db, to)
			if err == nil {
				t.Fatal("no error")
			}
			msg := strings.ReplaceAll(err.Error(), repo, "REPO")
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error: got %s\nwant it to contain %s", msg, w)
				}
			}
			if code := cmdutil.ExitCode(err); code != cmdutil.ExitUsage {
				t.Errorf("exit code: got %d, want %d (usage)", code, cmdutil.ExitUsage)
			}
			if branch := gitAt(t, repo, t0, "rev-parse", "--abbrev-ref", "HEAD"); branch != "main" {
				t.Errorf("a refused rollback left the repository on %s", branch)
			}
			if status := gitAt(t, repo, t0, "status", "--porcelain"); status != "" {
				t.Errorf("a refused rollback changed the working tree:\n%s", status)
			}
		})
	}
}

// The suggested command works: without --pin, the deleted revision's image
// is written back.
func TestRollbackPinSuggestionWorks(t *testing.T) {
	repo, db, _ := setupKnative(t, knSetup{render: knService, watched: 1, deleted: true})
	out := rollback(t, repo, db, "ghcr.io/acme/api@"+dg('b'))
	if !strings.Contains(out, "target:  ghcr.io/acme/api@"+dg('b')) || !strings.Contains(out, "next:") {
		t.Errorf("output:\n%s", out)
	}
}
