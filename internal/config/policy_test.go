package config

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/engine/policy"
)

func TestPolicyConfig(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr []string // substrings of the validation error; none: valid
		check   func(t *testing.T, c Config)
	}{
		{name: "no policies key: the starter set", yaml: "", check: func(t *testing.T, c Config) {
			if got := c.PolicyRules(); len(got) != len(policy.Starter()) || got[0].Name != policy.RuleImageNotPinned {
				t.Errorf("rules %+v, want the starter set", got)
			}
		}},
		{name: "empty policies: none", yaml: "policies: []\n", check: func(t *testing.T, c Config) {
			if got := c.PolicyRules(); got == nil || len(got) != 0 {
				t.Errorf("rules %+v, want an empty list", got)
			}
		}},
		{name: "custom and starter by name", yaml: `
policies:
  - name: no-approval
    severity: warning
    environments: [prod]
  - name: no-latest
    description: Never deploy :latest.
    severity: critical
    rule: deployment.image_tag == "latest"
policy:
  allowed_registries: [ghcr.io/acme, registry.example.com]
  allowed_hours: "Mon-Fri 08:00-18:00 Europe/Paris"
efficiency:
  minutes: {manual_sync: 5, drift_fix: 0}
  cost_per_replica_hour: 0.042
  currency: EUR
  baseline_min_replicas: 2
sprints:
  start: 2026-01-05
  length: 2w
`, check: func(t *testing.T, c Config) {
			rules := c.PolicyRules()
			if len(rules) != 2 || rules[0].Expr != policy.Starter()[2].Expr || rules[0].Severity != policy.Warning || rules[0].Environments[0] != "prod" ||
				rules[0].Description == "" || rules[1].Severity != policy.Critical {
				t.Errorf("rules %+v", rules)
			}
			if _, err := policy.Compile(rules, policy.Config{}); err != nil {
				t.Errorf("Compile: %v", err)
			}
			m := c.Efficiency.Minutes.Map()
			if len(m) != 2 || m["manual_sync"] != 5 || m["drift_fix"] != 0 || c.Efficiency.CostPerReplicaHour != 0.042 || c.Efficiency.Currency != "EUR" {
				t.Errorf("efficiency %+v minutes %v", c.Efficiency, m)
			}
			start, err1 := c.Sprints.StartTime()
			length, err2 := c.Sprints.LengthDuration()
			if err1 != nil || err2 != nil || !start.Equal(time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)) || length != 14*24*time.Hour {
				t.Errorf("sprints %v %v %v %v", start, length, err1, err2)
			}
		}},
		{name: "malformed rule", yaml: "policies:\n  - name: ok\n    rule: deployment.bot\n  - name: broken\n    rule: 'deployment.app =='\n",
			wantErr: []string{`policies[1].rule: policy "broken": ERROR`, "Syntax error"}},
		{name: "unknown variable", yaml: "policies:\n  - name: x\n    rule: build.number > 3\n",
			wantErr: []string{`policies[0].rule: policy "x"`, "undeclared reference to 'build'"}},
		{name: "unknown field", yaml: "policies:\n  - name: x\n    rule: deployment.tag == 'latest'\n",
			wantErr: []string{`policies[0].rule`, "undefined field 'tag'"}},
		{name: "not boolean", yaml: "policies:\n  - name: x\n    rule: deployment.changes\n", wantErr: []string{`policies[0].rule`, "must be true or false"}},
		{name: "no rule, not a starter", yaml: "policies:\n  - name: mine\n", wantErr: []string{"policies[0].rule: empty: write a CEL expression, or name a starter rule (image-not-pinned"}},
		{name: "names and severities", yaml: "policies:\n  - name: a b\n    rule: 'true'\n  - name: c\n    rule: 'true'\n    severity: high\n  - name: c\n    rule: 'true'\n  - rule: 'true'\n    environments: ['']\n",
			wantErr: []string{`policies[0].name: "a b"`, `policies[1].severity: "high" is not one of info, warning, critical`,
				`policies[2].name: "c" is also the name of policies[1]`, "policies[3].name: empty", "policies[3].environments[0]: empty"}},
		{name: "settings", yaml: `
policy:
  allowed_registries: ["https://ghcr.io", "ghcr.io/", ""]
  allowed_hours: "weekdays 9-17"
efficiency:
  minutes: {manual_rollback: -1}
  cost_per_replica_hour: -0.1
  baseline_min_replicas: -1
sprints:
  start: 2026-13-01
  length: 36h
`, wantErr: []string{`policy.allowed_registries[0]: "https://ghcr.io"`, "policy.allowed_registries[1]", "policy.allowed_registries[2]",
			`policy.allowed_hours: "weekdays 9-17"`, "efficiency.minutes.manual_rollback: -1 is negative", "efficiency.cost_per_replica_hour: -0.1 is negative",
			"efficiency.baseline_min_replicas: -1 is negative", `sprints.start: "2026-13-01" is not a date`, `sprints.length: "36h" is not a number of days`}},
		{name: "sprint length in days", yaml: "sprints:\n  length: 0d\n", wantErr: []string{`sprints.length: "0d"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("shiplog.yaml", []byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			err = c.Validate()
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				tc.check(t, c)
				return
			}
			if err == nil {
				t.Fatal("Validate: no error")
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestPolicyKeysStrict(t *testing.T) {
	_, err := Parse("shiplog.yaml", []byte("policies:\n  - name: x\n    rul: 'true'\n"))
	if err == nil || !strings.Contains(err.Error(), "line 3: field rul not found") {
		t.Errorf("unknown policy key: %v", err)
	}
	_, err = Parse("shiplog.yaml", []byte("efficiency:\n  minutes:\n    manual_syncs: 3\n"))
	if err == nil || !strings.Contains(err.Error(), "field manual_syncs not found") {
		t.Errorf("unknown minutes key: %v", err)
	}
}

// TestPolicyDocExamples validates the YAML examples of docs/policies.md.
func TestPolicyDocExamples(t *testing.T) {
	b, err := os.ReadFile("../../docs/policies.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(b, -1)
	if len(blocks) < 2 {
		t.Fatalf("%d YAML examples in docs/policies.md, want at least 2", len(blocks))
	}
	for i, m := range blocks {
		c, err := Parse(fmt.Sprintf("docs/policies.md example %d", i+1), m[1])
		if err == nil {
			err = c.Validate()
		}
		if err != nil {
			t.Errorf("example %d: %v", i+1, err)
		}
	}
}
