package delivery

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// EventType names a kind of delivery event.
type EventType string

// The event types shiplog records. CDEvents names unless marked "shiplog".
const (
	CommitAuthored      EventType = "commit.authored" // shiplog: a commit in a source repository
	ChangeCreated       EventType = "change.created"  // a pull/merge request opened
	ChangeReviewed      EventType = "change.reviewed" // a review submitted (approved, changes requested, commented)
	ChangeMerged        EventType = "change.merged"
	ChangeAbandoned     EventType = "change.abandoned" // closed without merge
	PipelineRunQueued   EventType = "pipelinerun.queued"
	PipelineRunStarted  EventType = "pipelinerun.started"
	PipelineRunFinished EventType = "pipelinerun.finished"
	ArtifactPackaged    EventType = "artifact.packaged"
	ArtifactPublished   EventType = "artifact.published"
	ManifestChanged     EventType = "manifest.changed"   // shiplog: a GitOps-repo commit changed an app's image
	ManifestRewritten   EventType = "manifest.rewritten" // shiplog: an imported GitOps-repo commit left its branch (force-push)
	SyncStarted         EventType = "sync.started"       // shiplog: an Argo CD sync operation started
	SyncFinished        EventType = "sync.finished"      // shiplog: an Argo CD sync operation ended (any phase)
	HealthChanged       EventType = "health.changed"     // shiplog: an Argo CD application's health changed
	SyncStatusChanged   EventType = "syncstatus.changed" // shiplog: an Argo CD application went Synced/OutOfSync/Unknown
	RevisionCreated     EventType = "revision.created"   // shiplog: a Knative Revision appeared
	RevisionReady       EventType = "revision.ready"     // shiplog: a Knative Revision became Ready
	RevisionFailed      EventType = "revision.failed"    // shiplog: a Knative Revision failed to become Ready
	RevisionDeleted     EventType = "revision.deleted"   // shiplog: a Knative Revision was garbage-collected or deleted
	TrafficChanged      EventType = "traffic.changed"    // shiplog: a Knative Service's traffic split changed
	ScaleSampled        EventType = "scale.sampled"      // shiplog: replicas of a Knative Revision observed
	ServiceDeployed     EventType = "service.deployed"
	ServiceUpgraded     EventType = "service.upgraded"
	ServiceRolledBack   EventType = "service.rolledback"
	ServiceRemoved      EventType = "service.removed"
	IncidentDetected    EventType = "incident.detected"
	IncidentResolved    EventType = "incident.resolved"
)

// eventTypes lists every known type with a constructor for its payload and a
// rank that orders events of one entity that share a timestamp.
var eventTypes = map[EventType]struct {
	rank       int
	newPayload func() Payload
}{
	CommitAuthored:      {0, func() Payload { return &Commit{} }},
	ChangeCreated:       {0, func() Payload { return &Change{} }},
	ChangeReviewed:      {1, func() Payload { return &Change{} }},
	ChangeMerged:        {2, func() Payload { return &Change{} }},
	ChangeAbandoned:     {2, func() Payload { return &Change{} }},
	PipelineRunQueued:   {0, func() Payload { return &PipelineRun{} }},
	PipelineRunStarted:  {1, func() Payload { return &PipelineRun{} }},
	PipelineRunFinished: {2, func() Payload { return &PipelineRun{} }},
	ArtifactPackaged:    {0, func() Payload { return &Artifact{} }},
	ArtifactPublished:   {1, func() Payload { return &Artifact{} }},
	ManifestChanged:     {0, func() Payload { return &ManifestChange{} }},
	ManifestRewritten:   {0, func() Payload { return &RewrittenCommit{} }},
	SyncStarted:         {0, func() Payload { return &Sync{} }},
	SyncFinished:        {1, func() Payload { return &Sync{} }},
	HealthChanged:       {0, func() Payload { return &Health{} }},
	SyncStatusChanged:   {0, func() Payload { return &SyncStatus{} }},
	RevisionCreated:     {0, func() Payload { return &Revision{} }},
	RevisionReady:       {1, func() Payload { return &Revision{} }},
	RevisionFailed:      {1, func() Payload { return &Revision{} }},
	RevisionDeleted:     {2, func() Payload { return &Revision{} }},
	TrafficChanged:      {0, func() Payload { return &Traffic{} }},
	ScaleSampled:        {0, func() Payload { return &Scale{} }},
	ServiceDeployed:     {0, func() Payload { return &Deployment{} }},
	ServiceUpgraded:     {0, func() Payload { return &Deployment{} }},
	ServiceRolledBack:   {0, func() Payload { return &Deployment{} }},
	ServiceRemoved:      {0, func() Payload { return &Deployment{} }},
	IncidentDetected:    {0, func() Payload { return &Incident{} }},
	IncidentResolved:    {1, func() Payload { return &Incident{} }},
}

// EventTypes returns every known event type, sorted.
func EventTypes() []EventType {
	out := make([]EventType, 0, len(eventTypes))
	for t := range eventTypes {
		out = append(out, t)
	}
	sortEventTypes(out)
	return out
}

func sortEventTypes(ts []EventType) {
	for i := 1; i < len(ts); i++ {
		for j := i; j > 0 && ts[j] < ts[j-1]; j-- {
			ts[j], ts[j-1] = ts[j-1], ts[j]
		}
	}
}

// Known reports whether t is an event type shiplog records.
func (t EventType) Known() bool { _, ok := eventTypes[t]; return ok }

// Rank orders events of one entity that carry the same timestamp
// (started before finished, created before ready).
func (t EventType) Rank() int { return eventTypes[t].rank }

// NewPayload returns an empty payload of the Go type that events of type t
// carry, for decoding. It returns nil for an unknown type.
func NewPayload(t EventType) Payload {
	if et, ok := eventTypes[t]; ok {
		return et.newPayload()
	}
	return nil
}

// Payload is the typed body of an event. Each event type has one payload type.
type Payload interface {
	// validate checks the payload's required fields for an event of type t.
	validate(t EventType) error
}

// Event is one thing that happened in the delivery flow, as a source saw it.
//
// Source and ID together are the idempotency key: appending an event whose
// key is already stored changes nothing.
type Event struct {
	Seq        int64     `json:"seq,omitempty"`         // position in the log, assigned by the store
	Source     string    `json:"source"`                // source kind: github, gitlab, git, kube, argocd, cloudevents, alertmanager, …
	ID         string    `json:"id"`                    // unique within Source (delivery id, object uid+resourceVersion, …)
	Type       EventType `json:"type"`                  // what happened
	Time       time.Time `json:"time"`                  // when it happened, per the source
	ReceivedAt time.Time `json:"received_at,omitzero"`  // when the store appended it
	App        string    `json:"app,omitempty"`         // application, when known
	Env        string    `json:"environment,omitempty"` // environment, when known
	Team       string    `json:"team,omitempty"`        // owning team, when the source knows it
	Cluster    string    `json:"cluster,omitempty"`     // cluster name, for Kubernetes-sourced events
	Namespace  string    `json:"namespace,omitempty"`   // Kubernetes namespace, when known
	Payload    Payload   `json:"payload"`               // one of the payload types, matching Type
}

// Limits on event fields. Larger values are rejected, not truncated.
const (
	MaxIDLen      = 512
	MaxNameLen    = 253 // app, environment, team, cluster, namespace
	MaxPayloadLen = 1 << 20
)

var sourcePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

// ValidationError says which field of an event is wrong and why.
type ValidationError struct {
	Field  string // dotted path, e.g. "id" or "payload.sha"
	Reason string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("invalid event: %s: %s", e.Field, e.Reason)
}

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// earliest and latest bound event timestamps: anything outside is a parsing
// mistake upstream (zero time, milliseconds taken for seconds, …).
var (
	earliest = time.Date(1970, 1, 1, 0, 0, 1, 0, time.UTC)
	latest   = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Validate checks that the event can be stored: key, type, timestamp, target
// names, and the payload's required fields. The error is a *ValidationError
// naming the first wrong field.
func (e *Event) Validate() error {
	switch {
	case e.Source == "":
		return invalid("source", "missing")
	case !sourcePattern.MatchString(e.Source):
		return invalid("source", "%q is not a source kind (lower-case letters, digits and '-', starting with a letter)", e.Source)
	case e.ID == "":
		return invalid("id", "missing")
	case len(e.ID) > MaxIDLen:
		return invalid("id", "longer than %d bytes", MaxIDLen)
	case !utf8.ValidString(e.ID):
		return invalid("id", "not valid UTF-8")
	case e.Type == "":
		return invalid("type", "missing")
	case !e.Type.Known():
		return invalid("type", "unknown event type %q", e.Type)
	}
	if err := checkTime("time", e.Time, true); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{
		{"app", e.App}, {"environment", e.Env}, {"team", e.Team}, {"cluster", e.Cluster}, {"namespace", e.Namespace},
	} {
		if len(f.v) > MaxNameLen {
			return invalid(f.name, "longer than %d bytes", MaxNameLen)
		}
		if !utf8.ValidString(f.v) || strings.ContainsAny(f.v, "\x00\n\r") {
			return invalid(f.name, "contains invalid characters")
		}
	}
	if e.Payload == nil {
		return invalid("payload", "missing")
	}
	want := NewPayload(e.Type)
	if fmt.Sprintf("%T", want) != fmt.Sprintf("%T", e.Payload) {
		return invalid("payload", "a %s event carries %T, not %T", e.Type, want, e.Payload)
	}
	return e.Payload.validate(e.Type)
}

// checkTime rejects the zero time and timestamps outside 1970–2200.
func checkTime(field string, t time.Time, required bool) error {
	if t.IsZero() {
		if required {
			return invalid(field, "missing or zero timestamp")
		}
		return nil
	}
	if t.Before(earliest) || !t.Before(latest) {
		return invalid(field, "timestamp %s is outside 1970–2200", t.UTC().Format(time.RFC3339))
	}
	return nil
}

// Entity returns the key of the derived-model row this event contributes to
// when several events fold into one row (a pull request, a pipeline run, a
// sync operation, a revision, an artifact, an incident), or "" when the event
// maps to a row of its own.
func (e *Event) Entity() string {
	switch p := e.Payload.(type) {
	case *Change:
		return "change:" + p.Repo + "#" + fmt.Sprint(p.Number)
	case *PipelineRun:
		return "pipelinerun:" + e.Source + ":" + p.RunID
	case *Artifact:
		return "artifact:" + p.Key()
	case *Sync:
		return "sync:" + e.Cluster + "/" + p.Application + "@" + p.StartedAt.UTC().Format(time.RFC3339Nano)
	case *Revision:
		return "revision:" + e.Cluster + "/" + e.Namespace + "/" + p.Name
	case *Incident:
		return "incident:" + e.Source + ":" + p.IncidentID
	}
	return ""
}

// MarshalPayload encodes the event's payload as stored.
func (e *Event) MarshalPayload() ([]byte, error) {
	b, err := json.Marshal(e.Payload)
	if err != nil {
		return nil, fmt.Errorf("encode %s payload: %w", e.Type, err)
	}
	if len(b) > MaxPayloadLen {
		return nil, invalid("payload", "encoded payload is %d bytes, over the %d limit", len(b), MaxPayloadLen)
	}
	return b, nil
}

// UnmarshalPayload decodes a stored payload for an event of type t.
func UnmarshalPayload(t EventType, data []byte) (Payload, error) {
	p := NewPayload(t)
	if p == nil {
		return nil, fmt.Errorf("decode payload: unknown event type %q", t)
	}
	if err := json.Unmarshal(data, p); err != nil {
		return nil, fmt.Errorf("decode %s payload: %w", t, err)
	}
	return p, nil
}

// UnmarshalJSON decodes an event, choosing the payload type from "type".
func (e *Event) UnmarshalJSON(b []byte) error {
	type plain Event
	var raw struct {
		plain
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*e = Event(raw.plain)
	e.Payload = nil
	if len(raw.Payload) == 0 || string(raw.Payload) == "null" {
		return nil
	}
	if !e.Type.Known() {
		return invalid("type", "unknown event type %q", e.Type)
	}
	p, err := UnmarshalPayload(e.Type, raw.Payload)
	if err != nil {
		return err
	}
	e.Payload = p
	return nil
}

// ErrUnsupported marks well-formed input that shiplog does not record, such
// as a webhook event type it ignores. Sources wrap it with the reason;
// receivers answer 202 Accepted and count it, storing nothing.
var ErrUnsupported = errors.New("unsupported event")
