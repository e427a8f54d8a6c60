package manifest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzExtract checks invariants that hold for any input: no panic (in
// Detect either), either refs or a *FileError, keys unique, lines inside
// the file.
func FuzzExtract(f *testing.F) {
	err := filepath.WalkDir(filepath.Join("testdata", "gitops"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(filepath.Join("testdata", "gitops"), p)
		f.Add(filepath.ToSlash(rel), b)
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, path string, content []byte) {
		refs, err := Extract(path, content)
		lines := bytes.Count(content, []byte{'\n'}) + 1
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("got error %v (%T), want *FileError", err, err)
			}
			if refs != nil {
				t.Fatalf("got refs %v with error %v", refs, err)
			}
			if fe.Line < 0 || fe.Line > lines {
				t.Fatalf("error line %d outside the file's %d lines", fe.Line, lines)
			}
			return
		}
		keys := make(map[string]bool)
		for _, r := range refs {
			if keys[r.Key] {
				t.Fatalf("key %q twice", r.Key)
			}
			keys[r.Key] = true
			if r.Line < 1 || r.Line > lines {
				t.Fatalf("ref %+v: line outside the file's %d lines", r, lines)
			}
			if r.Image == "" {
				t.Fatalf("ref %+v: empty image", r)
			}
			var rules Rules
			rules.Detect(path, r)
		}
	})
}

// FuzzParseImage checks that a parsed reference prints back as written and
// parses again to the same Image.
func FuzzParseImage(f *testing.F) {
	for _, s := range []string{"nginx", "localhost:5000/x:y", "ghcr.io/acme/api:1.2.3@" + digestA, "[::1]:5000/a", "a@b", "A/b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		im, err := ParseImage(ref)
		if err != nil {
			if !errors.Is(err, ErrInvalidImage) {
				t.Fatalf("ParseImage(%q): error %v does not wrap ErrInvalidImage", ref, err)
			}
			return
		}
		if im.String() != ref {
			t.Fatalf("ParseImage(%q).String() = %q", ref, im.String())
		}
		again, err := ParseImage(im.String())
		if err != nil || again != im {
			t.Fatalf("ParseImage(%q) again: got %#v, %v; want %#v", ref, again, err, im)
		}
	})
}

// FuzzSourceSHAs checks that every candidate is lower-case hex of a valid
// length found in the tag.
func FuzzSourceSHAs(f *testing.F) {
	for _, s := range []string{"sha-4d09b7b", "3.6.0-4d09b7bd", "prod-4d09b7b-20240305T073303Z", "20240305073303-4d09b7b", "v1.2.3-5-g4d09b7b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tag string) {
		for _, c := range SourceSHAs(tag) {
			if len(c.SHA) < minSHALen || len(c.SHA) > fullSHALen || !isLowerHex(c.SHA) {
				t.Fatalf("SourceSHAs(%q): candidate %q is not 7-40 lower-case hex", tag, c.SHA)
			}
			if !strings.Contains(strings.ToLower(tag), c.SHA) {
				t.Fatalf("SourceSHAs(%q): candidate %q is not in the tag", tag, c.SHA)
			}
		}
	})
}
