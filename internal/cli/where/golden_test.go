package where

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/shiplog-dev/shiplog/internal/api"
	"github.com/shiplog-dev/shiplog/internal/cli/clitest"
	"github.com/shiplog-dev/shiplog/internal/cli/cmdutil"
	"github.com/shiplog-dev/shiplog/internal/engine/trace"
)

func newCmd(f *cmdutil.Factory) *cobra.Command {
	return NewCmdWhere(f, func(ctx context.Context, o *Options) error {
		o.Now = clitest.Clock
		return run(ctx, o)
	})
}

// TestGolden checks the output, table and JSON, on the store and through a
// server: the same bytes (go test -update rewrites the files).
func TestGolden(t *testing.T) {
	clitest.RunGolden(t, newCmd, []clitest.Case{
		{Name: "pull request table", Golden: "pr-101.txt", Args: []string{"#101"}},
		{Name: "pull request json", Golden: "pr-101.json", Args: []string{"#101", "-o", "json"}},
		{Name: "sha in one environment", Golden: "sha-3-staging.txt", Args: []string{"3333333", "--env", "staging"}},
		{Name: "branch json", Golden: "branch-rate-limits.json", Args: []string{"rate-limits", "-o", "json"}},
		{Name: "rolled back change", Golden: "sha-2.txt", Args: []string{"2222222"}},
	})
}

// TestWaitServer is --wait through a server: the exit codes of the store.
func TestWaitServer(t *testing.T) {
	fx := clitest.New(t)
	m := fx.Modes()[1]
	realClock := func(f *cmdutil.Factory) *cobra.Command {
		return NewCmdWhere(f, func(ctx context.Context, o *Options) error {
			o.Interval = 10 * time.Millisecond
			return run(ctx, o)
		})
	}
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"live", []string{"4444444", "--env", "prod"}, cmdutil.ExitOK},
		{"failed", []string{"3333333", "--env", "staging"}, ExitFailed},
		{"not there before the deadline", []string{"2222222", "--env", "staging"}, ExitTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := clitest.Exec(t, m.Env, realClock, append(append(tc.args, "--wait", "200ms"), m.Args...)...)
			if got := cmdutil.ExitCode(err); got != tc.code {
				t.Errorf("exit code %d (%v), want %d", got, err, tc.code)
			}
		})
	}
	_, err := clitest.Exec(t, m.Env, realClock, append([]string{"ffffffff"}, m.Args...)...)
	if err == nil || err.Error() != `no change matches "ffffffff" on `+fx.Server {
		t.Errorf("unknown change: %v", err)
	}
}

// TestWaitRidesOutServerErrors: with --wait, a server that fails for a
// moment (a restart, a proxy's 502) is asked again until the deadline.
func TestWaitRidesOutServerErrors(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			http.Error(w, `{"error":"starting"}`, http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(api.Page[trace.Trace]{Total: 1, Items: []trace.Trace{{SHA: sha('9'),
			Envs: []trace.EnvTrace{{Env: "prod", App: "api", Live: true}}}}})
	}))
	defer srv.Close()
	cmd := func(f *cmdutil.Factory) *cobra.Command {
		return NewCmdWhere(f, func(ctx context.Context, o *Options) error {
			o.Interval = 5 * time.Millisecond
			return run(ctx, o)
		})
	}
	out, err := clitest.Exec(t, map[string]string{cmdutil.ServerEnv: srv.URL}, cmd, "9999999", "--env", "prod", "--wait", "10s")
	if err != nil || calls.Load() != 3 || !strings.Contains(out, "prod    live") {
		t.Errorf("got %v after %d requests, want success after 3:\n%s", err, calls.Load(), out)
	}
	calls.Store(0)
	_, err = clitest.Exec(t, map[string]string{cmdutil.ServerEnv: srv.URL}, cmd, "9999999")
	if err == nil || !strings.Contains(err.Error(), "503 Service Unavailable") || calls.Load() != 1 {
		t.Errorf("without --wait: got %v after %d requests, want the server's error at once", err, calls.Load())
	}
}
