package argocd

import "strings"

// The Argo CD Notifications triggers that shiplog's template is written for,
// named as in Argo CD's trigger catalog.
const (
	TriggerSyncRunning       = "on-sync-running"        // operation phase Running: sync.started
	TriggerSyncSucceeded     = "on-sync-succeeded"      // phase Succeeded: sync.finished
	TriggerSyncFailed        = "on-sync-failed"         // phase Failed or Error: sync.finished
	TriggerHealthDegraded    = "on-health-degraded"     // health Degraded: health.changed
	TriggerDeployed          = "on-deployed"            // phase Succeeded and health Healthy: health.changed
	TriggerSyncStatusUnknown = "on-sync-status-unknown" // sync status Unknown: not recorded
)

// Triggers returns the triggers that Parse records events for, in the order
// the documentation lists them.
func Triggers() []string {
	return []string{TriggerSyncRunning, TriggerSyncSucceeded, TriggerSyncFailed, TriggerHealthDegraded, TriggerDeployed}
}

// bodyTemplate is the webhook body: a Go text/template over the variables
// Argo CD Notifications gives templates (.app, the Application as an
// unstructured object; .time, the time functions). Every value goes
// through Sprig's toJson, so a field the Application lacks renders as null
// and strings are escaped. A label is read as .app.metadata.labels.env, not
// with index, which fails when the Application has no labels.
//
// TRIGGER is replaced by the trigger name: Argo CD does not tell a template
// which trigger fired, so each trigger gets its own template.
const bodyTemplate = `{
  "trigger": "TRIGGER",
  "timestamp": "{{(call .time.Now).UTC.Format .time.RFC3339}}",
  "app": {{toJson .app.metadata.name}},
  "namespace": {{toJson .app.metadata.namespace}},
  "project": {{toJson .app.spec.project}},
  "environment": {{toJson .app.metadata.labels.env}},
  "destination": {{toJson .app.spec.destination}},
  "sync_status": {{toJson .app.status.sync.status}},
  "health_status": {{toJson .app.status.health.status}},
  "health_message": {{toJson .app.status.health.message}},
  "health_since": {{toJson .app.status.health.lastTransitionTime}},
  "revision": {{toJson .app.status.sync.revision}},
  "revisions": {{toJson .app.status.sync.revisions}},
  "operation": {
    "phase": {{toJson .app.status.operationState.phase}},
    "started_at": {{toJson .app.status.operationState.startedAt}},
    "finished_at": {{toJson .app.status.operationState.finishedAt}},
    "message": {{toJson .app.status.operationState.message}},
    "retry_count": {{toJson .app.status.operationState.retryCount}},
    "initiated_by": {{toJson .app.status.operationState.operation.initiatedBy}},
    "sync_revision": {{toJson .app.status.operationState.syncResult.revision}},
    "sync_revisions": {{toJson .app.status.operationState.syncResult.revisions}}
  },
  "images": {{toJson .app.status.summary.images}}
}
`

// BodyTemplate returns the webhook body template for a trigger, to paste
// into the argocd-notifications-cm ConfigMap as
// template.shiplog-<trigger>.webhook.shiplog.body.
func BodyTemplate(trigger string) string {
	return strings.Replace(bodyTemplate, "TRIGGER", trigger, 1)
}
