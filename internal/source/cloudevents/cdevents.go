package cloudevents

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// cdTypePattern matches a CDEvents type:
// dev.cdevents.<subject>.<predicate>.<major>.<minor>.<patch>[-<pre-release>].
var cdTypePattern = regexp.MustCompile(`^dev\.cdevents\.([a-z]+)\.([a-z]+)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:-[0-9A-Za-z.-]+)?$`)

// shaPattern matches a commit SHA, as the delivery package checks it.
var shaPattern = regexp.MustCompile(`^[0-9a-f]{7,64}$`)

// cdEvent is a CDEvent: the data of a CloudEvent of type dev.cdevents.*.
// Only the members shiplog reads are declared.
type cdEvent struct {
	Context struct {
		Version     string `json:"version"`     // spec v0.4 and before
		SpecVersion string `json:"specversion"` // spec v0.5
		ID          string `json:"id"`
		Source      string `json:"source"`
		Type        string `json:"type"`
		Timestamp   string `json:"timestamp"`
	} `json:"context"`
	Subject struct {
		ID      string    `json:"id"`
		Source  string    `json:"source"`
		Content cdContent `json:"content"`
	} `json:"subject"`
	CustomData json.RawMessage `json:"customData"`
}

// cdContent holds the subject content members of every event type shiplog
// maps; each type uses some of them.
type cdContent struct {
	Repository   *cdRef `json:"repository"`   // change.*
	PipelineName string `json:"pipelineName"` // pipelinerun.*
	URI          string `json:"uri"`          // pipelinerun.* (spec v0.5)
	URL          string `json:"url"`          // pipelinerun.* (spec v0.4)
	Outcome      string `json:"outcome"`      // pipelinerun.finished
	Change       *cdRef `json:"change"`       // artifact.packaged
	Environment  *cdRef `json:"environment"`  // service.*, incident.*
	ArtifactID   string `json:"artifactId"`   // service.*, incident.*, build.finished
	Description  string `json:"description"`  // incident.*
	Service      *cdRef `json:"service"`      // incident.*
}

// cdRef is a reference to another subject.
type cdRef struct {
	ID     string `json:"id"`
	Source string `json:"source"`
}

// cdCustom holds the customData members shiplog reads, for what the CDEvents
// subjects do not carry (see docs/sources/cloudevents.md).
type cdCustom struct {
	SHA         string // commit: head of a change, merge commit of change.merged, built commit of a run, source of an artifact or deployment
	Branch      string // branch of a pipeline run or build
	Reviewer    string // change.reviewed
	ReviewState string // change.reviewed: approved, changes_requested, commented, dismissed
	Outcome     string // build.finished: success, failure, cancel, error
}

// cdInput is what a CDEvent converter works from.
type cdInput struct {
	subject, predicate string
	cd                 cdEvent
	custom             cdCustom
	base               delivery.Event // Source, ID and Time set
}

// cdConverters maps "<subject>.<predicate>" to its converter.
var cdConverters = map[string]func(cdInput) ([]delivery.Event, error){
	"change.created":       convertChange,
	"change.reviewed":      convertChange,
	"change.merged":        convertChange,
	"change.abandoned":     convertChange,
	"pipelinerun.queued":   convertRun,
	"pipelinerun.started":  convertRun,
	"pipelinerun.finished": convertRun,
	"build.queued":         convertRun,
	"build.started":        convertRun,
	"build.finished":       convertRun,
	"artifact.packaged":    convertArtifact,
	"artifact.published":   convertArtifact,
	"service.deployed":     convertService,
	"service.upgraded":     convertService,
	"service.rolledback":   convertService,
	"service.removed":      convertService,
	"incident.detected":    convertIncident,
	"incident.resolved":    convertIncident,
}

// unsupported returns an error wrapping delivery.ErrUnsupported.
func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: %s", delivery.ErrUnsupported, fmt.Sprintf(format, args...))
}

func convertCDEvent(e Event) ([]delivery.Event, error) {
	m := cdTypePattern.FindStringSubmatch(e.Type)
	if m == nil {
		return nil, unsupported("%q is not a CDEvents type name", e.Type)
	}
	subject, predicate, major := m[1], m[2], m[3]
	if major != "0" {
		return nil, unsupported("version %s.%s.%s of CDEvents %s.%s: shiplog reads versions 0.x", m[3], m[4], m[5], subject, predicate)
	}
	conv, ok := cdConverters[subject+"."+predicate]
	if !ok {
		return nil, unsupported("CDEvents %s.%s is not recorded by shiplog", subject, predicate)
	}
	if !isJSON(e.DataContentType) {
		return nil, fmt.Errorf("data content type %q: a CDEvent is JSON", e.DataContentType)
	}
	if len(e.Data) == 0 {
		return nil, errors.New("no data: the data of a CDEvents CloudEvent is the whole CDEvent")
	}
	var cd cdEvent
	if err := json.Unmarshal(e.Data, &cd); err != nil {
		return nil, fmt.Errorf("data is not a CDEvent: %w", err)
	}
	for _, f := range []struct{ name, v string }{
		{"context.id", cd.Context.ID}, {"context.source", cd.Context.Source},
		{"context.type", cd.Context.Type}, {"context.timestamp", cd.Context.Timestamp},
		{"subject.id", cd.Subject.ID},
	} {
		if f.v == "" {
			return nil, fmt.Errorf("CDEvent %s: missing", f.name)
		}
	}
	if cd.Context.Type != e.Type {
		return nil, fmt.Errorf("CDEvent context.type %q differs from the CloudEvent type %q", cd.Context.Type, e.Type)
	}
	if v := cmp.Or(cd.Context.SpecVersion, cd.Context.Version); v != "" && !strings.HasPrefix(v, "0.") {
		return nil, unsupported("CDEvents specification %s: shiplog reads versions 0.x", v)
	}
	ts, err := time.Parse(time.RFC3339Nano, cd.Context.Timestamp)
	if err != nil {
		return nil, fmt.Errorf("CDEvent context.timestamp: %q is not an RFC 3339 timestamp", cd.Context.Timestamp)
	}
	custom := parseCustom(cd.CustomData)
	if custom.SHA != "" && !shaPattern.MatchString(custom.SHA) {
		return nil, fmt.Errorf("CDEvent customData.sha: %q is not a hexadecimal commit SHA", custom.SHA)
	}
	return conv(cdInput{
		subject: subject, predicate: predicate, cd: cd, custom: custom,
		base: delivery.Event{Source: Source, ID: e.Source + " " + e.ID, Time: ts.UTC()},
	})
}

// parseCustom reads shiplog's members of customData, when it is a JSON
// object; members of other types are ignored.
func parseCustom(raw json.RawMessage) cdCustom {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return cdCustom{}
	}
	str := func(k string) string {
		s, _ := m[k].(string)
		return strings.TrimSpace(s)
	}
	return cdCustom{
		SHA:         strings.ToLower(str("sha")),
		Branch:      str("branch"),
		Reviewer:    str("reviewer"),
		ReviewState: str("reviewState"),
		Outcome:     str("outcome"),
	}
}

// event returns in.base with the type, payload and target set.
func (in cdInput) event(t delivery.EventType, p delivery.Payload) delivery.Event {
	ev := in.base
	ev.Type, ev.Payload = t, p
	return ev
}

// convertChange maps change.created, .reviewed, .merged and .abandoned.
func convertChange(in cdInput) ([]delivery.Event, error) {
	s := in.cd.Subject
	repo := strings.TrimRight(s.Source, "/")
	if r := s.Content.Repository; r != nil && r.ID != "" {
		repo = joinRef(r.Source, r.ID)
	}
	if repo == "" {
		return nil, unsupported("change %q names no repository: set subject.content.repository or subject.source", s.ID)
	}
	number, ok := changeNumber(s.ID)
	if !ok {
		return nil, unsupported("change id %q holds no pull/merge request number", s.ID)
	}
	p := &delivery.Change{Repo: repo, Number: number}
	if strings.HasPrefix(s.ID, "https://") || strings.HasPrefix(s.ID, "http://") {
		p.URL = s.ID
	}
	var t delivery.EventType
	switch in.predicate {
	case "created":
		t, p.HeadSHA = delivery.ChangeCreated, in.custom.SHA
	case "abandoned":
		t, p.HeadSHA = delivery.ChangeAbandoned, in.custom.SHA
	case "merged":
		t, p.MergeSHA = delivery.ChangeMerged, in.custom.SHA
		if p.MergeSHA == "" {
			return nil, unsupported("change.merged of %s#%d names no merge commit: set customData.sha", repo, number)
		}
	case "reviewed":
		t, p.HeadSHA = delivery.ChangeReviewed, in.custom.SHA
		if in.custom.Reviewer == "" || in.custom.ReviewState == "" {
			return nil, unsupported("change.reviewed of %s#%d names no reviewer or verdict: set customData.reviewer and customData.reviewState", repo, number)
		}
		p.Reviewer = in.custom.Reviewer
		switch st := delivery.ReviewState(strings.ToLower(in.custom.ReviewState)); st {
		case delivery.ReviewApproved, delivery.ReviewChangesRequested, delivery.ReviewCommented, delivery.ReviewDismissed:
			p.ReviewState = st
		default:
			return nil, fmt.Errorf("CDEvent customData.reviewState: %q is not one of approved, changes_requested, commented, dismissed", in.custom.ReviewState)
		}
	}
	return []delivery.Event{in.event(t, p)}, nil
}

// joinRef joins a reference's source and id into one name: "my-git.example"
// and "an-org/a-repo" give "my-git.example/an-org/a-repo". A source that
// already ends with the id is returned alone.
func joinRef(source, id string) string {
	source = strings.TrimRight(source, "/")
	switch {
	case source == "":
		return id
	case source == id || strings.HasSuffix(source, "/"+id):
		return source
	}
	return source + "/" + id
}

var trailingHex = regexp.MustCompile(`[0-9a-fA-F]+$`)

// changeNumber finds the pull/merge request number in a change id: the id
// itself when numeric ("42"), else the number it ends with ("acme/api#42",
// "https://github.com/acme/api/pull/42", "featureBranch123"). Digits that end
// a hexadecimal string (a commit SHA, a Gerrit Change-Id) are no number.
func changeNumber(id string) (int64, bool) {
	digits := trailingHex.FindString(id)
	if strings.ContainsAny(digits, "abcdefABCDEF") {
		return 0, false
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}

// convertRun maps pipelinerun.* and build.* to pipelinerun.*; a build's run
// id is "build/<subject id>". A successful build.finished that names an
// image also gives an artifact.packaged event linked to the build.
func convertRun(in cdInput) ([]delivery.Event, error) {
	s := in.cd.Subject
	c := s.Content
	p := &delivery.PipelineRun{
		RunID:  s.ID,
		Name:   c.PipelineName,
		URL:    cmp.Or(c.URI, c.URL),
		SHA:    in.custom.SHA,
		Branch: in.custom.Branch,
	}
	if in.subject == "build" {
		p.RunID = "build/" + s.ID
	}
	var t delivery.EventType
	switch in.predicate {
	case "queued":
		t = delivery.PipelineRunQueued
	case "started":
		t = delivery.PipelineRunStarted
	case "finished":
		t = delivery.PipelineRunFinished
		outcome, field := c.Outcome, "subject.content.outcome"
		if in.subject == "build" {
			// The build subject has no outcome: customData may carry it, and
			// a build that produced an artifact succeeded.
			outcome, field = in.custom.Outcome, "customData.outcome"
			if outcome == "" && c.ArtifactID != "" {
				outcome = string(delivery.OutcomeSuccess)
			}
		}
		if outcome == "" {
			return nil, unsupported("%s.finished %q has no outcome", in.subject, s.ID)
		}
		o, ok := parseOutcome(outcome)
		if !ok {
			return nil, fmt.Errorf("CDEvent %s: %q is not one of success, failure, cancel, error", field, outcome)
		}
		p.Outcome = o
	}
	out := []delivery.Event{in.event(t, p)}
	if t == delivery.PipelineRunFinished && in.subject == "build" && c.ArtifactID != "" && p.Outcome == delivery.OutcomeSuccess {
		img, err := imageFromPURL(c.ArtifactID)
		switch {
		case errors.Is(err, errNotImage):
		case err != nil:
			return nil, fmt.Errorf("CDEvent subject.content.artifactId: %w", err)
		default:
			a := in.event(delivery.ArtifactPackaged, &delivery.Artifact{
				Name: img.Name, Tag: img.Tag, Digest: img.Digest, SourceCommit: in.custom.SHA, PipelineRun: p.RunID,
			})
			a.ID += "#artifact"
			out = append(out, a)
		}
	}
	return out, nil
}

func parseOutcome(s string) (delivery.Outcome, bool) {
	switch strings.ToLower(s) {
	case "success":
		return delivery.OutcomeSuccess, true
	case "failure":
		return delivery.OutcomeFailure, true
	case "error":
		return delivery.OutcomeError, true
	case "cancel", "canceled", "cancelled":
		return delivery.OutcomeCancel, true
	}
	return "", false
}

// convertArtifact maps artifact.packaged and .published. The subject id is
// the image's package URL.
func convertArtifact(in cdInput) ([]delivery.Event, error) {
	s := in.cd.Subject
	img, err := imageFromPURL(s.ID)
	if errors.Is(err, errNotImage) {
		return nil, unsupported("artifact %q is not a container image", s.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("CDEvent subject.id: %w", err)
	}
	p := &delivery.Artifact{Name: img.Name, Tag: img.Tag, Digest: img.Digest, SourceCommit: in.custom.SHA}
	t := delivery.ArtifactPublished
	if in.predicate == "packaged" {
		t = delivery.ArtifactPackaged
		if ch := s.Content.Change; ch != nil {
			p.SourceRepo = strings.TrimRight(ch.Source, "/")
			if id := strings.ToLower(ch.ID); shaPattern.MatchString(id) {
				p.SourceCommit = id
			}
		}
	}
	return []delivery.Event{in.event(t, p)}, nil
}

// artifactRef turns an artifactId into what shiplog records: the image
// reference for a container image's package URL, the package URL itself for
// other packages.
func artifactRef(id string) (string, error) {
	img, err := imageFromPURL(id)
	if errors.Is(err, errNotImage) {
		return id, nil
	}
	if err != nil {
		return "", fmt.Errorf("CDEvent subject.content.artifactId: %w", err)
	}
	return img.Ref(), nil
}

// lastSegment returns what follows the last "/" of s: "service/api" gives "api".
func lastSegment(s string) string {
	s = strings.TrimRight(s, "/")
	return s[strings.LastIndexByte(s, '/')+1:]
}

// convertService maps service.deployed, .upgraded, .rolledback and
// .removed: App from the service id, Env from the environment id.
func convertService(in cdInput) ([]delivery.Event, error) {
	s := in.cd.Subject
	c := s.Content
	if c.Environment == nil || c.Environment.ID == "" {
		return nil, errors.New("CDEvent subject.content.environment.id: missing")
	}
	p := &delivery.Deployment{InferredFrom: "cdevents", SourceCommit: in.custom.SHA}
	var t delivery.EventType
	switch in.predicate {
	case "deployed":
		t = delivery.ServiceDeployed
	case "upgraded":
		t = delivery.ServiceUpgraded
	case "rolledback":
		t = delivery.ServiceRolledBack
	case "removed":
		t = delivery.ServiceRemoved
	}
	if c.ArtifactID == "" && t != delivery.ServiceRemoved {
		return nil, errors.New("CDEvent subject.content.artifactId: missing")
	}
	if c.ArtifactID != "" {
		var err error
		if p.Artifact, err = artifactRef(c.ArtifactID); err != nil {
			return nil, err
		}
	}
	ev := in.event(t, p)
	ev.App, ev.Env = lastSegment(s.ID), c.Environment.ID
	return []delivery.Event{ev}, nil
}

// convertIncident maps incident.detected and .resolved. The incident id is
// the subject id, so both events of one incident fold together.
func convertIncident(in cdInput) ([]delivery.Event, error) {
	s := in.cd.Subject
	c := s.Content
	title, _, _ := strings.Cut(strings.TrimSpace(c.Description), "\n")
	p := &delivery.Incident{IncidentID: s.ID, Title: strings.TrimSpace(title), Description: c.Description}
	t := delivery.IncidentDetected
	if in.predicate == "resolved" {
		t = delivery.IncidentResolved
	}
	ev := in.event(t, p)
	if c.Service != nil && c.Service.ID != "" {
		p.Service = c.Service.ID
		ev.App = lastSegment(c.Service.ID)
	}
	if c.Environment != nil {
		ev.Env = c.Environment.ID
	}
	if c.ArtifactID != "" {
		var err error
		if p.Artifact, err = artifactRef(c.ArtifactID); err != nil {
			return nil, err
		}
	}
	return []delivery.Event{ev}, nil
}
