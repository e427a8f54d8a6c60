package emit

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/cli/cmdutil"
	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/source/cloudevents"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const (
	digest = "sha256:2f1e3c9d6b8a7e5f4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e"
	sha    = "4d09b7bd1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b"
	token  = "shiplog-ingest-4b8e1d0c9a7f"
)

// result is what one run of the command did.
type result struct {
	out, errOut string
	err         error
}

// execute runs `emit args…` with env as the environment; seams adjusts
// the options before the real run.
func execute(t *testing.T, env map[string]string, seams func(*Options), args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	f := &cmdutil.Factory{
		IO:     cmdutil.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut},
		Getenv: func(k string) string { return env[k] },
	}
	cmd := NewCmdEmit(f, func(ctx context.Context, o *Options) error {
		if seams != nil {
			seams(o)
		}
		return run(ctx, o)
	})
	cmd.SetArgs(append([]string{}, args...)) // nil would make cobra read os.Args
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(context.Background())
	return result{out.String(), errOut.String(), err}
}

// cases are one invocation per subcommand, with every flag.
var cases = []struct {
	name string
	args []string
	want delivery.Event // what shiplog records, Source, ID and Time aside
}{
	{"artifact-published", []string{"artifact-published", "--image", "ghcr.io/acme/api:1.4.0-4d09b7b", "--digest", digest,
		"--source-commit", sha, "--source-repo", "https://github.com/acme/api", "--pipeline-run", "https://github.com/acme/api/actions/runs/8162534790"},
		delivery.Event{Type: delivery.ArtifactPublished, Payload: &delivery.Artifact{
			Name: "ghcr.io/acme/api", Tag: "1.4.0-4d09b7b", Digest: digest, SourceCommit: sha}}},
	{"pipelinerun-finished", []string{"pipelinerun-finished", "--name", "api-ci", "--run-id", "8162534790/1", "--outcome", "failure",
		"--url", "https://github.com/acme/api/actions/runs/8162534790", "--sha", sha, "--branch", "main"},
		delivery.Event{Type: delivery.PipelineRunFinished, Payload: &delivery.PipelineRun{
			RunID: "8162534790/1", Name: "api-ci", URL: "https://github.com/acme/api/actions/runs/8162534790", SHA: sha, Branch: "main", Outcome: delivery.OutcomeFailure}}},
	{"service-deployed", []string{"service-deployed", "--app", "api", "--env", "production", "--artifact", "ghcr.io/acme/api:1.4.0-4d09b7b@" + digest, "--source-commit", sha},
		delivery.Event{Type: delivery.ServiceDeployed, App: "api", Env: "production", Payload: &delivery.Deployment{
			Artifact: "ghcr.io/acme/api:1.4.0-4d09b7b@" + digest, SourceCommit: sha, InferredFrom: "cdevents"}}},
	{"incident-detected", []string{"incident-detected", "--id", "INC-42", "--app", "api", "--env", "production", "--title", "Error rate above 5% & rising",
		"--artifact", "ghcr.io/acme/api@" + digest},
		delivery.Event{Type: delivery.IncidentDetected, App: "api", Env: "production", Payload: &delivery.Incident{
			IncidentID: "INC-42", Title: "Error rate above 5% & rising", Description: "Error rate above 5% & rising", Service: "api", Artifact: "ghcr.io/acme/api@" + digest}}},
	{"incident-resolved", []string{"incident-resolved", "--id", "INC-42", "--app", "api", "--env", "production"},
		delivery.Event{Type: delivery.IncidentResolved, App: "api", Env: "production", Payload: &delivery.Incident{IncidentID: "INC-42", Service: "api"}}},
}

var fixed = []string{"--dry-run", "--event-id", "0b6a9a38-5c2f-4e0e-a1a3-9bd2c1f0e7d4", "--time", "2024-03-05T07:33:04Z"}

// TestDryRunGolden checks what --dry-run prints, byte for byte.
func TestDryRunGolden(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := execute(t, nil, nil, append(tc.args, fixed...)...)
			if r.err != nil {
				t.Fatalf("%v (stderr %q)", r.err, r.errOut)
			}
			golden := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(r.out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if r.out != string(want) {
				t.Errorf("dry-run output differs from %s (go test -update rewrites it):\ngot  %s\nwant %s", golden, r.out, want)
			}
		})
	}
}

// TestRoundTrip feeds what emit prints to shiplog's own CloudEvents
// decoder and converter: every subcommand must give the event it means.
func TestRoundTrip(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := execute(t, nil, nil, append(tc.args, fixed...)...)
			if r.err != nil {
				t.Fatal(r.err)
			}
			h := http.Header{"Content-Type": {cloudevents.MediaTypeStructured}}
			ces, err := cloudevents.Decode(h, []byte(r.out))
			if err != nil {
				t.Fatalf("Decode: %v\n%s", err, r.out)
			}
			if len(ces) != 1 {
				t.Fatalf("%d CloudEvents, want 1", len(ces))
			}
			events, err := cloudevents.Convert(ces[0])
			if err != nil {
				t.Fatalf("Convert: %v\n%s", err, r.out)
			}
			want := tc.want
			want.Source = "cloudevents"
			want.ID = "/shiplog/emit 0b6a9a38-5c2f-4e0e-a1a3-9bd2c1f0e7d4"
			want.Time = time.Date(2024, 3, 5, 7, 33, 4, 0, time.UTC)
			if len(events) != 1 || !reflect.DeepEqual(events[0], want) {
				t.Errorf("converted to\n%+v\nwant\n%+v", events, want)
			}
			if err := events[0].Validate(); err != nil {
				t.Error(err)
			}
		})
	}
}

// fakeServer is a shiplog stand-in that answers from a script and records
// what it received.
type fakeServer struct {
	t       *testing.T
	url     string
	mu      sync.Mutex
	answers []func(w http.ResponseWriter)
	ids     []string
	auth    []string
}

func newFakeServer(t *testing.T, answers ...func(w http.ResponseWriter)) *fakeServer {
	fs := &fakeServer{t: t, answers: answers}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.mu.Lock()
		defer fs.mu.Unlock()
		if r.URL.Path != "/ingest/cloudevents" || r.Header.Get("Content-Type") != cloudevents.MediaTypeStructured {
			t.Errorf("request %s %s (Content-Type %q), want POST /ingest/cloudevents in structured mode", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
		}
		body, _ := io.ReadAll(r.Body)
		var ce struct{ ID string }
		if err := json.Unmarshal(body, &ce); err != nil {
			t.Errorf("body is not a CloudEvent: %v", err)
		}
		fs.ids = append(fs.ids, ce.ID)
		fs.auth = append(fs.auth, r.Header.Get("Authorization"))
		n := len(fs.ids) - 1
		if n >= len(fs.answers) {
			t.Errorf("request %d: no answer scripted", n+1)
			w.WriteHeader(http.StatusTeapot)
			return
		}
		fs.answers[n](w)
	}))
	t.Cleanup(srv.Close)
	fs.url = srv.URL
	t.Cleanup(func() {
		fs.mu.Lock()
		defer fs.mu.Unlock()
		if len(fs.ids) != len(fs.answers) {
			t.Errorf("server got %d requests, want %d (one per scripted answer)", len(fs.ids), len(fs.answers))
		}
	})
	return fs
}

func reply(code int, retryAfter, body string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}
}

var (
	stored      = reply(202, "", `{"status":"stored","events":1,"duplicates":0}`)
	unavailable = reply(503, "", `{"error":"the event store is unavailable: nothing was stored; retry later"}`)
)

// recordSleeps replaces the sleep between attempts and records it.
func recordSleeps(delays *[]time.Duration) func(*Options) {
	return func(o *Options) {
		o.Backoff = 100 * time.Millisecond
		o.Sleep = func(_ context.Context, d time.Duration) error {
			*delays = append(*delays, d)
			return nil
		}
	}
}

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestRetriesThenStored(t *testing.T) {
	srv := newFakeServer(t, unavailable, reply(503, "3", `{"error":"busy"}`), stored)
	var delays []time.Duration
	r := execute(t, map[string]string{EnvServer: srv.url, EnvToken: token}, recordSleeps(&delays), cases[0].args...)
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.errOut)
	}
	if len(srv.ids) != 3 || srv.ids[0] != srv.ids[1] || srv.ids[1] != srv.ids[2] || !uuidPattern.MatchString(srv.ids[0]) {
		t.Errorf("ce-ids %q: want one random UUID, the same on the 3 attempts", srv.ids)
	}
	for _, a := range srv.auth {
		if a != "Bearer "+token {
			t.Errorf("Authorization %q, want the token from $%s", a, EnvToken)
		}
	}
	// Backoff first, then the server's Retry-After.
	if want := []time.Duration{100 * time.Millisecond, 3 * time.Second}; !reflect.DeepEqual(delays, want) {
		t.Errorf("waited %v, want %v", delays, want)
	}
	if !strings.Contains(r.out, "stored (1 new, 0 already stored)") || strings.Count(r.errOut, "retrying in") != 2 {
		t.Errorf("stdout %q, stderr %q", r.out, r.errOut)
	}
}

func TestNoRetryOn4xx(t *testing.T) {
	srv := newFakeServer(t, reply(400, "", `{"error":"cloudevent \"x\" from \"/y\": CDEvent subject.content.outcome: \"maybe\" is not one of success, failure, cancel, error"}`))
	var delays []time.Duration
	r := execute(t, map[string]string{EnvServer: srv.url + "/", EnvToken: token}, recordSleeps(&delays), cases[1].args...)
	if r.err == nil || cmdutil.ExitCode(r.err) != cmdutil.ExitFailure {
		t.Fatalf("error %v (exit %d), want a failure (exit 1)", r.err, cmdutil.ExitCode(r.err))
	}
	if !strings.Contains(r.err.Error(), "answered 400 Bad Request: cloudevent") || !strings.Contains(r.err.Error(), "not retried") {
		t.Errorf("error %q does not give the server's reason", r.err)
	}
	if len(delays) != 0 {
		t.Errorf("waited %v, want no retry", delays)
	}
}

func TestRetryLimits(t *testing.T) {
	t.Run("429 is retried", func(t *testing.T) {
		srv := newFakeServer(t, reply(429, "", `{}`), stored)
		var delays []time.Duration
		if r := execute(t, map[string]string{EnvServer: srv.url, EnvToken: token}, recordSleeps(&delays), cases[4].args...); r.err != nil {
			t.Fatal(r.err)
		}
	})
	t.Run("retries spent", func(t *testing.T) {
		srv := newFakeServer(t, unavailable, unavailable, unavailable)
		var delays []time.Duration
		r := execute(t, map[string]string{EnvServer: srv.url, EnvToken: token}, recordSleeps(&delays), append(cases[4].args, "--retries", "2")...)
		if r.err == nil || !strings.Contains(r.err.Error(), "giving up after 3 attempt(s)") || !strings.Contains(r.err.Error(), "503 Service Unavailable: the event store is unavailable") {
			t.Errorf("error %v, want giving up after 3 attempts with the server's reason", r.err)
		}
		if want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}; !reflect.DeepEqual(delays, want) {
			t.Errorf("waited %v, want %v", delays, want)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		var delays []time.Duration
		r := execute(t, map[string]string{EnvToken: token}, recordSleeps(&delays), append(cases[4].args, "--server", "http://"+addr, "--retries", "1")...)
		if r.err == nil || !strings.Contains(r.err.Error(), "giving up after 2 attempt(s)") || !strings.Contains(r.err.Error(), "connection refused") {
			t.Errorf("error %v, want giving up after 2 attempts on connection refused", r.err)
		}
	})
	t.Run("ignored by the server", func(t *testing.T) {
		srv := newFakeServer(t, reply(202, "", `{"status":"ignored","reason":"unsupported event: CloudEvents type \"x\""}`))
		r := execute(t, map[string]string{EnvServer: srv.url, EnvToken: token}, nil, cases[4].args...)
		if r.err == nil || !strings.Contains(r.err.Error(), "does not record it: unsupported event") {
			t.Errorf("error %v, want a failure giving the reason", r.err)
		}
	})
	t.Run("backoff is capped", func(t *testing.T) {
		answers := []func(http.ResponseWriter){}
		for range 9 {
			answers = append(answers, unavailable)
		}
		srv := newFakeServer(t, append(answers, stored)...)
		var delays []time.Duration
		seams := func(o *Options) {
			recordSleeps(&delays)(o)
			o.Backoff, o.MaxBackoff = time.Second, 30*time.Second
		}
		if r := execute(t, map[string]string{EnvServer: srv.url, EnvToken: token}, seams, append(cases[4].args, "--retries", "9")...); r.err != nil {
			t.Fatal(r.err)
		}
		want := []time.Duration{1, 2, 4, 8, 16, 30, 30, 30, 30}
		for i := range want {
			want[i] *= time.Second
		}
		if !reflect.DeepEqual(delays, want) {
			t.Errorf("waited %v, want %v", delays, want)
		}
	})
}

func TestTokenFile(t *testing.T) {
	srv := newFakeServer(t, stored)
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := execute(t, map[string]string{EnvServer: srv.url, EnvToken: "from-env"}, nil, append(cases[2].args, "--token-file", file)...)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if srv.auth[0] != "Bearer from-file" {
		t.Errorf("Authorization %q, want the --token-file token, newline trimmed", srv.auth[0])
	}
}

func TestUsageErrors(t *testing.T) {
	env := map[string]string{EnvServer: "http://127.0.0.1:1", EnvToken: token}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no server", map[string]string{EnvToken: token}, cases[4].args, "no server: give --server or set $SHIPLOG_SERVER"},
		{"no token", map[string]string{EnvServer: "http://x"}, cases[4].args, "no ingest token: set $SHIPLOG_INGEST_TOKEN or give --token-file"},
		{"server not a URL", env, append(cases[4].args, "--server", "shiplog:8080"), "is not an http:// or https:// URL"},
		{"missing flags", env, []string{"pipelinerun-finished", "--name", "ci"}, "missing --outcome, --run-id"},
		{"bad outcome", env, []string{"pipelinerun-finished", "--name", "ci", "--run-id", "1", "--outcome", "passed"}, `--outcome: "passed" is not one of`},
		{"bad sha", env, []string{"pipelinerun-finished", "--name", "ci", "--run-id", "1", "--outcome", "success", "--sha", "main"}, `--sha: "main" is not a hexadecimal commit SHA`},
		{"no digest", env, []string{"artifact-published", "--image", "ghcr.io/acme/api:1.4.0", "--source-commit", sha}, "--digest: missing"},
		{"short digest", env, []string{"artifact-published", "--image", "ghcr.io/acme/api:1.4.0", "--digest", "sha256:abc", "--source-commit", sha}, "is not sha256:<64 hex digits>"},
		{"digests differ", env, []string{"artifact-published", "--image", "ghcr.io/acme/api@" + digest, "--digest", "sha256:" + strings.Repeat("0", 64), "--source-commit", sha}, "differs from the digest in --image"},
		{"no source commit", env, []string{"artifact-published", "--image", "ghcr.io/acme/api@" + digest}, "missing --source-commit"},
		{"image URL", env, []string{"artifact-published", "--image", "https://ghcr.io/acme/api", "--digest", digest, "--source-commit", sha}, "not a URL"},
		{"artifact without tag or digest", env, []string{"service-deployed", "--app", "api", "--env", "prod", "--artifact", "ghcr.io/acme/api"}, "names neither a tag nor a digest"},
		{"app with a slash", env, []string{"service-deployed", "--app", "shop/api", "--env", "prod", "--artifact", "ghcr.io/acme/api:1"}, "contains a slash"},
		{"bad time", env, append(cases[4].args, "--time", "yesterday"), "--time"},
		{"negative retries", env, append(cases[4].args, "--retries", "-1"), "--retries"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := execute(t, tc.env, nil, tc.args...)
			if r.err == nil || cmdutil.ExitCode(r.err) != cmdutil.ExitUsage || !strings.Contains(r.err.Error(), tc.want) {
				t.Errorf("error %v (exit %d), want exit 2 with %q", r.err, cmdutil.ExitCode(r.err), tc.want)
			}
		})
	}
}

func TestImagePURL(t *testing.T) {
	for ref, want := range map[string]string{
		"ghcr.io/acme/api:1.4.0@" + digest:     "pkg:oci/api@sha256%3A2f1e3c9d6b8a7e5f4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e?repository_url=ghcr.io/acme/api&tag=1.4.0",
		"localhost:5000/team/web:v2":           "pkg:oci/web?repository_url=localhost:5000/team/web&tag=v2",
		"ghcr.io/Acme/api:1":                   "",
		"nginx@" + strings.ToUpper(digest[7:]): "",
	} {
		im, err := parseImage(ref)
		if want == "" {
			if err == nil {
				t.Errorf("%s: no error", ref)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", ref, err)
			continue
		}
		if got := im.purl(); got != want {
			t.Errorf("%s: got %s, want %s", ref, got, want)
		}
	}
}
