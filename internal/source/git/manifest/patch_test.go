package manifest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestPatchAgreesWithExtract changes reference values in every fixture the
// way image bumps do and checks that whenever Patch answers, it answers what
// Extract says; and that it does answer for plain bumps.
func TestPatchAgreesWithExtract(t *testing.T) {
	var files []string
	err := filepath.WalkDir("testdata", func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	patched := 0
	for _, f := range files {
		content, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(filepath.ToSlash(f), "testdata/")
		refs, err := Extract(rel, content)
		if err != nil || len(refs) == 0 {
			continue
		}
		r := rand.New(rand.NewPCG(uint64(len(content)), 1))
		for i := range 20 {
			ref := refs[r.IntN(len(refs))]
			lines := strings.Split(string(content), "\n")
			l := lines[ref.Line-1]
			var next string
			switch {
			case ref.Tag != "" && strings.Contains(l, ref.Tag):
				next = strings.Replace(l, ref.Tag, fmt.Sprintf("9.%d.%d", i, r.IntN(100)), 1)
			case ref.Digest != "" && strings.Contains(l, ref.Digest):
				next = strings.Replace(l, ref.Digest, "sha256:"+strings.Repeat(fmt.Sprintf("%x", i%16), 64), 1)
			default:
				continue
			}
			// Half the time, also change some other plain value line.
			if r.IntN(2) == 0 {
				j := r.IntN(len(lines))
				if k, v, ok := splitValueLine(lines[j]); ok && j != ref.Line-1 {
					lines[j] = k + " " + v + "x"
				}
			}
			lines[ref.Line-1] = next
			changed := []byte(strings.Join(lines, "\n"))
			want, werr := Extract(rel, changed)
			got, ok := Patch(content, refs, changed)
			if !ok {
				continue
			}
			patched++
			if werr != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: Patch after changing line %d to %q:\n got  %+v\n want %+v (%v)", rel, ref.Line, next, got, want, werr)
			}
		}
	}
	if patched < 20 {
		t.Errorf("Patch answered only %d times over the fixtures: the fast path is not taken", patched)
	}
}

func TestPatchDeclines(t *testing.T) {
	old := []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  template:\n    spec:\n      containers:\n        - name: api\n          image: ghcr.io/acme/api:1\n")
	refs, err := Extract("apps/api/deploy.yaml", old)
	if err != nil || len(refs) != 1 {
		t.Fatalf("Extract: %v %v", refs, err)
	}
	tests := []struct{ name, from, to string }{
		{"renamed container", "- name: api", "- name: web"},
		{"changed key", "image: ghcr", "imagex: ghcr"},
		{"template value", "ghcr.io/acme/api:1", "{{ .Values.image }}"},
		{"comment added", "ghcr.io/acme/api:1", "ghcr.io/acme/api:2 # bumped"},
		{"line added", "kind: Deployment\n", "kind: Deployment\nx: y\n"},
		{"workload renamed", "  name: api\n", "  name: web\n"},
		{"kind changed", "kind: Deployment", "kind: StatefulSet"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := Patch(old, refs, []byte(strings.Replace(string(old), tc.from, tc.to, 1))); ok {
				t.Error("Patch answered; it should leave this to Extract")
			}
		})
	}
	withEnv := strings.Replace(string(old), "          image: ghcr.io/acme/api:1\n", "          image: ghcr.io/acme/api:1\n          env:\n            - name: MEM\n              value: 512Mi\n", 1)
	envRefs, err := Extract("apps/api/deploy.yaml", []byte(withEnv))
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := Patch([]byte(withEnv), envRefs, []byte(strings.Replace(withEnv, "512Mi", "1Gi", 1))); !ok || !reflect.DeepEqual(got, envRefs) {
		t.Errorf("a config value changed: %+v %v; want the same references", got, ok)
	}
	got, ok := Patch(old, refs, []byte(strings.Replace(string(old), "api:1", "api:2", 1)))
	if !ok || got[0].Image != "ghcr.io/acme/api:2" || got[0].Tag != "2" || refs[0].Image != "ghcr.io/acme/api:1" {
		t.Errorf("plain bump: %+v %v (and the old refs must stay untouched: %+v)", got, ok, refs)
	}
}
