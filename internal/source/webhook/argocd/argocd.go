// Package argocd turns Argo CD Notifications webhooks into sync and health
// events.
//
// Argo CD Notifications posts whatever body its template renders, so shiplog
// defines the template (BodyTemplate, one per trigger; the ConfigMap is in
// docs/sources/argocd-notifications.md) and Parse reads what it renders.
//
// A sync operation is identified by its application and start time, so the
// started and finished events of one operation fold into one record, and the
// same notification sent twice is one event.
//
// The package does no I/O: the HTTP handler reads the request body and passes
// it in.
package argocd

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// Source is the source kind of the events that Parse produces.
const Source = "argocd"

// body is what BodyTemplate renders.
type body struct {
	Trigger       string    `json:"trigger"`
	Timestamp     string    `json:"timestamp"` // when the notification was rendered
	App           string    `json:"app"`
	Namespace     string    `json:"namespace"`
	Project       string    `json:"project"`
	Environment   string    `json:"environment"`
	Destination   dest      `json:"destination"`
	SyncStatus    string    `json:"sync_status"`
	HealthStatus  string    `json:"health_status"`
	HealthMessage string    `json:"health_message"`
	HealthSince   string    `json:"health_since"`
	Revision      string    `json:"revision"`
	Revisions     []string  `json:"revisions"`
	Operation     operation `json:"operation"`
	Images        []string  `json:"images"`
}

type operation struct {
	Phase         string    `json:"phase"`
	StartedAt     string    `json:"started_at"`
	FinishedAt    string    `json:"finished_at"`
	Message       string    `json:"message"`
	RetryCount    int64     `json:"retry_count"`
	InitiatedBy   initiator `json:"initiated_by"`
	SyncRevision  string    `json:"sync_revision"`
	SyncRevisions []string  `json:"sync_revisions"`
}

type initiator struct {
	Username  string `json:"username"`
	Automated bool   `json:"automated"`
}

type dest struct {
	Server    string `json:"server"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// Parse reads a webhook body rendered from BodyTemplate and returns the
// event it stands for. cluster names the Argo CD instance's cluster; it is
// set as the events' Cluster.
//
//   - on-sync-running (phase Running): sync.started at operation.started_at;
//   - on-sync-succeeded (phase Succeeded) and on-sync-failed (Failed or
//     Error): sync.finished at operation.finished_at;
//     sync event ids are "<app>/<started_at>/<phase>";
//   - on-health-degraded (health Degraded) and on-deployed (phase Succeeded,
//     health Healthy): health.changed at health_since (for on-deployed, the
//     later of health_since and operation.finished_at), else at timestamp;
//     ids are "<app>/health/<status>/<revision>/<time>".
//
// Times in ids are RFC 3339 in UTC. App is the Application name, Env the
// environment field (empty when the Application has no env label),
// Namespace the destination namespace.
//
// Other triggers (on-sync-status-unknown, or a template copied for another
// trigger) give an error wrapping delivery.ErrUnsupported. A body that is not
// JSON, lacks app, trigger or a time its event needs, or whose state does not
// match its trigger is an error naming the field.
func Parse(data []byte, cluster string) ([]delivery.Event, error) {
	var b body
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("argocd: not a shiplog notification body: %w", err)
	}
	if b.Trigger == "" {
		return nil, fieldErr("trigger", "missing")
	}
	if b.App == "" {
		return nil, fieldErr("app", "missing")
	}
	e := delivery.Event{
		Source:    Source,
		App:       b.App,
		Env:       b.Environment,
		Cluster:   cluster,
		Namespace: b.Destination.Namespace,
	}
	var err error
	switch b.Trigger {
	case TriggerSyncRunning, TriggerSyncSucceeded, TriggerSyncFailed:
		err = syncEvent(&e, &b)
	case TriggerHealthDegraded, TriggerDeployed:
		err = healthEvent(&e, &b)
	default:
		return nil, fmt.Errorf("%w: Argo CD notification for trigger %q of application %q", delivery.ErrUnsupported, b.Trigger, b.App)
	}
	if err != nil {
		return nil, err
	}
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("argocd: %s of application %q: %w", b.Trigger, b.App, err)
	}
	return []delivery.Event{e}, nil
}

func fieldErr(field, format string, args ...any) error {
	return fmt.Errorf("argocd: %s: %s", field, fmt.Sprintf(format, args...))
}

// parseTime parses a required RFC 3339 timestamp into UTC.
func parseTime(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, fieldErr(field, "missing")
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fieldErr(field, "%q is not an RFC 3339 timestamp", v)
	}
	return t.UTC(), nil
}

// phases lists the operation phases each sync trigger fires on.
var phases = map[string][]delivery.SyncPhase{
	TriggerSyncRunning:   {delivery.PhaseRunning},
	TriggerSyncSucceeded: {delivery.PhaseSucceeded},
	TriggerSyncFailed:    {delivery.PhaseFailed, delivery.PhaseError},
}

func syncEvent(e *delivery.Event, b *body) error {
	op := b.Operation
	phase := delivery.SyncPhase(op.Phase)
	if !slices.Contains(phases[b.Trigger], phase) {
		return fieldErr("operation.phase", "%q does not match trigger %s (want %s)", op.Phase, b.Trigger, join(phases[b.Trigger]))
	}
	started, err := parseTime("operation.started_at", op.StartedAt)
	if err != nil {
		return err
	}
	p := &delivery.Sync{
		Application: b.App,
		StartedAt:   started,
		Revision:    cmp.Or(op.SyncRevision, b.Revision),
		Revisions:   op.SyncRevisions,
		Phase:       phase,
		Message:     op.Message,
		InitiatedBy: op.InitiatedBy.Username,
		Automated:   op.InitiatedBy.Automated,
		RetryCount:  op.RetryCount,
	}
	if len(p.Revisions) == 0 {
		p.Revisions = b.Revisions
	}
	e.Type, e.Time = delivery.SyncStarted, started
	if phase != delivery.PhaseRunning {
		if p.FinishedAt, err = parseTime("operation.finished_at", op.FinishedAt); err != nil {
			return err
		}
		e.Type, e.Time = delivery.SyncFinished, p.FinishedAt
	}
	e.ID = b.App + "/" + started.Format(time.RFC3339) + "/" + op.Phase
	e.Payload = p
	return nil
}

func healthEvent(e *delivery.Event, b *body) error {
	want := delivery.Degraded
	if b.Trigger == TriggerDeployed {
		want = delivery.Healthy
		if b.Operation.Phase != string(delivery.PhaseSucceeded) {
			return fieldErr("operation.phase", "%q does not match trigger %s (want Succeeded)", b.Operation.Phase, b.Trigger)
		}
	}
	if b.HealthStatus != string(want) {
		return fieldErr("health_status", "%q does not match trigger %s (want %s)", b.HealthStatus, b.Trigger, want)
	}
	// The health changed when Argo CD saw it change; without that time
	// (Argo CD before health.lastTransitionTime), when the notification
	// was rendered. An application is deployed once its sync finished too.
	var at time.Time
	var err error
	if b.HealthSince != "" {
		if at, err = parseTime("health_since", b.HealthSince); err != nil {
			return err
		}
	}
	if b.Trigger == TriggerDeployed && b.Operation.FinishedAt != "" {
		finished, err := parseTime("operation.finished_at", b.Operation.FinishedAt)
		if err != nil {
			return err
		}
		if finished.After(at) {
			at = finished
		}
	}
	if at.IsZero() {
		if at, err = parseTime("timestamp", b.Timestamp); err != nil {
			return err
		}
	}
	p := &delivery.Health{
		Application: b.App,
		Status:      want,
		Message:     b.HealthMessage,
		SyncStatus:  b.SyncStatus,
		Revision:    cmp.Or(b.Revision, b.Operation.SyncRevision),
	}
	e.Type, e.Time, e.Payload = delivery.HealthChanged, at, p
	e.ID = b.App + "/health/" + string(p.Status) + "/" + p.Revision + "/" + at.Format(time.RFC3339)
	return nil
}

func join(phases []delivery.SyncPhase) string {
	s := make([]string, len(phases))
	for i, p := range phases {
		s[i] = string(p)
	}
	return strings.Join(s, " or ")
}
