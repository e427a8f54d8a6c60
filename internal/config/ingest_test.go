package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/shiplog-dev/shiplog/internal/source/webhook/alertmanager"
)

// env is a fake environment for LoadSecrets.
func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestIngestDefaults(t *testing.T) {
	c := Default()
	def := alertmanager.DefaultMapping()
	if c.Ingest.MaxBodyBytes != 5<<20 || c.Ingest.ArgoCD.Cluster != "in-cluster" ||
		!reflect.DeepEqual(c.Ingest.Alertmanager.AppLabels, def.AppLabels) ||
		!reflect.DeepEqual(c.Ingest.Alertmanager.EnvLabels, def.EnvLabels) {
		t.Errorf("ingest defaults %+v, want 5 MiB, in-cluster and alertmanager.DefaultMapping()", c.Ingest)
	}
}

func TestIngestParse(t *testing.T) {
	c, err := Parse("shiplog.yaml", []byte(`
ingest:
  max_body_bytes: 1048576
  token_file: /run/secrets/ingest-token
  github:
    secret_file: /run/secrets/github
  gitlab:
    secret_file: /run/secrets/gitlab
  argocd:
    cluster: prod-eu-1
  alertmanager:
    app_labels: [app, container]
    env_labels: [env]
`))
	if err != nil {
		t.Fatal(err)
	}
	want := Ingest{
		MaxBodyBytes: 1 << 20, TokenFile: "/run/secrets/ingest-token",
		GitHub: WebhookSecret{SecretFile: "/run/secrets/github"}, GitLab: WebhookSecret{SecretFile: "/run/secrets/gitlab"},
		ArgoCD:       IngestArgoCD{Cluster: "prod-eu-1"},
		Alertmanager: IngestAlertmanager{AppLabels: []string{"app", "container"}, EnvLabels: []string{"env"}},
	}
	if !reflect.DeepEqual(c.Ingest, want) {
		t.Errorf("got %+v\nwant %+v", c.Ingest, want)
	}
	for key, line := range map[string]int{"token: abc": 2, "github:\n    secret: abc": 3} {
		_, err := Parse("shiplog.yaml", []byte("ingest:\n  "+key+"\n"))
		if want := fmt.Sprintf("line %d: secrets are not read from the configuration file", line); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", key, err, want)
		}
	}
}

func TestIngestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*Ingest)
		want string
	}{
		{"zero body limit", func(in *Ingest) { in.MaxBodyBytes = 0 }, "ingest.max_body_bytes: 0 must be between 1 and 67108864"},
		{"body limit above 64 MiB", func(in *Ingest) { in.MaxBodyBytes = 64<<20 + 1 }, "ingest.max_body_bytes: 67108865"},
		{"cluster on two lines", func(in *Ingest) { in.ArgoCD.Cluster = "a\nb" }, "ingest.argocd.cluster"},
		{"empty label", func(in *Ingest) { in.Alertmanager.EnvLabels = []string{"env", " "} }, "ingest.alertmanager.env_labels[1]: empty label name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.set(&c.Ingest)
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate: %v, want %q", err, tc.want)
			}
		})
	}
	c := Default()
	c.Ingest.MaxBodyBytes = 64 << 20
	if err := c.Validate(); err != nil {
		t.Errorf("64 MiB: %v", err)
	}
}

func TestIngestValidateNamesBothSources(t *testing.T) {
	t.Setenv(EnvGitLabSecret, "from-env")
	c := Default()
	c.Ingest.GitLab.SecretFile = "/run/secrets/gitlab"
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "ingest.gitlab.secret_file and $SHIPLOG_GITLAB_WEBHOOK_SECRET are both set: set only one") {
		t.Errorf("Validate: %v, want the conflict named", err)
	}
}

func TestLoadSecrets(t *testing.T) {
	tests := []struct {
		name    string
		in      func(t *testing.T) Ingest
		env     map[string]string
		want    [3]string // token, github, gitlab
		wantErr []string
	}{
		{"files, trailing newline trimmed", func(t *testing.T) Ingest {
			return Ingest{TokenFile: writeFile(t, "tok\n"), GitHub: WebhookSecret{SecretFile: writeFile(t, "gh\r\n")}, GitLab: WebhookSecret{SecretFile: writeFile(t, "gl")}}
		}, nil, [3]string{"tok", "gh", "gl"}, nil},
		{"environment", func(t *testing.T) Ingest { return Ingest{} },
			map[string]string{EnvIngestToken: "tok", EnvGitHubSecret: "gh\n", EnvGitLabSecret: "gl"}, [3]string{"tok", "gh", "gl"}, nil},
		{"empty variable is unset", func(t *testing.T) Ingest { return Ingest{} },
			map[string]string{EnvIngestToken: ""}, [3]string{}, nil},
		{"neither keeps what is set", func(t *testing.T) Ingest { return Ingest{Token: "preset"} },
			nil, [3]string{"preset", "", ""}, nil},
		{"a file only a newline", func(t *testing.T) Ingest { return Ingest{TokenFile: writeFile(t, "\n")} },
			nil, [3]string{}, []string{"ingest.token_file:", "is empty"}},
		{"missing file", func(t *testing.T) Ingest {
			return Ingest{GitHub: WebhookSecret{SecretFile: filepath.Join(t.TempDir(), "nope")}}
		}, nil, [3]string{}, []string{"ingest.github.secret_file:", "no such file"}},
		{"file and variable", func(t *testing.T) Ingest { return Ingest{TokenFile: writeFile(t, "tok")} },
			map[string]string{EnvIngestToken: "tok2"}, [3]string{}, []string{"ingest.token_file and $SHIPLOG_INGEST_TOKEN are both set"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in(t)
			err := in.LoadSecrets(env(tc.env))
			if len(tc.wantErr) > 0 {
				for _, w := range tc.wantErr {
					if err == nil || !strings.Contains(err.Error(), w) {
						t.Errorf("error %v, want it to contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := [3]string{in.Token.Reveal(), in.GitHub.Secret.Reveal(), in.GitLab.Secret.Reveal()}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCredentialNeverShown(t *testing.T) {
	const secret = "hunter2-webhook"
	c := Default()
	c.Ingest.Token = secret
	c.Ingest.GitHub.Secret = secret
	c.Ingest.GitHub.SecretFile = "/run/secrets/github"

	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "token", c.Ingest.Token, "ingest", c.Ingest)
	js, err := json.Marshal(c.Ingest)
	if err != nil {
		t.Fatal(err)
	}
	shown := map[string]string{
		"String (config show)": c.String(),
		"%v":                   fmt.Sprintf("%v", c),
		"%+v":                  fmt.Sprintf("%+v", c.Ingest),
		"%#v":                  fmt.Sprintf("%#v", c.Ingest),
		"%s":                   fmt.Sprintf("%s", c.Ingest.Token),
		"%q":                   fmt.Sprintf("%q", c.Ingest.GitHub.Secret),
		"%x":                   fmt.Sprintf("%x", c.Ingest.Token),
		"slog":                 logs.String(),
		"json":                 string(js),
	}
	for how, out := range shown {
		if strings.Contains(out, secret) || strings.Contains(out, fmt.Sprintf("%x", secret)) {
			t.Errorf("%s shows the secret: %s", how, out)
		}
	}
	if out := c.String(); !strings.Contains(out, "token: xxxxx") || !strings.Contains(out, "secret: xxxxx") ||
		!strings.Contains(out, "secret_file: /run/secrets/github") {
		t.Errorf("config show does not say which secrets are set:\n%s", out)
	}
	if out := Default().String(); strings.Contains(out, "xxxxx") || strings.Contains(out, "token:") {
		t.Errorf("config show prints unset secrets:\n%s", out)
	}
}

func TestIngestFlags(t *testing.T) {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	AddFlags(fs, IngestFlags()...)
	if err := fs.Parse([]string{"--ingest.max-body-bytes=1024", "--ingest.github.secret-file=/s/gh", "--ingest.alertmanager.app-labels=app, container",
		"--ingest.argocd.cluster=prod", "--ingest.token-file=/s/t", "--ingest.gitlab.secret-file=/s/gl", "--ingest.alertmanager.env-labels="}); err != nil {
		t.Fatal(err)
	}
	c := Default()
	if err := ApplyFlags(&c, fs); err != nil {
		t.Fatal(err)
	}
	in := c.Ingest
	if in.MaxBodyBytes != 1024 || in.GitHub.SecretFile != "/s/gh" || in.GitLab.SecretFile != "/s/gl" || in.TokenFile != "/s/t" || in.ArgoCD.Cluster != "prod" ||
		!reflect.DeepEqual(in.Alertmanager.AppLabels, []string{"app", "container"}) || len(in.Alertmanager.EnvLabels) != 0 {
		t.Errorf("got %+v", in)
	}
	bad := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	AddFlags(bad, "ingest.max-body-bytes")
	_ = bad.Parse([]string{"--ingest.max-body-bytes=5MiB"})
	if err := ApplyFlags(&c, bad); err == nil || !strings.Contains(err.Error(), "--ingest.max-body-bytes") {
		t.Errorf("bad size: %v", err)
	}
}
