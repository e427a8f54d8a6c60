package emit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/shiplog-dev/shiplog/internal/source/cloudevents"
)

// CDEvents types emitted, as the CDEvents specification v0.5 versions them.
const (
	typeArtifactPublished   = "dev.cdevents.artifact.published.0.3.0"
	typePipelineRunFinished = "dev.cdevents.pipelinerun.finished.0.3.0"
	typeServiceDeployed     = "dev.cdevents.service.deployed.0.3.0"
	typeIncidentDetected    = "dev.cdevents.incident.detected.0.3.0"
	typeIncidentResolved    = "dev.cdevents.incident.resolved.0.3.0"

	cdSpecVersion = "0.5.0"
)

// cdEvent is a CDEvent (spec v0.5): the data of its CloudEvent. Members are
// written in a fixed order (maps sorted by key), so output is reproducible.
type cdEvent struct {
	Context               cdContext         `json:"context"`
	Subject               cdSubject         `json:"subject"`
	CustomData            map[string]string `json:"customData,omitempty"`
	CustomDataContentType string            `json:"customDataContentType,omitempty"`
}

type cdContext struct {
	SpecVersion string `json:"specversion"`
	ID          string `json:"id"`
	Source      string `json:"source"`
	Type        string `json:"type"`
	Timestamp   string `json:"timestamp"`
}

type cdSubject struct {
	ID      string         `json:"id"`
	Source  string         `json:"source"`
	Type    string         `json:"type"`
	Content map[string]any `json:"content"`
}

// cdRef is a reference to another subject (an environment, a service).
type cdRef struct {
	ID string `json:"id"`
}

// cloudEvent wraps the CDEvent of opts' subcommand in a CloudEvent whose
// type, id, source and time are the CDEvent's context, as the CDEvents
// CloudEvents binding says.
func cloudEvent(opts *Options, id string, at time.Time) (cloudevents.Event, error) {
	cd, err := buildCDEvent(opts)
	if err != nil {
		return cloudevents.Event{}, err
	}
	cd.Context = cdContext{
		SpecVersion: cdSpecVersion,
		ID:          id,
		Source:      opts.Source,
		Type:        cd.Context.Type,
		Timestamp:   at.UTC().Format(time.RFC3339Nano),
	}
	cd.Subject.Source = opts.Source
	if len(cd.CustomData) > 0 {
		cd.CustomDataContentType = "application/json"
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep the '&' of package URLs readable
	if err := enc.Encode(cd); err != nil {
		return cloudevents.Event{}, err
	}
	data := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	return cloudevents.Event{
		SpecVersion:     cloudevents.SpecVersion,
		ID:              id,
		Source:          opts.Source,
		Type:            cd.Context.Type,
		Time:            at.UTC(),
		DataContentType: "application/json",
		Data:            data,
	}, nil
}

// buildCDEvent returns the CDEvent's type (in Context.Type), subject and
// custom data, from the subcommand's flags, checked.
func buildCDEvent(o *Options) (cdEvent, error) {
	var cd cdEvent
	custom := map[string]string{}
	switch o.Kind {
	case KindArtifactPublished:
		img, err := parseImage(o.Image)
		if err != nil {
			return cd, usage("--image: %v", err)
		}
		digest := strings.ToLower(o.Digest)
		switch {
		case digest == "" && img.digest == "":
			return cd, usage("--digest: missing: give the image digest (sha256:<64 hex digits>), or an --image reference ending in @sha256:…")
		case digest == "":
			digest = img.digest
		case img.digest != "" && img.digest != digest:
			return cd, usage("--digest %s differs from the digest in --image %s", o.Digest, o.Image)
		}
		if !digestPattern.MatchString(digest) {
			return cd, usage("--digest: %q is not sha256:<64 hex digits>", o.Digest)
		}
		img.digest = digest
		sha, err := commitSHA("--source-commit", o.SourceCommit, true)
		if err != nil {
			return cd, err
		}
		custom["sha"] = sha
		// CDEvents' artifact.published has no place for these; they travel
		// in customData (shiplog does not record them from this event yet).
		if o.SourceRepo != "" {
			custom["sourceRepo"] = o.SourceRepo
		}
		if o.PipelineRun != "" {
			custom["pipelineRun"] = o.PipelineRun
		}
		cd.Context.Type = typeArtifactPublished
		cd.Subject = cdSubject{ID: img.purl(), Type: "artifact", Content: map[string]any{}}
	case KindPipelineRunFinished:
		if err := required(map[string]string{"--name": o.Name, "--run-id": o.RunID, "--outcome": o.Outcome}); err != nil {
			return cd, err
		}
		switch o.Outcome {
		case "success", "failure", "cancel", "error":
		default:
			return cd, usage("--outcome: %q is not one of success, failure, cancel, error", o.Outcome)
		}
		content := map[string]any{"pipelineName": o.Name, "outcome": o.Outcome}
		if o.URL != "" {
			content["uri"] = o.URL
		}
		sha, err := commitSHA("--sha", o.SHA, false)
		if err != nil {
			return cd, err
		}
		if sha != "" {
			custom["sha"] = sha
		}
		if o.Branch != "" {
			custom["branch"] = o.Branch
		}
		cd.Context.Type = typePipelineRunFinished
		cd.Subject = cdSubject{ID: o.RunID, Type: "pipelineRun", Content: content}
	case KindServiceDeployed:
		if err := required(map[string]string{"--app": o.App, "--env": o.Env, "--artifact": o.Artifact}); err != nil {
			return cd, err
		}
		if err := appName(o.App); err != nil {
			return cd, err
		}
		artifact, err := artifactID(o.Artifact)
		if err != nil {
			return cd, err
		}
		sha, err := commitSHA("--source-commit", o.SourceCommit, false)
		if err != nil {
			return cd, err
		}
		if sha != "" {
			custom["sha"] = sha
		}
		cd.Context.Type = typeServiceDeployed
		cd.Subject = cdSubject{ID: o.App, Type: "service", Content: map[string]any{
			"environment": cdRef{ID: o.Env},
			"artifactId":  artifact,
		}}
	case KindIncidentDetected, KindIncidentResolved:
		if err := required(map[string]string{"--id": o.IncidentID, "--app": o.App, "--env": o.Env}); err != nil {
			return cd, err
		}
		if err := appName(o.App); err != nil {
			return cd, err
		}
		content := map[string]any{
			"environment": cdRef{ID: o.Env},
			"service":     cdRef{ID: o.App},
		}
		if o.Title != "" {
			content["description"] = o.Title
		}
		if o.Artifact != "" {
			artifact, err := artifactID(o.Artifact)
			if err != nil {
				return cd, err
			}
			content["artifactId"] = artifact
		}
		cd.Context.Type = typeIncidentDetected
		if o.Kind == KindIncidentResolved {
			cd.Context.Type = typeIncidentResolved
		}
		cd.Subject = cdSubject{ID: o.IncidentID, Type: "incident", Content: content}
	default:
		return cd, fmt.Errorf("emit: unknown event kind %q", o.Kind)
	}
	if len(custom) > 0 {
		cd.CustomData = custom
	}
	return cd, nil
}

// required checks that every flag of m is set; the error names the first
// missing, in flag-name order.
func required(m map[string]string) error {
	var missing []string
	for name, v := range m {
		if strings.TrimSpace(v) == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	return usage("missing %s", strings.Join(missing, ", "))
}

var (
	shaPattern    = regexp.MustCompile(`^[0-9a-f]{7,64}$`)
	digestPattern = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	tagPattern    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	namePattern   = regexp.MustCompile(`^[a-z0-9][a-z0-9._/:-]*$`)
)

// commitSHA checks a commit SHA flag (lower-cased).
func commitSHA(flag, v string, need bool) (string, error) {
	v = strings.ToLower(strings.TrimSpace(v))
	switch {
	case v == "" && need:
		return "", usage("missing %s", flag)
	case v == "":
		return "", nil
	case !shaPattern.MatchString(v):
		return "", usage("%s: %q is not a hexadecimal commit SHA (7 to 64 digits)", flag, v)
	}
	return v, nil
}

// appName checks an application name: it is the CDEvent's service id, of
// which shiplog takes the last path segment as the app.
func appName(app string) error {
	if strings.Contains(app, "/") {
		return usage("--app: %q contains a slash", app)
	}
	return nil
}

// image is a container image reference: name[:tag][@digest].
type image struct {
	name, tag, digest string
}

// parseImage splits a reference such as ghcr.io/acme/api:1.4.0 or
// ghcr.io/acme/api@sha256:….
func parseImage(ref string) (image, error) {
	var im image
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return im, fmt.Errorf("missing image reference")
	}
	if strings.Contains(ref, "://") {
		return im, fmt.Errorf("%q: give an image reference (registry/repository[:tag][@digest]), not a URL", ref)
	}
	name := ref
	if i := strings.LastIndexByte(name, '@'); i >= 0 {
		im.digest, name = strings.ToLower(name[i+1:]), name[:i]
		if !digestPattern.MatchString(im.digest) {
			return im, fmt.Errorf("%q: digest %q is not sha256:<64 hex digits>", ref, im.digest)
		}
	}
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		im.tag, name = name[i+1:], name[:i]
		if !tagPattern.MatchString(im.tag) {
			return im, fmt.Errorf("%q: %q is not a valid tag", ref, im.tag)
		}
	}
	if !namePattern.MatchString(name) || strings.HasSuffix(name, "/") {
		return im, fmt.Errorf("%q: %q is not a valid image name (lower-case registry/repository)", ref, name)
	}
	im.name = name
	return im, nil
}

// purl returns the image's package URL, as shiplog's CloudEvents converter
// reads it: pkg:oci/<last path segment>@<digest, ':' as %3A>?repository_url=
// <name>&tag=<tag> (qualifiers sorted, the tag only when known).
func (im image) purl() string {
	last := im.name[strings.LastIndexByte(im.name, '/')+1:]
	var b strings.Builder
	b.WriteString("pkg:oci/")
	b.WriteString(last)
	if im.digest != "" {
		b.WriteString("@")
		b.WriteString(strings.ReplaceAll(im.digest, ":", "%3A"))
	}
	b.WriteString("?repository_url=")
	b.WriteString(im.name)
	if im.tag != "" {
		b.WriteString("&tag=")
		b.WriteString(im.tag)
	}
	return b.String()
}

// artifactID turns an --artifact value into a CDEvents artifactId: a package
// URL is kept; an image reference with a tag or digest becomes pkg:oci.
func artifactID(v string) (string, error) {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(strings.ToLower(v), "pkg:") {
		return v, nil
	}
	im, err := parseImage(v)
	if err != nil {
		return "", usage("--artifact: %v", err)
	}
	if im.tag == "" && im.digest == "" {
		return "", usage("--artifact: %q names neither a tag nor a digest", v)
	}
	return im.purl(), nil
}
