package cmdutil

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/shiplog-dev/shiplog/internal/api"
	"github.com/shiplog-dev/shiplog/internal/config"
	"github.com/shiplog-dev/shiplog/internal/version"
)

// Environment variables of server mode. ServerEnv is also where `shiplog
// emit` finds its server.
const (
	ServerEnv = "SHIPLOG_SERVER"
	TokenEnv  = "SHIPLOG_TOKEN"
)

// DefaultTimeout bounds each request to a server, reading the answer
// included.
const DefaultTimeout = 60 * time.Second

// Remote holds the flags of a command that reads either the store or a
// server's JSON API.
type Remote struct {
	Server    string
	TokenFile string
}

// AddRemoteFlags adds --server and --token-file to cmd. The token itself
// is never a flag: flags end up in shell history and process listings.
func AddRemoteFlags(cmd *cobra.Command, r *Remote) {
	cmd.Flags().StringVar(&r.Server, "server", "", "read through this shiplog server's API instead of the store, e.g. https://shiplog.example.com (default $"+ServerEnv+")")
	cmd.Flags().StringVar(&r.TokenFile, "token-file", "", "file holding the API token for the server (default $"+TokenEnv+")")
}

// Client returns the API client of a command with Remote flags, or nil
// when the command reads the store. The server is --server, else
// $SHIPLOG_SERVER unless --db is given; the token is read from
// --token-file, else $SHIPLOG_TOKEN, and may be absent (a server in
// auth.mode none needs none).
func (f *Factory) Client(cmd *cobra.Command, r Remote) (*Client, error) {
	dbFlag := cmd.Flags().Changed("db")
	server := r.Server
	switch {
	case server != "" && dbFlag:
		return nil, UsageError(errors.New("give --server or --db, not both"))
	case server == "" && !dbFlag:
		server = f.getenv(ServerEnv)
	}
	if server == "" {
		if r.TokenFile != "" {
			return nil, UsageError(fmt.Errorf("--token-file needs a server: give --server or set $%s", ServerEnv))
		}
		return nil, nil
	}
	token, err := f.token(r.TokenFile)
	if err != nil {
		return nil, err
	}
	c, err := NewClient(server, token)
	if err != nil {
		return nil, err
	}
	if token != "" && c.base.Scheme == "http" && !config.IsLoopback(net.JoinHostPort(c.base.Hostname(), "0")) && f.IO.ErrOut != nil {
		fmt.Fprintf(f.IO.ErrOut, "shiplog: warning: the API token goes to %s over plain HTTP, readable on the way: use https://\n", c.URL())
	}
	return c, nil
}

func (f *Factory) getenv(name string) string {
	if f.Getenv == nil {
		return ""
	}
	return f.Getenv(name)
}

// token reads the API token from file, else $SHIPLOG_TOKEN.
func (f *Factory) token(file string) (string, error) {
	t, from := f.getenv(TokenEnv), "$"+TokenEnv
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", UsageError(fmt.Errorf("--token-file: %w", err))
		}
		t, from = strings.TrimSpace(string(b)), "--token-file "+file
		if t == "" {
			return "", UsageError(fmt.Errorf("--token-file: %s is empty", file))
		}
	}
	t = strings.TrimSpace(t)
	if strings.ContainsFunc(t, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return "", UsageError(fmt.Errorf("the API token in %s is not one token: it holds spaces or control characters", from))
	}
	return t, nil
}

// Client reads a shiplog server's JSON API (/api/v1) with an API token.
// Its errors say what to do: a refused token names $SHIPLOG_TOKEN, an
// unreachable server its URL.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// NewClient returns a client of the server at base, an http:// or https://
// URL (a path is kept: a server behind a proxy prefix), sending token as a
// bearer token when it is not empty.
func NewClient(base, token string) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, UsageError(fmt.Errorf("server %q: want an http:// or https:// URL, e.g. https://shiplog.example.com", redact(base)))
	}
	if u.User != nil {
		return nil, UsageError(fmt.Errorf("server %s: a URL carries no credentials here: put the token in $%s or a --token-file", u.Redacted(), TokenEnv))
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return nil, UsageError(fmt.Errorf("server %q: give the server's address, without a query or fragment", base))
	}
	u.Path = strings.TrimSuffix(strings.TrimRight(u.Path, "/"), "/api/v1")
	u.RawPath = ""
	hc := &http.Client{Timeout: DefaultTimeout, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		// net/http drops the token on a redirect to another host; refuse
		// one that would send it in clear text.
		if req.URL.Scheme != "https" && via[0].URL.Scheme == "https" {
			return fmt.Errorf("%s redirects to %s: not following a redirect from https to http", via[0].URL.Redacted(), req.URL.Redacted())
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}}
	return &Client{base: u, token: token, http: hc}, nil
}

// redact hides the password of a URL that did not parse well enough for
// url.Redacted.
func redact(s string) string {
	if at := strings.LastIndex(s, "@"); at >= 0 {
		if i := strings.Index(s, "://"); i >= 0 && i < at {
			return s[:i+3] + "…" + s[at:]
		}
	}
	return s
}

// URL is the server's address.
func (c *Client) URL() string { return c.base.String() }

// Get reads the API path (e.g. /api/v1/status) with query q into v.
func (c *Client) Get(ctx context.Context, path string, q url.Values, v any) error {
	u := *c.base
	u.Path += path
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "shiplog/"+version.Get().Version)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.transportError(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return c.statusError(path, resp.StatusCode, b)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
		return fmt.Errorf("%s answered %s with %q, not JSON: is %s a shiplog server?", c.URL()+path, resp.Status, mt, c.URL())
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("reading the answer of %s: %w", c.URL()+path, err)
	}
	return nil
}

// pageSize is how many items GetAll asks for at a time: the API's maximum.
const pageSize = 1000

// GetAll reads every page of a paged list (api.Page) at path.
func GetAll[T any](ctx context.Context, c *Client, path string, q url.Values) ([]T, error) {
	q = cloneValues(q)
	q.Set("limit", strconv.Itoa(pageSize))
	items := []T{}
	for offset := 0; ; {
		q.Set("offset", strconv.Itoa(offset))
		var p api.Page[T]
		if err := c.Get(ctx, path, q, &p); err != nil {
			return nil, err
		}
		items = append(items, p.Items...)
		if p.NextOffset == nil || *p.NextOffset <= offset {
			return items, nil
		}
		offset = *p.NextOffset
	}
}

// Query builds query parameters from key, value pairs, leaving out the
// empty values.
func Query(kv ...string) url.Values {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Add(kv[i], kv[i+1])
		}
	}
	return q
}

func cloneValues(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// TransientError is a failure that may pass: no answer, 429 or 5xx.
type TransientError struct{ Err error }

func (e *TransientError) Error() string { return e.Err.Error() }
func (e *TransientError) Unwrap() error { return e.Err }

// IsTransient reports whether err may pass if the request is made again.
func IsTransient(err error) bool {
	var te *TransientError
	return errors.As(err, &te)
}

// transportError says why no answer came.
func (c *Client) transportError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return &TransientError{c.describeTransport(err)}
}

func (c *Client) describeTransport(err error) error {
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("cannot connect to the shiplog server at %s: connection refused; is it running, and is --server (or $%s) its address?", c.URL(), ServerEnv)
	case errors.As(err, &dnsErr):
		return fmt.Errorf("cannot find the shiplog server at %s: %s has no address (%v); check --server or $%s", c.URL(), dnsErr.Name, dnsErr.Err, ServerEnv)
	case errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Errorf("the shiplog server at %s did not answer within %s", c.URL(), c.http.Timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("cannot reach the shiplog server at %s: %w", c.URL(), err)
}

// statusError turns an answer other than 200 into an error that says what
// to do. A 400 is a usage error: the flags made the request.
func (c *Client) statusError(path string, code int, body []byte) error {
	msg := serverMessage(body)
	status := strconv.Itoa(code) + " " + http.StatusText(code)
	switch {
	case code == http.StatusUnauthorized && c.token == "":
		return fmt.Errorf("the shiplog server at %s needs an API token: set $%s or give --token-file (an admin creates one with `shiplog token create`)", c.URL(), TokenEnv)
	case code == http.StatusUnauthorized:
		return fmt.Errorf("the shiplog server at %s refused the token (%s): set $%s or --token-file to a valid token (an admin creates one with `shiplog token create`)", c.URL(), msg, TokenEnv)
	case code == http.StatusForbidden:
		return fmt.Errorf("the shiplog server at %s refused: %s", c.URL(), msg)
	case code == http.StatusBadRequest:
		return UsageError(fmt.Errorf("the shiplog server at %s refused the request: %s", c.URL(), msg))
	case code == http.StatusNotFound:
		return fmt.Errorf("the server at %s has no %s (%s): is it a shiplog server, as recent as this shiplog (%s)?", c.URL(), path, status, version.Get().Version)
	case code == http.StatusTooManyRequests:
		return &TransientError{fmt.Errorf("the shiplog server at %s is limiting requests from this address (%s): try again in a minute", c.URL(), msg)}
	case code >= 500:
		return &TransientError{fmt.Errorf("the shiplog server at %s failed (%s): %s", c.URL(), status, msg)}
	}
	return fmt.Errorf("the shiplog server at %s answered %s: %s", c.URL(), status, msg)
}

// serverMessage is the message of a JSON error answer ({"error": …}), else
// a bounded excerpt of the body.
func serverMessage(b []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return e.Error
	}
	s := strings.Join(strings.Fields(string(b)), " ")
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	if s == "" {
		return "no message"
	}
	return s
}

// FormatTime writes a time for a query parameter (since, until): RFC 3339
// to the nanosecond, so that the server computes over the very window the
// command would on the store.
func FormatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
