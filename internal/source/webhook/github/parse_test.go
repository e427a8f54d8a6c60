package github

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// Values the fixtures share.
const (
	repoURL   = "https://github.com/acme/shop-api"
	commit1   = "88db18062c5b415d37e4026822d68d4378000b2f"
	commit2   = "99ef3ce411f1ea918a61142ac0e8ffd076e8d442" // head of feature/retry-budget
	mergeSHA  = "d61a2b41e6c06392fc77c081a1f19e2dc9199500" // merge of #42
	spikeSHA  = "a358c054f949a64c3579018fdfb71caa749c820f" // head of #43
	digestV   = "sha256:c871918965c5ce0cddf40bbef509482580b23bbceab70e89233db2dbddcb450e"
	imageTag  = "1.8.0-d61a2b4"
	deliveryA = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
	deliveryB = "9a1b0c2e-dd89-11ee-8c4e-5f0a7e1c2b3d"
)

// change42 is the payload pull request #42 carries in every event.
func change42() *delivery.Change {
	return &delivery.Change{
		Repo:    repoURL,
		Number:  42,
		Title:   "Add a retry budget to checkout payment calls",
		Author:  "mona",
		HeadSHA: commit2,
		HeadRef: "feature/retry-budget",
		BaseRef: "main",
		Labels:  []string{"enhancement", "backend"},
		URL:     repoURL + "/pull/42",
	}
}

func with[T any](v *T, f func(*T)) *T { f(v); return v }

func TestParse(t *testing.T) {
	commit := func(sha, branch, at, name, email, subject string) delivery.Event {
		return delivery.Event{
			Source: Source, ID: "commit/" + repoURL + "/" + sha, Type: delivery.CommitAuthored, Time: ts(t, at),
			Payload: &delivery.Commit{
				Repo: repoURL, SHA: sha, Branch: branch, AuthorName: name, AuthorEmail: email,
				CommittedAt: ts(t, at), Subject: subject,
			},
		}
	}
	run := func(outcome delivery.Outcome) *delivery.PipelineRun {
		return &delivery.PipelineRun{
			RunID: "8162534790/2", Name: "CI", URL: repoURL + "/actions/runs/8162534790", Repo: repoURL,
			SHA: commit2, Branch: "feature/retry-budget", Outcome: outcome, Attempt: 2, Trigger: "pull_request", ChangeNo: 42,
		}
	}
	published := []delivery.Event{{
		Source: Source, ID: "package_version/187654321/" + imageTag, Type: delivery.ArtifactPublished,
		Time: ts(t, "2024-03-05T10:31:26Z"),
		Payload: &delivery.Artifact{
			Name: "ghcr.io/acme/shop-api", Tag: imageTag, Digest: digestV, SourceRepo: repoURL, SourceCommit: mergeSHA,
		},
	}}
	tests := []struct {
		name  string
		event string
		file  string
		want  []delivery.Event
	}{
		{"pull request opened", "pull_request", "pull_request.opened.json", []delivery.Event{{
			Source: Source, ID: "pull_request/" + repoURL + "/42/opened", Type: delivery.ChangeCreated,
			Time: ts(t, "2024-03-05T09:12:44Z"), Payload: change42(),
		}}},
		{"pull request reopened", "pull_request", "pull_request.reopened.json", []delivery.Event{{
			Source: Source, ID: "pull_request/" + repoURL + "/42/reopened/1709631062", Type: delivery.ChangeCreated,
			Time: ts(t, "2024-03-05T09:31:02Z"), Payload: change42(),
		}}},
		{"pull request merged", "pull_request", "pull_request.closed.merged.json", []delivery.Event{{
			Source: Source, ID: "pull_request/" + repoURL + "/42/merged", Type: delivery.ChangeMerged,
			Time:    ts(t, "2024-03-05T10:21:09Z"),
			Payload: with(change42(), func(c *delivery.Change) { c.MergeSHA = mergeSHA }),
		}}},
		{"pull request closed unmerged is abandoned", "pull_request", "pull_request.closed.unmerged.json", []delivery.Event{{
			Source: Source, ID: "pull_request/" + repoURL + "/43/closed/1709743500", Type: delivery.ChangeAbandoned,
			Time: ts(t, "2024-03-06T16:45:00Z"),
			Payload: &delivery.Change{
				Repo: repoURL, Number: 43, Title: "Try the v2 payment SDK", Author: "mona", HeadSHA: spikeSHA,
				HeadRef: "spike/payment-sdk-v2", BaseRef: "main", URL: repoURL + "/pull/43",
			},
		}}},
		{"review approved", "pull_request_review", "pull_request_review.submitted.json", []delivery.Event{{
			Source: Source, ID: "pull_request_review/1918273645/submitted", Type: delivery.ChangeReviewed,
			Time: ts(t, "2024-03-05T10:02:17Z"),
			Payload: with(change42(), func(c *delivery.Change) {
				c.Reviewer, c.ReviewState = "hubot", delivery.ReviewApproved
			}),
		}}},
		{"review dismissed", "pull_request_review", "pull_request_review.dismissed.json", []delivery.Event{{
			Source: Source, ID: "pull_request_review/1918270001/dismissed", Type: delivery.ChangeReviewed,
			Time: ts(t, "2024-03-05T10:15:31Z"),
			Payload: with(change42(), func(c *delivery.Change) {
				c.Reviewer, c.ReviewState = "octocat", delivery.ReviewDismissed
			}),
		}}},
		{"push to a feature branch", "push", "push.feature.json", []delivery.Event{
			commit(commit1, "feature/retry-budget", "2024-03-05T07:33:03Z", "Mona Lisa Octocat", "mona@acme.example",
				"checkout: share one retry budget per request"),
			commit(commit2, "feature/retry-budget", "2024-03-05T08:10:51Z", "Mona Lisa Octocat", "mona@acme.example",
				"checkout: test budget exhaustion"),
		}},
		{"push of a merge to main", "push", "push.main.json", []delivery.Event{
			commit(commit1, "main", "2024-03-05T07:33:03Z", "Mona Lisa Octocat", "mona@acme.example",
				"checkout: share one retry budget per request"),
			commit(commit2, "main", "2024-03-05T08:10:51Z", "Mona Lisa Octocat", "mona@acme.example",
				"checkout: test budget exhaustion"),
			commit(mergeSHA, "main", "2024-03-05T10:21:09Z", "hubot", "hubot@acme.example",
				"Merge pull request #42 from acme/feature/retry-budget"),
		}},
		{"workflow run requested", "workflow_run", "workflow_run.requested.json", []delivery.Event{{
			Source: Source, ID: "workflow_run/8162534790/2/requested", Type: delivery.PipelineRunQueued,
			Time: ts(t, "2024-03-05T09:47:12Z"), Payload: run(""),
		}}},
		{"workflow run in progress", "workflow_run", "workflow_run.in_progress.json", []delivery.Event{{
			Source: Source, ID: "workflow_run/8162534790/2/in_progress", Type: delivery.PipelineRunStarted,
			Time: ts(t, "2024-03-05T09:47:12Z"), Payload: run(""),
		}}},
		{"workflow run completed", "workflow_run", "workflow_run.completed.json", []delivery.Event{{
			Source: Source, ID: "workflow_run/8162534790/2/completed", Type: delivery.PipelineRunFinished,
			Time: ts(t, "2024-03-05T09:52:48Z"), Payload: run(delivery.OutcomeSuccess),
		}}},
		{"check suite completed", "check_suite", "check_suite.completed.json", []delivery.Event{{
			Source: Source, ID: "check_suite/21987000111/completed/1709632720", Type: delivery.PipelineRunFinished,
			Time: ts(t, "2024-03-05T09:58:40Z"),
			Payload: &delivery.PipelineRun{
				RunID: "check-suite/21987000111", Name: "Buildkite", Repo: repoURL, SHA: commit2,
				Branch: "feature/retry-budget", Outcome: delivery.OutcomeFailure, ChangeNo: 42,
			},
		}}},
		{"check run completed", "check_run", "check_run.completed.json", []delivery.Event{{
			Source: Source, ID: "check_run/22450118833/completed/1709630985", Type: delivery.PipelineRunFinished,
			Time: ts(t, "2024-03-05T09:29:45Z"),
			Payload: &delivery.PipelineRun{
				RunID: "check-run/22450118833", Name: "integration-tests", URL: repoURL + "/runs/22450118833",
				Repo: repoURL, SHA: commit2, Branch: "feature/retry-budget", Outcome: delivery.OutcomeFailure, ChangeNo: 42,
			},
		}}},
		{"deployment succeeded", "deployment_status", "deployment_status.success.json", []delivery.Event{{
			Source: Source, ID: "deployment_status/2345678901", Type: delivery.ServiceDeployed,
			Time: ts(t, "2024-03-05T10:48:02Z"), App: "shop-api", Env: "production",
			Payload: &delivery.Deployment{
				Artifact: "ghcr.io/acme/shop-api:" + imageTag, SourceCommit: mergeSHA, InferredFrom: "github-deployment",
			},
		}}},
		{"registry package published", "registry_package", "registry_package.published.json", published},
		{"package published", "package", "package.published.json", published},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(headers(tt.event, deliveryA), fixture(t, tt.file))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			sameEvents(t, got, tt.want)
			validate(t, got)
		})
	}
}

func TestParseUnsupported(t *testing.T) {
	tests := []struct {
		name  string
		event string
		body  []byte
		want  string // in the error message
	}{
		{"ping", "ping", fixture(t, "ping.json"), `github event "ping"`},
		{"unknown event", "issues", []byte(`{"action":"opened"}`), `github event "issues"`},
		{"pull request edited", "pull_request",
			patch(t, fixture(t, "pull_request.opened.json"), map[string]any{"action": "edited"}),
			`github pull_request action "edited"`},
		{"pull request synchronize", "pull_request",
			patch(t, fixture(t, "pull_request.opened.json"), map[string]any{"action": "synchronize"}),
			`github pull_request action "synchronize"`},
		{"review edited", "pull_request_review",
			patch(t, fixture(t, "pull_request_review.submitted.json"), map[string]any{"action": "edited"}),
			`github pull_request_review action "edited"`},
		{"review pending", "pull_request_review",
			patch(t, fixture(t, "pull_request_review.submitted.json"), map[string]any{"review.state": "pending"}),
			`github pull_request_review state "pending"`},
		{"tag push", "push", fixture(t, "push.tag.json"), `github push to tag "refs/tags/v1.8.0"`},
		{"deleted branch", "push", fixture(t, "push.deleted.json"), `github push deleting branch "feature/retry-budget"`},
		{"deleted branch without the deleted flag", "push",
			patch(t, fixture(t, "push.deleted.json"), map[string]any{"deleted": remove}),
			`github push deleting branch "feature/retry-budget"`},
		{"notes ref", "push", patch(t, fixture(t, "push.feature.json"), map[string]any{"ref": "refs/notes/commits"}),
			`github push to ref "refs/notes/commits"`},
		{"workflow run action", "workflow_run",
			patch(t, fixture(t, "workflow_run.requested.json"), map[string]any{"action": "waiting"}),
			`github workflow_run action "waiting"`},
		{"check suite requested", "check_suite",
			patch(t, fixture(t, "check_suite.completed.json"), map[string]any{"action": "requested"}),
			`github check_suite action "requested"`},
		{"check suite of GitHub Actions", "check_suite", fixture(t, "check_suite.actions.json"),
			`github check_suite from app "github-actions (recorded from workflow_run)"`},
		{"check run created", "check_run",
			patch(t, fixture(t, "check_run.completed.json"), map[string]any{"action": "created"}),
			`github check_run action "created"`},
		{"check run of GitHub Actions", "check_run",
			patch(t, fixture(t, "check_run.completed.json"), map[string]any{"check_run.app.slug": "github-actions"}),
			`github check_run from app "github-actions`},
		{"deployment failed", "deployment_status", fixture(t, "deployment_status.failure.json"),
			`github deployment_status state "failure"`},
		{"deployment in progress", "deployment_status",
			patch(t, fixture(t, "deployment_status.success.json"), map[string]any{"deployment_status.state": "in_progress"}),
			`github deployment_status state "in_progress"`},
		{"registry package updated", "registry_package",
			patch(t, fixture(t, "registry_package.published.json"), map[string]any{"action": "updated"}),
			`github registry_package action "updated"`},
		{"npm package", "package",
			patch(t, fixture(t, "package.published.json"), map[string]any{"package.package_type": "npm", "package.ecosystem": "npm"}),
			`github package package type "npm"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(headers(tt.event, deliveryA), tt.body)
			if !errors.Is(err, delivery.ErrUnsupported) {
				t.Fatalf("Parse: got error %v, want one wrapping delivery.ErrUnsupported", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse: got %q, want it to contain %q", err, tt.want)
			}
			if got != nil {
				t.Errorf("Parse: got %d events with the error, want none", len(got))
			}
		})
	}
}

func TestParseMalformed(t *testing.T) {
	merged := fixture(t, "pull_request.closed.merged.json")
	tests := []struct {
		name string
		h    http.Header
		body []byte
		want string // in the error message
	}{
		{"missing event header", headers("", deliveryA), merged, "missing X-GitHub-Event header"},
		{"missing delivery header", headers("pull_request", ""), merged, "missing X-GitHub-Delivery header"},
		{"delivery header with spaces", headers("pull_request", "a b"), merged, "X-GitHub-Delivery header is not a delivery GUID"},
		{"delivery header too long", headers("pull_request", strings.Repeat("a", 129)), merged, "is not a delivery GUID"},
		{"missing delivery header on ping", headers("ping", ""), fixture(t, "ping.json"), "missing X-GitHub-Delivery header"},
		{"form-encoded body", func() http.Header {
			h := headers("pull_request", deliveryA)
			h.Set("Content-Type", "application/x-www-form-urlencoded")
			return h
		}(), []byte("payload=%7B%7D"), "set the webhook's content type to application/json"},
		{"truncated JSON", headers("pull_request", deliveryA), merged[:len(merged)/2], "github pull_request: decode body: unexpected end of JSON input"},
		{"JSON array", headers("push", deliveryA), []byte(`[]`), "github push: decode body: json: cannot unmarshal array"},
		{"empty body", headers("workflow_run", deliveryA), nil, "github workflow_run: decode body"},
		{"number as string", headers("pull_request", deliveryA),
			patch(t, merged, map[string]any{"pull_request.number": "42"}), "cannot unmarshal string"},
		{"bad merged_at", headers("pull_request", deliveryA),
			patch(t, merged, map[string]any{"pull_request.merged_at": "x"}), `github pull_request: pull_request.merged_at: parsing time "x"`},
		{"merged without merged_at", headers("pull_request", deliveryA),
			patch(t, merged, map[string]any{"pull_request.merged_at": nil}), "pull_request.merged_at: missing"},
		{"merged without merge_commit_sha", headers("pull_request", deliveryA),
			patch(t, merged, map[string]any{"pull_request.merge_commit_sha": nil}), "pull_request.merge_commit_sha: missing"},
		{"bad merge_commit_sha", headers("pull_request", deliveryA),
			patch(t, merged, map[string]any{"pull_request.merge_commit_sha": "HEAD"}), `payload.merge_sha: "HEAD" is not a lower-case hexadecimal commit SHA`},
		{"closed without closed_at", headers("pull_request", deliveryA),
			patch(t, fixture(t, "pull_request.closed.unmerged.json"), map[string]any{"pull_request.closed_at": nil}), "pull_request.closed_at: missing"},
		{"boolean created_at", headers("pull_request", deliveryA),
			patch(t, fixture(t, "pull_request.opened.json"), map[string]any{"pull_request.created_at": true}), "pull_request.created_at: true is neither"},
		{"no repository", headers("pull_request", deliveryA),
			patch(t, merged, map[string]any{"repository": remove}), "repository.html_url: missing"},
		{"no pull request number", headers("pull_request", deliveryA),
			patch(t, merged, map[string]any{"pull_request.number": 0}), "pull_request.number: 0 is not a pull request number"},
		{"review without reviewer", headers("pull_request_review", deliveryA),
			patch(t, fixture(t, "pull_request_review.submitted.json"), map[string]any{"review.user": nil}), "review.user.login: missing"},
		{"review without submitted_at", headers("pull_request_review", deliveryA),
			patch(t, fixture(t, "pull_request_review.submitted.json"), map[string]any{"review.submitted_at": remove}), "review.submitted_at: missing"},
		{"commit with a bad timestamp", headers("push", deliveryA),
			patch(t, fixture(t, "push.main.json"), map[string]any{"commits.1.timestamp": "2024-03-05 08:10:51"}), `commits[1].timestamp: parsing time "2024-03-05 08:10:51"`},
		{"commit without id", headers("push", deliveryA),
			patch(t, fixture(t, "push.main.json"), map[string]any{"commits.2.id": ""}), "commits[2].id: missing"},
		{"commit with a bad id", headers("push", deliveryA),
			patch(t, fixture(t, "push.main.json"), map[string]any{"commits.0.id": "not-a-sha"}), `event 1 of 3: invalid event: payload.sha: "not-a-sha"`},
		{"workflow run without id", headers("workflow_run", deliveryA),
			patch(t, fixture(t, "workflow_run.completed.json"), map[string]any{"workflow_run.id": remove}), "workflow_run.id: 0 is not a run id"},
		{"workflow run started without run_started_at", headers("workflow_run", deliveryA),
			patch(t, fixture(t, "workflow_run.in_progress.json"), map[string]any{"workflow_run.run_started_at": nil}), "workflow_run.run_started_at: missing"},
		{"workflow run with a bad updated_at", headers("workflow_run", deliveryA),
			patch(t, fixture(t, "workflow_run.completed.json"), map[string]any{"workflow_run.updated_at": "yesterday"}), `workflow_run.updated_at: parsing time "yesterday"`},
		{"check run without completed_at", headers("check_run", deliveryA),
			patch(t, fixture(t, "check_run.completed.json"), map[string]any{"check_run.completed_at": nil}), "check_run.completed_at: missing"},
		{"deployment without environment", headers("deployment_status", deliveryA),
			patch(t, fixture(t, "deployment_status.success.json"), map[string]any{"deployment.environment": ""}), "deployment.environment: missing"},
		{"deployment without sha", headers("deployment_status", deliveryA),
			patch(t, fixture(t, "deployment_status.success.json"), map[string]any{"deployment.sha": remove}), "deployment.sha: missing"},
		{"deployment with a branch for sha", headers("deployment_status", deliveryA),
			patch(t, fixture(t, "deployment_status.success.json"), map[string]any{"deployment.sha": "main"}), `payload.source_commit: "main"`},
		{"package without package_url", headers("registry_package", deliveryA),
			patch(t, fixture(t, "registry_package.published.json"), map[string]any{"registry_package.package_version.package_url": ""}),
			"registry_package.package_version.package_url: missing"},
		{"package without tag or digest", headers("package", deliveryA),
			patch(t, fixture(t, "package.published.json"), map[string]any{
				"package.package_version.container_metadata.tag.name":   "",
				"package.package_version.container_metadata.tag.digest": "",
				"package.package_version.name":                          "latest",
				"package.package_version.version":                       "latest",
			}), "package.package_version.container_metadata.tag: neither a tag nor a sha256 digest"},
		{"package without any time", headers("registry_package", deliveryA),
			patch(t, fixture(t, "registry_package.published.json"), map[string]any{
				"registry_package.package_version.updated_at": "0001-01-01T00:00:00Z",
				"registry_package.updated_at":                 nil,
			}), "registry_package.package_version.updated_at: missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.h, tt.body)
			if err == nil {
				t.Fatalf("Parse: got %d events and no error, want an error containing %q", len(got), tt.want)
			}
			if errors.Is(err, delivery.ErrUnsupported) {
				t.Errorf("Parse: got %v, want a plain error, not ErrUnsupported", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse: got %q, want it to contain %q", err, tt.want)
			}
			if got != nil {
				t.Errorf("Parse: got %d events with the error, want none", len(got))
			}
		})
	}
}

// TestParseVariants covers payload shapes that the fixtures do not.
func TestParseVariants(t *testing.T) {
	one := func(t *testing.T, event string, body []byte) delivery.Event {
		t.Helper()
		got, err := Parse(headers(event, deliveryA), body)
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		if len(got) != 1 {
			t.Fatalf("Parse: got %d events, want 1", len(got))
		}
		validate(t, got)
		return got[0]
	}
	t.Run("push without commits gives no events", func(t *testing.T) {
		body := patch(t, fixture(t, "push.feature.json"), map[string]any{"commits": []any{}})
		got, err := Parse(headers("push", deliveryA), body)
		if err != nil || len(got) != 0 {
			t.Errorf("Parse: got %d events, %v; want none and no error", len(got), err)
		}
	})
	t.Run("the same commit twice in one push is one event", func(t *testing.T) {
		body := fixture(t, "push.feature.json")
		got, err := Parse(headers("push", deliveryA), patch(t, body, map[string]any{"commits.1.id": commit1}))
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		if len(got) != 1 || got[0].Payload.(*delivery.Commit).SHA != commit1 {
			t.Errorf("Parse: got %d events, want 1 for %s", len(got), commit1)
		}
	})
	t.Run("created_at as Unix seconds", func(t *testing.T) {
		body := patch(t, fixture(t, "pull_request.opened.json"), map[string]any{"pull_request.created_at": 1709629964})
		if got, want := one(t, "pull_request", body).Time, ts(t, "2024-03-05T09:12:44Z"); !got.Equal(want) {
			t.Errorf("Time: got %v, want %v", got, want)
		}
	})
	t.Run("dismissal with a stale updated_at sorts after the review", func(t *testing.T) {
		body := patch(t, fixture(t, "pull_request_review.dismissed.json"), map[string]any{"pull_request.updated_at": "2024-03-05T09:40:00Z"})
		if got, want := one(t, "pull_request_review", body).Time, ts(t, "2024-03-05T09:40:01Z"); !got.Equal(want) {
			t.Errorf("Time: got %v, want %v", got, want)
		}
	})
	t.Run("review state in upper case", func(t *testing.T) {
		body := patch(t, fixture(t, "pull_request_review.submitted.json"), map[string]any{"review.state": "CHANGES_REQUESTED"})
		if got := one(t, "pull_request_review", body).Payload.(*delivery.Change).ReviewState; got != delivery.ReviewChangesRequested {
			t.Errorf("ReviewState: got %q, want %q", got, delivery.ReviewChangesRequested)
		}
	})
	t.Run("workflow run from before run_attempt", func(t *testing.T) {
		body := patch(t, fixture(t, "workflow_run.requested.json"), map[string]any{
			"workflow_run.run_attempt": remove, "workflow_run.run_started_at": remove, "workflow_run.pull_requests": []any{},
		})
		e := one(t, "workflow_run", body)
		p := e.Payload.(*delivery.PipelineRun)
		if e.ID != "workflow_run/8162534790/1/requested" || p.RunID != "8162534790/1" || p.Attempt != 1 || p.ChangeNo != 0 {
			t.Errorf("got ID %q RunID %q Attempt %d ChangeNo %d, want workflow_run/8162534790/1/requested, 8162534790/1, 1, 0",
				e.ID, p.RunID, p.Attempt, p.ChangeNo)
		}
		if want := ts(t, "2024-03-05T09:13:01Z"); !e.Time.Equal(want) {
			t.Errorf("Time: got %v, want created_at %v", e.Time, want)
		}
	})
	t.Run("workflow run without a name uses the workflow's", func(t *testing.T) {
		body := patch(t, fixture(t, "workflow_run.completed.json"), map[string]any{"workflow_run.name": "", "workflow.name": "Build"})
		if got := one(t, "workflow_run", body).Payload.(*delivery.PipelineRun).Name; got != "Build" {
			t.Errorf("Name: got %q, want %q", got, "Build")
		}
	})
	t.Run("deployment without an image", func(t *testing.T) {
		body := patch(t, fixture(t, "deployment_status.success.json"), map[string]any{"deployment.payload": map[string]any{}})
		if got, want := one(t, "deployment_status", body).Payload.(*delivery.Deployment).Artifact, "acme/shop-api@"+mergeSHA; got != want {
			t.Errorf("Artifact: got %q, want %q", got, want)
		}
	})
	t.Run("package without labels uses a SHA target_commitish", func(t *testing.T) {
		body := patch(t, fixture(t, "registry_package.published.json"), map[string]any{
			"registry_package.package_version.container_metadata.labels": map[string]any{},
			"registry_package.package_version.target_commitish":          strings.ToUpper(commit2),
		})
		if got := one(t, "registry_package", body).Payload.(*delivery.Artifact).SourceCommit; got != commit2 {
			t.Errorf("SourceCommit: got %q, want %q", got, commit2)
		}
	})
	t.Run("package without labels or SHA", func(t *testing.T) {
		body := patch(t, fixture(t, "registry_package.published.json"), map[string]any{
			"registry_package.package_version.container_metadata.labels": map[string]any{},
		})
		if got := one(t, "registry_package", body).Payload.(*delivery.Artifact).SourceCommit; got != "" {
			t.Errorf("SourceCommit: got %q, want none (target_commitish is a branch)", got)
		}
	})
	t.Run("untagged package version", func(t *testing.T) {
		body := patch(t, fixture(t, "package.published.json"), map[string]any{
			"package.package_version.container_metadata.tag.name":   "",
			"package.package_version.container_metadata.tag.digest": "",
			"package.package_version.package_url":                   "ghcr.io/Acme/Shop-API:",
		})
		e := one(t, "package", body)
		want := &delivery.Artifact{Name: "ghcr.io/acme/shop-api", Digest: digestV, SourceRepo: repoURL, SourceCommit: mergeSHA}
		sameEvents(t, []delivery.Event{e}, []delivery.Event{{
			Source: Source, ID: "package_version/187654321", Type: delivery.ArtifactPublished, Time: e.Time, Payload: want,
		}})
	})
}

func TestParseIdempotent(t *testing.T) {
	fixtures := map[string]string{
		"pull_request.opened.json":           "pull_request",
		"pull_request.closed.merged.json":    "pull_request",
		"pull_request_review.dismissed.json": "pull_request_review",
		"push.main.json":                     "push",
		"workflow_run.completed.json":        "workflow_run",
		"check_run.completed.json":           "check_run",
		"deployment_status.success.json":     "deployment_status",
		"registry_package.published.json":    "registry_package",
	}
	for file, event := range fixtures {
		t.Run(file, func(t *testing.T) {
			body := fixture(t, file)
			first, err := Parse(headers(event, deliveryA), body)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			again, err := Parse(headers(event, deliveryA), body)
			if err != nil {
				t.Fatalf("Parse again: %v", err)
			}
			sameEvents(t, again, first)
			// An overlapping delivery (a second hook, a package and a
			// registry_package event) has another GUID but the same events.
			other, err := Parse(headers(event, deliveryB), body)
			if err != nil {
				t.Fatalf("Parse with another delivery id: %v", err)
			}
			sameEvents(t, other, first)
		})
	}
	t.Run("a commit pushed twice has one ID", func(t *testing.T) {
		feature, err := Parse(headers("push", deliveryA), fixture(t, "push.feature.json"))
		if err != nil {
			t.Fatal(err)
		}
		main, err := Parse(headers("push", deliveryB), fixture(t, "push.main.json"))
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]bool{}
		for _, e := range main {
			ids[e.ID] = true
		}
		for _, e := range feature {
			if !ids[e.ID] {
				t.Errorf("commit %s: ID %q from the feature push is not among the main push's IDs", e.Payload.(*delivery.Commit).SHA, e.ID)
			}
		}
	})
	t.Run("package and registry_package share IDs", func(t *testing.T) {
		a, err := Parse(headers("registry_package", deliveryA), fixture(t, "registry_package.published.json"))
		if err != nil {
			t.Fatal(err)
		}
		b, err := Parse(headers("package", deliveryB), fixture(t, "package.published.json"))
		if err != nil {
			t.Fatal(err)
		}
		if a[0].ID != b[0].ID {
			t.Errorf("IDs: registry_package %q, package %q; want them equal", a[0].ID, b[0].ID)
		}
	})
	t.Run("distinct occurrences get distinct IDs", func(t *testing.T) {
		ids := map[string]string{}
		for _, c := range []struct{ event, file string }{
			{"pull_request", "pull_request.opened.json"}, {"pull_request", "pull_request.reopened.json"},
			{"pull_request", "pull_request.closed.merged.json"}, {"pull_request", "pull_request.closed.unmerged.json"},
			{"pull_request_review", "pull_request_review.submitted.json"}, {"pull_request_review", "pull_request_review.dismissed.json"},
			{"workflow_run", "workflow_run.requested.json"}, {"workflow_run", "workflow_run.in_progress.json"},
			{"workflow_run", "workflow_run.completed.json"}, {"check_suite", "check_suite.completed.json"},
			{"check_run", "check_run.completed.json"}, {"deployment_status", "deployment_status.success.json"},
			{"push", "push.main.json"},
		} {
			events, err := Parse(headers(c.event, deliveryA), fixture(t, c.file))
			if err != nil {
				t.Fatalf("%s: %v", c.file, err)
			}
			for _, e := range events {
				if prev, ok := ids[e.ID]; ok {
					t.Errorf("ID %q of %s is also the ID of %s", e.ID, c.file, prev)
				}
				ids[e.ID] = c.file
			}
		}
	})
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		name    string
		raw     string // JSON token
		want    string // RFC 3339 UTC, "" for an error
		wantErr string
	}{
		{"UTC", `"2024-03-05T09:33:03Z"`, "2024-03-05T09:33:03Z", ""},
		{"offset", `"2024-03-05T09:33:03+02:00"`, "2024-03-05T07:33:03Z", ""},
		{"fraction", `"2020-10-02T12:42:30.000Z"`, "2020-10-02T12:42:30Z", ""},
		{"Unix seconds", `1709633603`, "2024-03-05T10:13:23Z", ""},
		{"null", `null`, "", "f: missing"},
		{"absent", ``, "", "f: missing"},
		{"empty string", `""`, "", "f: missing"},
		{"space separated", `"2024-03-05 09:33:03"`, "", `f: parsing time "2024-03-05 09:33:03"`},
		{"Unix milliseconds as float", `1709633603.5`, "", "neither an RFC 3339 string nor Unix seconds"},
		{"object", `{}`, "", "neither an RFC 3339 string nor Unix seconds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseTime("f", timestamp(tt.raw))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("parseTime(%s): got %v, %v; want error containing %q", tt.raw, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseTime(%s): %v", tt.raw, err)
			}
			if want := ts(t, tt.want); !got.Equal(want) || got.Location() != time.UTC {
				t.Errorf("parseTime(%s): got %v, want %v in UTC", tt.raw, got, want)
			}
		})
	}
}

func TestOutcome(t *testing.T) {
	tests := map[string]delivery.Outcome{
		"success": delivery.OutcomeSuccess, "failure": delivery.OutcomeFailure, "timed_out": delivery.OutcomeFailure,
		"startup_failure": delivery.OutcomeFailure, "cancelled": delivery.OutcomeCancel, "skipped": delivery.OutcomeCancel,
		"stale": delivery.OutcomeCancel, "neutral": delivery.OutcomeCancel, "action_required": delivery.OutcomeError,
		"": delivery.OutcomeError, "something_new": delivery.OutcomeError,
	}
	for conclusion, want := range tests {
		t.Run(conclusion, func(t *testing.T) {
			if got := outcome(conclusion); got != want {
				t.Errorf("outcome(%q): got %q, want %q", conclusion, got, want)
			}
		})
	}
}

func TestImageName(t *testing.T) {
	tests := []struct{ ref, want string }{
		{"ghcr.io/acme/shop-api:1.8.0", "ghcr.io/acme/shop-api"},
		{"ghcr.io/Codertocat/hello-world:", "ghcr.io/codertocat/hello-world"},
		{"ghcr.io/acme/shop-api", "ghcr.io/acme/shop-api"},
		{"ghcr.io/acme/shop-api@" + digestV, "ghcr.io/acme/shop-api"},
		{"ghcr.io/acme/shop-api:1.8.0@" + digestV, "ghcr.io/acme/shop-api"},
		{"registry.acme.example:5000/shop/api", "registry.acme.example:5000/shop/api"},
		{"registry.acme.example:5000/shop/api:2", "registry.acme.example:5000/shop/api"},
		{" ghcr.io/acme/api:1 ", "ghcr.io/acme/api"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			if got := imageName(tt.ref); got != tt.want {
				t.Errorf("imageName(%q): got %q, want %q", tt.ref, got, tt.want)
			}
		})
	}
}

func TestPayloadImage(t *testing.T) {
	tests := []struct{ name, raw, want string }{
		{"object", `{"image":"ghcr.io/acme/api:1"}`, "ghcr.io/acme/api:1"},
		{"string holding an object", `"{\"image\":\"ghcr.io/acme/api:1\"}"`, "ghcr.io/acme/api:1"},
		{"empty object", `{}`, ""},
		{"image not a string", `{"image":{"name":"api"}}`, ""},
		{"plain string", `"deploy it"`, ""},
		{"null", `null`, ""},
		{"absent", ``, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := payloadImage([]byte(tt.raw)); got != tt.want {
				t.Errorf("payloadImage(%s): got %q, want %q", tt.raw, got, tt.want)
			}
		})
	}
}

func TestNaturalID(t *testing.T) {
	if got, want := naturalID("commit", repoURL, commit1), "commit/"+repoURL+"/"+commit1; got != want {
		t.Errorf("naturalID: got %q, want %q", got, want)
	}
	long := naturalID("commit", "https://github.com/"+strings.Repeat("a", 600), commit1)
	if len(long) > delivery.MaxIDLen || !strings.HasPrefix(long, "commit/sha256:") {
		t.Errorf("naturalID of a long key: got %q (%d bytes), want commit/sha256:… within %d bytes", long, len(long), delivery.MaxIDLen)
	}
	if again := naturalID("commit", "https://github.com/"+strings.Repeat("a", 600), commit1); again != long {
		t.Errorf("naturalID of a long key: got %q then %q, want the same", long, again)
	}
}
