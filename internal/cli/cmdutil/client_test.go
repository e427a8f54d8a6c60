package cmdutil

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/shiplog-dev/shiplog/internal/api"
)

// clientFor resolves the client of a command run with args in env.
func clientFor(t *testing.T, env map[string]string, args ...string) (*Client, error) {
	t.Helper()
	c, _, err := clientWarns(t, env, args...)
	return c, err
}

// clientWarns is clientFor, with what the command wrote to stderr.
func clientWarns(t *testing.T, env map[string]string, args ...string) (*Client, string, error) {
	t.Helper()
	var errOut strings.Builder
	f := &Factory{Getenv: func(k string) string { return env[k] }, IO: IOStreams{ErrOut: &errOut}}
	var r Remote
	var got *Client
	var err error
	cmd := &cobra.Command{Use: "x", RunE: func(cmd *cobra.Command, _ []string) error {
		got, err = f.Client(cmd, r)
		return nil
	}}
	cmd.Flags().String("db", "", "")
	AddRemoteFlags(cmd, &r)
	cmd.SetArgs(append([]string{}, args...)) // nil would make cobra read os.Args
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	if e := cmd.Execute(); e != nil {
		t.Fatal(e)
	}
	return got, errOut.String(), err
}

func TestClientWarnsOfATokenInClearText(t *testing.T) {
	env := map[string]string{TokenEnv: "shiplog_x"}
	for _, tc := range []struct {
		server string
		warns  bool
	}{{"http://shiplog.example.com", true}, {"https://shiplog.example.com", false}, {"http://127.0.0.1:8080", false}, {"http://localhost:8080", false}} {
		_, warning, err := clientWarns(t, env, "--server", tc.server)
		if err != nil || strings.Contains(warning, "plain HTTP") != tc.warns {
			t.Errorf("%s: warning %q (%v), want one: %v", tc.server, warning, err, tc.warns)
		}
	}
	if _, warning, _ := clientWarns(t, nil, "--server", "http://shiplog.example.com"); warning != "" {
		t.Errorf("no token: warning %q, want none", warning)
	}
}

func TestClientChoice(t *testing.T) {
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("shiplog_fromfile\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name            string
		env             map[string]string
		args            []string
		url, token, err string // url "": the store
	}{
		{"the store", nil, nil, "", "", ""},
		{"--server", map[string]string{TokenEnv: "shiplog_env"}, []string{"--server", "https://s.example.com/"}, "https://s.example.com", "shiplog_env", ""},
		{"$SHIPLOG_SERVER", map[string]string{ServerEnv: "http://127.0.0.1:8080"}, nil, "http://127.0.0.1:8080", "", ""},
		{"--db wins over $SHIPLOG_SERVER", map[string]string{ServerEnv: "http://127.0.0.1:8080"}, []string{"--db", "x.db"}, "", "", ""},
		{"--server and --db", nil, []string{"--server", "http://x", "--db", "x.db"}, "", "", "give --server or --db, not both"},
		{"--token-file wins over $SHIPLOG_TOKEN", map[string]string{TokenEnv: "shiplog_env"}, []string{"--server", "http://x", "--token-file", file}, "http://x", "shiplog_fromfile", ""},
		{"--token-file without a server", nil, []string{"--token-file", file}, "", "", "--token-file needs a server"},
		{"empty --token-file", nil, []string{"--server", "http://x", "--token-file", empty}, "", "", "is empty"},
		{"missing --token-file", nil, []string{"--server", "http://x", "--token-file", empty + "-no"}, "", "", "no such file"},
		{"a token with spaces", map[string]string{TokenEnv: "two words"}, []string{"--server", "http://x"}, "", "", "not one token"},
		{"a path prefix and /api/v1 are kept and dropped", nil, []string{"--server", "https://x.example.com/shiplog/api/v1/"}, "https://x.example.com/shiplog", "", ""},
		{"not a URL", nil, []string{"--server", "x.example.com"}, "", "", "want an http:// or https:// URL"},
		{"a query", nil, []string{"--server", "http://x?y=1"}, "", "", "without a query"},
		{"credentials in the URL", nil, []string{"--server", "https://u:hunter2@x.example.com"}, "", "", "carries no credentials"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := clientFor(t, tc.env, tc.args...)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || ExitCode(err) != ExitUsage {
					t.Fatalf("got %v, want a usage error with %q", err, tc.err)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("the error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.url == "" {
				if c != nil {
					t.Errorf("got a client of %s, want the store", c.URL())
				}
				return
			}
			if c == nil || c.URL() != tc.url || c.token != tc.token {
				t.Errorf("got %+v, want %s with token %q", c, tc.url, tc.token)
			}
		})
	}
}

// answer is a server that answers every request with code and body.
func answer(t *testing.T, code int, contentType, body string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestClientErrors(t *testing.T) {
	const jsonType = "application/json"
	refused := func() string { // an address nothing listens on
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return "http://" + addr
	}()
	tests := []struct {
		name      string
		url       string
		token     string
		want      []string
		code      int
		transient bool
	}{
		{"no token", answer(t, 401, jsonType, `{"error":"no credentials"}`).URL, "", []string{"needs an API token: set", "set $SHIPLOG_TOKEN or give --token-file", "shiplog token create"}, ExitFailure, false},
		{"a refused token", answer(t, 401, jsonType, `{"error":"token revoked"}`).URL, "shiplog_x", []string{"refused the token (token revoked)", "$SHIPLOG_TOKEN", "shiplog token create"}, ExitFailure, false},
		{"a role too weak", answer(t, 403, jsonType, `{"error":"/api/v1/status needs the viewer role; ci has none"}`).URL, "shiplog_x", []string{"refused: /api/v1/status needs the viewer role; ci has none"}, ExitFailure, false},
		{"a bad request", answer(t, 400, jsonType, `{"error":"rule: no policy is named \"x\""}`).URL, "", []string{`refused the request: rule: no policy is named "x"`}, ExitUsage, false},
		{"an older server", answer(t, 404, "text/plain", "404 page not found").URL, "", []string{"has no /api/v1/status (404 Not Found)", "as recent as this shiplog"}, ExitFailure, false},
		{"a failing server", answer(t, 500, jsonType, `{"error":"internal error: disk full"}`).URL, "", []string{"failed (500 Internal Server Error): internal error: disk full"}, ExitFailure, true},
		{"a proxy's page", answer(t, 502, "text/html", "<html><body>Bad   gateway</body></html>").URL, "", []string{"failed (502 Bad Gateway): <html><body>Bad gateway</body></html>"}, ExitFailure, true},
		{"rate limited", answer(t, 429, jsonType, `{"error":"too many failed attempts: wait a minute"}`).URL, "", []string{"limiting requests", "too many failed attempts"}, ExitFailure, true},
		{"not JSON", answer(t, 200, "text/html", "<html>").URL, "", []string{`with "text/html", not JSON`, "is http://127.0.0.1"}, ExitFailure, false},
		{"nobody listening", refused, "", []string{"cannot connect to the shiplog server at " + refused + ": connection refused", "--server (or $SHIPLOG_SERVER)"}, ExitFailure, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewClient(tc.url, tc.token)
			if err != nil {
				t.Fatal(err)
			}
			var v api.StatusResponse
			err = c.Get(context.Background(), "/api/v1/status", nil, &v)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if ExitCode(err) != tc.code || IsTransient(err) != tc.transient {
				t.Errorf("exit code %d, transient %v; want %d, %v", ExitCode(err), IsTransient(err), tc.code, tc.transient)
			}
		})
	}
}

func TestClientRequestAndPages(t *testing.T) {
	var auths, agents []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auths, agents = append(auths, r.Header.Get("Authorization")), append(agents, r.Header.Get("User-Agent"))
		if r.URL.Path != "/prefix/api/v1/things" || r.URL.Query().Get("app") != "api" || r.URL.Query().Get("limit") != "1000" {
			http.Error(w, "unexpected "+r.URL.String(), http.StatusTeapot)
			return
		}
		offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		all := []int{1, 2, 3}
		p := api.Page[int]{Items: all[offset : offset+1], Total: 3, Offset: offset, Limit: 1}
		if next := offset + 1; next < len(all) {
			p.NextOffset = &next
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_ = json.NewEncoder(w).Encode(p)
	}))
	defer srv.Close()
	c, err := NewClient(srv.URL+"/prefix/", "shiplog_secret")
	if err != nil {
		t.Fatal(err)
	}
	got, err := GetAll[int](context.Background(), c, "/api/v1/things", Query("app", "api", "env", ""))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0] != 1 || got[2] != 3 {
		t.Errorf("items %v, want [1 2 3]", got)
	}
	for i := range auths {
		if auths[i] != "Bearer shiplog_secret" || !strings.HasPrefix(agents[i], "shiplog/") {
			t.Errorf("request %d: Authorization %q, User-Agent %q", i, auths[i], agents[i])
		}
	}
	if len(auths) != 3 {
		t.Errorf("%d requests, want 3 (one per page)", len(auths))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Get(ctx, "/api/v1/things", nil, new(any)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v, want context.Canceled", err)
	}
}
