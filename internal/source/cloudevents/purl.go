package cloudevents

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// purl is a parsed package URL (https://github.com/package-url/purl-spec):
// pkg:type/namespace/name@version?qualifiers#subpath, components decoded.
type purl struct {
	Type       string
	Namespace  string // segments joined by "/"
	Name       string
	Version    string
	Qualifiers map[string]string
	Subpath    string
}

// parsePURL parses a package URL the way the purl specification describes:
// from the right, subpath, qualifiers, version, then name and namespace.
func parsePURL(s string) (purl, error) {
	var p purl
	rest, ok := cutPrefixFold(s, "pkg:")
	if !ok {
		return p, errors.New("does not start with pkg:")
	}
	rest = strings.TrimLeft(rest, "/")
	var err error
	if i := strings.LastIndexByte(rest, '#'); i >= 0 {
		if p.Subpath, err = url.PathUnescape(strings.Trim(rest[i+1:], "/")); err != nil {
			return p, fmt.Errorf("subpath: %w", err)
		}
		rest = rest[:i]
	}
	if i := strings.LastIndexByte(rest, '?'); i >= 0 {
		for pair := range strings.SplitSeq(rest[i+1:], "&") {
			k, v, _ := strings.Cut(pair, "=")
			if v == "" {
				continue
			}
			if v, err = url.PathUnescape(v); err != nil {
				return p, fmt.Errorf("qualifier %s: %w", k, err)
			}
			if p.Qualifiers == nil {
				p.Qualifiers = map[string]string{}
			}
			p.Qualifiers[strings.ToLower(k)] = v
		}
		rest = rest[:i]
	}
	typ, rest, ok := strings.Cut(rest, "/")
	if !ok || typ == "" {
		return p, errors.New("no package type")
	}
	p.Type = strings.ToLower(typ)
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		if p.Version, err = url.PathUnescape(rest[i+1:]); err != nil {
			return p, fmt.Errorf("version: %w", err)
		}
		rest = rest[:i]
	}
	rest = strings.Trim(rest, "/")
	nameAt := strings.LastIndexByte(rest, '/')
	if p.Name, err = url.PathUnescape(rest[nameAt+1:]); err != nil {
		return p, fmt.Errorf("name: %w", err)
	}
	if p.Name == "" {
		return p, errors.New("no package name")
	}
	if nameAt > 0 {
		var segs []string
		for seg := range strings.SplitSeq(rest[:nameAt], "/") {
			if seg == "" {
				continue
			}
			if seg, err = url.PathUnescape(seg); err != nil {
				return p, fmt.Errorf("namespace: %w", err)
			}
			segs = append(segs, seg)
		}
		p.Namespace = strings.Join(segs, "/")
	}
	return p, nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// digestPattern matches an OCI content digest, as the delivery package checks it.
var digestPattern = regexp.MustCompile(`^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$`)

// image is a container image named by a package URL.
type image struct {
	Name   string // registry and repository, e.g. ghcr.io/acme/api
	Tag    string
	Digest string
}

// Ref returns the image reference: name[:tag][@digest].
func (im image) Ref() string {
	s := im.Name
	if im.Tag != "" {
		s += ":" + im.Tag
	}
	if im.Digest != "" {
		s += "@" + im.Digest
	}
	return s
}

// errNotImage marks a package URL that does not name a container image.
var errNotImage = errors.New("not a container image")

// imageFromPURL returns the container image a pkg:oci or pkg:docker package
// URL names.
//
// pkg:oci: the version is the manifest digest, the tag qualifier the tag,
// and the image name is the repository_url qualifier (with its scheme
// removed, and the package name appended when the URL does not already end
// with it), else the package name.
//
// pkg:docker: the name is [repository_url/]namespace/name, and the version is
// the digest when it looks like one, else the tag.
//
// Other package types wrap errNotImage.
func imageFromPURL(s string) (image, error) {
	p, err := parsePURL(s)
	if err != nil {
		return image{}, fmt.Errorf("package URL %q: %w", s, err)
	}
	var im image
	repoURL := strings.TrimRight(p.Qualifiers["repository_url"], "/")
	if _, after, ok := strings.Cut(repoURL, "://"); ok {
		repoURL = after
	}
	switch p.Type {
	case "oci":
		name := strings.ToLower(p.Name)
		switch {
		case repoURL == "":
			im.Name = name
		case repoURL == name || strings.HasSuffix(repoURL, "/"+name):
			im.Name = repoURL
		default:
			im.Name = repoURL + "/" + name
		}
		im.Digest = p.Version
		im.Tag = p.Qualifiers["tag"]
	case "docker":
		im.Name = p.Name
		if p.Namespace != "" {
			im.Name = p.Namespace + "/" + p.Name
		}
		if repoURL != "" {
			im.Name = repoURL + "/" + im.Name
		}
		if strings.Contains(p.Version, ":") {
			im.Digest = p.Version
		} else {
			im.Tag = p.Version
		}
	default:
		return image{}, fmt.Errorf("package URL %q: type %q: %w", s, p.Type, errNotImage)
	}
	if im.Digest != "" && !digestPattern.MatchString(im.Digest) {
		return image{}, fmt.Errorf("package URL %q: version %q is not an image digest like sha256:<hex>", s, im.Digest)
	}
	if im.Digest == "" && im.Tag == "" {
		return image{}, fmt.Errorf("package URL %q names neither a digest nor a tag", s)
	}
	return im, nil
}
