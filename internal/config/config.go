// Package config is shiplog's configuration: one typed struct, loaded
// strictly from shiplog.yaml (unknown keys are errors, with file and line),
// overridden by command-line flags, validated at start, and printable with
// secrets masked.
//
// Every key has a flag of the same dotted path with '_' written '-':
// `web.listen_address` is `--web.listen-address`.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the whole configuration.
type Config struct {
	// DB is the store: a SQLite file path (default: shiplog.db in the
	// user's data directory) or a postgres:// DSN.
	DB     Secret `yaml:"db"`
	Web    Web    `yaml:"web"`
	Log    Log    `yaml:"log"`
	Git    Git    `yaml:"git"`
	Ingest Ingest `yaml:"ingest"`
	Kube   Kube   `yaml:"kube"`
	ArgoCD ArgoCD `yaml:"argocd"`
	// Teams maps each team to the apps it owns.
	Teams   map[string][]string `yaml:"teams"`
	Metrics Metrics             `yaml:"metrics"`
	// Policies are the rules deployments are checked against
	// (docs/policies.md); without the key, the starter set.
	Policies   []PolicyRule `yaml:"policies"`
	Policy     Policy       `yaml:"policy"`
	Efficiency Efficiency   `yaml:"efficiency"`
	Sprints    Sprints      `yaml:"sprints"`
	// Auth is access control for the UI, the API and the live stream.
	Auth Auth `yaml:"auth"`
}

// Git configures reading GitOps repositories (shiplog import git).
type Git struct {
	// CacheDir is where repositories given by URL are cloned.
	CacheDir string `yaml:"cache_dir"`
	// Bots are extra author names or e-mail local parts counted as
	// automation, besides names ending in "[bot]" and the built-in list.
	Bots []string `yaml:"bots"`
	// Rules override how apps and environments are recognised, first match wins.
	Rules []GitRule `yaml:"rules"`
}

// GitRule maps files whose path matches a regular expression to an app
// and/or environment; $1 or ${name} refer to capture groups.
type GitRule struct {
	Path string `yaml:"path"`
	App  string `yaml:"app"`
	Env  string `yaml:"env"`
}

// Web configures the HTTP server.
type Web struct {
	ListenAddress   string        `yaml:"listen_address"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{
		DB:     Secret(DefaultDBPath()),
		Web:    Web{ListenAddress: "127.0.0.1:8080", ShutdownTimeout: 15 * time.Second},
		Log:    Log{Level: "info", Format: "text"},
		Git:    Git{CacheDir: DefaultCacheDir()},
		Ingest: defaultIngest(),
		Auth:   defaultAuth(),
	}
}

// DefaultCacheDir is shiplog/repos under the user's cache directory.
func DefaultCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "shiplog", "repos")
	}
	return filepath.Join(os.TempDir(), "shiplog-repos")
}

// DefaultDBPath is shiplog.db under $XDG_DATA_HOME/shiplog (or
// ~/.local/share/shiplog), falling back to the working directory.
func DefaultDBPath() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "shiplog", "shiplog.db")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "shiplog", "shiplog.db")
	}
	return "shiplog.db"
}

// Load reads a YAML file over the defaults. Unknown keys, wrong types and
// several documents are errors naming the file and line.
func Load(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, b)
}

// Parse decodes YAML config bytes over the defaults; name is used in errors.
func Parse(name string, b []byte) (Config, error) {
	cfg := Default()
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return Config{}, fmt.Errorf("config %s: %s", name, strings.Join(te.Errors, "; "))
		}
		return Config{}, fmt.Errorf("config %s: %w", name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("config %s: line %d: only one YAML document is allowed", name, extra.Line)
	}
	return cfg, nil
}

// Validate checks values that decoding cannot: it returns every problem found.
// It reads the environment to find ingest secrets given both as a file and
// in a variable, but reads no secret: LoadSecrets does, when the server starts.
func (c *Config) Validate() error {
	var errs []error
	if strings.TrimSpace(string(c.DB)) == "" {
		errs = append(errs, errors.New("db: empty: give a SQLite file path or a postgres:// DSN"))
	}
	if _, _, err := net.SplitHostPort(c.Web.ListenAddress); err != nil {
		errs = append(errs, fmt.Errorf("web.listen_address: %q is not host:port: %v", c.Web.ListenAddress, err))
	}
	if c.Web.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("web.shutdown_timeout: %s must be positive", c.Web.ShutdownTimeout))
	}
	for i, r := range c.Git.Rules {
		if r.Path == "" {
			errs = append(errs, fmt.Errorf("git.rules[%d].path: empty", i))
		} else if _, err := regexp.Compile(r.Path); err != nil {
			errs = append(errs, fmt.Errorf("git.rules[%d].path: %v", i, err))
		}
		if r.App == "" && r.Env == "" {
			errs = append(errs, fmt.Errorf("git.rules[%d]: sets neither app nor env", i))
		}
	}
	errs = append(errs, c.Metrics.validate(c)...)
	errs = append(errs, c.validateSources()...)
	errs = append(errs, c.validatePolicies()...)
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level: %q is not one of debug, info, warn, error", c.Log.Level))
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log.format: %q is not one of text, json", c.Log.Format))
	}
	errs = append(errs, c.Ingest.validate(os.LookupEnv)...)
	errs = append(errs, c.Auth.validate(os.LookupEnv)...)
	return errors.Join(errs...)
}

// String prints the configuration as YAML with secrets masked.
func (c Config) String() string {
	b, err := yaml.Marshal(c)
	if err != nil {
		return fmt.Sprintf("<config: %v>", err)
	}
	return string(b)
}

// Secret is a string that is never printed: it marshals masked.
// A store DSN is a Secret because it may carry a password.
type Secret string

// MarshalYAML masks the value; a SQLite path or a DSN without a password
// prints as is.
func (s Secret) MarshalYAML() (any, error) { return s.Masked(), nil }

// Masked returns the value with any password replaced by "xxxxx"; values
// that are not URLs with credentials are returned unchanged.
func (s Secret) Masked() string {
	v := string(s)
	scheme, rest, ok := strings.Cut(v, "://")
	if !ok {
		return v
	}
	creds, host, ok := strings.Cut(rest, "@")
	if !ok {
		return v
	}
	user, _, hasPass := strings.Cut(creds, ":")
	if !hasPass {
		return v
	}
	return scheme + "://" + user + ":xxxxx@" + host
}

// IsPostgres reports whether the DB setting names a PostgreSQL database.
func (c *Config) IsPostgres() bool {
	d := string(c.DB)
	return strings.HasPrefix(d, "postgres://") || strings.HasPrefix(d, "postgresql://")
}
