package manifest

import (
	"bytes"
	"regexp"
	"strings"
)

// Patch derives the references of a new version of a file from the previous
// version and its references, without parsing, when the lines that changed
// are the value lines of known references, each still holding a plain value
// under the same key, or plain values of keys that play no part in finding
// references (a memory limit, an environment variable's value): the common
// image bump and config change. It reports false when it cannot be sure, and
// the caller parses the file with Extract; when it reports true the result
// equals what Extract would return.
func Patch(oldContent []byte, oldRefs []Ref, newContent []byte) ([]Ref, bool) {
	if bytes.Count(oldContent, []byte{'\n'}) != bytes.Count(newContent, []byte{'\n'}) {
		return nil, false
	}
	updater := false
	for _, r := range oldRefs {
		updater = updater || r.Style == StyleImageUpdater
	}
	out := oldRefs
	copied := false
	line := 0
	for len(oldContent) > 0 || len(newContent) > 0 {
		line++
		ol, orest, _ := bytes.Cut(oldContent, []byte{'\n'})
		nl, nrest, _ := bytes.Cut(newContent, []byte{'\n'})
		oldContent, newContent = orest, nrest
		if bytes.Equal(ol, nl) {
			continue
		}
		idx := -1
		for i, r := range out {
			if r.Line == line {
				if idx >= 0 {
					return nil, false // two references on one line
				}
				idx = i
			}
		}
		okey, oval, ok1 := splitValueLine(string(ol))
		nkey, nval, ok2 := splitValueLine(string(nl))
		if !ok1 || !ok2 || okey != nkey {
			return nil, false
		}
		if idx < 0 {
			// A line that holds no reference value changed: fine when its key
			// cannot make or name a reference.
			if structural(okey, updater) {
				return nil, false
			}
			continue
		}
		r, ok := patchRef(out[idx], oval, nval)
		if !ok {
			return nil, false
		}
		if !copied {
			out, copied = append([]Ref(nil), out...), true
		}
		out[idx] = r
	}
	return out, true
}

var (
	plainValue = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$`)
	tagValue   = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	digestVal  = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// structuralKeys are the keys whose values decide which references a file
// has and how they are named; "value" matters in image-updater files only.
var structuralKeys = map[string]bool{
	"apiVersion": true, "kind": true, "metadata": true, "name": true, "generateName": true, "namespace": true,
	"image": true, "images": true, "tag": true, "newTag": true, "newName": true, "digest": true, "repository": true,
	"registry": true, "containers": true, "initContainers": true, "helm": true, "kustomize": true, "parameters": true,
	"spec": true, "template": true, "jobTemplate": true, "items": true, "-": true,
}

// structural reports whether a changed "key:" (as split by splitValueLine,
// with indentation and list dash) may affect references.
func structural(key string, updater bool) bool {
	k := strings.TrimSpace(strings.TrimSuffix(key, ":"))
	k = strings.TrimSpace(strings.TrimPrefix(k, "- "))
	k = strings.Trim(k, `"'`)
	if k == "value" {
		return updater
	}
	return structuralKeys[k] || strings.Contains(strings.ToLower(k), "image") || strings.ContainsAny(k, "{}[]&*!|>%@`")
}

// splitValueLine splits "  key: value" (or "- key: value", or "- value" with
// key "-") into the part up to the colon and a plain value, unquoted; false
// for anything else.
func splitValueLine(s string) (key, val string, ok bool) {
	i := strings.Index(s, ": ")
	if t := strings.TrimLeft(s, " "); i < 0 && strings.HasPrefix(t, "- ") {
		key, val = s[:len(s)-len(t)]+"-", strings.TrimSpace(t[2:])
	} else if i < 0 {
		return "", "", false
	} else {
		key, val = s[:i+1], strings.TrimSpace(s[i+2:])
	}
	if len(val) >= 2 && (val[0] == '"' && val[len(val)-1] == '"' || val[0] == '\'' && val[len(val)-1] == '\'') {
		val = val[1 : len(val)-1]
	}
	if !plainValue.MatchString(val) || strings.Contains(key, "#") {
		return "", "", false
	}
	return key, val, true
}

// patchRef replaces the value oldVal, which must be r's whole image, tag or
// digest as written, with newVal.
func patchRef(r Ref, oldVal, newVal string) (Ref, bool) {
	switch {
	case oldVal == r.Image && r.Style == StyleWorkload:
		r.Image = newVal
	case oldVal == r.Image && (r.Style == StyleHelm || r.Style == StyleImageUpdater):
		if _, err := ParseImage(newVal); err != nil {
			return r, false
		}
		r.Image = newVal
	case oldVal == r.Tag && tagValue.MatchString(newVal) && r.Style != StyleWorkload:
		switch {
		case strings.HasSuffix(r.Image, ":"+oldVal):
			r.Image = strings.TrimSuffix(r.Image, oldVal) + newVal
		case strings.Contains(r.Image, ":"+oldVal+"@"):
			r.Image = strings.Replace(r.Image, ":"+oldVal+"@", ":"+newVal+"@", 1)
		default:
			return r, false
		}
	case oldVal == r.Digest && digestVal.MatchString(newVal) && r.Style != StyleWorkload && strings.HasSuffix(r.Image, "@"+oldVal):
		r.Image = strings.TrimSuffix(r.Image, oldVal) + newVal
	default:
		return r, false
	}
	_, r.Tag, r.Digest = splitReference(r.Image)
	return r, true
}
