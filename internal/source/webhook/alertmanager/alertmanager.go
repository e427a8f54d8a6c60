// Package alertmanager turns Prometheus Alertmanager webhook notifications
// into incident events.
//
// Each alert of a notification is one event: a firing alert is
// incident.detected at its startsAt, a resolved one incident.resolved at its
// endsAt. An alert is identified by its fingerprint and start time, so the
// notifications that Alertmanager repeats while an alert fires (every
// repeat_interval, and on every change of its group) are duplicates of one
// event, and the resolved notification closes the same incident.
//
// The package does no I/O: the HTTP handler reads the request body and passes
// it in.
package alertmanager

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// Source is the source kind of the events that Parse produces.
const Source = "alertmanager"

// Mapping says which alert labels name the application and the environment
// an alert is about. For each, the first label of the list that the alert
// carries with a non-empty value wins. An empty list means the default.
type Mapping struct {
	AppLabels []string // default: app, service, job
	EnvLabels []string // default: env, environment, namespace
}

// DefaultMapping returns the mapping used for empty lists.
func DefaultMapping() Mapping {
	return Mapping{
		AppLabels: []string{"app", "service", "job"},
		EnvLabels: []string{"env", "environment", "namespace"},
	}
}

// notification is the body of an Alertmanager webhook, version 4.
type notification struct {
	Version  string  `json:"version"`
	GroupKey string  `json:"groupKey"`
	Status   string  `json:"status"`
	Receiver string  `json:"receiver"`
	Alerts   []alert `json:"alerts"`
}

type alert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// Parse reads an Alertmanager webhook notification (version "4") and
// returns one event per alert, in the order of the alerts.
//
// An event's incident id is "<fingerprint>@<startsAt>" (startsAt in RFC 3339,
// UTC, whole seconds) and its id is the incident id followed by "/firing" or
// "/resolved". Title is the summary annotation, else the alertname label;
// Description the description annotation; Severity the severity label; URL
// the generatorURL; Artifact the image_digest label, else the digest label;
// Service the service label. App and Env come from the labels m names,
// Namespace from the namespace label and Cluster from the cluster label.
//
// A notification without alerts gives an error wrapping
// delivery.ErrUnsupported. A version other than "4", an alert without
// fingerprint, startsAt or a valid status, and a resolved alert without an
// end time are errors naming the field.
func Parse(body []byte, m Mapping) ([]delivery.Event, error) {
	def := DefaultMapping()
	if len(m.AppLabels) == 0 {
		m.AppLabels = def.AppLabels
	}
	if len(m.EnvLabels) == 0 {
		m.EnvLabels = def.EnvLabels
	}
	var n notification
	if err := json.Unmarshal(body, &n); err != nil {
		return nil, fmt.Errorf("alertmanager: not a webhook notification: %w", err)
	}
	if n.Version != "4" {
		return nil, fmt.Errorf("alertmanager: version: %q is not supported (shiplog reads webhook version 4)", n.Version)
	}
	if len(n.Alerts) == 0 {
		return nil, fmt.Errorf("%w: alertmanager notification %q has no alerts", delivery.ErrUnsupported, n.GroupKey)
	}
	events := make([]delivery.Event, 0, len(n.Alerts))
	for i, a := range n.Alerts {
		e, err := convert(a, m)
		var fe *fieldError
		switch {
		case errors.As(err, &fe):
			return nil, fmt.Errorf("alertmanager: alerts[%d].%w", i, err)
		case err != nil:
			return nil, fmt.Errorf("alertmanager: alerts[%d]: %w", i, err)
		}
		events = append(events, e)
	}
	return events, nil
}

// fieldError names the field of an alert that is wrong; Parse prefixes it
// with the alert's index.
type fieldError struct {
	field, reason string
}

func (e *fieldError) Error() string { return e.field + ": " + e.reason }

func fieldErr(field, format string, args ...any) error {
	return &fieldError{field, fmt.Sprintf(format, args...)}
}

// zeroTime is how Alertmanager writes the end of an alert that has none.
const zeroTime = "0001-01-01T00:00:00Z"

func convert(a alert, m Mapping) (delivery.Event, error) {
	if a.Fingerprint == "" {
		return delivery.Event{}, fieldErr("fingerprint", "missing")
	}
	if a.StartsAt == "" {
		return delivery.Event{}, fieldErr("startsAt", "missing")
	}
	startsAt, err := parseTime("startsAt", a.StartsAt)
	if err != nil {
		return delivery.Event{}, err
	}
	incidentID := a.Fingerprint + "@" + startsAt.Format(time.RFC3339)
	e := delivery.Event{
		Source:    Source,
		ID:        incidentID + "/" + a.Status,
		App:       firstLabel(a.Labels, m.AppLabels),
		Env:       firstLabel(a.Labels, m.EnvLabels),
		Namespace: a.Labels["namespace"],
		Cluster:   a.Labels["cluster"],
	}
	switch a.Status {
	case "firing":
		e.Type, e.Time = delivery.IncidentDetected, startsAt
	case "resolved":
		e.Type = delivery.IncidentResolved
		if a.EndsAt == "" || a.EndsAt == zeroTime {
			return delivery.Event{}, fieldErr("endsAt", "a resolved alert needs its end time, got %q", a.EndsAt)
		}
		if e.Time, err = parseTime("endsAt", a.EndsAt); err != nil {
			return delivery.Event{}, err
		}
	case "":
		return delivery.Event{}, fieldErr("status", "missing")
	default:
		return delivery.Event{}, fieldErr("status", "%q is neither firing nor resolved", a.Status)
	}
	title := a.Annotations["summary"]
	if title == "" {
		title = a.Labels["alertname"]
	}
	artifact := a.Labels["image_digest"]
	if artifact == "" {
		artifact = a.Labels["digest"]
	}
	e.Payload = &delivery.Incident{
		IncidentID:  incidentID,
		Title:       title,
		Description: a.Annotations["description"],
		Service:     a.Labels["service"],
		Artifact:    artifact,
		URL:         a.GeneratorURL,
		Severity:    a.Labels["severity"],
	}
	if err := e.Validate(); err != nil {
		return delivery.Event{}, err
	}
	return e, nil
}

func parseTime(field, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fieldErr(field, "%q is not an RFC 3339 timestamp", v)
	}
	return t.UTC(), nil
}

// firstLabel returns the value of the first of names that labels carry with
// a non-empty value.
func firstLabel(labels map[string]string, names []string) string {
	for _, name := range names {
		if v := labels[name]; v != "" {
			return v
		}
	}
	return ""
}
