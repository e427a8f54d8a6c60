// Package where is `shiplog where`: where is my change, in the terminal.
package where

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/shiplog-dev/shiplog/internal/cli/cmdutil"
	"github.com/shiplog-dev/shiplog/internal/config"
	"github.com/shiplog-dev/shiplog/internal/engine/trace"
)

// Exit codes of --wait, besides cmdutil's.
const (
	ExitTimeout = 4 // --wait elapsed before the change was live in --env
	ExitFailed  = 5 // the deployment that shipped the change to --env failed
)

// Options are the command's inputs.
type Options struct {
	Config   config.Config
	Factory  *cmdutil.Factory
	Ref      string
	Env      string
	Wait     time.Duration
	Interval time.Duration
	Output   string
	Now      func() time.Time
	Remote   cmdutil.Remote
	// Client reads a server's API instead of the store; nil: the store.
	Client *cmdutil.Client
}

// NewCmdWhere returns the command; runF replaces the run function in tests.
func NewCmdWhere(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{Factory: f, Now: time.Now, Interval: 2 * time.Second}
	cmd := &cobra.Command{
		Use:   "where <sha|#PR|branch>",
		Short: "Where is my change: the stages it reached, per environment",
		Long: `Show a change's trace: when it was committed, reviewed, built and published,
and per environment when its manifest commit landed, Argo CD synced it and it
went live, with the Knative revision and its share of traffic. A stage no
source recorded is shown as unknown, never guessed.

With --env and --wait, block until the change is live there: a CI gate.
Exit codes: 0 live, 4 timed out, 5 the deployment failed (see docs/cli.md).

With --server (or $SHIPLOG_SERVER), read a shiplog server's API instead of
the store, with the API token in $SHIPLOG_TOKEN or --token-file.`,
		Example: `  shiplog where 4d09b7b
  shiplog where '#123' -o json
  shiplog where 4d09b7b --env prod --wait 10m
  SHIPLOG_TOKEN=… shiplog where "$GITHUB_SHA" --env prod --wait 15m --server https://shiplog.example.com`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.Config(cmd)
			if err != nil {
				return err
			}
			opts.Config, opts.Ref = cfg, args[0]
			if err := cmdutil.CheckOutput(opts.Output); err != nil {
				return err
			}
			if opts.Wait > 0 && opts.Env == "" {
				return cmdutil.UsageError(errors.New("--wait needs --env: the environment to wait for"))
			}
			if _, err := parseRef(opts.Ref); err != nil {
				return cmdutil.UsageError(err)
			}
			if opts.Client, err = f.Client(cmd, opts.Remote); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Env, "env", "", "only this environment (needed by --wait)")
	cmd.Flags().DurationVar(&opts.Wait, "wait", 0, "wait up to this long for the change to be live in --env")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "table", "table, json or yaml")
	cmdutil.AddRemoteFlags(cmd, &opts.Remote)
	return cmd
}

var hexRef = regexp.MustCompile(`^[0-9a-fA-F]{4,40}$`)

// parseRef reads "#123" as a pull request; hexadecimal digits as a SHA
// (at least 4 with a letter, at least 7 if all digits); a shorter number as a
// pull request; anything else as a branch.
func parseRef(ref string) (trace.Query, error) {
	ref = strings.TrimSpace(ref)
	switch {
	case ref == "":
		return trace.Query{}, errors.New("give a commit SHA, #PR or branch")
	case strings.HasPrefix(ref, "#"):
		n, err := strconv.ParseInt(ref[1:], 10, 64)
		if err != nil || n <= 0 {
			return trace.Query{}, fmt.Errorf("%q is not a pull request number", ref)
		}
		return trace.Query{PR: n}, nil
	case hexRef.MatchString(ref) && (strings.Trim(ref, "0123456789") != "" || len(ref) >= 7):
		return trace.Query{SHA: strings.ToLower(ref)}, nil
	}
	if n, err := strconv.ParseInt(ref, 10, 64); err == nil && n > 0 {
		return trace.Query{PR: n}, nil
	}
	return trace.Query{Branch: ref}, nil
}

func run(ctx context.Context, opts *Options) error {
	q, _ := parseRef(opts.Ref)
	var find func(context.Context) ([]trace.Trace, error)
	where := "in the store"
	if c := opts.Client; c != nil {
		find, where = remoteTraces(c, q), "on "+c.URL()
	} else {
		st, eng, err := opts.Factory.OpenEngine(ctx, opts.Config, opts.Now)
		if err != nil {
			return err
		}
		defer st.Close()
		find = func(ctx context.Context) ([]trace.Trace, error) { return eng.Traces(ctx, q) }
	}
	deadline := opts.Now().Add(opts.Wait)
	for {
		traces, err := find(ctx)
		switch {
		case err == nil:
		case opts.Wait > 0 && cmdutil.IsTransient(err) && opts.Now().Before(deadline):
			// The server is restarting, overloaded or out of reach: keep waiting.
			fmt.Fprintf(opts.Factory.IO.ErrOut, "shiplog where: %v; trying again in %s\n", err, opts.Interval)
			if err := sleep(ctx, opts.Interval); err != nil {
				return err
			}
			continue
		default:
			return err
		}
		if opts.Env != "" {
			traces = onlyEnv(traces, opts.Env)
		}
		state := waitState(traces, opts.Env)
		if opts.Wait <= 0 || state != "" || !opts.Now().Before(deadline) {
			if err := write(opts, traces); err != nil {
				return err
			}
			switch {
			case len(traces) == 0:
				return fmt.Errorf("no change matches %q %s", opts.Ref, where)
			case opts.Wait > 0 && state == "failed":
				return &cmdutil.ExitError{Code: ExitFailed, Err: fmt.Errorf("the deployment of %s to %s failed", opts.Ref, opts.Env)}
			case opts.Wait > 0 && state == "":
				return &cmdutil.ExitError{Code: ExitTimeout, Err: fmt.Errorf("%s is not live in %s after %s", opts.Ref, opts.Env, opts.Wait)}
			}
			return nil
		}
		if err := sleep(ctx, opts.Interval); err != nil {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// remoteTraces reads the traces of q from the server's /api/v1/traces, at
// each call: --wait polls it.
func remoteTraces(c *cmdutil.Client, q trace.Query) func(context.Context) ([]trace.Trace, error) {
	return func(ctx context.Context) ([]trace.Trace, error) {
		p := cmdutil.Query("sha", q.SHA, "branch", q.Branch)
		if q.PR != 0 {
			p.Set("pr", strconv.FormatInt(q.PR, 10))
		}
		return cmdutil.GetAll[trace.Trace](ctx, c, "/api/v1/traces", p)
	}
}

func onlyEnv(traces []trace.Trace, env string) []trace.Trace {
	for i := range traces {
		var kept []trace.EnvTrace
		for _, e := range traces[i].Envs {
			if e.Env == env {
				kept = append(kept, e)
			}
		}
		traces[i].Envs = kept
	}
	return traces
}

// waitState is "live" when every change has reached env and is live there,
// "failed" when one's deployment there failed, "" otherwise.
func waitState(traces []trace.Trace, env string) string {
	if env == "" || len(traces) == 0 {
		return ""
	}
	state := "live"
	for _, t := range traces {
		if len(t.Envs) == 0 {
			state = ""
			continue
		}
		for _, e := range t.Envs {
			switch {
			case len(e.Failures) > 0:
				return "failed"
			case !e.Live:
				state = ""
			}
		}
	}
	return state
}

func write(opts *Options, traces []trace.Trace) error {
	out := opts.Factory.IO.Out
	if opts.Output != "table" {
		if traces == nil {
			traces = []trace.Trace{}
		}
		return cmdutil.Encode(out, opts.Output, traces)
	}
	for i, t := range traces {
		if i > 0 {
			fmt.Fprintln(out)
		}
		writeTrace(out, t)
	}
	return nil
}

func writeTrace(w io.Writer, t trace.Trace) {
	head := short(t.SHA)
	if t.Subject != "" {
		head += " " + t.Subject
	}
	if t.PR != 0 {
		head += fmt.Sprintf(" (#%d)", t.PR)
	}
	if t.Author != "" {
		head += " by " + t.Author
	}
	fmt.Fprintln(w, head)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, s := range t.Stages {
		row(tw, "", s)
	}
	for _, e := range t.Envs {
		status := "not live"
		switch {
		case len(e.Failures) > 0:
			status = "failed: " + strings.Join(e.Failures, ", ")
		case e.Live:
			status = "live"
		}
		if e.TrafficPercent != nil {
			status += fmt.Sprintf(", %d %% of traffic", *e.TrafficPercent)
		}
		if e.Revision != "" {
			status += " on " + e.Revision
		}
		fmt.Fprintf(tw, "%s\t\t%s\t\n", e.Env, status)
		for _, s := range e.Stages {
			row(tw, "  ", s)
		}
	}
	_ = tw.Flush()
}

func row(w io.Writer, indent string, s trace.Stage) {
	when, took := "unknown", ""
	if !s.At.IsZero() {
		when = s.At.UTC().Format("2006-01-02 15:04")
		if s.State == trace.Inferred {
			when += " (inferred)"
		}
	}
	if s.Duration != nil {
		took = "+" + s.Duration.Round(time.Minute).String()
	}
	detail := s.Detail
	if s.Source != "" && s.State != trace.Unknown {
		detail = strings.TrimSpace(s.Source + " " + detail)
	}
	fmt.Fprintf(w, "%s  %s\t%s\t%s\t%s\n", indent, s.Name, when, took, detail)
}

func short(s string) string {
	if len(s) > 7 {
		return s[:7]
	}
	return s
}
