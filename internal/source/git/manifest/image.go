package manifest

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidImage is wrapped by every error ParseImage returns, so callers can
// test for it with errors.Is.
var ErrInvalidImage = errors.New("invalid image reference")

// defaultRegistry is the registry of references that name none.
const defaultRegistry = "docker.io"

// maxNameLength is the longest registry/repository name a reference may have.
const maxNameLength = 255

// maxTagLength is the longest tag a reference may have.
const maxTagLength = 128

// Image is a parsed container image reference, as in
// "ghcr.io/acme/api:1.2.3@sha256:…".
//
// Registry and Repository are normalised the way the Docker CLI does it: a
// reference without a registry is on "docker.io", and a single-component
// repository there gets the "library/" prefix. Name and String give the
// reference back as it was written.
type Image struct {
	// Registry is the registry host, with its port if one was given:
	// "ghcr.io", "localhost:5000", "docker.io" when the reference names none.
	Registry string
	// Repository is the path of the image in the registry: "acme/api",
	// "library/nginx".
	Repository string
	// Tag is the tag, without its colon. It is "latest" when the reference
	// has neither a tag nor a digest (see TagImplicit), and empty when it
	// has only a digest.
	Tag string
	// Digest is the content digest without its "@", e.g. "sha256:…", or "".
	Digest string
	// TagImplicit reports that the reference had neither a tag nor a digest,
	// so Tag is the "latest" that a container runtime would pull.
	TagImplicit bool

	// name is the registry/repository part as written; empty for an Image
	// built as a literal.
	name string
}

// Name returns the registry and repository as written in the parsed
// reference ("nginx", "ghcr.io/acme/api"). For an Image that was not produced
// by ParseImage it returns Registry/Repository.
func (im Image) Name() string {
	if im.name != "" {
		return im.name
	}
	if im.Registry == "" {
		return im.Repository
	}
	return im.Registry + "/" + im.Repository
}

// String returns the reference in the form it was written: Name, then the
// tag unless it was implicit, then the digest.
func (im Image) String() string {
	s := im.Name()
	if im.Tag != "" && !im.TagImplicit {
		s += ":" + im.Tag
	}
	if im.Digest != "" {
		s += "@" + im.Digest
	}
	return s
}

// ParseImage parses a container image reference of the form
// [registry[:port]/]repository[:tag][@algorithm:hex].
//
// The first path component is taken as the registry when it contains a "." or
// a ":", is "localhost", or has an upper-case letter, as the Docker CLI does;
// so in "localhost:5000/x:y" the first colon is a port and the second a tag.
// Errors wrap ErrInvalidImage and name the problem: an empty reference,
// whitespace, an upper-case or otherwise invalid repository, an invalid tag, a
// malformed digest.
func ParseImage(ref string) (Image, error) {
	if ref == "" {
		return Image{}, invalidImage(ref, "empty reference")
	}
	for i := 0; i < len(ref); i++ {
		if c := ref[i]; c <= ' ' || c == 0x7f {
			return Image{}, invalidImage(ref, "contains whitespace or a control character")
		}
	}
	rest, digest := ref, ""
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		rest, digest = ref[:i], ref[i+1:]
		if reason := checkDigest(digest); reason != "" {
			return Image{}, invalidImage(ref, reason)
		}
	}
	name, tag, hasTag := rest, "", false
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && i > strings.LastIndexByte(rest, '/') {
		name, tag, hasTag = rest[:i], rest[i+1:], true
	}
	if name == "" {
		return Image{}, invalidImage(ref, "missing repository name")
	}
	if len(name) > maxNameLength {
		return Image{}, invalidImage(ref, fmt.Sprintf("name is longer than %d characters", maxNameLength))
	}
	if hasTag {
		if reason := checkTag(tag); reason != "" {
			return Image{}, invalidImage(ref, reason)
		}
	}
	registry, repo := splitRegistry(name)
	if registry != "" {
		if reason := checkRegistry(registry); reason != "" {
			return Image{}, invalidImage(ref, reason)
		}
	}
	if reason := checkRepository(repo); reason != "" {
		return Image{}, invalidImage(ref, reason)
	}

	im := Image{Registry: registry, Repository: repo, Tag: tag, Digest: digest, name: name}
	if im.Registry == "" || im.Registry == "index.docker.io" {
		im.Registry = defaultRegistry
	}
	if im.Registry == defaultRegistry && strings.IndexByte(repo, '/') < 0 {
		im.Repository = "library/" + repo
	}
	if tag == "" && digest == "" {
		im.Tag, im.TagImplicit = "latest", true
	}
	return im, nil
}

// invalidImage returns the error ParseImage gives for ref.
func invalidImage(ref, reason string) error {
	return fmt.Errorf("%w %q: %s", ErrInvalidImage, ref, reason)
}

// splitReference cuts a reference into name, tag and digest without
// validating anything; the tag colon is the last one after the last slash.
func splitReference(s string) (name, tag, digest string) {
	if i := strings.IndexByte(s, '@'); i >= 0 {
		s, digest = s[:i], s[i+1:]
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 && i > strings.LastIndexByte(s, '/') {
		s, tag = s[:i], s[i+1:]
	}
	return s, tag, digest
}

// splitRegistry splits name into registry and repository following the
// Docker CLI's rule for telling a registry host from a path component.
func splitRegistry(name string) (registry, repo string) {
	i := strings.IndexByte(name, '/')
	if i < 0 {
		return "", name
	}
	first := name[:i]
	if first == "localhost" || strings.ContainsAny(first, ".:") || hasUpper(first) {
		return first, name[i+1:]
	}
	return "", name
}

// checkDigest returns why d is not a valid digest, or "".
func checkDigest(d string) string {
	if d == "" {
		return `empty digest after "@"`
	}
	i := strings.IndexByte(d, ':')
	if i <= 0 {
		return fmt.Sprintf("digest %q has no algorithm (want algorithm:hex)", d)
	}
	alg, enc := d[:i], d[i+1:]
	if !validAlgorithm(alg) {
		return fmt.Sprintf("digest %q has an invalid algorithm %q", d, alg)
	}
	switch alg {
	case "sha256", "sha512":
		want := 64
		if alg == "sha512" {
			want = 128
		}
		if len(enc) != want || !isLowerHex(enc) {
			return fmt.Sprintf("digest %q: %s needs %d lower-case hex characters", d, alg, want)
		}
	default:
		if len(enc) < 32 {
			return fmt.Sprintf("digest %q: encoded part is shorter than 32 characters", d)
		}
		for j := 0; j < len(enc); j++ {
			c := enc[j]
			if !isAlnum(c) && c != '=' && c != '_' && c != '-' {
				return fmt.Sprintf("digest %q: invalid character %q", d, c)
			}
		}
	}
	return ""
}

// validAlgorithm reports whether alg matches [a-z0-9]+([+._-][a-z0-9]+)*.
func validAlgorithm(alg string) bool {
	prevSep := true
	for i := 0; i < len(alg); i++ {
		c := alg[i]
		switch {
		case isLowerAlnum(c):
			prevSep = false
		case c == '+' || c == '.' || c == '_' || c == '-':
			if prevSep {
				return false
			}
			prevSep = true
		default:
			return false
		}
	}
	return !prevSep
}

// checkTag returns why tag is not a valid tag, or "".
func checkTag(tag string) string {
	if tag == "" {
		return `empty tag after ":"`
	}
	if len(tag) > maxTagLength {
		return fmt.Sprintf("tag is longer than %d characters", maxTagLength)
	}
	for i := 0; i < len(tag); i++ {
		c := tag[i]
		if isAlnum(c) || c == '_' || (i > 0 && (c == '.' || c == '-')) {
			continue
		}
		if i == 0 && (c == '.' || c == '-') {
			return fmt.Sprintf("tag %q must not start with %q", tag, c)
		}
		return fmt.Sprintf("tag %q has an invalid character %q", tag, c)
	}
	return ""
}

// checkRegistry returns why host is not a valid registry host[:port], or "".
func checkRegistry(host string) string {
	h, port := host, ""
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return fmt.Sprintf("registry %q: unclosed IPv6 address", host)
		}
		for i := 1; i < end; i++ {
			if c := h[i]; !isHexDigit(c) && c != ':' && c != '.' {
				return fmt.Sprintf("registry %q: invalid IPv6 address", host)
			}
		}
		h, port = h[:end+1], h[end+1:]
		if port != "" {
			if port[0] != ':' {
				return fmt.Sprintf("registry %q: invalid host", host)
			}
			port = port[1:]
			if port == "" {
				return fmt.Sprintf("registry %q: empty port", host)
			}
		}
	} else {
		if i := strings.IndexByte(h, ':'); i >= 0 {
			h, port = h[:i], h[i+1:]
			if port == "" {
				return fmt.Sprintf("registry %q: empty port", host)
			}
		}
		for _, label := range strings.Split(h, ".") {
			if !validHostLabel(label) {
				return fmt.Sprintf("registry %q: invalid host", host)
			}
		}
	}
	if port != "" {
		if len(port) > 5 || !isDigits(port) {
			return fmt.Sprintf("registry %q: port %q is not a number", host, port)
		}
	}
	return ""
}

// validHostLabel reports whether l matches [A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?.
func validHostLabel(l string) bool {
	if l == "" || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		if c := l[i]; !isAlnum(c) && c != '-' {
			return false
		}
	}
	return true
}

// checkRepository returns why repo is not a valid repository path, or "".
// Each component is lower-case alphanumerics separated by ".", "_", "__" or
// runs of "-".
func checkRepository(repo string) string {
	if hasUpper(repo) {
		return fmt.Sprintf("repository %q must be lower-case", repo)
	}
	for _, comp := range strings.Split(repo, "/") {
		if comp == "" {
			return fmt.Sprintf("repository %q has an empty path component", repo)
		}
		if !isLowerAlnum(comp[0]) || !isLowerAlnum(comp[len(comp)-1]) {
			return fmt.Sprintf("repository %q: component %q must start and end with a letter or digit", repo, comp)
		}
		sep := -1 // start of the current separator run
		for i := 0; i < len(comp); i++ {
			c := comp[i]
			if isLowerAlnum(c) {
				if sep >= 0 && !validSeparator(comp[sep:i]) {
					return fmt.Sprintf("repository %q: invalid separator %q", repo, comp[sep:i])
				}
				sep = -1
				continue
			}
			if c != '.' && c != '_' && c != '-' {
				return fmt.Sprintf("repository %q has an invalid character %q", repo, c)
			}
			if sep < 0 {
				sep = i
			}
		}
	}
	return ""
}

// validSeparator reports whether s is ".", "_", "__" or a run of "-".
func validSeparator(s string) bool {
	switch s {
	case ".", "_", "__":
		return true
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '-' {
			return false
		}
	}
	return true
}

func isLowerAlnum(c byte) bool { return ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') }
func isAlnum(c byte) bool      { return isLowerAlnum(c) || ('A' <= c && c <= 'Z') }
func isHexDigit(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9') && !('a' <= c && c <= 'f') {
			return false
		}
	}
	return s != ""
}
