package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shiplog-dev/shiplog/internal/app"
	"github.com/shiplog-dev/shiplog/internal/config"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// OpenStore opens the configured store for a command. A brand-new, empty
// store is initialised when init is true; otherwise, and for a store with
// data, the schema must match the binary.
func OpenStore(ctx context.Context, cfg config.Config, opts store.Options, init bool) (*store.Store, error) {
	st, err := app.OpenStore(ctx, string(cfg.DB), opts)
	if err != nil {
		return nil, err
	}
	err = st.CheckSchema(ctx)
	var se *store.SchemaError
	if init && errors.As(err, &se) && se.Have == 0 {
		_, err = st.Migrate(ctx)
	}
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	return st, nil
}

// ParseSince reads a --since value: a duration back from now (90d, 2w, 12h,
// 30m) or a date (2026-01-31) or RFC 3339 time.
func ParseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, unit := range []struct {
		suffix string
		d      time.Duration
	}{{"d", 24 * time.Hour}, {"w", 7 * 24 * time.Hour}} {
		if n, ok := strings.CutSuffix(s, unit.suffix); ok {
			v, err := strconv.Atoi(n)
			if err != nil || v < 0 {
				return time.Time{}, UsageError(fmt.Errorf("--since %q: want a duration like 90d, 2w, 12h or a date", s))
			}
			return now.Add(-time.Duration(v) * unit.d), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, UsageError(fmt.Errorf("--since %q: want a duration like 90d, 2w, 12h or a date (2006-01-02 or RFC 3339)", s))
}
