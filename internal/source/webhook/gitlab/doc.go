// Package gitlab turns GitLab webhook deliveries into delivery events.
//
// VerifyToken checks a delivery's X-Gitlab-Token header against the shared
// secret; Parse maps one verified delivery (its headers and raw body) to zero
// or more events. The package does no I/O: the HTTP receiver reads the
// request, verifies it, calls Parse and appends what it returns.
//
// # What is recorded
//
//   - Merge Request Hook: open and reopen → change.created; merge →
//     change.merged; close → change.abandoned; approved and approval →
//     change.reviewed (approved); unapproved and unapproval → change.reviewed
//     (dismissed).
//   - Push Hook to a branch: one commit.authored per commit in commits[].
//   - Pipeline Hook: created, waiting_for_resource, preparing and pending →
//     pipelinerun.queued; running → pipelinerun.started; success, failed,
//     canceled and skipped → pipelinerun.finished.
//   - Deployment Hook with status success → service.deployed.
//   - System Hook: its push and merge_request events, as above.
//
// Everything else (other hooks, the update action, other statuses, tag pushes
// and branch deletions) is reported with an error wrapping
// delivery.ErrUnsupported.
//
// # Timestamps
//
// GitLab writes times three ways, sometimes within one payload:
// "2016-08-12 15:23:28 UTC", "2021-04-28 21:50:00 +0200" and RFC 3339.
// parseTime accepts all of them.
//
// # Event IDs and idempotency
//
// Source and ID are the store's idempotency key. GitLab resends a delivery
// on retry with the same Idempotency-Key (GitLab 17.4 and later) and the same
// X-Gitlab-Event-UUID; a group hook and a project hook deliver one occurrence
// twice; and the same commit arrives in the push to a feature branch and in
// the push that merges it.
//
// Where the payload identifies an occurrence that can happen only once, or
// carries the time it happened, the ID is a natural key built from the
// payload, the same in every delivery that describes it:
//
//	commit/<project web_url>/<sha>
//	merge_request/<project web_url>/<iid>/opened | merged
//	merge_request/<project web_url>/<iid>/reopened|closed/<updated_at>
//	pipeline/<pipeline id>/queued
//	pipeline/<pipeline id>/started|finished/<time>
//	deployment/<deployment_id>
//
// Approvals carry no time of their own (only the merge request's updated_at),
// so an approve, unapprove, approve sequence could not be told apart by its
// payload: their ID is the delivery ID, which is the Idempotency-Key header,
// else X-Gitlab-Event-UUID, else the SHA-256 of the body. A deployment from
// a GitLab too old to send deployment_id gets the delivery ID too.
//
// Times in IDs are Unix seconds. A key longer than delivery.MaxIDLen is
// replaced by its kind and a SHA-256 of the whole key.
package gitlab
