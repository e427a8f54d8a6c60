package config

import (
	"cmp"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/shiplog-dev/shiplog/internal/engine/policy"
)

// PolicyRule is one entry of `policies`: a CEL expression that is true
// when a deployment deviates (docs/policies.md). An entry with the name of
// a starter rule and no rule uses the starter rule's expression, with the
// severity, description and environments given here if any.
type PolicyRule struct {
	Name         string   `yaml:"name"`
	Description  string   `yaml:"description,omitempty"`
	Severity     string   `yaml:"severity,omitempty"` // info, warning (default), critical
	Rule         string   `yaml:"rule,omitempty"`
	Environments []string `yaml:"environments,omitempty"` // empty: every environment
}

// Policy holds the settings rules read as the CEL variable `policy`.
type Policy struct {
	// AllowedRegistries are registry hosts (ghcr.io) or registry paths
	// (ghcr.io/acme) images may come from; empty: any.
	AllowedRegistries []string `yaml:"allowed_registries"`
	// AllowedHours is when production deployments may go live, like
	// "Mon-Fri 08:00-18:00 UTC"; empty: any time.
	AllowedHours string `yaml:"allowed_hours"`
}

// Efficiency configures the efficiency figures (docs/metrics.md).
type Efficiency struct {
	Minutes InterventionMinutes `yaml:"minutes"`
	// CostPerReplicaHour prices one Knative replica for an hour; 0: costs
	// are not shown, replica-hours are.
	CostPerReplicaHour float64 `yaml:"cost_per_replica_hour"`
	// Currency labels costs (default USD); it converts nothing.
	Currency string `yaml:"currency"`
	// BaselineMinReplicas is how many replicas the always-on baseline
	// keeps for a routable revision (default 1).
	BaselineMinReplicas int `yaml:"baseline_min_replicas"`
}

// InterventionMinutes is the engineer time per manual intervention, in
// minutes; unset keys keep their defaults (10, 30, 15, 20).
type InterventionMinutes struct {
	ManualSync     *float64 `yaml:"manual_sync,omitempty"`
	ManualRollback *float64 `yaml:"manual_rollback,omitempty"`
	HumanImageBump *float64 `yaml:"human_image_bump,omitempty"`
	DriftFix       *float64 `yaml:"drift_fix,omitempty"`
}

// Sprints configures the sprint calendar of "features per sprint".
type Sprints struct {
	// Start is the first day of a sprint, YYYY-MM-DD (UTC); default
	// 2026-01-05 (a Monday).
	Start string `yaml:"start"`
	// Length is a number of days ("14d") or weeks ("2w"); default 14d.
	Length string `yaml:"length"`
}

// Map returns the minutes set, by intervention kind name.
func (m InterventionMinutes) Map() map[string]float64 {
	out := map[string]float64{}
	for name, v := range map[string]*float64{"manual_sync": m.ManualSync, "manual_rollback": m.ManualRollback,
		"human_image_bump": m.HumanImageBump, "drift_fix": m.DriftFix} {
		if v != nil {
			out[name] = *v
		}
	}
	return out
}

// StartTime returns the sprint start (midnight UTC); zero when not set.
func (s Sprints) StartTime() (time.Time, error) {
	v := s.Start
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return t, fmt.Errorf("%q is not a date YYYY-MM-DD", v)
	}
	return t, nil
}

// LengthDuration returns the sprint length; zero when not set.
func (s Sprints) LengthDuration() (time.Duration, error) {
	v := s.Length
	if v == "" {
		return 0, nil
	}
	d, err := ParseDays(v)
	if err != nil {
		return 0, err
	}
	if d < 24*time.Hour || d%(24*time.Hour) != 0 {
		return 0, fmt.Errorf("%q: a sprint lasts a whole number of days, at least one", v)
	}
	return d, nil
}

// ParseDays reads a length in days ("14d") or weeks ("2w").
func ParseDays(s string) (time.Duration, error) {
	unit := 24 * time.Hour
	n, ok := strings.CutSuffix(s, "d")
	if !ok {
		if n, ok = strings.CutSuffix(s, "w"); ok {
			unit *= 7
		}
	}
	v, err := strconv.Atoi(n)
	if !ok || err != nil || v <= 0 {
		return 0, fmt.Errorf("%q is not a number of days (14d) or weeks (2w)", s)
	}
	return time.Duration(v) * unit, nil
}

var ruleName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func (c *Config) validatePolicies() []error {
	var errs []error
	names := map[string]int{}
	for i, p := range c.Policies {
		key := fmt.Sprintf("policies[%d]", i)
		switch j, dup := names[p.Name]; {
		case p.Name == "":
			errs = append(errs, fmt.Errorf("%s.name: empty", key))
		case !ruleName.MatchString(p.Name):
			errs = append(errs, fmt.Errorf("%s.name: %q: use letters, digits, '.', '_' and '-'", key, p.Name))
		case dup:
			errs = append(errs, fmt.Errorf("%s.name: %q is also the name of policies[%d]", key, p.Name, j))
		default:
			names[p.Name] = i
		}
		if _, err := policy.ParseSeverity(p.Severity); err != nil {
			errs = append(errs, fmt.Errorf("%s.severity: %v", key, err))
		}
		for j, e := range p.Environments {
			if strings.TrimSpace(e) == "" {
				errs = append(errs, fmt.Errorf("%s.environments[%d]: empty", key, j))
			}
		}
		if strings.TrimSpace(p.Rule) == "" {
			if _, ok := policy.StarterRule(p.Name); !ok {
				var starters []string
				for _, r := range policy.Starter() {
					starters = append(starters, r.Name)
				}
				errs = append(errs, fmt.Errorf("%s.rule: empty: write a CEL expression, or name a starter rule (%s)", key, strings.Join(starters, ", ")))
			}
			continue
		}
		if err := policy.CheckRule(p.Rule); err != nil {
			errs = append(errs, fmt.Errorf("%s.rule: policy %q: %w", key, p.Name, err))
		}
	}
	for i, r := range c.Policy.AllowedRegistries {
		if strings.TrimSpace(r) == "" || strings.Contains(r, "://") || strings.HasSuffix(r, "/") || strings.ContainsAny(r, " @") {
			errs = append(errs, fmt.Errorf("policy.allowed_registries[%d]: %q is not a registry host or path like ghcr.io or ghcr.io/acme", i, r))
		}
	}
	if _, err := policy.ParseHours(c.Policy.AllowedHours); err != nil {
		errs = append(errs, fmt.Errorf("policy.allowed_hours: %v", err))
	}
	for name, v := range c.Efficiency.Minutes.Map() {
		if v < 0 {
			errs = append(errs, fmt.Errorf("efficiency.minutes.%s: %g is negative", name, v))
		}
	}
	if c.Efficiency.CostPerReplicaHour < 0 {
		errs = append(errs, fmt.Errorf("efficiency.cost_per_replica_hour: %g is negative", c.Efficiency.CostPerReplicaHour))
	}
	if c.Efficiency.BaselineMinReplicas < 0 {
		errs = append(errs, fmt.Errorf("efficiency.baseline_min_replicas: %d is negative", c.Efficiency.BaselineMinReplicas))
	}
	if _, err := c.Sprints.StartTime(); err != nil {
		errs = append(errs, fmt.Errorf("sprints.start: %v", err))
	}
	if _, err := c.Sprints.LengthDuration(); err != nil {
		errs = append(errs, fmt.Errorf("sprints.length: %v", err))
	}
	return errs
}

// PolicyRules returns the policies to evaluate: the starter set when the
// configuration has no `policies` key, else the listed ones (an entry
// naming a starter rule without a rule takes the starter's expression,
// severity and description unless it sets them). Values are passed on as
// they are: policy.Compile rejects what Validate would.
func (c *Config) PolicyRules() []policy.Rule {
	if c.Policies == nil {
		return policy.Starter()
	}
	out := make([]policy.Rule, 0, len(c.Policies))
	for _, p := range c.Policies {
		r := policy.Rule{Name: p.Name, Description: p.Description, Severity: policy.Severity(p.Severity), Expr: p.Rule, Environments: p.Environments}
		if s, ok := policy.StarterRule(p.Name); ok && strings.TrimSpace(p.Rule) == "" {
			r.Expr = s.Expr
			r.Severity = cmp.Or(r.Severity, s.Severity)
			r.Description = cmp.Or(r.Description, s.Description)
		}
		out = append(out, r)
	}
	return out
}
