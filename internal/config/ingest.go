package config

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Ingest configures the HTTP ingestion endpoints (/ingest/...).
type Ingest struct {
	// MaxBodyBytes bounds a request body; larger requests get 413.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// TokenFile holds the bearer token of the CloudEvents, Argo CD and
	// Alertmanager endpoints (else $SHIPLOG_INGEST_TOKEN).
	TokenFile string `yaml:"token_file"`
	// Token is the bearer token, read at start by LoadSecrets. It cannot be
	// written in the configuration file and prints masked.
	Token        Credential         `yaml:"token,omitempty"`
	GitHub       WebhookSecret      `yaml:"github"`
	GitLab       WebhookSecret      `yaml:"gitlab"`
	ArgoCD       IngestArgoCD       `yaml:"argocd"`
	Alertmanager IngestAlertmanager `yaml:"alertmanager"`
}

// WebhookSecret is the shared secret of a Git host's webhooks: GitHub's
// HMAC key, GitLab's secret token.
type WebhookSecret struct {
	// SecretFile holds the secret (else the source's environment variable).
	SecretFile string `yaml:"secret_file"`
	// Secret is the secret, read at start by LoadSecrets; it prints masked.
	Secret Credential `yaml:"secret,omitempty"`
}

// IngestArgoCD configures /ingest/argocd.
type IngestArgoCD struct {
	// Cluster is the cluster name set on the events (the Argo CD
	// instance's cluster).
	Cluster string `yaml:"cluster"`
}

// IngestAlertmanager configures /ingest/alertmanager: which alert labels
// name the application and the environment, first present label wins.
type IngestAlertmanager struct {
	AppLabels []string `yaml:"app_labels"`
	EnvLabels []string `yaml:"env_labels"`
}

// Environment variables that may hold the ingest secrets instead of files.
const (
	EnvIngestToken  = "SHIPLOG_INGEST_TOKEN"
	EnvGitHubSecret = "SHIPLOG_GITHUB_WEBHOOK_SECRET"
	EnvGitLabSecret = "SHIPLOG_GITLAB_WEBHOOK_SECRET"
)

// Limits and defaults of the ingest section.
const (
	DefaultMaxBodyBytes = 5 << 20  // 5 MiB
	MaxMaxBodyBytes     = 64 << 20 // 64 MiB
)

// defaultIngest is the ingest section used when nothing is set. The
// Alertmanager labels are those of alertmanager.DefaultMapping (config does
// not import the source packages; a test keeps the two equal).
func defaultIngest() Ingest {
	return Ingest{
		MaxBodyBytes: DefaultMaxBodyBytes,
		ArgoCD:       IngestArgoCD{Cluster: "in-cluster"},
		Alertmanager: IngestAlertmanager{
			AppLabels: []string{"app", "service", "job"},
			EnvLabels: []string{"env", "environment", "namespace"},
		},
	}
}

// secretSource is one secret and where it may come from.
type secretSource struct {
	key  string // dotted configuration key of the file
	file string
	env  string
	dst  *Credential
}

func (in *Ingest) secretSources() []secretSource {
	return []secretSource{
		{"ingest.token_file", in.TokenFile, EnvIngestToken, &in.Token},
		{"ingest.github.secret_file", in.GitHub.SecretFile, EnvGitHubSecret, &in.GitHub.Secret},
		{"ingest.gitlab.secret_file", in.GitLab.SecretFile, EnvGitLabSecret, &in.GitLab.Secret},
	}
}

// checkSecretSources reports the secrets given both as a file and in the
// environment: which one is meant is unclear, so neither is used.
func (in *Ingest) checkSecretSources(lookupEnv func(string) (string, bool)) []error {
	var errs []error
	for _, s := range in.secretSources() {
		if v, ok := lookupEnv(s.env); ok && v != "" && s.file != "" {
			errs = append(errs, fmt.Errorf("%s and $%s are both set: set only one", s.key, s.env))
		}
	}
	return errs
}

// LoadSecrets reads the ingest secrets: each from its file when the file is
// configured (a trailing newline is removed), else from its environment
// variable when that is set and not empty. A secret given both ways, an
// unreadable file and an empty file are errors naming the key and the
// variable. A secret set neither way keeps its current value (none, unless a
// caller set it).
//
// Secrets are read once, when the server starts; lookupEnv is os.LookupEnv
// outside tests.
func (in *Ingest) LoadSecrets(lookupEnv func(string) (string, bool)) error {
	errs := in.checkSecretSources(lookupEnv)
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for _, s := range in.secretSources() {
		var v string
		switch env, _ := lookupEnv(s.env); {
		case s.file != "":
			b, err := os.ReadFile(s.file)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", s.key, err))
				continue
			}
			v = trimNewline(string(b))
			if v == "" {
				errs = append(errs, fmt.Errorf("%s: %s is empty", s.key, s.file))
				continue
			}
		case env != "":
			v = trimNewline(env)
		default:
			continue
		}
		*s.dst = Credential(v)
	}
	return errors.Join(errs...)
}

// trimNewline removes one trailing line ending, as echo and editors add.
func trimNewline(s string) string {
	s = strings.TrimSuffix(s, "\n")
	return strings.TrimSuffix(s, "\r")
}

func (in *Ingest) validate(lookupEnv func(string) (string, bool)) []error {
	var errs []error
	if in.MaxBodyBytes <= 0 || in.MaxBodyBytes > MaxMaxBodyBytes {
		errs = append(errs, fmt.Errorf("ingest.max_body_bytes: %d must be between 1 and %d (64 MiB)", in.MaxBodyBytes, MaxMaxBodyBytes))
	}
	if c := in.ArgoCD.Cluster; len(c) > 253 || !utf8.ValidString(c) || strings.ContainsAny(c, "\x00\r\n") {
		errs = append(errs, fmt.Errorf("ingest.argocd.cluster: %q is not a cluster name (at most 253 bytes, one line)", c))
	}
	for _, l := range []struct {
		key    string
		labels []string
	}{{"ingest.alertmanager.app_labels", in.Alertmanager.AppLabels}, {"ingest.alertmanager.env_labels", in.Alertmanager.EnvLabels}} {
		for i, name := range l.labels {
			if strings.TrimSpace(name) == "" {
				errs = append(errs, fmt.Errorf("%s[%d]: empty label name", l.key, i))
			}
		}
	}
	return append(errs, in.checkSecretSources(lookupEnv)...)
}

// Credential is a secret value read when the server starts (a webhook
// secret, a bearer token). Unlike Secret, nothing of it is ever shown: it
// prints as "xxxxx" when set, in YAML, JSON, fmt verbs and slog records.
// It cannot be written in the configuration file: secrets come from files
// or the environment.
type Credential string

const masked = "xxxxx"

// Reveal returns the secret itself, for the code that checks requests.
func (c Credential) Reveal() string { return string(c) }

// IsSet reports whether the secret is configured.
func (c Credential) IsSet() bool { return c != "" }

// String masks the value.
func (c Credential) String() string {
	if c == "" {
		return ""
	}
	return masked
}

// GoString masks the value for %#v.
func (c Credential) GoString() string { return fmt.Sprintf("config.Credential(%q)", c.String()) }

// Format masks the value for every fmt verb (%s, %v, %q, %x, …).
func (c Credential) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, c.GoString())
		return
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), c.String())
}

// LogValue masks the value in slog records.
func (c Credential) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalYAML masks the value.
func (c Credential) MarshalYAML() (any, error) { return c.String(), nil }

// MarshalJSON masks the value.
func (c Credential) MarshalJSON() ([]byte, error) { return []byte(`"` + c.String() + `"`), nil }

// UnmarshalYAML refuses a secret written in the configuration file.
func (c *Credential) UnmarshalYAML(n *yaml.Node) error {
	return fmt.Errorf("line %d: secrets are not read from the configuration file: give a file (token_file, secret_file) or set the environment variable", n.Line)
}
