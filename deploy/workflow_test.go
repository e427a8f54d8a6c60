package deploy_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

const workflowFile = "ci/github-actions/shiplog-flow.yaml"

type workflow struct {
	Name        string            `yaml:"name"`
	Permissions map[string]string `yaml:"permissions"`
	On          map[string]any    `yaml:"on"`
	Env         map[string]string `yaml:"env"`
	Jobs        map[string]job    `yaml:"jobs"`
}

type job struct {
	Name        string            `yaml:"name"`
	RunsOn      string            `yaml:"runs-on"`
	Permissions map[string]string `yaml:"permissions"`
	Needs       any               `yaml:"needs"`
	If          string            `yaml:"if"`
	Env         map[string]string `yaml:"env"`
	Outputs     map[string]string `yaml:"outputs"`
	Steps       []step            `yaml:"steps"`
}

type step struct {
	Name             string            `yaml:"name"`
	ID               string            `yaml:"id"`
	If               string            `yaml:"if"`
	Uses             string            `yaml:"uses"`
	Run              string            `yaml:"run"`
	With             map[string]any    `yaml:"with"`
	Env              map[string]string `yaml:"env"`
	WorkingDirectory string            `yaml:"working-directory"`
}

func loadWorkflow(t *testing.T) workflow {
	t.Helper()
	b, err := os.ReadFile(workflowFile)
	if err != nil {
		t.Fatal(err)
	}
	var w workflow
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&w); err != nil {
		t.Fatalf("%s: %v", workflowFile, err)
	}
	return w
}

func (j job) step(t *testing.T, uses string) step {
	t.Helper()
	for _, s := range j.Steps {
		if strings.HasPrefix(s.Uses, uses+"@") {
			return s
		}
	}
	t.Fatalf("no step uses %s", uses)
	return step{}
}

// TestWorkflowShape: tests on pull requests; on main, build → deploy.
func TestWorkflowShape(t *testing.T) {
	w := loadWorkflow(t)
	if _, ok := w.On["pull_request"]; !ok {
		t.Error("the workflow does not run on pull_request")
	}
	push, _ := w.On["push"].(map[string]any)
	if branches, _ := push["branches"].([]any); !slices.Contains(branches, any("main")) {
		t.Errorf("on.push = %v, want branches [main]", w.On["push"])
	}
	for name, needs := range map[string]string{"test": "", "build": "test", "deploy": "build"} {
		j, ok := w.Jobs[name]
		if !ok {
			t.Errorf("no job %s", name)
			continue
		}
		if got := fmt.Sprint(j.Needs); needs != "" && got != needs {
			t.Errorf("job %s needs %s, want %s", name, got, needs)
		}
	}
	build := w.Jobs["build"]
	if !strings.Contains(build.If, "refs/heads/main") || !strings.Contains(build.If, "push") {
		t.Errorf("build runs if %q, want only on a push to main", build.If)
	}
	if build.Outputs["digest"] != "${{ steps.build.outputs.digest }}" {
		t.Errorf("build outputs digest = %q, want the build-push-action's digest", build.Outputs["digest"])
	}
	bp := build.step(t, "docker/build-push-action")
	if bp.ID != "build" || bp.With["push"] != true || bp.With["labels"] != "${{ steps.meta.outputs.labels }}" {
		t.Errorf("build-push-action step = %+v: want id build, push, the metadata labels", bp)
	}
	args := fmt.Sprint(bp.With["build-args"])
	for _, a := range []string{"REVISION=${{ github.sha }}", "VERSION=", "SOURCE="} {
		if !strings.Contains(args, a) {
			t.Errorf("build-args %q lack %s (the Dockerfile's ARGs)", args, a)
		}
	}
	meta := fmt.Sprint(build.step(t, "docker/metadata-action").With["labels"])
	for _, l := range []string{"org.opencontainers.image.revision=${{ github.sha }}", "org.opencontainers.image.source="} {
		if !strings.Contains(meta, l) {
			t.Errorf("metadata-action labels %q lack %s", meta, l)
		}
	}
	if w.Jobs["deploy"].step(t, "actions/checkout").With["path"] != "gitops" {
		t.Error("the deploy job does not check the GitOps repository out into gitops/")
	}
}

// shiplogCommands returns each `shiplog …` command line of the scripts, its
// continuation lines joined.
func shiplogCommands(w workflow) []string {
	var out []string
	for _, j := range w.Jobs {
		for _, s := range j.Steps {
			script := strings.ReplaceAll(s.Run, "\\\n", " ")
			for _, line := range strings.Split(script, "\n") {
				if line = strings.TrimSpace(line); strings.HasPrefix(line, "shiplog ") {
					out = append(out, line)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestWorkflowFlags: every flag the workflow gives shiplog is one that the
// command's --help lists.
func TestWorkflowFlags(t *testing.T) {
	cmds := shiplogCommands(loadWorkflow(t))
	var seen []string
	for _, line := range cmds {
		fields := strings.Fields(line)[1:]
		var path []string
		for _, f := range fields {
			if strings.HasPrefix(f, "-") {
				break
			}
			path = append(path, f)
		}
		seen = append(seen, strings.Join(path, " "))
		help, err := exec.Command(shiplogBin, append(path, "--help")...).CombinedOutput()
		if err != nil {
			t.Errorf("shiplog %s --help: %v\n%s", strings.Join(path, " "), err, help)
			continue
		}
		for _, f := range regexp.MustCompile(`(^|\s)(--[a-z][a-z0-9.-]*)`).FindAllStringSubmatch(line, -1) {
			if !regexp.MustCompile(`(?m)^\s+(-\w, )?` + regexp.QuoteMeta(f[2]) + `\b`).Match(help) {
				t.Errorf("shiplog %s: flag %s is not in its --help", strings.Join(path, " "), f[2])
			}
		}
	}
	for _, want := range []string{"bump", "emit artifact-published", "emit pipelinerun-finished"} {
		if !slices.Contains(seen, want) {
			t.Errorf("the workflow never runs shiplog %s (it runs %q)", want, seen)
		}
	}
}

// TestWorkflowDeployJob runs the deploy job's scripts, as GitHub Actions
// would, against a GitOps repository (a local bare repository standing for
// the remote) and a stand-in shiplog server, with the shiplog binary of this
// tree: the bump is committed with its trailers and pushed, and the server
// receives the artifact and the run.
func TestWorkflowDeployJob(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		requireOrSkip(t, "git not found")
	}
	w := loadWorkflow(t)
	const (
		sha      = "4d09b7bd1a2c3e4f5a6b7c8d9e0f1a2b3c4d5e6f"
		digest   = "sha256:2f1e3d4c5b6a79880f1e2d3c4b5a69788f1e2d3c4b5a69788f1e2d3c4b5a6978"
		token    = "ingest-token-for-tests"
		manifest = "apps/api/envs/dev/service.yaml"
	)
	srv := newIngestServer(t, token)
	runURL := "https://github.com/acme/Api/actions/runs/4242"
	exprs := map[string]string{
		"github.repository":            "acme/Api",
		"github.server_url":            "https://github.com",
		"github.run_id":                "4242",
		"github.run_attempt":           "1",
		"github.workflow":              "shiplog-flow",
		"github.sha":                   sha,
		"vars.SHIPLOG_SERVER":          srv.URL,
		"secrets.SHIPLOG_INGEST_TOKEN": token,
		"needs.build.outputs.tag":      "sha-" + sha[:7],
		"needs.build.outputs.digest":   digest,
		"vars.MANIFEST":                manifest,
		"job.status == 'success' && 'success' || (job.status == 'cancelled' && 'cancel' || 'failure')": "success",
	}
	expand := func(s string) string {
		return regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`).ReplaceAllStringFunc(s, func(m string) string {
			e := strings.TrimSpace(m[3 : len(m)-2])
			v, ok := exprs[e]
			if !ok {
				t.Fatalf("the test knows no value for the expression ${{ %s }}", e)
			}
			return v
		})
	}

	tmp := t.TempDir()
	remote := filepath.Join(tmp, "gitops.git")
	work := filepath.Join(tmp, "work")
	seed := filepath.Join(tmp, "seed")
	git := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "HOME="+tmp, "GIT_CONFIG_NOSYSTEM=1",
			"GIT_AUTHOR_NAME=dev", "GIT_AUTHOR_EMAIL=dev@example.com", "GIT_COMMITTER_NAME=dev", "GIT_COMMITTER_EMAIL=dev@example.com")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	for _, d := range []string{work, seed} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	git(seed, "init", "-q", "-b", "main")
	if err := os.MkdirAll(filepath.Join(seed, filepath.Dir(manifest)), 0o755); err != nil {
		t.Fatal(err)
	}
	old := "ghcr.io/acme/api:sha-0000000@sha256:" + strings.Repeat("0", 64)
	ksvc := "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: api\n  namespace: shop-dev\nspec:\n  template:\n    spec:\n      containers:\n      - image: " + old + " # bumped by CI\n"
	if err := os.WriteFile(filepath.Join(seed, manifest), []byte(ksvc), 0o644); err != nil {
		t.Fatal(err)
	}
	git(seed, "add", ".")
	git(seed, "commit", "-q", "-m", "api: dev")
	git(tmp, "clone", "-q", "--bare", seed, remote)
	git(work, "clone", "-q", remote, "gitops") // actions/checkout with path: gitops

	ghEnv := filepath.Join(tmp, "github_env")
	env := map[string]string{
		"PATH":                filepath.Dir(shiplogBin) + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME":                tmp,
		"GIT_CONFIG_NOSYSTEM": "1",
		"GITHUB_SHA":          sha,
		"GITHUB_REF_NAME":     "main",
		"GITHUB_ENV":          ghEnv,
	}
	for k, v := range w.Env {
		env[k] = expand(v)
	}
	deploy := w.Jobs["deploy"]
	for k, v := range deploy.Env {
		env[k] = expand(v)
	}
	ran := 0
	for _, s := range deploy.Steps {
		if s.Run == "" {
			continue
		}
		if strings.Contains(s.Run, "go install") {
			// The job installs a release; the test puts this tree's build first on PATH.
			if !strings.Contains(s.Run, "github.com/shiplog-dev/shiplog/cmd/shiplog@") {
				t.Errorf("step %q installs %q, want github.com/shiplog-dev/shiplog/cmd/shiplog@<version>", s.Name, s.Run)
			}
			continue
		}
		if err := os.WriteFile(ghEnv, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, "bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", expand(s.Run))
		cmd.Dir = filepath.Join(work, s.WorkingDirectory)
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("step %q: %v\n%s", s.Name, err, out)
		}
		t.Logf("step %q:\n%s", s.Name, out)
		ran++
		f, err := os.Open(ghEnv)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), "="); ok {
				env[k] = v
			}
		}
		f.Close()
	}
	if ran < 4 {
		t.Fatalf("ran %d steps of the deploy job, want the image reference, bump, push and emit steps", ran)
	}

	// The remote has the bump, by digest, with the provenance trailers.
	image := "ghcr.io/acme/api:sha-" + sha[:7] + "@" + digest
	msg := git(remote, "log", "-1", "--format=%B", "main")
	for _, trailer := range []string{"Shiplog-Source-Commit: " + sha, "Shiplog-Artifact-Digest: " + digest, "Shiplog-Pipeline-Run: " + runURL} {
		if !strings.Contains(msg, trailer) {
			t.Errorf("the pushed commit's message lacks %q:\n%s", trailer, msg)
		}
	}
	if author := git(remote, "log", "-1", "--format=%an", "main"); !strings.HasSuffix(author, "[bot]") {
		t.Errorf("the bump's author is %q, want a [bot] name (automation)", author)
	}
	got := git(remote, "show", "main:"+manifest)
	if !strings.Contains(got, "- image: "+image+" # bumped by CI") {
		t.Errorf("the pushed manifest:\n%s\nwant image %s, comment kept", got, image)
	}

	// The server got the artifact and the run, under stable ids.
	events := srv.received()
	byType := map[string]cloudEvent{}
	for _, e := range events {
		byType[e.Type] = e
	}
	art, ok := byType["dev.cdevents.artifact.published.0.3.0"]
	if !ok || art.ID != "gha-4242-1-artifact" {
		t.Fatalf("received %+v, want an artifact.published with id gha-4242-1-artifact", events)
	}
	var data struct {
		Subject struct {
			ID string `json:"id"`
		} `json:"subject"`
		CustomData map[string]any `json:"customData"`
	}
	if err := json.Unmarshal(art.Data, &data); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(data.Subject.ID, strings.Replace(digest, ":", "%3A", 1)) || data.CustomData["sha"] != sha {
		t.Errorf("artifact.published subject %q customData %v: want the digest and the source commit", data.Subject.ID, data.CustomData)
	}
	if run, ok := byType["dev.cdevents.pipelinerun.finished.0.3.0"]; !ok || run.ID != "gha-4242-1-finished" {
		t.Errorf("received %+v, want a pipelinerun.finished with id gha-4242-1-finished", events)
	}
}

type cloudEvent struct {
	ID   string          `json:"id"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

type ingestServer struct {
	*httptest.Server
	mu     sync.Mutex
	events []cloudEvent
}

// newIngestServer stands for shiplog's /ingest/cloudevents: it checks the
// bearer token and the structured CloudEvent, and answers as shiplog does.
func newIngestServer(t *testing.T, token string) *ingestServer {
	s := &ingestServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method != http.MethodPost || r.URL.Path != "/ingest/cloudevents":
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":"not found"}`)
			return
		case r.Header.Get("Authorization") != "Bearer "+token:
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"wrong bearer token"}`)
			return
		case !strings.HasPrefix(r.Header.Get("Content-Type"), "application/cloudevents+json"):
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"want a structured CloudEvent"}`)
			return
		}
		var e cloudEvent
		if err := json.NewDecoder(r.Body).Decode(&e); err != nil || e.ID == "" || e.Type == "" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":%q}`, fmt.Sprint("decode: ", err))
			return
		}
		s.mu.Lock()
		s.events = append(s.events, e)
		s.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"status":"stored","events":1,"duplicates":0}`)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *ingestServer) received() []cloudEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}
