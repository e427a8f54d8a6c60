package cmdutil

import (
	"github.com/shiplog-dev/shiplog/internal/config"
	"github.com/shiplog-dev/shiplog/internal/engine"
)

// EngineSettings turns the configuration into the engine's definitions.
func EngineSettings(cfg config.Config) engine.Settings { return engine.SettingsFrom(cfg) }
