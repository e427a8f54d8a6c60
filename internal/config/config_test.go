package config

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{name: "empty file keeps defaults", yaml: "", check: func(t *testing.T, c Config) {
			if c.Web.ListenAddress != "127.0.0.1:8080" || c.Log.Level != "info" {
				t.Errorf("got %+v, want defaults", c)
			}
		}},
		{name: "values", yaml: "db: postgres://u:p@db/shiplog\nweb:\n  listen_address: 0.0.0.0:9000\n  shutdown_timeout: 30s\nlog:\n  level: debug\n  format: json\n",
			check: func(t *testing.T, c Config) {
				if c.DB != "postgres://u:p@db/shiplog" || c.Web.ListenAddress != "0.0.0.0:9000" || c.Web.ShutdownTimeout != 30*time.Second ||
					c.Log.Level != "debug" || c.Log.Format != "json" || !c.IsPostgres() {
					t.Errorf("got %+v", c)
				}
			}},
		{name: "unknown key names file and line", yaml: "web:\n  listen_adress: x\n", wantErr: "config shiplog.yaml: line 2: field listen_adress not found"},
		{name: "wrong type", yaml: "web:\n  shutdown_timeout: [1]\n", wantErr: "line 2"},
		{name: "two documents", yaml: "db: a\n---\ndb: b\n", wantErr: "only one YAML document"},
		{name: "malformed", yaml: "web: [\n", wantErr: "config shiplog.yaml: yaml:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("shiplog.yaml", []byte(tc.yaml))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

func TestValidate(t *testing.T) {
	c := Default()
	c.DB = ""
	c.Web.ListenAddress = "8080"
	c.Log.Level = "loud"
	c.Log.Format = "xml"
	c.Web.ShutdownTimeout = 0
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate: no error")
	}
	for _, want := range []string{"db: empty", "web.listen_address", "web.shutdown_timeout", "log.level", "log.format"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestSecretsMasked(t *testing.T) {
	c := Default()
	c.DB = "postgres://shiplog:hunter2@db:5432/shiplog?sslmode=require"
	out := c.String()
	if strings.Contains(out, "hunter2") {
		t.Fatalf("printed config shows the password:\n%s", out)
	}
	if !strings.Contains(out, "postgres://shiplog:xxxxx@db:5432/shiplog?sslmode=require") {
		t.Errorf("printed config lacks the masked DSN:\n%s", out)
	}
	if got := Secret("/var/lib/shiplog.db").Masked(); got != "/var/lib/shiplog.db" {
		t.Errorf("a path is masked: %q", got)
	}
}

func TestApplyFlags(t *testing.T) {
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	AddFlags(fs, "db", "web.listen-address", "web.shutdown-timeout", "log.level")
	if err := fs.Parse([]string{"--web.listen-address=127.0.0.1:0", "--web.shutdown-timeout=2s"}); err != nil {
		t.Fatal(err)
	}
	c, err := Parse("f", []byte("db: from-file.db\nlog:\n  level: warn\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ApplyFlags(&c, fs); err != nil {
		t.Fatal(err)
	}
	if c.Web.ListenAddress != "127.0.0.1:0" || c.Web.ShutdownTimeout != 2*time.Second || c.DB != "from-file.db" || c.Log.Level != "warn" {
		t.Errorf("flags set should win, unset flags keep the file's values: got %+v", c)
	}
	bad := pflag.NewFlagSet("x", pflag.ContinueOnError)
	AddFlags(bad, "web.shutdown-timeout")
	_ = bad.Parse([]string{"--web.shutdown-timeout=soon"})
	if err := ApplyFlags(&c, bad); err == nil || !strings.Contains(err.Error(), "--web.shutdown-timeout") {
		t.Errorf("bad duration: %v", err)
	}
}

func TestGitOpsAdoption(t *testing.T) {
	c, err := Parse("shiplog.yaml", []byte("metrics:\n  gitops_adoption:\n    checkout: 2026-03-01\n    gateway: \"2026-03-05T12:00:00+01:00\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	got := c.Metrics.AdoptionDates()
	want := map[string]time.Time{"checkout": time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), "gateway": time.Date(2026, 3, 5, 11, 0, 0, 0, time.UTC)}
	if len(got) != len(want) {
		t.Fatalf("AdoptionDates = %v, want %v", got, want)
	}
	for app, w := range want {
		if !got[app].Equal(w) {
			t.Errorf("%s: %v, want %v", app, got[app], w)
		}
	}
	if _, err := Parse("shiplog.yaml", []byte("metrics:\n  gitops_adoption:\n    checkout: [2026-03-01]\n")); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("a list as a date: %v", err)
	}
	bad := Default()
	bad.Metrics.GitOpsAdoption = map[string]string{"checkout": "March 1st", "": "2026-03-01", " api": "2026-03-01", "ok": "2026-02-30", "x\ny": "2026-03-01"}
	err = bad.Validate()
	if err == nil {
		t.Fatal("Validate: no error")
	}
	for _, w := range []string{`metrics.gitops_adoption.checkout: "March 1st" is neither`, `metrics.gitops_adoption: "" is not an app name`,
		`metrics.gitops_adoption: " api" is not an app name`, `metrics.gitops_adoption.ok: "2026-02-30"`, `"x\ny" is not an app name`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %s", err, w)
		}
	}
}
