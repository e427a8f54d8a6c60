package manifest

import (
	"bytes"
	"regexp"
	"strings"
)

// Patch derives the references of a new version of a file from the previous
// version and its references, without parsing, when the only lines that
// changed are the value lines of known references and each still holds a
// plain value under the same key: the common image bump. It reports false
// when it cannot be sure, and the caller parses the file with Extract; when
// it reports true the result equals what Extract would return.
func Patch(oldContent []byte, oldRefs []Ref, newContent []byte) ([]Ref, bool) {
	if bytes.Count(oldContent, []byte{'\n'}) != bytes.Count(newContent, []byte{'\n'}) {
		return nil, false
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
		if idx < 0 {
			return nil, false // a line that holds no reference value changed
		}
		okey, oval, ok1 := splitValueLine(string(ol))
		nkey, nval, ok2 := splitValueLine(string(nl))
		if !ok1 || !ok2 || okey != nkey {
			return nil, false
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

// splitValueLine splits "  key: value" (or "- key: value") into the part up
// to the colon and a plain value, unquoted; false for anything else.
func splitValueLine(s string) (key, val string, ok bool) {
	i := strings.Index(s, ": ")
	if i < 0 {
		return "", "", false
	}
	key, val = s[:i+1], strings.TrimSpace(s[i+2:])
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
	case oldVal == r.Image && r.Style == StyleHelm:
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
