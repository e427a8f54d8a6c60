// Package github turns GitHub webhook deliveries into delivery events.
//
// VerifySignature checks a delivery's X-Hub-Signature-256 header against the
// shared secret; Parse maps one verified delivery (its headers and raw body)
// to zero or more events. The package does no I/O: the HTTP receiver reads the
// request, verifies it, calls Parse and appends what it returns.
//
// # What is recorded
//
//   - pull_request: opened and reopened → change.created; closed with
//     merged: true → change.merged; closed unmerged → change.abandoned.
//   - pull_request_review: submitted (approved, changes_requested,
//     commented) and dismissed → change.reviewed.
//   - push to a branch: one commit.authored per commit in commits[].
//   - workflow_run: requested → pipelinerun.queued, in_progress →
//     pipelinerun.started, completed → pipelinerun.finished.
//   - check_suite and check_run completed, from apps other than GitHub
//     Actions (whose runs come as workflow_run) → pipelinerun.finished.
//   - deployment_status with state success → service.deployed.
//   - registry_package and package published for a container image →
//     artifact.published.
//
// Everything else (ping, other actions and states, tag pushes, branch
// deletions) is reported with an error wrapping delivery.ErrUnsupported.
//
// # Event IDs and idempotency
//
// Source and ID are the store's idempotency key, so the ID decides what counts
// as "the same event". GitHub sends the same delivery again on a retry or a
// manual redelivery, and it can also describe one occurrence in several
// deliveries: the same commit arrives in the push to a feature branch and in
// the push that merges it, the package and registry_package events describe
// the same publication, and a repository hook plus an organisation hook
// deliver everything twice with different X-GitHub-Delivery GUIDs. An ID made
// from the delivery GUID only deduplicates the first case.
//
// IDs are therefore natural keys built from the payload: what happened, to
// which object, and — where the same thing can happen to the object more than
// once — when. Examples:
//
//	commit/<repository html_url>/<sha>                     once per commit, whichever push carries it
//	pull_request/<repo>/<number>/opened                    once per pull request
//	pull_request/<repo>/<number>/reopened/<updated_at>     each reopening
//	pull_request/<repo>/<number>/merged                    once per pull request
//	pull_request/<repo>/<number>/closed/<closed_at>        each closing without merge
//	pull_request_review/<review id>/submitted|dismissed
//	workflow_run/<run id>/<attempt>/<action>               each attempt is its own run
//	check_suite/<id>/completed/<updated_at>                a suite can be re-requested and complete again
//	check_run/<id>/completed/<completed_at>
//	deployment_status/<status id>
//	package_version/<version id>[/<tag>]                   shared by package and registry_package
//
// Times in IDs are Unix seconds. A key longer than delivery.MaxIDLen is
// replaced by its kind and a SHA-256 of the whole key. X-GitHub-Delivery is
// still required: a request without it did not come from GitHub.
package github
