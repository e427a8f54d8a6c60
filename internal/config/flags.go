package config

import (
	"fmt"
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
