package web

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

// parseTemplates builds one template set per language and page: the layout
// plus the page's file, with the language's functions. It executes each
// once so that html/template's contextual escaping runs now: a template
// error stops the server from starting instead of breaking a page.
func parseTemplates(cats map[string]catalog, as *assets) (map[string]map[string]*template.Template, error) {
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	sources := map[string]string{}
	for _, f := range files {
		b, err := templateFS.ReadFile(f)
		if err != nil {
			return nil, err
		}
		sources[f] = string(b)
	}
	var missing []string
	for _, k := range keysUsed(sources) {
		for _, l := range languages {
			if _, ok := cats[l][k]; !ok {
				missing = append(missing, l+": "+k)
			}
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("web: catalog keys used but not defined: %s", strings.Join(missing, ", "))
	}
	placeholder := commonFuncs(as)
	for k, v := range cats[languages[0]].funcs() {
		placeholder[k] = v
	}
	base, err := template.New("layout.html").Funcs(placeholder).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	out := map[string]map[string]*template.Template{}
	for _, l := range languages {
		out[l] = map[string]*template.Template{}
	}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" {
			continue
		}
		p, err := base.Clone()
		if err != nil {
			return nil, err
		}
		if p, err = p.ParseFS(templateFS, f); err != nil {
			return nil, fmt.Errorf("web: %w", err)
		}
		for _, l := range languages {
			pl, err := p.Clone()
			if err != nil {
				return nil, err
			}
			pl.Funcs(cats[l].funcs())
			// Escaping errors come before execution errors; the latter are
			// expected with no data.
			var te *template.Error
			if err := pl.ExecuteTemplate(io.Discard, "layout", nil); errors.As(err, &te) {
				return nil, fmt.Errorf("web: page %s: %w", name, err)
			}
			out[l][name] = pl
		}
	}
	return out, nil
}

// commonFuncs are the template functions that do not depend on the language.
func commonFuncs(as *assets) template.FuncMap {
	return template.FuncMap{
		"asset": func(name string) string { return as.urls[name] },
		"short": short,
		"when": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04 UTC")
		},
		"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"date": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format(time.DateOnly)
		},
		// link builds path?k=v&… from pairs, leaving out empty values.
		"link": func(p string, kv ...string) string {
			q := url.Values{}
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i+1] != "" {
					q.Add(kv[i], kv[i+1])
				}
			}
			if len(q) == 0 {
				return p
			}
			return p + "?" + q.Encode()
		},
		"add":           func(a, b int) int { return a + b },
		"join":          strings.Join,
		"windows":       windows,
		"changeLink":    changeLink,
		"appLink":       appLink,
		"version":       version,
		"artifactShort": artifactShort,
		"prTitle":       prTitle,
		"deref":         func(p *int) int { return *p },
		"trimDigest":    func(s string) string { return strings.TrimPrefix(s, "sha256:") },
		"isURL":         func(s string) bool { return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://") },
		"ciLabel":       ciLabel,
		// dict builds a map for passing several values to a template.
		"dict": func(kv ...any) (map[string]any, error) {
			if len(kv)%2 != 0 {
				return nil, errors.New("dict: odd number of arguments")
			}
			m := make(map[string]any, len(kv)/2)
			for i := 0; i < len(kv); i += 2 {
				k, ok := kv[i].(string)
				if !ok {
					return nil, errors.New("dict: keys must be strings")
				}
				m[k] = kv[i+1]
			}
			return m, nil
		},
	}
}

// windowOpt is one choice of the window selector.
type windowOpt struct {
	Value    string
	Days     int
	Selected bool
}

// windows lists the usual windows, and the current one when it is not one.
func windows(cur string) []windowOpt {
	var out []windowOpt
	found := false
	for _, d := range []int{7, 30, 90, 180, 365} {
		v := strconv.Itoa(d) + "d"
		out = append(out, windowOpt{Value: v, Days: d, Selected: v == cur})
		found = found || v == cur
	}
	if !found && cur != "" {
		out = append(out, windowOpt{Value: cur, Selected: true})
	}
	return out
}

// ciLabel shortens a CI run URL to its last two path segments.
func ciLabel(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return s
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) > 2 {
		parts = parts[len(parts)-2:]
	}
	return u.Host + "/…/" + strings.Join(parts, "/")
}

// short is a commit SHA's first seven characters.
func short(s string) string {
	if len(s) > 7 {
		return s[:7]
	}
	return s
}
