package web

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestCatalogsHaveTheSameKeys(t *testing.T) {
	cats, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range languages {
		if len(cats[l]) != len(cats["en"]) {
			t.Errorf("%s has %d keys, en has %d", l, len(cats[l]), len(cats["en"]))
		}
	}
}

func TestMissingTranslationFails(t *testing.T) {
	cats := map[string]catalog{
		"en": {"a": "A", "b": "B", "c": "C"},
		"fr": {"a": "A", "b": " "},
	}
	err := checkCatalogs(cats)
	if err == nil || !strings.Contains(err.Error(), "fr: b") || !strings.Contains(err.Error(), "fr: c") {
		t.Errorf("got %v, want an error naming fr: b (empty) and fr: c (missing)", err)
	}
}

// TestEveryKeyUsedIsDefined covers the keys that the start-up check cannot
// see: those written in Go (r.t["…"]) and those built from values.
func TestEveryKeyUsedIsDefined(t *testing.T) {
	cats, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	sources := map[string]string{}
	files, _ := filepath.Glob("*.go")
	goKey := regexp.MustCompile(`\.t\["([^"]+)"\]`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range goKey.FindAllStringSubmatch(string(b), -1) {
			sources[f+":"+m[1]] = `t "` + m[1] + `"`
		}
	}
	tmpls, _ := filepath.Glob("templates/*.html")
	for _, f := range tmpls {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sources[f] = string(b)
	}
	keys := keysUsed(sources)
	if len(keys) < 200 {
		t.Fatalf("found %d keys, the scan is broken", len(keys))
	}
	for _, k := range keys {
		for _, l := range languages {
			if _, ok := cats[l][k]; !ok {
				t.Errorf("%s: key %q is used but not defined", l, k)
			}
		}
	}
}

func TestFormatting(t *testing.T) {
	cats, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		lang, fn string
		arg      any
		want     string
	}{
		{"en", "dur", 42.0, "42\u00a0s"},
		{"en", "dur", 3*3600 + 12*60.0, "3\u00a0h 12\u00a0min"},
		{"fr", "dur", 2*86400 + 5*3600.0, "2\u00a0j 5\u00a0h"},
		{"en", "dur", (*float64)(nil), "n/a"},
		{"en", "pct", 0.125, "12.5\u00a0%"},
		{"fr", "pct", 0.125, "12,5\u00a0%"},
		{"en", "ago", now.Add(-90 * time.Minute), "1\u00a0h 30\u00a0min ago"},
		{"fr", "ago", now.Add(-3 * 24 * time.Hour), "il y a 3\u00a0j"},
	} {
		f := cats[tc.lang].funcs()
		var got string
		switch tc.fn {
		case "dur":
			got = f["dur"].(func(any) string)(tc.arg)
		case "pct":
			got = f["pct"].(func(any) string)(tc.arg)
		case "ago":
			got = f["ago"].(func(time.Time, time.Time) string)(tc.arg.(time.Time), now)
		}
		if got != tc.want {
			t.Errorf("%s %s(%v) = %q, want %q", tc.lang, tc.fn, tc.arg, got, tc.want)
		}
	}
}

func TestChangeQuery(t *testing.T) {
	for _, tc := range []struct {
		in      string
		sha, br string
		pr      int64
		ok      bool
	}{
		{"#123", "", "", 123, true},
		{"4D09B7B", "4d09b7b", "4D09B7B", 0, true},
		{"feature/login", "", "feature/login", 0, true},
		{"abc", "", "abc", 0, true},
		{"#x", "", "", 0, false},
		{"  ", "", "", 0, false},
	} {
		q, ok := parseChangeQuery(tc.in)
		if ok != tc.ok || q.SHA != tc.sha || q.Branch != tc.br || q.PR != tc.pr {
			t.Errorf("parseChangeQuery(%q) = %+v %v, want sha %q branch %q pr %d ok %v", tc.in, q, ok, tc.sha, tc.br, tc.pr, tc.ok)
		}
	}
}
