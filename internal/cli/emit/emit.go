// Package emit is `shiplog emit`: send one CDEvent — an artifact published,
// a pipeline run finished, a service deployed, an incident detected or
// resolved — from a CI job or a script to a shiplog server, as a structured
// CloudEvent on /ingest/cloudevents.
package emit

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/shiplog-dev/shiplog/internal/cli/cmdutil"
	"github.com/shiplog-dev/shiplog/internal/source/cloudevents"
	"github.com/shiplog-dev/shiplog/internal/version"
)

// The event kinds, one subcommand each.
const (
	KindArtifactPublished   = "artifact-published"
	KindPipelineRunFinished = "pipelinerun-finished"
	KindServiceDeployed     = "service-deployed"
	KindIncidentDetected    = "incident-detected"
	KindIncidentResolved    = "incident-resolved"
)

// Environment variables read by emit: the server is the one the reading
// commands use too, the token is the ingest token, not an API token.
const (
	EnvServer = cmdutil.ServerEnv
	EnvToken  = "SHIPLOG_INGEST_TOKEN"
)

// DefaultSource is the CloudEvents source when --source is not given.
const DefaultSource = "/shiplog/emit"

// maxRetryAfter bounds how long a server's Retry-After can make emit wait.
const maxRetryAfter = 2 * time.Minute

// Options are emit's inputs: the flags, and seams for tests.
type Options struct {
	Factory *cmdutil.Factory
	Kind    string // the subcommand

	Server    string
	TokenFile string
	DryRun    bool
	Retries   int
	Timeout   time.Duration
	Source    string
	EventID   string
	Time      string

	// artifact-published
	Image, Digest, SourceCommit, SourceRepo, PipelineRun string
	// pipelinerun-finished
	Name, RunID, Outcome, URL, SHA, Branch string
	// service-deployed, incident-* (also SourceCommit)
	App, Env, Artifact string
	// incident-*
	IncidentID, Title string

	HTTPClient *http.Client                                     // default: a new client
	Now        func() time.Time                                 // default: time.Now
	NewID      func() (string, error)                           // default: a random UUID
	Sleep      func(ctx context.Context, d time.Duration) error // default: a timer that ctx cancels
	Backoff    time.Duration                                    // first retry delay, doubled each time (default 1s)
	MaxBackoff time.Duration                                    // default 30s
}

// NewCmdEmit returns the command and its subcommands; runF replaces the run
// function in tests.
func NewCmdEmit(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{Factory: f}
	cmd := &cobra.Command{
		Use:   "emit",
		Short: "Send a CDEvent (artifact, pipeline run, deployment, incident) to a shiplog server",
		Long: `Send one CDEvent to a shiplog server, as a structured CloudEvent posted to
<server>/ingest/cloudevents with the ingest token as a bearer token.

The server is --server or $SHIPLOG_SERVER; the token is read from --token-file,
else $SHIPLOG_INGEST_TOKEN. Connection errors, 429 and 5xx answers are retried
with exponential backoff (--retries times, honouring Retry-After); other
answers are not. Every attempt carries the same CloudEvents id, so the server
stores the event once however many attempts reach it; give --event-id to keep
the id across re-runs of a CI job too.

--dry-run prints the CloudEvent and sends nothing.`,
		Example: `  shiplog emit artifact-published --image ghcr.io/acme/api:1.4.0 \
    --digest sha256:2f1e… --source-commit "$GITHUB_SHA"
  shiplog emit pipelinerun-finished --name api-ci --run-id "$GITHUB_RUN_ID" --outcome success
  shiplog emit service-deployed --app api --env production --artifact ghcr.io/acme/api@sha256:2f1e…
  shiplog emit incident-detected --id INC-42 --app api --env production --title "Error rate above 5%"`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&opts.Server, "server", "", "shiplog server URL, e.g. https://shiplog.example.com (default $"+EnvServer+")")
	pf.StringVar(&opts.TokenFile, "token-file", "", "file holding the ingest token (default: $"+EnvToken+")")
	pf.BoolVar(&opts.DryRun, "dry-run", false, "print the CloudEvent JSON and send nothing")
	pf.IntVar(&opts.Retries, "retries", 5, "retries after a connection error, 429 or 5xx")
	pf.DurationVar(&opts.Timeout, "timeout", 10*time.Second, "time limit of each attempt")
	pf.StringVar(&opts.Source, "source", DefaultSource, "CloudEvents source of the event (with the id, its idempotency key)")
	pf.StringVar(&opts.EventID, "event-id", "", "CloudEvents id (default: a random UUID, the same on every retry)")
	pf.StringVar(&opts.Time, "time", "", "when it happened, RFC 3339 (default: now)")

	sub := func(kind, short string, flags func(fs *pflag.FlagSet)) {
		c := &cobra.Command{
			Use:   kind,
			Short: short,
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				opts.Kind = kind
				if runF != nil {
					return runF(cmd.Context(), opts)
				}
				return run(cmd.Context(), opts)
			},
		}
		flags(c.Flags())
		cmd.AddCommand(c)
	}
	sub(KindArtifactPublished, "An image was pushed: its digest and the commit it was built from", func(fs *pflag.FlagSet) {
		fs.StringVar(&opts.Image, "image", "", "image reference, e.g. ghcr.io/acme/api:1.4.0 (required)")
		fs.StringVar(&opts.Digest, "digest", "", "image digest, sha256:<64 hex digits> (required unless --image ends with @sha256:…)")
		fs.StringVar(&opts.SourceCommit, "source-commit", "", "commit SHA the image was built from (required)")
		fs.StringVar(&opts.SourceRepo, "source-repo", "", "URL of the source repository")
		fs.StringVar(&opts.PipelineRun, "pipeline-run", "", "URL of the CI run that built it")
	})
	sub(KindPipelineRunFinished, "A CI run finished, with its outcome", func(fs *pflag.FlagSet) {
		fs.StringVar(&opts.Name, "name", "", "pipeline or workflow name (required)")
		fs.StringVar(&opts.RunID, "run-id", "", "run id, unique per attempt (required)")
		fs.StringVar(&opts.Outcome, "outcome", "", "success, failure, cancel or error (required)")
		fs.StringVar(&opts.URL, "url", "", "URL of the run")
		fs.StringVar(&opts.SHA, "sha", "", "commit SHA the run built")
		fs.StringVar(&opts.Branch, "branch", "", "branch the run built")
	})
	sub(KindServiceDeployed, "An artifact went live for an application in an environment", func(fs *pflag.FlagSet) {
		fs.StringVar(&opts.App, "app", "", "application (required)")
		fs.StringVar(&opts.Env, "env", "", "environment (required)")
		fs.StringVar(&opts.Artifact, "artifact", "", "image reference with a tag or digest, or a package URL (required)")
		fs.StringVar(&opts.SourceCommit, "source-commit", "", "commit SHA the artifact was built from")
	})
	incident := func(fs *pflag.FlagSet) {
		fs.StringVar(&opts.IncidentID, "id", "", "incident id, the same for detected and resolved (required)")
		fs.StringVar(&opts.App, "app", "", "application (required)")
		fs.StringVar(&opts.Env, "env", "", "environment (required)")
		fs.StringVar(&opts.Title, "title", "", "what is wrong, one line")
		fs.StringVar(&opts.Artifact, "artifact", "", "image reference or package URL the incident is attributed to")
	}
	sub(KindIncidentDetected, "An incident started", incident)
	sub(KindIncidentResolved, "An incident ended", incident)
	return cmd
}

func usage(format string, args ...any) error {
	return cmdutil.UsageError(fmt.Errorf(format, args...))
}

func (o *Options) defaults() {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.NewID == nil {
		o.NewID = newUUID
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
}

func (o *Options) getenv(name string) string {
	if o.Factory != nil && o.Factory.Getenv != nil {
		return o.Factory.Getenv(name)
	}
	return ""
}

func run(ctx context.Context, o *Options) error {
	o.defaults()
	if o.Retries < 0 {
		return usage("--retries: %d is negative", o.Retries)
	}
	if o.Timeout <= 0 {
		return usage("--timeout: %s must be positive", o.Timeout)
	}
	id := o.EventID
	if id == "" {
		var err error
		if id, err = o.NewID(); err != nil {
			return fmt.Errorf("emit: event id: %w", err)
		}
	}
	at := o.Now().UTC().Truncate(time.Millisecond)
	if o.Time != "" {
		t, err := time.Parse(time.RFC3339Nano, o.Time)
		if err != nil {
			return usage("--time: %q is not an RFC 3339 time (2006-01-02T15:04:05Z)", o.Time)
		}
		at = t.UTC()
	}
	ce, err := cloudEvent(o, id, at)
	if err != nil {
		return err
	}
	body, err := cloudevents.MarshalStructured(ce)
	if err != nil {
		return cmdutil.UsageError(err) // a bad --source or --event-id
	}
	if o.DryRun {
		_, err := fmt.Fprintf(o.Factory.IO.Out, "%s\n", body)
		return err
	}
	endpoint, err := o.endpoint()
	if err != nil {
		return err
	}
	token, err := o.token()
	if err != nil {
		return err
	}
	return o.send(ctx, endpoint, token, body, ce)
}

// endpoint is the server's CloudEvents URL.
func (o *Options) endpoint() (string, error) {
	server := o.Server
	if server == "" {
		server = o.getenv(EnvServer)
	}
	if server == "" {
		return "", usage("no server: give --server or set $%s", EnvServer)
	}
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", usage("server %q is not an http:// or https:// URL", server)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	if !strings.HasSuffix(u.Path, "/ingest/cloudevents") {
		u.Path += "/ingest/cloudevents"
	}
	u.RawQuery, u.Fragment = "", ""
	return u.String(), nil
}

// token reads the ingest token from --token-file, else the environment.
func (o *Options) token() (string, error) {
	if o.TokenFile != "" {
		b, err := os.ReadFile(o.TokenFile)
		if err != nil {
			return "", usage("--token-file: %v", err)
		}
		t := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if t == "" {
			return "", usage("--token-file: %s is empty", o.TokenFile)
		}
		return t, nil
	}
	if t := o.getenv(EnvToken); t != "" {
		return t, nil
	}
	return "", usage("no ingest token: set $%s or give --token-file", EnvToken)
}

// answer is what the server says about a delivery.
type answer struct {
	Status     string `json:"status"`
	Events     int    `json:"events"`
	Duplicates int    `json:"duplicates"`
	Reason     string `json:"reason"`
	Error      string `json:"error"`
}

// send posts body until the server answers something other than a
// connection error, 429 or 5xx, or the retries are spent.
func (o *Options) send(ctx context.Context, endpoint, token string, body []byte, ce cloudevents.Event) error {
	what := fmt.Sprintf("%s %s", ce.Type, ce.ID)
	for attempt := 1; ; attempt++ {
		code, hdr, resp, err := o.post(ctx, endpoint, token, body)
		var failure error
		var retryAfter time.Duration
		switch {
		case err != nil && ctx.Err() != nil:
			return fmt.Errorf("emit %s: %w", what, ctx.Err())
		case err != nil:
			failure = err
		case code == http.StatusTooManyRequests || code >= 500:
			failure = fmt.Errorf("%s answered %s%s", endpoint, statusText(code), serverMessage(resp))
			retryAfter = parseRetryAfter(hdr.Get("Retry-After"), o.Now())
		case code >= 200 && code < 300:
			return o.report(what, code, resp)
		default:
			return fmt.Errorf("emit %s: %s answered %s%s (not retried)", what, endpoint, statusText(code), serverMessage(resp))
		}
		if attempt > o.Retries {
			return fmt.Errorf("emit %s: giving up after %d attempt(s): %w", what, attempt, failure)
		}
		delay := o.MaxBackoff
		if attempt <= 30 {
			delay = min(o.Backoff<<(attempt-1), o.MaxBackoff)
		}
		if retryAfter > 0 {
			delay = min(retryAfter, maxRetryAfter)
		}
		fmt.Fprintf(o.Factory.IO.ErrOut, "shiplog emit: attempt %d of %d: %v; retrying in %s\n", attempt, o.Retries+1, failure, delay)
		if err := o.Sleep(ctx, delay); err != nil {
			return fmt.Errorf("emit %s: %w", what, err)
		}
	}
}

// post makes one attempt; err is a transport error.
func (o *Options) post(ctx context.Context, endpoint, token string, body []byte) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Content-Type", cloudevents.MediaTypeStructured)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("User-Agent", "shiplog-emit/"+version.Get().Version)
	resp, err := o.HTTPClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("reading the answer: %w", err)
	}
	return resp.StatusCode, resp.Header, b, nil
}

// report prints what the server stored; an event the server ignores is a
// failure, since the caller meant it to be recorded.
func (o *Options) report(what string, code int, resp []byte) error {
	var a answer
	if json.Unmarshal(resp, &a) != nil || a.Status == "" {
		_, err := fmt.Fprintf(o.Factory.IO.Out, "sent %s (%s)\n", what, statusText(code))
		return err
	}
	if a.Status == "ignored" {
		return fmt.Errorf("emit %s: the server accepted the event but does not record it: %s", what, a.Reason)
	}
	_, err := fmt.Fprintf(o.Factory.IO.Out, "sent %s: %s (%d new, %d already stored)\n", what, a.Status, a.Events, a.Duplicates)
	return err
}

func statusText(code int) string {
	return strconv.Itoa(code) + " " + http.StatusText(code)
}

// serverMessage is ": <error>" from a JSON error answer, else a bounded
// excerpt of the body.
func serverMessage(b []byte) string {
	var a answer
	if json.Unmarshal(b, &a) == nil && a.Error != "" {
		return ": " + a.Error
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	if s == "" {
		return ""
	}
	return ": " + s
}

// parseRetryAfter reads a Retry-After header: seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(min(n, int(maxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// newUUID returns a random (version 4) UUID.
func newUUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}
