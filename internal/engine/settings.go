package engine

import (
	"time"

	"github.com/shiplog-dev/shiplog/internal/config"
	"github.com/shiplog-dev/shiplog/internal/engine/efficiency"
	"github.com/shiplog-dev/shiplog/internal/engine/metrics"
	"github.com/shiplog-dev/shiplog/internal/engine/policy"
)

// SettingsFrom turns the configuration into the engine's definitions.
func SettingsFrom(cfg config.Config) Settings {
	th := metrics.DefaultThresholds()
	t := cfg.Metrics.Tiers
	if b := t.DeploymentsPerDay; b != (config.TierBounds[float64]{}) {
		th.DeploymentsPerDay.Elite, th.DeploymentsPerDay.High, th.DeploymentsPerDay.Medium = b.Elite, b.High, b.Medium
	}
	if b := t.LeadTime; b != (config.TierBounds[time.Duration]{}) {
		th.LeadTime.Elite, th.LeadTime.High, th.LeadTime.Medium = b.Elite, b.High, b.Medium
	}
	if b := t.ChangeFailureRate; b != (config.TierBounds[float64]{}) {
		th.ChangeFailureRate.Elite, th.ChangeFailureRate.High, th.ChangeFailureRate.Medium = b.Elite, b.High, b.Medium
	}
	if b := t.RecoveryTime; b != (config.TierBounds[time.Duration]{}) {
		th.RecoveryTime.Elite, th.RecoveryTime.High, th.RecoveryTime.Medium = b.Elite, b.High, b.Medium
	}
	out := Settings{Teams: cfg.TeamOf(), ProductionEnvs: cfg.Metrics.ProductionEnvs, Thresholds: th, Adoption: cfg.Metrics.AdoptionDates()}
	// Config.Validate has checked what follows; a zero value keeps the
	// engine's default.
	out.Policies = cfg.PolicyRules()
	out.Policy = policy.Config{AllowedRegistries: cfg.Policy.AllowedRegistries, AllowedHours: cfg.Policy.AllowedHours}
	ef := cfg.Efficiency
	out.Efficiency = efficiency.Settings{Minutes: ef.Minutes.Map(), CostPerReplicaHour: ef.CostPerReplicaHour,
		Currency: ef.Currency, BaselineMinReplicas: ef.BaselineMinReplicas}
	out.Efficiency.SprintStart, _ = cfg.Sprints.StartTime()
	out.Efficiency.SprintLength, _ = cfg.Sprints.LengthDuration()
	return out
}
