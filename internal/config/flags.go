package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// flagDef binds one command-line flag to one configuration key.
type flagDef struct {
	name  string // dotted flag name
	usage string
	def   func(Config) string
	set   func(*Config, string) error
}

var flagDefs = []flagDef{
	{"db", "store: SQLite file path or postgres:// DSN (config key db)",
		func(c Config) string { return string(c.DB) },
		func(c *Config, v string) error { c.DB = Secret(v); return nil }},
	{"log.level", "log level: debug, info, warn, error",
		func(c Config) string { return c.Log.Level },
		func(c *Config, v string) error { c.Log.Level = v; return nil }},
	{"log.format", "log format: text or json",
		func(c Config) string { return c.Log.Format },
		func(c *Config, v string) error { c.Log.Format = v; return nil }},
	{"web.listen-address", "address the HTTP server listens on (config key web.listen_address)",
		func(c Config) string { return c.Web.ListenAddress },
		func(c *Config, v string) error { c.Web.ListenAddress = v; return nil }},
	{"web.shutdown-timeout", "how long a graceful shutdown waits for requests in flight",
		func(c Config) string { return c.Web.ShutdownTimeout.String() },
		func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("--web.shutdown-timeout: %w", err)
			}
			c.Web.ShutdownTimeout = d
			return nil
		}},
	{"auth.mode", "access control: none (local use only), token or oidc (config key auth.mode)",
		func(c Config) string { return c.Auth.Mode },
		func(c *Config, v string) error { c.Auth.Mode = v; return nil }},
	{"ingest.max-body-bytes", "largest request body the /ingest endpoints accept, in bytes (config key ingest.max_body_bytes)",
		func(c Config) string { return strconv.FormatInt(c.Ingest.MaxBodyBytes, 10) },
		func(c *Config, v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return fmt.Errorf("--ingest.max-body-bytes: %q is not a whole number of bytes", v)
			}
			c.Ingest.MaxBodyBytes = n
			return nil
		}},
	{"ingest.token-file", "file holding the bearer token of /ingest/cloudevents, /ingest/argocd and /ingest/alertmanager (else $" + EnvIngestToken + ")",
		func(c Config) string { return c.Ingest.TokenFile },
		func(c *Config, v string) error { c.Ingest.TokenFile = v; return nil }},
	{"ingest.github.secret-file", "file holding the GitHub webhook secret (else $" + EnvGitHubSecret + ")",
		func(c Config) string { return c.Ingest.GitHub.SecretFile },
		func(c *Config, v string) error { c.Ingest.GitHub.SecretFile = v; return nil }},
	{"ingest.gitlab.secret-file", "file holding the GitLab webhook secret token (else $" + EnvGitLabSecret + ")",
		func(c Config) string { return c.Ingest.GitLab.SecretFile },
		func(c *Config, v string) error { c.Ingest.GitLab.SecretFile = v; return nil }},
	{"ingest.argocd.cluster", "cluster name recorded on events from /ingest/argocd",
		func(c Config) string { return c.Ingest.ArgoCD.Cluster },
		func(c *Config, v string) error { c.Ingest.ArgoCD.Cluster = v; return nil }},
	{"ingest.alertmanager.app-labels", "comma-separated alert labels naming the application, first present wins",
		func(c Config) string { return strings.Join(c.Ingest.Alertmanager.AppLabels, ",") },
		func(c *Config, v string) error { c.Ingest.Alertmanager.AppLabels = splitList(v); return nil }},
	{"ingest.alertmanager.env-labels", "comma-separated alert labels naming the environment, first present wins",
		func(c Config) string { return strings.Join(c.Ingest.Alertmanager.EnvLabels, ",") },
		func(c *Config, v string) error { c.Ingest.Alertmanager.EnvLabels = splitList(v); return nil }},
}

// IngestFlags names the flags of the ingest section, for the commands that
// serve the /ingest endpoints.
func IngestFlags() []string {
	return []string{
		"ingest.max-body-bytes", "ingest.token-file", "ingest.github.secret-file", "ingest.gitlab.secret-file",
		"ingest.argocd.cluster", "ingest.alertmanager.app-labels", "ingest.alertmanager.env-labels",
	}
}

// splitList reads a comma-separated flag value; an empty value is an empty list.
func splitList(v string) []string {
	var out []string
	for item := range strings.SplitSeq(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// AddFlags registers the named configuration flags on fs, with the defaults
// as their displayed default values.
func AddFlags(fs *pflag.FlagSet, names ...string) {
	def := Default()
	for _, n := range names {
		for _, f := range flagDefs {
			if f.name == n {
				fs.String(f.name, f.def(def), f.usage)
			}
		}
	}
}

// ApplyFlags overlays the configuration flags that were set on fs onto cfg.
func ApplyFlags(cfg *Config, fs *pflag.FlagSet) error {
	for _, f := range flagDefs {
		fl := fs.Lookup(f.name)
		if fl == nil || !fl.Changed {
			continue
		}
		if err := f.set(cfg, fl.Value.String()); err != nil {
			return err
		}
	}
	return nil
}
