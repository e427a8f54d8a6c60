package github

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

var (
	fullSHA = regexp.MustCompile(`^[0-9a-fA-F]{40}$`)
	digest  = regexp.MustCompile(`^sha256:[0-9a-fA-F]{64}$`)
)

// revisionLabel is the OCI label naming the source commit of an image.
const revisionLabel = "org.opencontainers.image.revision"

// registryPackage is the "registry_package" or "package" object.
type registryPackage struct {
	ID             int64     `json:"id"`
	Name           string    `json:"name"`
	Ecosystem      string    `json:"ecosystem"`
	PackageType    string    `json:"package_type"`
	UpdatedAt      timestamp `json:"updated_at"`
	PackageVersion struct {
		ID                int64     `json:"id"`
		Name              string    `json:"name"`
		Version           string    `json:"version"`
		TargetCommitish   string    `json:"target_commitish"`
		PackageURL        string    `json:"package_url"`
		CreatedAt         timestamp `json:"created_at"`
		UpdatedAt         timestamp `json:"updated_at"`
		ContainerMetadata struct {
			Tag struct {
				Name   string `json:"name"`
				Digest string `json:"digest"`
			} `json:"tag"`
			Labels struct {
				Revision  string            `json:"revision"`
				AllLabels map[string]string `json:"all_labels"`
			} `json:"labels"`
		} `json:"container_metadata"`
	} `json:"package_version"`
}

type packageEvent struct {
	Action          string          `json:"action"`
	RegistryPackage registryPackage `json:"registry_package"`
	Package         registryPackage `json:"package"`
	Repository      repository      `json:"repository"`
}

// parsePackage records a published container image version (event is
// "registry_package" or "package") as artifact.published.
//
// Name is package_version.package_url without its tag, in lower case as
// registries require; Tag is container_metadata.tag.name; Digest is
// container_metadata.tag.digest, or the version name when that is a digest.
// SourceCommit is the image's org.opencontainers.image.revision label, else
// target_commitish when it is a full SHA. Both events carry the same package
// version id, so subscribing to both records each publication once.
func parsePackage(event string, body []byte) ([]delivery.Event, error) {
	var p packageEvent
	if err := decode(body, &p); err != nil {
		return nil, err
	}
	pkg := &p.RegistryPackage
	if event == "package" {
		pkg = &p.Package
	}
	if p.Action != "published" {
		return nil, unsupported(event, "action", p.Action)
	}
	switch kind := strings.ToLower(pkg.PackageType + "/" + pkg.Ecosystem); {
	case strings.Contains(kind, "container"), strings.Contains(kind, "docker"):
	default:
		return nil, unsupported(event, "package type", strings.ToLower(pkg.PackageType))
	}
	v := &pkg.PackageVersion
	field := event + ".package_version"
	if v.ID <= 0 {
		return nil, fmt.Errorf("%s.id: %d is not a package version id", field, v.ID)
	}
	ref, err := requireString(field+".package_url", v.PackageURL)
	if err != nil {
		return nil, err
	}
	a := &delivery.Artifact{
		Name:       imageName(ref),
		Tag:        strings.TrimSpace(v.ContainerMetadata.Tag.Name),
		SourceRepo: p.Repository.HTMLURL,
	}
	if a.Name == "" {
		return nil, fmt.Errorf("%s.package_url: %q names no image", field, ref)
	}
	switch d := v.ContainerMetadata.Tag.Digest; {
	case digest.MatchString(d):
		a.Digest = strings.ToLower(d)
	case digest.MatchString(v.Name):
		a.Digest = strings.ToLower(v.Name)
	case digest.MatchString(v.Version):
		a.Digest = strings.ToLower(v.Version)
	}
	if a.Tag == "" && a.Digest == "" {
		return nil, fmt.Errorf("%s.container_metadata.tag: neither a tag nor a sha256 digest", field)
	}
	labels := v.ContainerMetadata.Labels
	for _, c := range []string{labels.AllLabels[revisionLabel], labels.Revision, v.TargetCommitish} {
		if fullSHA.MatchString(c) {
			a.SourceCommit = strings.ToLower(c)
			break
		}
	}
	at, err := publishedAt(field, pkg)
	if err != nil {
		return nil, err
	}
	key := []string{"package_version", strconv.FormatInt(v.ID, 10)}
	if a.Tag != "" {
		key = append(key, a.Tag)
	}
	return []delivery.Event{{ID: naturalID(key...), Type: delivery.ArtifactPublished, Time: at, Payload: a}}, nil
}

// publishedAt returns the first real time among the version's updated_at and
// created_at and the package's updated_at: GitHub sends
// "0001-01-01T00:00:00Z" for some of them.
func publishedAt(field string, pkg *registryPackage) (time.Time, error) {
	v := &pkg.PackageVersion
	for _, c := range []struct {
		field string
		t     timestamp
	}{
		{field + ".updated_at", v.UpdatedAt},
		{field + ".created_at", v.CreatedAt},
		{strings.TrimSuffix(field, ".package_version") + ".updated_at", pkg.UpdatedAt},
	} {
		t, err := optionalTime(c.field, c.t)
		if err != nil {
			return time.Time{}, err
		}
		if t.Year() > 1970 {
			return t, nil
		}
	}
	return time.Time{}, missing(field + ".updated_at")
}

// imageName returns an image reference without its tag and digest, in lower
// case: "ghcr.io/Acme/api:1.2" → "ghcr.io/acme/api".
func imageName(ref string) string {
	ref = strings.TrimSpace(ref)
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref = ref[:i]
	}
	return strings.ToLower(strings.TrimSuffix(ref, "/"))
}
