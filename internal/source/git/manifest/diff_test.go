package manifest

import (
	"os"
	"path/filepath"
	"testing"
)

// changeText renders a Change as "op key old -> new" for comparisons.
func changeText(c Change) string {
	before, after := "-", "-"
	if c.Old != nil {
		before = c.Old.Image
	}
	if c.New != nil {
		after = c.New.Image
	}
	return c.Op.String() + " " + c.Key() + " " + before + " -> " + after
}

func checkChanges(t *testing.T, got []Change, want []string) {
	t.Helper()
	for i := 0; i < len(got) || i < len(want); i++ {
		switch {
		case i >= len(want):
			t.Errorf("change %d: got %q, want none", i, changeText(got[i]))
		case i >= len(got):
			t.Errorf("change %d: got none, want %q", i, want[i])
		case changeText(got[i]) != want[i]:
			t.Errorf("change %d: got %q, want %q", i, changeText(got[i]), want[i])
		}
	}
}

func TestDiff(t *testing.T) {
	ref := func(key, image string, line int) Ref { return Ref{Key: key, Image: image, Line: line} }
	tests := []struct {
		name          string
		before, after []Ref
		want          []string
	}{
		{"both empty", nil, nil, nil},
		{"unchanged", []Ref{ref("a", "x:1", 1)}, []Ref{ref("a", "x:1", 1)}, nil},
		{"moved to another line", []Ref{ref("a", "x:1", 1)}, []Ref{ref("a", "x:1", 7)}, nil},
		{"updated", []Ref{ref("a", "x:1", 1)}, []Ref{ref("a", "x:2", 1)}, []string{"updated a x:1 -> x:2"}},
		{"added", nil, []Ref{ref("a", "x:1", 1)}, []string{"added a - -> x:1"}},
		{"removed", []Ref{ref("a", "x:1", 1)}, nil, []string{"removed a x:1 -> -"}},
		{
			"mixed, sorted by key",
			[]Ref{ref("d", "d:1", 1), ref("b", "b:1", 2), ref("c", "c:1", 3)},
			[]Ref{ref("c", "c:2", 1), ref("a", "a:1", 2), ref("d", "d:1", 3)},
			[]string{"added a - -> a:1", "removed b b:1 -> -", "updated c c:1 -> c:2"},
		},
		{
			"first of a repeated key is used",
			[]Ref{ref("a", "x:1", 1), ref("a", "x:9", 2)},
			[]Ref{ref("a", "x:1", 1), ref("a", "x:8", 2)},
			nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Diff(tt.before, tt.after)
			checkChanges(t, got, tt.want)
			if tt.want == nil && got != nil {
				t.Errorf("Diff: got %#v, want nil", got)
			}
		})
	}
}

func TestDiffCopiesRefs(t *testing.T) {
	before := []Ref{{Key: "a", Image: "x:1"}}
	after := []Ref{{Key: "a", Image: "x:2"}}
	changes := Diff(before, after)
	before[0].Image, after[0].Image = "changed", "changed"
	checkChanges(t, changes, []string{"updated a x:1 -> x:2"})
}

func TestDiffFileVersions(t *testing.T) {
	const path = "envs/prod/release.yaml"
	extract := func(name string) []Ref {
		t.Helper()
		b, err := os.ReadFile(filepath.Join("testdata", "diff", name))
		if err != nil {
			t.Fatal(err)
		}
		refs, err := Extract(path, b)
		if err != nil {
			t.Fatalf("Extract(%s): %v", name, err)
		}
		return refs
	}
	got := Diff(extract("release-v1.yaml"), extract("release-v2.yaml"))
	checkChanges(t, got, []string{
		"updated workload:Deployment/shop-prod/api/containers/api ghcr.io/acme/api:3.6.0-4d09b7bd -> ghcr.io/acme/api:3.7.0-7c2e9a1f",
		"removed workload:Deployment/shop-prod/api/containers/envoy envoyproxy/envoy:v1.29.2 -> -",
		"added workload:Deployment/shop-prod/api/containers/otel-agent - -> otel/opentelemetry-collector-contrib:0.96.0",
	})
	if len(got) == 3 && (got[0].Old.Line != 14 || got[0].New.Line != 15) {
		t.Errorf("updated api lines: got %d -> %d, want 14 -> 15", got[0].Old.Line, got[0].New.Line)
	}
}

func TestOpString(t *testing.T) {
	tests := []struct {
		op   Op
		want string
	}{
		{Added, "added"},
		{Removed, "removed"},
		{Updated, "updated"},
		{Op(0), "Op(0)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.op.String(); got != tt.want {
				t.Errorf("String(): got %q, want %q", got, tt.want)
			}
		})
	}
}
