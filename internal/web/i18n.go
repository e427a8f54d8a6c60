package web

import (
	"embed"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The message catalogs: one flat JSON object per language, key → text.
// Texts used with tf are fmt formats.
//
//go:embed i18n/*.json
var i18nFS embed.FS

// languages are the UI's languages, the default first.
var languages = []string{"en", "fr"}

type catalog map[string]string

// loadCatalogs reads every language's catalog and checks that each has
// exactly the keys of the others.
func loadCatalogs() (map[string]catalog, error) {
	cats := map[string]catalog{}
	for _, l := range languages {
		b, err := i18nFS.ReadFile("i18n/" + l + ".json")
		if err != nil {
			return nil, fmt.Errorf("web: catalog %s: %w", l, err)
		}
		var c catalog
		if err := json.Unmarshal(b, &c); err != nil {
			return nil, fmt.Errorf("web: catalog %s: %w", l, err)
		}
		cats[l] = c
	}
	if err := checkCatalogs(cats); err != nil {
		return nil, err
	}
	return cats, nil
}

// checkCatalogs reports every key missing from some language or empty.
func checkCatalogs(cats map[string]catalog) error {
	all := map[string]bool{}
	for _, c := range cats {
		for k := range c {
			all[k] = true
		}
	}
	var missing []string
	for k := range all {
		for _, l := range slices.Sorted(maps.Keys(cats)) {
			if strings.TrimSpace(cats[l][k]) == "" {
				missing = append(missing, l+": "+k)
			}
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("web: missing translations: %s", strings.Join(missing, ", "))
	}
	return nil
}

func mapKeys[K comparable, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// templateKeys finds the catalog keys a template names literally:
// {{t "key"}} and {{tf "key" …}}.
var templateKeys = regexp.MustCompile(`\b(?:t|tf)\s+"([^"]+)"`)

// dynamicKeys are catalog keys built from values in Go code or templates
// (printf "tier.%s"): each prefix with every value it takes.
var dynamicKeys = map[string][]string{
	"tier.":   {"elite", "high", "medium", "low", "unknown"},
	"stage.":  {"code", "review", "ci", "artifact", "manifest", "sync", "revision", "live", "rollout"},
	"state.":  {"known", "inferred", "unknown"},
	"phase.":  {"dev", "ci", "argocd", "knative"},
	"fail.":   {"sync-failed", "degraded", "revision-failed", "rolled-back", "incident", "hotfix"},
	"kind.":   {"deployed", "upgraded", "rolledback"},
	"health.": {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown", "none"},
	"title.":  {"flow", "apps", "app", "changes", "delivery", "deployments", "audit", "policies", "notfound", "error"},
	"metric.": {"deployment_frequency", "lead_time", "change_failure_rate", "recovery_time", "rework_rate"},
	"error.":  {"until", "since", "health", "query", "at", "internal"},
}

// phaseParts are the per-phase explanation keys (phase.<p>.<part>).
var phaseParts = []string{"what", "who", "auto", "measure"}

// keysUsed lists every key the templates and Go code can ask for.
func keysUsed(templates map[string]string) []string {
	set := map[string]bool{}
	for _, src := range templates {
		for _, m := range templateKeys.FindAllStringSubmatch(src, -1) {
			set[m[1]] = true
		}
	}
	for prefix, vals := range dynamicKeys {
		for _, v := range vals {
			set[prefix+v] = true
		}
	}
	for _, p := range dynamicKeys["phase."] {
		for _, part := range phaseParts {
			set["phase."+p+"."+part] = true
		}
	}
	for _, k := range goKeys {
		set[k] = true
	}
	return slices.Sorted(maps.Keys(set))
}

// goKeys are keys the Go code uses directly.
var goKeys = []string{"lang.name", "lang.decimal", "fmt.ago", "fmt.in", "unit.s", "unit.min", "unit.h", "unit.d", "fmt.na", "fmt.now"}

// funcs returns the language-bound template functions. A key missing
// from the catalog shows as ⟦key⟧ (the start-up check and the tests make
// that impossible for the keys templates and code name).
func (c catalog) funcs() map[string]any {
	t := func(key string) string {
		if v, ok := c[key]; ok {
			return v
		}
		return "⟦" + key + "⟧"
	}
	return map[string]any{
		"t":  t,
		"tf": func(key string, args ...any) string { return fmt.Sprintf(t(key), args...) },
		// tk translates prefix+value, or shows the value itself when the
		// catalog has no such key (a value this version does not know).
		"tk": func(prefix, value string) string {
			if v, ok := c[prefix+value]; ok {
				return v
			}
			return value
		},
		"dur": func(v any) string {
			s, ok := seconds(v)
			if !ok {
				return t("fmt.na")
			}
			return c.duration(s)
		},
		"ago": func(at time.Time, now time.Time) string {
			if at.IsZero() {
				return t("fmt.na")
			}
			d := now.Sub(at).Seconds()
			if d < 0 {
				return fmt.Sprintf(t("fmt.in"), c.duration(-d))
			}
			if d < 60 {
				return t("fmt.now")
			}
			return fmt.Sprintf(t("fmt.ago"), c.duration(d))
		},
		"pct": func(v any) string {
			f, ok := number(v)
			if !ok {
				return t("fmt.na")
			}
			return c.num(f*100, 1) + "\u00a0%"
		},
		"pct0": func(v int) string { return strconv.Itoa(v) + "\u00a0%" },
		// wlabel names a window: "30d" is "last 30 days".
		"wlabel": func(since string) string {
			if n, ok := strings.CutSuffix(since, "d"); ok {
				if d, err := strconv.Atoi(n); err == nil {
					return fmt.Sprintf(t("form.days"), d)
				}
			}
			return since
		},
		"num": func(v any, decimals int) string {
			f, ok := number(v)
			if !ok {
				return t("fmt.na")
			}
			return c.num(f, decimals)
		},
	}
}

// num formats f with the language's decimal separator, trimming ".0".
func (c catalog) num(f float64, decimals int) string {
	s := strconv.FormatFloat(f, 'f', decimals, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if c["lang.decimal"] == "," {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}

// duration formats seconds as the two largest units: "3 h 12 min".
func (c catalog) duration(s float64) string {
	u := func(n int64, unit string) string { return strconv.FormatInt(n, 10) + "\u00a0" + c["unit."+unit] }
	switch {
	case s < 60:
		return u(int64(math.Round(s)), "s")
	case s < 3600:
		return u(int64(math.Round(s/60)), "min")
	case s < 86400:
		h := int64(s / 3600)
		m := int64(math.Round((s - float64(h)*3600) / 60))
		if m == 60 {
			h, m = h+1, 0
		}
		if m == 0 {
			return u(h, "h")
		}
		return u(h, "h") + " " + u(m, "min")
	}
	d := int64(s / 86400)
	h := int64(math.Round((s - float64(d)*86400) / 3600))
	if h == 24 {
		d, h = d+1, 0
	}
	if h == 0 || d >= 10 {
		return u(d, "d")
	}
	return u(d, "d") + " " + u(h, "h")
}

// seconds reads a duration given as seconds (float64, *float64) or a
// time.Duration (or *time.Duration); nil means unknown.
func seconds(v any) (float64, bool) {
	switch x := v.(type) {
	case time.Duration:
		return x.Seconds(), true
	case *time.Duration:
		if x == nil {
			return 0, false
		}
		return x.Seconds(), true
	}
	return number(v)
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, !math.IsNaN(x)
	case *float64:
		if x == nil || math.IsNaN(*x) {
			return 0, false
		}
		return *x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	}
	return 0, false
}
