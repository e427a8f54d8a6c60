// Package bump changes an image reference in a GitOps manifest the way a
// person would: only the characters of the value change; comments, quoting,
// indentation and every other byte of the file stay as they were.
//
// It understands the styles the Git importer reads: container images of
// workloads (Knative Services, Deployments, StatefulSets, DaemonSets, Jobs,
// CronJobs, Pods), kustomization images[] (newName/newTag/digest), and Helm
// values (image.repository + image.tag, or image: "repo:tag").
//
// PinTraffic edits a Knative Service the same way: it writes (or replaces)
// the spec.traffic block that pins all traffic to one revision, and leaves
// the rest of the file alone.
package bump

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/shiplog-dev/shiplog/internal/source/git/manifest"
)

// Request says what to change.
type Request struct {
	Image     string // the new reference: repo:tag, repo@sha256:…, or repo:tag@sha256:…
	Container string // for workloads: only this container (default: every container of the same repository)
}

// Change is one value changed.
type Change struct {
	Line int    `json:"line"`
	Old  string `json:"old"`
	New  string `json:"new"`
	What string `json:"what"` // e.g. "Deployment/api container api", "kustomize image api newTag"
}

// ErrNoReference means the file has no reference to the image's repository.
var ErrNoReference = errors.New("no image reference to change")

type edit struct {
	node  *yaml.Node
	value string
	what  string
}

type insert struct {
	after  *yaml.Node // a key of the mapping; the new line goes after its value's line
	indent int        // column of the mapping's keys, 1-based
	text   string
	what   string
}

// Apply returns content with the image changed and the changes made. path
// decides how plain YAML documents are read (kustomization.yaml, values
// files), as for the Git importer.
func Apply(path string, content []byte, req Request) ([]byte, []Change, error) {
	img, err := manifest.ParseImage(req.Image)
	if err != nil {
		return nil, nil, fmt.Errorf("--image: %w", err)
	}
	if strings.Contains(string(content), "{{") {
		return nil, nil, fmt.Errorf("%s: a Helm template: bump the values file instead", path)
	}
	var edits []edit
	var inserts []insert
	dec := yaml.NewDecoder(bytes.NewReader(content))
	base := strings.ToLower(path[strings.LastIndexByte(path, '/')+1:])
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
			continue
		}
		root := doc.Content[0]
		kind := scalar(get(root, "kind"))
		switch {
		case kind == "Kustomization" || base == "kustomization.yaml" || base == "kustomization.yml":
			e, in := kustomize(root, img)
			edits, inserts = append(edits, e...), append(inserts, in...)
		case kind != "":
			edits = append(edits, workload(root, kind, img, req.Container)...)
		default:
			edits = append(edits, helm(root, img, "")...)
		}
	}
	if len(edits) == 0 && len(inserts) == 0 {
		return nil, nil, fmt.Errorf("%s: %w for %s", path, ErrNoReference, img.Name())
	}
	return splice(content, edits, inserts)
}

func get(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

func path(m *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		m = get(m, k)
	}
	return m
}

func sameRepo(ref string, img manifest.Image) bool {
	old, err := manifest.ParseImage(ref)
	return err == nil && old.Name() == img.Name()
}

func workload(root *yaml.Node, kind string, img manifest.Image, container string) []edit {
	var pod *yaml.Node
	switch kind {
	case "Pod":
		pod = get(root, "spec")
	case "CronJob":
		pod = path(root, "spec", "jobTemplate", "spec", "template", "spec")
	default:
		pod = path(root, "spec", "template", "spec")
	}
	name := scalar(path(root, "metadata", "name"))
	var out []edit
	for _, field := range []string{"containers", "initContainers"} {
		list := get(pod, field)
		if list == nil || list.Kind != yaml.SequenceNode {
			continue
		}
		for _, c := range list.Content {
			v := get(c, "image")
			cname := scalar(get(c, "name"))
			if v == nil || v.Kind != yaml.ScalarNode {
				continue
			}
			if (container != "" && cname == container) || (container == "" && sameRepo(v.Value, img)) {
				out = append(out, edit{node: v, value: img.String(), what: fmt.Sprintf("%s/%s container %s", kind, name, cname)})
			}
		}
	}
	return out
}

func kustomize(root *yaml.Node, img manifest.Image) ([]edit, []insert) {
	list := get(root, "images")
	if list == nil || list.Kind != yaml.SequenceNode {
		return nil, nil
	}
	var edits []edit
	var inserts []insert
	for _, e := range list.Content {
		name, newName := scalar(get(e, "name")), scalar(get(e, "newName"))
		target := newName
		if target == "" {
			target = name
		}
		if t, err := manifest.ParseImage(target); err != nil || t.Name() != img.Name() {
			continue
		}
		what := "kustomize image " + name
		set := func(key, value string) {
			if value == "" {
				return
			}
			if n := get(e, key); n != nil {
				edits = append(edits, edit{node: n, value: value, what: what + " " + key})
				return
			}
			last := e.Content[len(e.Content)-2]
			inserts = append(inserts, insert{after: last, indent: e.Content[0].Column, text: key + ": " + value, what: what + " " + key})
		}
		if img.TagImplicit {
			set("digest", img.Digest)
		} else {
			set("newTag", img.Tag)
			set("digest", img.Digest)
		}
	}
	return edits, inserts
}

// helm finds image maps and image strings at any depth of a values document.
func helm(m *yaml.Node, img manifest.Image, at string) []edit {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	var out []edit
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i].Value, m.Content[i+1]
		key := strings.TrimPrefix(at+"."+k, ".")
		switch {
		case k == "image" && v.Kind == yaml.ScalarNode && sameRepo(v.Value, img):
			out = append(out, edit{node: v, value: img.String(), what: "values " + key})
		case k == "image" && v.Kind == yaml.MappingNode:
			repo := scalar(get(v, "repository"))
			if reg := scalar(get(v, "registry")); reg != "" {
				repo = reg + "/" + repo
			}
			if r, err := manifest.ParseImage(repo); err == nil && r.Name() == img.Name() {
				if t := get(v, "tag"); t != nil && !img.TagImplicit {
					out = append(out, edit{node: t, value: img.Tag, what: "values " + key + ".tag"})
				}
				if d := get(v, "digest"); d != nil && img.Digest != "" {
					out = append(out, edit{node: d, value: img.Digest, what: "values " + key + ".digest"})
				}
			}
		case v.Kind == yaml.MappingNode:
			out = append(out, helm(v, img, key)...)
		}
	}
	return out
}

// splice rewrites only the characters of each edited scalar, keeping its
// quoting, and adds inserted lines, from the end of the file backwards so
// that offsets stay valid.
func splice(content []byte, edits []edit, inserts []insert) ([]byte, []Change, error) {
	lines := bytes.SplitAfter(content, []byte("\n"))
	var changes []Change
	for _, e := range edits {
		n := e.node
		if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 || n.Line < 1 || n.Line > len(lines) {
			return nil, nil, fmt.Errorf("line %d: cannot change a block scalar", n.Line)
		}
		line := lines[n.Line-1]
		start := byteOffset(line, n.Column-1)
		end := scalarEnd(line, start, n.Style)
		if start < 0 || end < start {
			return nil, nil, fmt.Errorf("line %d: cannot locate the value", n.Line)
		}
		old := string(line[start:end])
		repl := e.value
		switch {
		case n.Style&yaml.DoubleQuotedStyle != 0:
			repl = `"` + e.value + `"`
		case n.Style&yaml.SingleQuotedStyle != 0:
			repl = "'" + e.value + "'"
		case needsQuotes(e.value):
			repl = `"` + e.value + `"`
		}
		if old == repl {
			continue
		}
		lines[n.Line-1] = append(append(append([]byte{}, line[:start]...), repl...), line[end:]...)
		changes = append(changes, Change{Line: n.Line, Old: strings.Trim(old, `"'`), New: e.value, What: e.what})
	}
	for i := len(inserts) - 1; i >= 0; i-- {
		in := inserts[i]
		after := in.after.Line // the entry's values are scalars on their key's line
		text := strings.Repeat(" ", in.indent-1) + in.text + "\n"
		lines = append(lines[:after], append([][]byte{[]byte(text)}, lines[after:]...)...)
		changes = append(changes, Change{Line: after + 1, New: in.text, What: in.what})
	}
	return bytes.Join(lines, nil), changes, nil
}

// byteOffset turns a 0-based character column into a byte offset in line.
func byteOffset(line []byte, col int) int {
	off := 0
	for i := 0; i < col; i++ {
		if off >= len(line) {
			return -1
		}
		_, size := utf8.DecodeRune(line[off:])
		off += size
	}
	return off
}

// scalarEnd returns where the scalar starting at start ends.
func scalarEnd(line []byte, start int, style yaml.Style) int {
	if start >= len(line) {
		return -1
	}
	switch {
	case style&yaml.DoubleQuotedStyle != 0:
		for i := start + 1; i < len(line); i++ {
			if line[i] == '\\' {
				i++
				continue
			}
			if line[i] == '"' {
				return i + 1
			}
		}
		return -1
	case style&yaml.SingleQuotedStyle != 0:
		for i := start + 1; i < len(line); i++ {
			if line[i] == '\'' {
				if i+1 < len(line) && line[i+1] == '\'' {
					i++
					continue
				}
				return i + 1
			}
		}
		return -1
	}
	end := len(bytes.TrimRight(line, "\r\n"))
	if i := bytes.Index(line[start:end], []byte(" #")); i >= 0 {
		end = start + i
	}
	if i := bytes.IndexAny(line[start:end], ",}]"); i >= 0 { // flow collections
		end = start + i
	}
	return len(bytes.TrimRight(line[:end], " \t"))
}

// needsQuotes reports whether a plain value would not read back as the
// same string (a bare number or boolean, a leading special character).
func needsQuotes(v string) bool {
	var out any
	if err := yaml.Unmarshal([]byte("v: "+v), &out); err != nil {
		return true
	}
	m, ok := out.(map[string]any)
	s, isString := m["v"].(string)
	return !ok || !isString || s != v
}
