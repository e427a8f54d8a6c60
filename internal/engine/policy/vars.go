package policy

import (
	"reflect"
	"strings"
	"time"

	"github.com/shiplog-dev/shiplog/internal/engine/history"
)

// Deployment is what a rule sees of a deployment, as the CEL variable
// `deployment`. docs/policies.md describes each field; the `cel` tag is the
// name a rule uses.
type Deployment struct {
	App             string    `cel:"app"`
	Environment     string    `cel:"environment"`
	Production      bool      `cel:"production"` // the environment is one of the production ones
	Team            string    `cel:"team"`
	Artifact        string    `cel:"artifact"`
	ImageRegistry   string    `cel:"image_registry"`   // docker.io for Docker Hub short names
	ImageRepository string    `cel:"image_repository"` // library/nginx for "nginx"
	ImageName       string    `cel:"image_name"`       // registry/repository, without tag or digest
	ImageTag        string    `cel:"image_tag"`
	ImageDigest     string    `cel:"image_digest"` // empty when the reference is not pinned by digest
	LiveAt          time.Time `cel:"live_at"`
	Hour            int       `cel:"hour"`    // of live_at, UTC, 0–23
	Weekday         string    `cel:"weekday"` // of live_at, UTC: Mon, Tue, … Sun
	Kind            string    `cel:"kind"`    // deployed, upgraded, rolledback
	InferredFrom    string    `cel:"inferred_from"`
	Sources         []string  `cel:"sources"`
	Author          string    `cel:"author"`
	Bot             bool      `cel:"bot"`
	PR              int64     `cel:"pr"` // the GitOps change's pull request, from the manifest commit
	ManifestCommit  string    `cel:"manifest_commit"`
	SourceCommit    string    `cel:"source_commit"`
	SourcePR        int64     `cel:"source_pr"` // the pull request that merged the source commit
	PRAuthor        string    `cel:"pr_author"`
	Approved        bool      `cel:"approved"`
	Approvers       []string  `cel:"approvers"` // approvers of the source PR other than its author
	CISuccess       bool      `cel:"ci_success"`
	Rollback        bool      `cel:"rollback"`
	Revert          bool      `cel:"revert"`
	Hotfix          bool      `cel:"hotfix"`
	ManualSync      bool      `cel:"manual_sync"`
	SyncInitiator   string    `cel:"sync_initiator"` // a user name, "automated", or empty when no sync is known
	Traceable       bool      `cel:"traceable"`
	MissingLinks    []string  `cel:"missing_links"`
	Changes         int       `cel:"changes"`
	Failed          bool      `cel:"failed"`
}

// Config is what rules see of the configuration, as the CEL variable
// `policy`.
type Config struct {
	// AllowedRegistries are registry hosts ("ghcr.io") or registry paths
	// ("ghcr.io/acme"); config key policy.allowed_registries.
	AllowedRegistries []string `cel:"allowed_registries"`
	// AllowedHours is a ParseHours spec; config key policy.allowed_hours.
	AllowedHours string `cel:"allowed_hours"`
}

var weekdays = [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}

// Variables returns what rules see of d, given its facts; production says
// whether its environment is a production one.
func Variables(d *history.Deployment, f *Facts, production bool) Deployment {
	img := f.Image
	if img == (Image{}) {
		img = ParseImage(d.Artifact)
	}
	utc := d.LiveAt.UTC()
	v := Deployment{
		App: d.App, Environment: d.Env, Production: production, Team: d.Team, Artifact: d.Artifact,
		ImageRegistry: img.Registry, ImageRepository: img.Repository, ImageName: img.Name(), ImageTag: img.Tag, ImageDigest: img.Digest,
		LiveAt: d.LiveAt, Hour: utc.Hour(), Weekday: weekdays[utc.Weekday()],
		Kind: d.Kind, InferredFrom: d.InferredFrom, Sources: nonNil(d.Sources), Author: d.Author, Bot: d.Bot, PR: d.PR,
		ManifestCommit: d.ManifestCommit, SourceCommit: f.SourceCommit,
		Approved: f.Approved, Approvers: nonNil(f.Approvers), CISuccess: f.CIRun != nil,
		Rollback: d.Rollback, Revert: d.Revert, Hotfix: d.Hotfix,
		ManualSync: f.ManualSync(), SyncInitiator: f.SyncInitiator(),
		Traceable: f.Traceable(), MissingLinks: nonNil(f.Missing), Changes: len(d.Changes), Failed: d.Failed(),
	}
	if f.PR != nil {
		v.SourcePR, v.PRAuthor = f.PR.Number, f.PR.Author
	}
	return v
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// fieldIndex maps "deployment.<cel name>" and "policy.<cel name>" to the
// struct field, for the values shown with a deviation.
var fieldIndex = func() map[string][]int {
	m := map[string][]int{}
	for prefix, t := range map[string]reflect.Type{"deployment.": reflect.TypeFor[Deployment](), "policy.": reflect.TypeFor[Config]()} {
		for f := range t.Fields() {
			m[prefix+f.Tag.Get("cel")] = f.Index
		}
	}
	return m
}()

// value returns the variable named "deployment.x" or "policy.x".
func value(name string, d *Deployment, c *Config) (any, bool) {
	idx, ok := fieldIndex[name]
	if !ok {
		return nil, false
	}
	var v reflect.Value
	if strings.HasPrefix(name, "policy.") {
		v = reflect.ValueOf(c).Elem()
	} else {
		v = reflect.ValueOf(d).Elem()
	}
	return v.FieldByIndex(idx).Interface(), true
}

// Image is a parsed container image reference.
type Image struct {
	Registry   string // host[:port]; docker.io when the reference names none
	Repository string // path within the registry; library/x for Docker Hub official images
	Tag        string
	Digest     string // algorithm:hex
}

// Name is registry/repository.
func (i Image) Name() string {
	if i.Registry == "" || i.Repository == "" {
		return i.Repository
	}
	return i.Registry + "/" + i.Repository
}

// ParseImage splits an image reference ([registry/]repository[:tag][@digest])
// the way container runtimes do: the first path component is a registry
// when it has a "." or ":" or is "localhost"; otherwise the registry is
// Docker Hub. A package URL ("pkg:…") or an empty string gives a zero Image.
func ParseImage(ref string) Image {
	var img Image
	if ref == "" || strings.HasPrefix(ref, "pkg:") || strings.Contains(ref, "://") {
		return img
	}
	if name, digest, ok := strings.Cut(ref, "@"); ok {
		ref, img.Digest = name, digest
	}
	// A tag follows the last ":" after the last "/" (a ":" before it is a port).
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref, img.Tag = ref[:i], ref[i+1:]
	}
	first, rest, ok := strings.Cut(ref, "/")
	switch {
	case ok && (strings.ContainsAny(first, ".:") || first == "localhost"):
		img.Registry, img.Repository = first, rest
	case ok:
		img.Registry, img.Repository = "docker.io", ref
	default:
		img.Registry, img.Repository = "docker.io", "library/"+ref
	}
	if img.Registry == "index.docker.io" || img.Registry == "registry-1.docker.io" {
		img.Registry = "docker.io"
	}
	if img.Registry == "docker.io" && !strings.Contains(img.Repository, "/") {
		img.Repository = "library/" + img.Repository
	}
	return img
}
