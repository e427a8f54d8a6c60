package policy_test

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/engine/history"
	"github.com/shiplog-dev/shiplog/internal/engine/policy"
)

// monday10 is Monday 2 March 2026, 10:00 UTC.
var monday10 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func mustCompile(t testing.TB, rules []policy.Rule, cfg policy.Config) *policy.Set {
	t.Helper()
	s, err := policy.Compile(rules, cfg)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return s
}

// fired returns the names of the rules that are true for v.
func fired(t *testing.T, s *policy.Set, v policy.Deployment) []string {
	t.Helper()
	d := &history.Deployment{App: v.App, Env: v.Environment, LiveAt: v.LiveAt}
	devs, errs := s.Check(d, &v, nil)
	if len(errs) > 0 {
		t.Fatalf("evaluation errors: %+v", errs)
	}
	var names []string
	for _, dv := range devs {
		names = append(names, dv.Rule)
	}
	return names
}

// compliant is a production deployment that breaks no starter rule.
func compliant() policy.Deployment {
	return policy.Deployment{App: "api", Environment: "prod", Production: true, LiveAt: monday10, Hour: 10, Weekday: "Mon",
		Artifact: "ghcr.io/acme/api:1.0@sha256:aaaa", ImageRegistry: "ghcr.io", ImageRepository: "acme/api", ImageName: "ghcr.io/acme/api", ImageTag: "1.0", ImageDigest: "sha256:aaaa",
		Approved: true, Approvers: []string{"bob"}, CISuccess: true, SyncInitiator: "automated", Traceable: true, Sources: []string{}, MissingLinks: []string{}}
}

// image sets the image variables from a reference.
func image(d *policy.Deployment, ref string) {
	img := policy.ParseImage(ref)
	d.Artifact, d.ImageRegistry, d.ImageRepository, d.ImageName, d.ImageTag, d.ImageDigest = ref, img.Registry, img.Repository, img.Name(), img.Tag, img.Digest
}

func TestStarterRules(t *testing.T) {
	cfg := policy.Config{AllowedRegistries: []string{"ghcr.io/acme", "registry.example.com"}, AllowedHours: "Mon-Fri 08:00-18:00 UTC"}
	s := mustCompile(t, policy.Starter(), cfg)
	open := mustCompile(t, policy.Starter(), policy.Config{}) // no registries, no hours configured
	tests := []struct {
		name string
		set  *policy.Set
		edit func(*policy.Deployment)
		want []string
	}{
		{"compliant", s, func(*policy.Deployment) {}, nil},
		{"tag only in production", s, func(d *policy.Deployment) { d.ImageDigest = "" }, []string{policy.RuleImageNotPinned}},
		{"tag only outside production", s, func(d *policy.Deployment) { d.ImageDigest, d.Production, d.Environment = "", false, "dev" }, nil},
		{"registry path allowed", s, func(d *policy.Deployment) { image(d, "ghcr.io/acme/tools/x:1@sha256:aaaa") }, nil},
		{"other org on an allowed host path", s, func(d *policy.Deployment) { image(d, "ghcr.io/evil/api@sha256:aaaa") }, []string{policy.RuleRegistryNotAllowed}},
		{"path prefix is not a path", s, func(d *policy.Deployment) { image(d, "ghcr.io/acme-evil/api@sha256:aaaa") }, []string{policy.RuleRegistryNotAllowed}},
		{"allowed host", s, func(d *policy.Deployment) { image(d, "registry.example.com/x@sha256:aaaa") }, nil},
		{"prefix of a host is not the host", s, func(d *policy.Deployment) { image(d, "ghcr.io.evil.com/acme/api@sha256:aaaa") }, []string{policy.RuleRegistryNotAllowed}},
		{"Docker Hub not allowed", s, func(d *policy.Deployment) { image(d, "nginx@sha256:aaaa") }, []string{policy.RuleRegistryNotAllowed}},
		{"registry rule applies outside production", s, func(d *policy.Deployment) { image(d, "nginx:1"); d.Production = false }, []string{policy.RuleRegistryNotAllowed}},
		{"no allowed list: any registry", open, func(d *policy.Deployment) { image(d, "nginx@sha256:aaaa") }, nil},
		{"not an image (package URL)", s, func(d *policy.Deployment) { image(d, "pkg:generic/x@1"); d.ImageDigest = "sha256:aaaa" }, nil},
		{"not approved", s, func(d *policy.Deployment) { d.Approved, d.Approvers = false, []string{} }, []string{policy.RuleNoApproval}},
		{"not approved outside production", s, func(d *policy.Deployment) { d.Approved, d.Production = false, false }, nil},
		{"manual sync in production", s, func(d *policy.Deployment) { d.ManualSync, d.SyncInitiator = true, "alice" }, []string{policy.RuleManualSyncProd}},
		{"manual sync in staging", s, func(d *policy.Deployment) { d.ManualSync, d.Production = true, false }, nil},
		{"Saturday", s, func(d *policy.Deployment) { d.LiveAt = monday10.AddDate(0, 0, 5) }, []string{policy.RuleOutsideHours}},
		{"18:00 is outside", s, func(d *policy.Deployment) { d.LiveAt = monday10.Add(8 * time.Hour) }, []string{policy.RuleOutsideHours}},
		{"17:59 is inside", s, func(d *policy.Deployment) { d.LiveAt = monday10.Add(7*time.Hour + 59*time.Minute) }, nil},
		{"07:59 is outside", s, func(d *policy.Deployment) { d.LiveAt = monday10.Add(-2*time.Hour - time.Minute) }, []string{policy.RuleOutsideHours}},
		{"no allowed hours: any time", open, func(d *policy.Deployment) { d.LiveAt = monday10.AddDate(0, 0, 5) }, nil},
		{"everything wrong", s, func(d *policy.Deployment) {
			image(d, "quay.io/acme/api:1")
			d.Approved, d.ManualSync, d.LiveAt = false, true, monday10.Add(-9*time.Hour)
		}, []string{policy.RuleImageNotPinned, policy.RuleRegistryNotAllowed, policy.RuleNoApproval, policy.RuleManualSyncProd, policy.RuleOutsideHours}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := compliant()
			tc.edit(&v)
			if got := fired(t, tc.set, v); !slices.Equal(got, tc.want) {
				t.Errorf("rules fired %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	ok := policy.Rule{Name: "ok", Expr: `deployment.bot`}
	tests := []struct {
		name  string
		rules []policy.Rule
		cfg   policy.Config
		want  []string // substrings of the error
		index int      // of the RuleError; -1: not a rule error
	}{
		{"malformed", []policy.Rule{ok, {Name: "broken", Expr: `deployment.app ==`}}, policy.Config{}, []string{`policy "broken"`, "Syntax error"}, 1},
		{"unknown variable", []policy.Rule{{Name: "build-id", Expr: `build.id == 1`}}, policy.Config{}, []string{`policy "build-id"`, "undeclared reference to 'build'"}, 0},
		{"unknown field", []policy.Rule{{Name: "typo", Expr: `deployment.enviroment == "prod"`}}, policy.Config{}, []string{`policy "typo"`, "undefined field 'enviroment'"}, 0},
		{"wrong type", []policy.Rule{{Name: "cmp", Expr: `deployment.hour > "9"`}}, policy.Config{}, []string{`policy "cmp"`, "no matching overload"}, 0},
		{"not boolean", []policy.Rule{{Name: "hour", Expr: `deployment.hour`}}, policy.Config{}, []string{`policy "hour"`, "int expression: it must be true or false"}, 0},
		{"bad in_hours literal", []policy.Rule{{Name: "h", Expr: `!deployment.live_at.in_hours("Mon-Fry 08:00-18:00")`}}, policy.Config{}, []string{`policy "h"`, `"Fry" is not a day`}, 0},
		{"empty", []policy.Rule{{Name: "e", Expr: "  "}}, policy.Config{}, []string{`policy "e": empty rule`}, 0},
		{"bad severity", []policy.Rule{{Name: "s", Severity: "high", Expr: `true`}}, policy.Config{}, []string{`policy "s": severity: "high" is not one of info, warning, critical`}, 0},
		{"duplicate", []policy.Rule{ok, ok}, policy.Config{}, []string{`policy "ok": another rule has the same name`}, 1},
		{"no name", []policy.Rule{{Expr: `true`}}, policy.Config{}, []string{`policy "#1": no name`}, 0},
		{"bad allowed hours", []policy.Rule{ok}, policy.Config{AllowedHours: "weekdays 9-5"}, []string{"allowed hours:", `"weekdays" is not a day`}, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := policy.Compile(tc.rules, tc.cfg)
			if err == nil {
				t.Fatal("Compile: no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			var re *policy.RuleError
			if got := errors.As(err, &re); got != (tc.index >= 0) || got && re.Index != tc.index {
				t.Errorf("RuleError %+v, want index %d", re, tc.index)
			}
		})
	}
	if err := policy.CheckRule(`deployment.production && deployment.image_tag.matches("^v[0-9]+")`); err != nil {
		t.Errorf("CheckRule on a valid rule: %v", err)
	}
	if err := policy.CheckRule(`nope`); err == nil || !strings.Contains(err.Error(), "undeclared reference to 'nope'") {
		t.Errorf("CheckRule on an unknown variable: %v", err)
	}
}

func TestDeviationValuesAndScope(t *testing.T) {
	rules := []policy.Rule{
		{Name: "registry", Severity: policy.Critical, Description: "d", Expr: policy.Starter()[1].Expr},
		{Name: "prod-only", Expr: `deployment.changes == 0`, Environments: []string{"prod"}},
		{Name: "bad-spec", Expr: `deployment.live_at.in_hours(deployment.team)`},
	}
	s := mustCompile(t, rules, policy.Config{AllowedRegistries: []string{"ghcr.io/acme"}})
	if got := s.Rules()[1].Severity; got != policy.Warning {
		t.Errorf("default severity %q, want warning", got)
	}
	d := &history.Deployment{App: "api", Env: "staging", LiveAt: monday10, Artifact: "quay.io/x/y:1", EventIDs: []string{"git/1"}}
	v := policy.Variables(d, &policy.Facts{}, false)
	v.Team = "no such spec"
	devs, errs := s.Check(d, &v, nil)
	if len(devs) != 1 || devs[0].Rule != "registry" || devs[0].Severity != policy.Critical || devs[0].Deployment.EventIDs[0] != "git/1" {
		t.Fatalf("deviations %+v, want only registry (prod-only is limited to prod)", devs)
	}
	want := []string{"deployment.image_name", "deployment.image_registry", "policy.allowed_registries"}
	if got := slices.Sorted(maps.Keys(devs[0].Values)); !slices.Equal(got, want) {
		t.Errorf("values %v, want the variables the rule reads %v", got, want)
	}
	if devs[0].Values["deployment.image_registry"] != "quay.io" {
		t.Errorf("values %v", devs[0].Values)
	}
	if len(errs) != 1 || errs[0].Rule != "bad-spec" || !strings.Contains(errs[0].Error, "in_hours") {
		t.Errorf("evaluation errors %+v, want one for bad-spec", errs)
	}
	only := func(r *policy.Rule) bool { return r.Name == "prod-only" }
	if devs, _ := s.Check(d, &v, only); len(devs) != 0 {
		t.Errorf("filtered check: %+v", devs)
	}
}

func TestParseImage(t *testing.T) {
	tests := []struct {
		ref  string
		want policy.Image
	}{
		{"nginx", policy.Image{Registry: "docker.io", Repository: "library/nginx"}},
		{"nginx:1.25", policy.Image{Registry: "docker.io", Repository: "library/nginx", Tag: "1.25"}},
		{"acme/api:2", policy.Image{Registry: "docker.io", Repository: "acme/api", Tag: "2"}},
		{"ghcr.io/acme/api:1.4.0-4d09b7b", policy.Image{Registry: "ghcr.io", Repository: "acme/api", Tag: "1.4.0-4d09b7b"}},
		{"ghcr.io/acme/api@sha256:abc", policy.Image{Registry: "ghcr.io", Repository: "acme/api", Digest: "sha256:abc"}},
		{"ghcr.io/acme/api:1@sha256:abc", policy.Image{Registry: "ghcr.io", Repository: "acme/api", Tag: "1", Digest: "sha256:abc"}},
		{"localhost:5000/api:dev", policy.Image{Registry: "localhost:5000", Repository: "api", Tag: "dev"}},
		{"localhost/api", policy.Image{Registry: "localhost", Repository: "api"}},
		{"index.docker.io/nginx", policy.Image{Registry: "docker.io", Repository: "library/nginx"}},
		{"pkg:oci/api@sha256%3Aabc", policy.Image{}},
		{"", policy.Image{}},
	}
	for _, tc := range tests {
		if got := policy.ParseImage(tc.ref); got != tc.want {
			t.Errorf("ParseImage(%q) = %+v, want %+v", tc.ref, got, tc.want)
		}
	}
}

func TestHours(t *testing.T) {
	paris := "Mon-Fri 09:00-17:30 Europe/Paris; Sat 10:00-12:00"
	tests := []struct {
		spec string
		at   time.Time
		want bool
	}{
		{"", monday10, true},
		{"Mon-Fri 08:00-18:00 UTC", monday10, true},
		{"Mon-Fri 08:00-18:00", monday10.AddDate(0, 0, 6), false}, // Sunday
		{"Fri-Mon 00:00-24:00", monday10.AddDate(0, 0, 6), true},  // wraps over the weekend
		{"Fri-Mon 00:00-24:00", monday10.AddDate(0, 0, 1), false}, // Tuesday
		{"mon,wed 10:00-10:01", monday10, true},
		{"* 10:01-11:00", monday10, false},
		{paris, monday10, true},                                    // 11:00 in Paris (UTC+1 in March)
		{paris, monday10.Add(6*time.Hour + 29*time.Minute), true},  // 17:29 Paris
		{paris, monday10.Add(6*time.Hour + 30*time.Minute), false}, // 17:30 Paris
		{paris, monday10.AddDate(0, 0, 5).Add(time.Hour), true},    // Saturday 11:00 UTC
	}
	for _, tc := range tests {
		h, err := policy.ParseHours(tc.spec)
		if err != nil {
			t.Fatalf("ParseHours(%q): %v", tc.spec, err)
		}
		if got := h.Contains(tc.at); got != tc.want {
			t.Errorf("%q contains %s: %v, want %v", tc.spec, tc.at, got, tc.want)
		}
	}
	for _, bad := range []string{"Mon-Fri", "Mon-Fri 8-18", "Mon-Fri 18:00-08:00", "Mon-Fri 08:00-25:00", "Mon-Fri 08:00-18:00 Mars/Olympus", "Mon-Fri 08:00-18:00 UTC extra", "Funday 08:00-09:00", "Mon-Fri 08:0-09:00"} {
		if _, err := policy.ParseHours(bad); err == nil {
			t.Errorf("ParseHours(%q): no error", bad)
		}
	}
}
