package root_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shiplog-dev/shiplog/internal/cli/cmdutil"
	"github.com/shiplog-dev/shiplog/internal/cli/root"
)

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = root.Main(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCommands(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "s.db")
	cfgFile := filepath.Join(dir, "shiplog.yaml")
	if err := os.WriteFile(cfgFile, []byte("db: "+db+"\nlog:\n  level: warn\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badCfg := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(badCfg, []byte("db: x\nweb:\n  port: 80\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantOut    string
		wantErrOut string
	}{
		{"version", []string{"version"}, cmdutil.ExitOK, "shiplog ", ""},
		{"serve refuses an unmigrated store", []string{"serve", "--db", db, "--web.listen-address", "127.0.0.1:0"}, cmdutil.ExitSchema, "", "run `shiplog migrate`"},
		{"migrate", []string{"migrate", "--db", db}, cmdutil.ExitOK, "applied 0001_init.sql\n", ""},
		{"migrate again", []string{"migrate", "--config.file", cfgFile}, cmdutil.ExitOK, "schema is up to date (version ", ""},
		{"config check", []string{"config", "check", "--config.file", cfgFile}, cmdutil.ExitOK, "configuration is valid\n", ""},
		{"config show applies flags over the file", []string{"config", "show", "--config.file", cfgFile, "--log.format", "json"}, cmdutil.ExitOK, "format: json", ""},
		{"unknown config key", []string{"config", "check", "--config.file", badCfg}, cmdutil.ExitUsage, "", "line 3: field port not found"},
		{"missing config file", []string{"config", "check", "--config.file", filepath.Join(dir, "nope.yaml")}, cmdutil.ExitUsage, "", "no such file"},
		{"bad flag value", []string{"config", "check", "--log.level", "loud"}, cmdutil.ExitUsage, "", "log.level"},
		{"unknown flag", []string{"serve", "--nope"}, cmdutil.ExitUsage, "", "unknown flag: --nope"},
		{"unknown command", []string{"deploy"}, cmdutil.ExitUsage, "", "unknown command"},
		{"version output format", []string{"version", "-o", "yaml"}, cmdutil.ExitUsage, "", "--output"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(t, tc.args...)
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tc.wantCode, errOut)
			}
			if tc.wantOut != "" && !strings.Contains(out, tc.wantOut) {
				t.Errorf("stdout %q, want it to contain %q", out, tc.wantOut)
			}
			if tc.wantErrOut != "" && !strings.Contains(errOut, tc.wantErrOut) {
				t.Errorf("stderr %q, want it to contain %q", errOut, tc.wantErrOut)
			}
		})
	}
}

func TestVersionJSON(t *testing.T) {
	code, out, _ := run(t, "version", "--output", "json")
	var got map[string]string
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != 0 {
		t.Fatalf("version -o json: code %d, %q: %v", code, out, err)
	}
	if got["version"] == "" || got["go_version"] == "" || got["platform"] == "" {
		t.Errorf("version JSON %v lacks fields", got)
	}
}

// TestStoreOrServer: the reading commands read the store unless a server
// is given, and --db wins over $SHIPLOG_SERVER.
func TestStoreOrServer(t *testing.T) {
	db := filepath.Join(t.TempDir(), "s.db")
	if code, _, errOut := run(t, "migrate", "--db", db); code != 0 {
		t.Fatalf("migrate: %s", errOut)
	}
	t.Setenv(cmdutil.ServerEnv, "http://127.0.0.1:1") // nothing listens there
	t.Setenv(cmdutil.TokenEnv, "")
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantErrOut string
	}{
		{"--db wins over $SHIPLOG_SERVER", []string{"status", "--db", db}, cmdutil.ExitOK, ""},
		{"$SHIPLOG_SERVER", []string{"status"}, cmdutil.ExitFailure, "cannot connect to the shiplog server at http://127.0.0.1:1"},
		{"--server and --db", []string{"metrics", "--db", db, "--server", "http://127.0.0.1:1"}, cmdutil.ExitUsage, "give --server or --db, not both"},
		{"a bad --server", []string{"where", "abc1234", "--server", "127.0.0.1:1"}, cmdutil.ExitUsage, "want an http:// or https:// URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := run(t, tc.args...)
			if code != tc.wantCode || !strings.Contains(errOut, tc.wantErrOut) {
				t.Errorf("exit code %d, stderr %q; want %d and %q", code, errOut, tc.wantCode, tc.wantErrOut)
			}
		})
	}
}
