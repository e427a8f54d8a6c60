package config

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Metrics configures the KPI definitions (docs/metrics.md).
type Metrics struct {
	// ProductionEnvs are the environments the DORA metrics count unless a
	// query names others. Default: prod, production.
	ProductionEnvs []string `yaml:"production_envs"`
	// Tiers overrides the DORA tier thresholds.
	Tiers Tiers `yaml:"tiers"`
	// GitOpsAdoption overrides, per app, the date shiplog detects as the
	// app's GitOps adoption (its first manifest commit in the GitOps
	// repository or its first Argo CD sync): an RFC 3339 time or a date
	// (YYYY-MM-DD, midnight UTC).
	GitOpsAdoption map[string]string `yaml:"gitops_adoption"`
}

// maxAppName is the longest app name an event may carry (delivery.MaxNameLen).
const maxAppName = 253

// ParseAdoptionDate reads a metrics.gitops_adoption value: an RFC 3339
// time or a date (YYYY-MM-DD, midnight UTC).
func ParseAdoptionDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a date (YYYY-MM-DD) nor an RFC 3339 time", s)
	}
	return t, nil
}

// AdoptionDates returns metrics.gitops_adoption parsed; Validate has
// checked it, a value that does not parse is left out.
func (m *Metrics) AdoptionDates() map[string]time.Time {
	if len(m.GitOpsAdoption) == 0 {
		return nil
	}
	out := make(map[string]time.Time, len(m.GitOpsAdoption))
	for app, v := range m.GitOpsAdoption {
		if t, err := ParseAdoptionDate(v); err == nil {
			out[app] = t
		}
	}
	return out
}

// validAppName reports whether name can be an app's name: what an event
// may carry as its app (delivery.Event.Validate), not blank, without
// surrounding spaces.
func validAppName(name string) bool {
	return name != "" && len(name) <= maxAppName && utf8.ValidString(name) && strings.TrimSpace(name) == name &&
		!strings.ContainsFunc(name, unicode.IsControl)
}

// Tiers are the thresholds between elite, high, medium and low, per metric.
// Zero values keep the defaults.
type Tiers struct {
	DeploymentsPerDay TierBounds[float64]       `yaml:"deployments_per_day"`
	LeadTime          TierBounds[time.Duration] `yaml:"lead_time"`
	ChangeFailureRate TierBounds[float64]       `yaml:"change_failure_rate"`
	RecoveryTime      TierBounds[time.Duration] `yaml:"recovery_time"`
}

// TierBounds are the limits of the elite, high and medium tiers.
type TierBounds[T float64 | time.Duration] struct {
	Elite  T `yaml:"elite"`
	High   T `yaml:"high"`
	Medium T `yaml:"medium"`
}

// TeamOf returns the app → team map from Teams.
func (c *Config) TeamOf() map[string]string {
	out := map[string]string{}
	for team, apps := range c.Teams {
		for _, a := range apps {
			out[a] = team
		}
	}
	return out
}

func (m *Metrics) validate(c *Config) []error {
	var errs []error
	seen := map[string]string{}
	for team, apps := range c.Teams {
		for _, a := range apps {
			if other, dup := seen[a]; dup && other != team {
				errs = append(errs, fmt.Errorf("teams: app %q belongs to both %q and %q", a, other, team))
			}
			seen[a] = team
		}
	}
	check := func(name string, elite, high, medium float64, higherBetter bool) {
		if elite == 0 && high == 0 && medium == 0 {
			return
		}
		if elite < 0 || high < 0 || medium < 0 {
			errs = append(errs, fmt.Errorf("metrics.tiers.%s: negative threshold", name))
			return
		}
		if higherBetter && !(elite >= high && high >= medium) || !higherBetter && !(elite <= high && high <= medium) {
			errs = append(errs, errors.New("metrics.tiers."+name+": elite, high and medium thresholds are out of order"))
		}
	}
	t := m.Tiers
	check("deployments_per_day", t.DeploymentsPerDay.Elite, t.DeploymentsPerDay.High, t.DeploymentsPerDay.Medium, true)
	check("lead_time", float64(t.LeadTime.Elite), float64(t.LeadTime.High), float64(t.LeadTime.Medium), false)
	check("change_failure_rate", t.ChangeFailureRate.Elite, t.ChangeFailureRate.High, t.ChangeFailureRate.Medium, false)
	check("recovery_time", float64(t.RecoveryTime.Elite), float64(t.RecoveryTime.High), float64(t.RecoveryTime.Medium), false)
	for _, app := range slices.Sorted(maps.Keys(m.GitOpsAdoption)) {
		if !validAppName(app) {
			errs = append(errs, fmt.Errorf("metrics.gitops_adoption: %q is not an app name", app))
			continue
		}
		if _, err := ParseAdoptionDate(m.GitOpsAdoption[app]); err != nil {
			errs = append(errs, fmt.Errorf("metrics.gitops_adoption.%s: %v", app, err))
		}
	}
	return errs
}
