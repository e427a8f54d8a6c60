// Package cmdutil holds what every shiplog command shares: the IO streams,
// configuration loading from file and flags, the logger, exit codes, and
// the client of a server's API for the commands that read either the
// store or a server.
package cmdutil

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/shiplog-dev/shiplog/internal/config"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// Exit codes, documented in docs/cli.md.
const (
	ExitOK      = 0 // success
	ExitFailure = 1 // the command failed
	ExitUsage   = 2 // bad flags, arguments or configuration
	ExitSchema  = 3 // the store's schema does not match this binary
)

// IOStreams are a command's standard streams, injected for tests.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// Factory gives commands their dependencies.
type Factory struct {
	IO IOStreams
	// Getenv reads the environment (os.Getenv unless a test replaces it).
	Getenv func(string) string
}

// ConfigFileEnv names the environment variable that may point at the
// configuration file when --config.file is not given.
const ConfigFileEnv = "SHIPLOG_CONFIG"

// DBEnv names the environment variable that may give the store (a
// PostgreSQL DSN with its password, from a Kubernetes Secret): it
// overrides the file's db, and --db overrides it.
const DBEnv = "SHIPLOG_DB"

// Config loads the configuration: defaults, then the file given by
// --config.file (or $SHIPLOG_CONFIG), then $SHIPLOG_DB, then the flags set
// on cmd.
func (f *Factory) Config(cmd *cobra.Command) (config.Config, error) {
	cfg := config.Default()
	path, _ := cmd.Flags().GetString("config.file")
	if path == "" && f.Getenv != nil {
		path = f.Getenv(ConfigFileEnv)
	}
	if path != "" {
		var err error
		if cfg, err = config.Load(path); err != nil {
			return cfg, UsageError(err)
		}
	}
	if f.Getenv != nil {
		if db := f.Getenv(DBEnv); db != "" {
			cfg.DB = config.Secret(db)
		}
	}
	if err := config.ApplyFlags(&cfg, cmd.Flags()); err != nil {
		return cfg, UsageError(err)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, UsageError(fmt.Errorf("invalid configuration:\n%w", err))
	}
	return cfg, nil
}

// Logger returns the logger the configuration asks for, writing to ErrOut.
func (f *Factory) Logger(cfg config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(f.IO.ErrOut, opts))
	}
	return slog.New(slog.NewTextHandler(f.IO.ErrOut, opts))
}

// ExitError carries an exit code with the error to print.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// UsageError marks err as a usage or configuration problem (exit code 2).
func UsageError(err error) error { return &ExitError{Code: ExitUsage, Err: err} }

// ExitCode returns the exit code for an error a command returned.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	var se *store.SchemaError
	if errors.As(err, &se) {
		return ExitSchema
	}
	return ExitFailure
}

// NewFactory returns a factory over the process's real streams.
func NewFactory(in io.Reader, out, errOut io.Writer) *Factory {
	return &Factory{IO: IOStreams{In: in, Out: out, ErrOut: errOut}, Getenv: os.Getenv}
}
