package manifest

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// Override is a user rule that sets the app and/or environment of the files
// whose path matches a regular expression. In shiplog's configuration these
// are the git.rules[] entries.
type Override struct {
	// PathRegex is an RE2 regular expression matched against the file path
	// in the repository (unanchored: use ^ and $ to match the whole path).
	PathRegex string `yaml:"path"`
	// App is the app to set, or "" to leave it to the next rules. It may
	// refer to capture groups of PathRegex as $1, ${1} or ${name}; write $$
	// for a literal $.
	App string `yaml:"app"`
	// Env is the environment to set, or "", like App. Values are used as
	// written, not normalised.
	Env string `yaml:"env"`
}

// rule is a compiled Override.
type rule struct {
	re       *regexp.Regexp
	app, env string
}

// Rules says which app and environment an image reference belongs to:
// override rules first, then the defaults described at Detect. The zero
// value, and a nil *Rules, apply only the defaults.
// Rules is immutable and safe for concurrent use.
type Rules struct {
	rules []rule
}

// NewRules compiles and validates override rules, kept in order. An error
// names the rule by its index, as rules[i], and the problem: an empty or
// invalid path expression, a rule setting neither app nor env, or a
// reference to a capture group the expression does not define.
func NewRules(overrides []Override) (*Rules, error) {
	r := &Rules{rules: make([]rule, 0, len(overrides))}
	for i, o := range overrides {
		if o.PathRegex == "" {
			return nil, fmt.Errorf("rules[%d].path: empty regular expression", i)
		}
		re, err := regexp.Compile(o.PathRegex)
		if err != nil {
			return nil, fmt.Errorf("rules[%d].path: invalid regular expression: %w", i, err)
		}
		if o.App == "" && o.Env == "" {
			return nil, fmt.Errorf("rules[%d]: sets neither app nor env", i)
		}
		if err := checkTemplate(re, o.App); err != nil {
			return nil, fmt.Errorf("rules[%d].app: %w", i, err)
		}
		if err := checkTemplate(re, o.Env); err != nil {
			return nil, fmt.Errorf("rules[%d].env: %w", i, err)
		}
		r.rules = append(r.rules, rule{re: re, app: o.App, env: o.Env})
	}
	return r, nil
}

// checkTemplate checks that every $ reference in tmpl names a group of re,
// with the syntax of regexp.Regexp.Expand.
func checkTemplate(re *regexp.Regexp, tmpl string) error {
	orig := tmpl
	for {
		i := strings.IndexByte(tmpl, '$')
		if i < 0 {
			return nil
		}
		tmpl = tmpl[i+1:]
		if strings.HasPrefix(tmpl, "$") {
			tmpl = tmpl[1:]
			continue
		}
		var name string
		if rest, ok := strings.CutPrefix(tmpl, "{"); ok {
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				return fmt.Errorf("%q: unclosed \"${\"", orig)
			}
			name, tmpl = rest[:end], rest[end+1:]
		} else {
			end := 0
			for end < len(tmpl) && (isAlnum(tmpl[end]) || tmpl[end] == '_') {
				end++
			}
			name, tmpl = tmpl[:end], tmpl[end:]
		}
		if name == "" {
			return fmt.Errorf("%q: \"$\" must be followed by a group number or name (write $$ for a literal $)", orig)
		}
		if n, err := strconv.Atoi(name); err == nil {
			if n > re.NumSubexp() {
				return fmt.Errorf("%q: $%s: the path expression has %d capture group(s)", orig, name, re.NumSubexp())
			}
			continue
		}
		if re.SubexpIndex(name) < 0 {
			return fmt.Errorf("%q: the path expression has no group named %q", orig, name)
		}
	}
}

// Detect returns the app and environment of ref, found in the file at path;
// either is "" when unknown.
//
// Override rules are tried in order: for each of app and env, the first rule
// whose expression matches path and that sets the field (to a non-empty
// value once capture groups are expanded) wins. A field no rule sets gets its
// default.
//
// The default environment comes from the path: the directory after envs/,
// environments/, overlays/ or clusters/; else a directory named after a
// well-known environment; else a well-known name among the "-", "_" and "."
// separated words of the file name ("values-prod.yaml"); else the namespace
// of the reference when it is, starts with "<env>-" or ends with "-<env>".
// The well-known names are dev, development, test, qa, staging, stage,
// preprod, uat, prod and production, normalised so that development is dev,
// stage is staging and production is prod.
//
// The default app is the workload name for workload refs, without a
// "-<env>" suffix (nor the trailing "-" of a generateName); the <app> of .argocd-source-<app>.yaml, likewise; and for
// other refs the directory that names the app: the one after apps/,
// applications/ or services/, else the one before overlays/ or base/, else
// the deepest directory that is not an environment or a layout name such as
// charts, helm, manifests or deploy.
func (r *Rules) Detect(path string, ref Ref) (app, env string) {
	path = strings.TrimPrefix(path, "./")
	appSet, envSet := false, false
	if r != nil {
		for _, ru := range r.rules {
			wantApp, wantEnv := !appSet && ru.app != "", !envSet && ru.env != ""
			if !wantApp && !wantEnv {
				continue
			}
			m := ru.re.FindStringSubmatchIndex(path)
			if m == nil {
				continue
			}
			if wantApp {
				if v := string(ru.re.ExpandString(nil, ru.app, path, m)); v != "" {
					app, appSet = v, true
				}
			}
			if wantEnv {
				if v := string(ru.re.ExpandString(nil, ru.env, path, m)); v != "" {
					env, envSet = v, true
				}
			}
			if appSet && envSet {
				break
			}
		}
	}
	if !envSet {
		env = defaultEnv(path, ref)
	}
	if !appSet {
		app = defaultApp(path, ref)
	}
	return app, env
}

// normEnv is delivery.NormalizeEnv: one vocabulary of environments for all sources.
func normEnv(s string) (string, bool) { return delivery.NormalizeEnv(s) }

// isEnvMarker reports whether a directory name announces an environment as
// the next directory.
func isEnvMarker(s string) bool {
	switch s {
	case "envs", "environments", "overlays", "clusters":
		return true
	}
	return false
}

// isLayoutName reports whether a directory name describes repository layout
// rather than naming an app.
func isLayoutName(s string) bool {
	switch s {
	case "apps", "applications", "services", "overlays", "overlay", "base", "bases",
		"envs", "env", "environments", "clusters", "cluster", "charts", "chart",
		"helm", "helm-values", "values", "manifests", "deploy", "deployment", "deployments",
		"k8s", "kubernetes", "kustomize", "components", "templates", "argocd", "argo-cd",
		"gitops", "releases":
		return true
	}
	return false
}

// dirSegments returns the directory names of path, without the file name.
func dirSegments(path string) []string {
	dir, _ := splitPath(path)
	if dir == "" {
		return nil
	}
	return strings.Split(strings.Trim(dir, "/"), "/")
}

// fileStem returns the file name of path without its extension.
func fileStem(path string) string {
	_, base := splitPath(path)
	if i := strings.LastIndexByte(base, '.'); i > 0 {
		return base[:i]
	}
	return base
}

// defaultEnv finds the environment of ref from path, then its namespace.
func defaultEnv(path string, ref Ref) string {
	dirs := dirSegments(path)
	for i, d := range dirs {
		if isEnvMarker(d) && i+1 < len(dirs) {
			if e, ok := normEnv(dirs[i+1]); ok {
				return e
			}
			return strings.ToLower(dirs[i+1])
		}
	}
	for _, d := range dirs {
		if e, ok := normEnv(d); ok {
			return e
		}
	}
	for _, w := range strings.FieldsFunc(fileStem(path), isWordSeparator) {
		if e, ok := normEnv(w); ok {
			return e
		}
	}
	ns := ref.Namespace
	if e, ok := normEnv(ns); ok {
		return e
	}
	if i := strings.LastIndexByte(ns, '-'); i > 0 {
		if e, ok := normEnv(ns[i+1:]); ok {
			return e
		}
	}
	if i := strings.IndexByte(ns, '-'); i > 0 {
		if e, ok := normEnv(ns[:i]); ok {
			return e
		}
	}
	return ""
}

func isWordSeparator(r rune) bool { return r == '-' || r == '_' || r == '.' }

// defaultApp finds the app of ref.
func defaultApp(path string, ref Ref) string {
	switch ref.Style {
	case StyleWorkload:
		return stripEnvSuffix(strings.TrimRight(ref.Name, "-")) // "-" ends a generateName
	case StyleImageUpdater:
		if app, ok := strings.CutPrefix(fileStem(path), ".argocd-source-"); ok && app != "" {
			return stripEnvSuffix(app)
		}
	}
	return appFromPath(path)
}

// stripEnvSuffix removes a "-<env>" suffix naming a well-known environment.
func stripEnvSuffix(name string) string {
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		if _, ok := normEnv(name[i+1:]); ok {
			return name[:i]
		}
	}
	return name
}

// appFromPath finds the directory of path that names an app.
func appFromPath(path string) string {
	dirs := dirSegments(path)
	skip := make([]bool, len(dirs)) // environments and layout names
	for i, d := range dirs {
		if _, ok := normEnv(d); ok || isLayoutName(d) {
			skip[i] = true
		}
		if isEnvMarker(d) && i+1 < len(dirs) {
			skip[i+1] = true
		}
	}
	for i, d := range dirs {
		switch d {
		case "apps", "applications", "services":
			if i+1 < len(dirs) && !skip[i+1] {
				return dirs[i+1]
			}
		case "overlays", "base", "bases":
			if i > 0 && !skip[i-1] {
				return dirs[i-1]
			}
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if !skip[i] {
			return dirs[i]
		}
	}
	return ""
}
