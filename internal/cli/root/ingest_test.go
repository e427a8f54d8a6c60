package root_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shiplog-dev/shiplog/internal/cli/cmdutil"
)

func TestIngestConfiguration(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "github-secret")
	if err := os.WriteFile(secretFile, []byte("s3cr3t-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "shiplog.yaml")
	yaml := "db: " + filepath.Join(dir, "s.db") + "\ningest:\n  github:\n    secret_file: " + secretFile + "\n"
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SHIPLOG_INGEST_TOKEN", "t0k3n-from-env")

	t.Run("config show names the files, never a secret", func(t *testing.T) {
		code, out, errOut := run(t, "config", "show", "--config.file", cfgFile)
		if code != cmdutil.ExitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if !strings.Contains(out, "secret_file: "+secretFile) || !strings.Contains(out, "max_body_bytes: 5242880") {
			t.Errorf("config show lacks the ingest section:\n%s", out)
		}
		if strings.Contains(out, "s3cr3t-from-file") || strings.Contains(out, "t0k3n-from-env") {
			t.Errorf("config show prints a secret:\n%s", out)
		}
	})
	t.Run("a secret in a file and in the environment", func(t *testing.T) {
		t.Setenv("SHIPLOG_GITHUB_WEBHOOK_SECRET", "s3cr3t-from-env")
		code, _, errOut := run(t, "config", "check", "--config.file", cfgFile)
		if code != cmdutil.ExitUsage || !strings.Contains(errOut, "ingest.github.secret_file and $SHIPLOG_GITHUB_WEBHOOK_SECRET are both set") {
			t.Errorf("exit %d, stderr %q: want 2 naming both", code, errOut)
		}
		if strings.Contains(errOut, "s3cr3t") {
			t.Errorf("the error shows a secret: %s", errOut)
		}
	})
	t.Run("serve validates the ingest flags", func(t *testing.T) {
		code, _, errOut := run(t, "serve", "--config.file", cfgFile, "--ingest.max-body-bytes", "0")
		if code != cmdutil.ExitUsage || !strings.Contains(errOut, "ingest.max_body_bytes: 0 must be between 1 and 67108864") {
			t.Errorf("exit %d, stderr %q: want 2 naming ingest.max_body_bytes", code, errOut)
		}
	})
	t.Run("emit is a command", func(t *testing.T) {
		code, out, errOut := run(t, "emit", "incident-resolved", "--id", "INC-1", "--app", "api", "--env", "prod", "--dry-run")
		if code != cmdutil.ExitOK || !strings.Contains(out, `"type":"dev.cdevents.incident.resolved.0.3.0"`) {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
}
