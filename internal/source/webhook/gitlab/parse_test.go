package gitlab

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// Values the fixtures share.
const (
	webURL   = "https://gitlab.acme.example/acme/platform/shop-web"
	commit1  = "d7ea558ea6b0c0db2d98a8d9a617b28662088792"
	commit2  = "b171817cd1876fb616634d659ebb2d7e59b34357" // head of feature/basket-cookie
	mergeSHA = "d7622f61d6136a33b7ca64272de4d6ecd0269368" // merge of !17
	spikeSHA = "e1550f331e08d16cad8ed855456f5bc62ce45f9d" // head of !18
	keyA     = "908a6d9e-45fd-46c8-97e6-c4f350f219dd"
	keyB     = "41c6a0e2-7b3f-4f0e-a1d9-2c8e5b7f9a63"
)

// change17 is the payload merge request !17 carries in every event.
func change17() *delivery.Change {
	return &delivery.Change{
		Repo:    webURL,
		Number:  17,
		Title:   "Keep the basket across sessions",
		HeadSHA: commit2,
		HeadRef: "feature/basket-cookie",
		BaseRef: "main",
		Labels:  []string{"frontend", "customer-impact"},
		URL:     webURL + "/-/merge_requests/17",
	}
}

func with[T any](v *T, f func(*T)) *T { f(v); return v }

func TestParse(t *testing.T) {
	commit := func(sha, branch, at, name, email, subject string) delivery.Event {
		return delivery.Event{
			Source: Source, ID: "commit/" + webURL + "/" + sha, Type: delivery.CommitAuthored, Time: ts(t, at),
			Payload: &delivery.Commit{
				Repo: webURL, SHA: sha, Branch: branch, AuthorName: name, AuthorEmail: email,
				CommittedAt: ts(t, at), Subject: subject,
			},
		}
	}
	mainCommits := []delivery.Event{
		commit(commit1, "main", "2024-03-05T10:04:12Z", "Mona Lindqvist", "mona@acme.example",
			"cart: keep the basket when the session expires"),
		commit(commit2, "main", "2024-03-05T10:20:45Z", "Mona Lindqvist", "mona@acme.example", "cart: test basket restore"),
		commit(mergeSHA, "main", "2024-03-05T12:30:03Z", "Raj Patel", "raj@acme.example",
			"Merge branch 'feature/basket-cookie' into 'main'"),
	}
	merged := []delivery.Event{{
		Source: Source, ID: "merge_request/" + webURL + "/17/merged", Type: delivery.ChangeMerged,
		Time:    ts(t, "2024-03-05T12:30:04Z"),
		Payload: with(change17(), func(c *delivery.Change) { c.MergeSHA = mergeSHA }),
	}}
	run := func(outcome delivery.Outcome) *delivery.PipelineRun {
		return &delivery.PipelineRun{
			RunID: "98412", Name: "Build and test", URL: webURL + "/-/pipelines/98412", Repo: webURL, SHA: commit2,
			Branch: "feature/basket-cookie", Outcome: outcome, Trigger: "merge_request_event", ChangeNo: 17,
		}
	}
	tests := []struct {
		name  string
		event string
		file  string
		want  []delivery.Event
	}{
		{"merge request opened", "Merge Request Hook", "merge_request.open.json", []delivery.Event{{
			Source: Source, ID: "merge_request/" + webURL + "/17/opened", Type: delivery.ChangeCreated,
			Time:    ts(t, "2024-03-05T10:21:07Z"),
			Payload: with(change17(), func(c *delivery.Change) { c.Author = "mona" }),
		}}},
		{"merge request approved", "Merge Request Hook", "merge_request.approved.json", []delivery.Event{{
			Source: Source, ID: keyA, Type: delivery.ChangeReviewed, Time: ts(t, "2024-03-05T12:02:40Z"),
			Payload: with(change17(), func(c *delivery.Change) { c.Reviewer, c.ReviewState = "raj", delivery.ReviewApproved }),
		}}},
		{"merge request unapproved", "Merge Request Hook", "merge_request.unapproved.json", []delivery.Event{{
			Source: Source, ID: keyA, Type: delivery.ChangeReviewed, Time: ts(t, "2024-03-05T12:10:11Z"),
			Payload: with(change17(), func(c *delivery.Change) { c.Reviewer, c.ReviewState = "raj", delivery.ReviewDismissed }),
		}}},
		{"merge request merged", "Merge Request Hook", "merge_request.merge.json", merged},
		{"merge request closed", "Merge Request Hook", "merge_request.close.json", []delivery.Event{{
			Source: Source, ID: "merge_request/" + webURL + "/18/closed/1709737200", Type: delivery.ChangeAbandoned,
			Time: ts(t, "2024-03-06T15:00:00Z"),
			Payload: &delivery.Change{
				Repo: webURL, Number: 18, Title: "Try server-side rendering for the basket", HeadSHA: spikeSHA,
				HeadRef: "spike/ssr-basket", BaseRef: "main", Labels: []string{"frontend", "customer-impact"},
				URL: webURL + "/-/merge_requests/18",
			},
		}}},
		{"push to a feature branch", "Push Hook", "push.feature.json", []delivery.Event{
			commit(commit1, "feature/basket-cookie", "2024-03-05T10:04:12Z", "Mona Lindqvist", "mona@acme.example",
				"cart: keep the basket when the session expires"),
			commit(commit2, "feature/basket-cookie", "2024-03-05T10:20:45Z", "Mona Lindqvist", "mona@acme.example",
				"cart: test basket restore"),
		}},
		{"push of a merge to main", "Push Hook", "push.main.json", mainCommits},
		{"system hook push", "System Hook", "push.main.json", mainCommits},
		{"system hook merge request", "System Hook", "merge_request.merge.json", merged},
		{"pipeline pending", "Pipeline Hook", "pipeline.pending.json", []delivery.Event{{
			Source: Source, ID: "pipeline/98412/queued", Type: delivery.PipelineRunQueued,
			Time: ts(t, "2024-03-05T10:21:09Z"), Payload: run(""),
		}}},
		{"pipeline running", "Pipeline Hook", "pipeline.running.json", []delivery.Event{{
			Source: Source, ID: "pipeline/98412/started/1709634084", Type: delivery.PipelineRunStarted,
			Time: ts(t, "2024-03-05T10:21:24Z"), Payload: run(""),
		}}},
		{"pipeline succeeded", "Pipeline Hook", "pipeline.success.json", []delivery.Event{{
			Source: Source, ID: "pipeline/98412/finished/1709634471", Type: delivery.PipelineRunFinished,
			Time: ts(t, "2024-03-05T10:27:51Z"), Payload: run(delivery.OutcomeSuccess),
		}}},
		{"deployment succeeded", "Deployment Hook", "deployment.success.json", []delivery.Event{{
			Source: Source, ID: "deployment/7331", Type: delivery.ServiceDeployed,
			Time: ts(t, "2024-03-05T13:02:31Z"), App: "shop-web", Env: "production",
			Payload: &delivery.Deployment{
				Artifact: "acme/platform/shop-web@" + mergeSHA, SourceCommit: mergeSHA, InferredFrom: "gitlab-deployment",
			},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(headers(tt.event, keyA), fixture(t, tt.file))
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
		{"tag push hook", "Tag Push Hook", fixture(t, "tag_push.json"), `gitlab event "Tag Push Hook"`},
		{"job hook", "Job Hook", []byte(`{"object_kind":"build"}`), `gitlab event "Job Hook"`},
		{"note hook", "Note Hook", []byte(`{"object_kind":"note"}`), `gitlab event "Note Hook"`},
		{"merge request updated", "Merge Request Hook", fixture(t, "merge_request.update.json"),
			`gitlab merge request action "update"`},
		{"merge request without action", "Merge Request Hook",
			patch(t, fixture(t, "merge_request.open.json"), map[string]any{"object_attributes.action": remove}),
			`gitlab merge request action ""`},
		{"approvals reset by the system", "Merge Request Hook",
			patch(t, fixture(t, "merge_request.unapproved.json"), map[string]any{"object_attributes.system": true}),
			`gitlab merge request action "unapproved by the system"`},
		{"deleted branch", "Push Hook", fixture(t, "push.deleted.json"), `gitlab push deleting branch "feature/basket-cookie"`},
		{"tag in a push hook", "Push Hook", fixture(t, "tag_push.json"), `gitlab push to tag "refs/tags/v2.3.0"`},
		{"other ref", "Push Hook", patch(t, fixture(t, "push.feature.json"), map[string]any{"ref": "refs/merge-requests/17/head"}),
			`gitlab push to ref "refs/merge-requests/17/head"`},
		{"pipeline waiting for a manual job", "Pipeline Hook",
			patch(t, fixture(t, "pipeline.running.json"), map[string]any{"object_attributes.status": "manual"}),
			`gitlab pipeline status "manual"`},
		{"pipeline scheduled", "Pipeline Hook",
			patch(t, fixture(t, "pipeline.pending.json"), map[string]any{"object_attributes.status": "scheduled"}),
			`gitlab pipeline status "scheduled"`},
		{"deployment running", "Deployment Hook", fixture(t, "deployment.running.json"), `gitlab deployment status "running"`},
		{"deployment failed", "Deployment Hook",
			patch(t, fixture(t, "deployment.success.json"), map[string]any{"status": "failed"}),
			`gitlab deployment status "failed"`},
		{"system hook project_create", "System Hook", fixture(t, "system_hook.project_create.json"),
			`gitlab system hook event "project_create"`},
		{"system hook tag push", "System Hook", fixture(t, "tag_push.json"), `gitlab system hook event "tag_push"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(headers(tt.event, keyA), tt.body)
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
	merge := fixture(t, "merge_request.merge.json")
	tests := []struct {
		name string
		h    http.Header
		body []byte
		want string // in the error message
	}{
		{"missing event header", headers("", keyA), merge, "missing X-Gitlab-Event header"},
		{"Idempotency-Key with spaces", func() http.Header {
			h := headers("Merge Request Hook", keyA)
			h.Set(IdempotencyKeyHeader, "not a uuid")
			return h
		}(), merge, "Idempotency-Key header is not a UUID"},
		{"X-Gitlab-Event-UUID too long", func() http.Header {
			h := headers("Merge Request Hook", "")
			h.Set(EventUUIDHeader, strings.Repeat("f", 129))
			return h
		}(), merge, "X-Gitlab-Event-UUID header is not a UUID"},
		{"truncated JSON", headers("Merge Request Hook", keyA), merge[:len(merge)/3], "gitlab Merge Request Hook: decode body: unexpected end of JSON input"},
		{"JSON array", headers("Push Hook", keyA), []byte(`[{"ref":"refs/heads/main"}]`), "gitlab Push Hook: decode body: json: cannot unmarshal array"},
		{"system hook with broken JSON", headers("System Hook", keyA), []byte(`{"object_kind":`), "gitlab System Hook: decode body"},
		{"bad updated_at", headers("Merge Request Hook", keyA),
			patch(t, merge, map[string]any{"object_attributes.updated_at": "x"}), `gitlab Merge Request Hook: object_attributes.updated_at: parsing time "x"`},
		{"updated_at in an unknown zone", headers("Merge Request Hook", keyA),
			patch(t, merge, map[string]any{"object_attributes.updated_at": "2024-03-05 13:30:04 CET"}), `parsing time "2024-03-05 13:30:04 CET"`},
		{"updated_at as a number", headers("Merge Request Hook", keyA),
			patch(t, merge, map[string]any{"object_attributes.updated_at": 1709641804}), "object_attributes.updated_at: 1709641804 is not a time string"},
		{"merged without any SHA", headers("Merge Request Hook", keyA),
			patch(t, merge, map[string]any{"object_attributes.merge_commit_sha": nil, "object_attributes.last_commit": remove}),
			"object_attributes.merge_commit_sha: missing"},
		{"opened without created_at", headers("Merge Request Hook", keyA),
			patch(t, fixture(t, "merge_request.open.json"), map[string]any{"object_attributes.created_at": nil}), "object_attributes.created_at: missing"},
		{"no project", headers("Merge Request Hook", keyA), patch(t, merge, map[string]any{"project": remove}), "project.web_url: missing"},
		{"no iid", headers("Merge Request Hook", keyA),
			patch(t, merge, map[string]any{"object_attributes.iid": remove}), "object_attributes.iid: 0 is not a merge request number"},
		{"approval without user", headers("Merge Request Hook", keyA),
			patch(t, fixture(t, "merge_request.approved.json"), map[string]any{"user": remove}), "user.username: missing"},
		{"bad last commit", headers("Merge Request Hook", keyA),
			patch(t, fixture(t, "merge_request.open.json"), map[string]any{"object_attributes.last_commit.id": "HEAD"}),
			`payload.head_sha: "HEAD" is not a lower-case hexadecimal commit SHA`},
		{"commit with a bad timestamp", headers("Push Hook", keyA),
			patch(t, fixture(t, "push.main.json"), map[string]any{"commits.2.timestamp": "12/03/2024"}), `commits[2].timestamp: parsing time "12/03/2024"`},
		{"commit without id", headers("Push Hook", keyA),
			patch(t, fixture(t, "push.main.json"), map[string]any{"commits.0.id": nil}), "commits[0].id: missing"},
		{"push without project", headers("Push Hook", keyA),
			patch(t, fixture(t, "push.main.json"), map[string]any{"project.web_url": ""}), "project.web_url: missing"},
		{"pipeline without id", headers("Pipeline Hook", keyA),
			patch(t, fixture(t, "pipeline.success.json"), map[string]any{"object_attributes.id": 0}), "object_attributes.id: 0 is not a pipeline id"},
		{"pipeline without created_at", headers("Pipeline Hook", keyA),
			patch(t, fixture(t, "pipeline.pending.json"), map[string]any{"object_attributes.created_at": nil}), "object_attributes.created_at: missing"},
		{"pipeline with a bad finished_at", headers("Pipeline Hook", keyA),
			patch(t, fixture(t, "pipeline.success.json"), map[string]any{"object_attributes.finished_at": "2024-03-05 10:27:51 CEST"}),
			`object_attributes.finished_at: parsing time "2024-03-05 10:27:51 CEST"`},
		{"pipeline with a bad sha", headers("Pipeline Hook", keyA),
			patch(t, fixture(t, "pipeline.success.json"), map[string]any{"object_attributes.sha": "main"}), `payload.sha: "main"`},
		{"deployment without status_changed_at", headers("Deployment Hook", keyA),
			patch(t, fixture(t, "deployment.success.json"), map[string]any{"status_changed_at": remove}), "status_changed_at: missing"},
		{"deployment without a commit", headers("Deployment Hook", keyA),
			patch(t, fixture(t, "deployment.success.json"), map[string]any{"commit_url": "", "short_sha": ""}),
			`commit_url: "" ends in no commit SHA and short_sha "" is none either`},
		{"deployment without environment", headers("Deployment Hook", keyA),
			patch(t, fixture(t, "deployment.success.json"), map[string]any{"environment": " "}), "environment: missing"},
		{"deployment without project path", headers("Deployment Hook", keyA),
			patch(t, fixture(t, "deployment.success.json"), map[string]any{"project.path_with_namespace": nil}), "project.path_with_namespace: missing"},
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
	one := func(t *testing.T, event string, h http.Header, body []byte) delivery.Event {
		t.Helper()
		h.Set(EventHeader, event)
		got, err := Parse(h, body)
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		if len(got) != 1 {
			t.Fatalf("Parse: got %d events, want 1", len(got))
		}
		validate(t, got)
		return got[0]
	}
	merge := fixture(t, "merge_request.merge.json")
	squash := "5b2f0c8e9a7d6b4c3e1f0a9b8c7d6e5f4a3b2c1d"
	tests := []struct {
		name  string
		event string
		h     http.Header
		body  []byte
		check func(t *testing.T, e delivery.Event)
	}{
		{"squash merge", "Merge Request Hook", headers("", keyA),
			patch(t, merge, map[string]any{"object_attributes.merge_commit_sha": nil, "object_attributes.squash_commit_sha": squash}),
			func(t *testing.T, e delivery.Event) {
				if got := e.Payload.(*delivery.Change).MergeSHA; got != squash {
					t.Errorf("MergeSHA: got %q, want the squash commit %q", got, squash)
				}
			}},
		{"fast-forward merge", "Merge Request Hook", headers("", keyA),
			patch(t, merge, map[string]any{"object_attributes.merge_commit_sha": nil}),
			func(t *testing.T, e delivery.Event) {
				if got := e.Payload.(*delivery.Change).MergeSHA; got != commit2 {
					t.Errorf("MergeSHA: got %q, want the last commit %q", got, commit2)
				}
			}},
		{"reopened", "Merge Request Hook", headers("", keyA),
			patch(t, fixture(t, "merge_request.open.json"), map[string]any{
				"object_attributes.action": "reopen", "object_attributes.updated_at": "2024-03-05T11:30:00+01:00",
			}),
			func(t *testing.T, e delivery.Event) {
				if e.Type != delivery.ChangeCreated || e.ID != "merge_request/"+webURL+"/17/reopened/1709634600" ||
					!e.Time.Equal(ts(t, "2024-03-05T10:30:00Z")) || e.Payload.(*delivery.Change).Author != "" {
					t.Errorf("got %s %s at %v, want change.created merge_request/…/17/reopened/1709634600 at 10:30:00Z without author", e.Type, e.ID, e.Time)
				}
			}},
		{"approval by one of several approvers", "Merge Request Hook", headers("", keyA),
			patch(t, fixture(t, "merge_request.approved.json"), map[string]any{"object_attributes.action": "approval"}),
			func(t *testing.T, e delivery.Event) {
				if got := e.Payload.(*delivery.Change).ReviewState; got != delivery.ReviewApproved {
					t.Errorf("ReviewState: got %q, want %q", got, delivery.ReviewApproved)
				}
			}},
		{"unapproval by one of several approvers", "Merge Request Hook", headers("", keyA),
			patch(t, fixture(t, "merge_request.approved.json"), map[string]any{"object_attributes.action": "unapproval"}),
			func(t *testing.T, e delivery.Event) {
				if got := e.Payload.(*delivery.Change).ReviewState; got != delivery.ReviewDismissed {
					t.Errorf("ReviewState: got %q, want %q", got, delivery.ReviewDismissed)
				}
			}},
		{"labels only in object_attributes", "Merge Request Hook", headers("", keyA),
			patch(t, merge, map[string]any{"labels": remove}),
			func(t *testing.T, e delivery.Event) {
				if got := e.Payload.(*delivery.Change).Labels; len(got) != 2 || got[0] != "frontend" {
					t.Errorf("Labels: got %q, want [frontend customer-impact]", got)
				}
			}},
		{"tag pipeline without url or merge request", "Pipeline Hook", headers("", keyA),
			patch(t, fixture(t, "pipeline.success.json"), map[string]any{
				"object_attributes.url": remove, "object_attributes.tag": true, "object_attributes.ref": "v2.3.0",
				"object_attributes.source": "push", "merge_request": nil,
			}),
			func(t *testing.T, e delivery.Event) {
				p := e.Payload.(*delivery.PipelineRun)
				if p.URL != webURL+"/-/pipelines/98412" || p.Branch != "" || p.ChangeNo != 0 || p.Trigger != "push" {
					t.Errorf("got URL %q Branch %q ChangeNo %d Trigger %q, want %s/-/pipelines/98412, no branch, no change, push",
						p.URL, p.Branch, p.ChangeNo, p.Trigger, webURL)
				}
			}},
		{"pipeline canceled before it ran", "Pipeline Hook", headers("", keyA),
			patch(t, fixture(t, "pipeline.pending.json"), map[string]any{"object_attributes.status": "canceled"}),
			func(t *testing.T, e delivery.Event) {
				if e.Type != delivery.PipelineRunFinished || !e.Time.Equal(ts(t, "2024-03-05T10:21:09Z")) ||
					e.Payload.(*delivery.PipelineRun).Outcome != delivery.OutcomeCancel {
					t.Errorf("got %s at %v outcome %q, want pipelinerun.finished at created_at, cancel",
						e.Type, e.Time, e.Payload.(*delivery.PipelineRun).Outcome)
				}
			}},
		{"pipeline failed", "Pipeline Hook", headers("", keyA),
			patch(t, fixture(t, "pipeline.success.json"), map[string]any{"object_attributes.status": "failed"}),
			func(t *testing.T, e delivery.Event) {
				if got := e.Payload.(*delivery.PipelineRun).Outcome; got != delivery.OutcomeFailure {
					t.Errorf("Outcome: got %q, want %q", got, delivery.OutcomeFailure)
				}
			}},
		{"pipeline running without queued_duration", "Pipeline Hook", headers("", keyA),
			patch(t, fixture(t, "pipeline.running.json"), map[string]any{"object_attributes.queued_duration": nil}),
			func(t *testing.T, e delivery.Event) {
				if !e.Time.Equal(ts(t, "2024-03-05T10:21:09Z")) {
					t.Errorf("Time: got %v, want created_at", e.Time)
				}
			}},
		{"deployment from GitLab without deployment_id", "Deployment Hook", headers("", keyB),
			patch(t, fixture(t, "deployment.success.json"), map[string]any{"deployment_id": remove}),
			func(t *testing.T, e delivery.Event) {
				if e.ID != keyB {
					t.Errorf("ID: got %q, want the delivery id %q", e.ID, keyB)
				}
			}},
		{"deployment with only short_sha", "Deployment Hook", headers("", keyA),
			patch(t, fixture(t, "deployment.success.json"), map[string]any{"commit_url": webURL + "/-/commits/main"}),
			func(t *testing.T, e delivery.Event) {
				p := e.Payload.(*delivery.Deployment)
				if p.SourceCommit != mergeSHA[:8] || p.Artifact != "acme/platform/shop-web@"+mergeSHA[:8] {
					t.Errorf("got SourceCommit %q Artifact %q, want the short SHA %s", p.SourceCommit, p.Artifact, mergeSHA[:8])
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, one(t, tt.event, tt.h, tt.body))
		})
	}
	t.Run("push without commits gives no events", func(t *testing.T) {
		body := patch(t, fixture(t, "push.feature.json"), map[string]any{"commits": []any{}})
		got, err := Parse(headers("Push Hook", keyA), body)
		if err != nil || len(got) != 0 {
			t.Errorf("Parse: got %d events, %v; want none and no error", len(got), err)
		}
	})
}

func TestParseIdempotent(t *testing.T) {
	natural := map[string]string{
		"merge_request.open.json":  "Merge Request Hook",
		"merge_request.merge.json": "Merge Request Hook",
		"merge_request.close.json": "Merge Request Hook",
		"push.main.json":           "Push Hook",
		"pipeline.pending.json":    "Pipeline Hook",
		"pipeline.running.json":    "Pipeline Hook",
		"pipeline.success.json":    "Pipeline Hook",
		"deployment.success.json":  "Deployment Hook",
	}
	for file, event := range natural {
		t.Run(file, func(t *testing.T) {
			body := fixture(t, file)
			first, err := Parse(headers(event, keyA), body)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			again, err := Parse(headers(event, keyA), body)
			if err != nil {
				t.Fatalf("Parse again: %v", err)
			}
			sameEvents(t, again, first)
			// A group hook and a project hook deliver the same
			// occurrence with different keys: the events are the same.
			other, err := Parse(headers(event, keyB), body)
			if err != nil {
				t.Fatalf("Parse with another delivery: %v", err)
			}
			sameEvents(t, other, first)
		})
	}
	t.Run("approval retried with its Idempotency-Key", func(t *testing.T) {
		body := fixture(t, "merge_request.approved.json")
		first, err := Parse(headers("Merge Request Hook", keyA), body)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Parse(headers("Merge Request Hook", keyA), body)
		if err != nil {
			t.Fatal(err)
		}
		sameEvents(t, again, first)
	})
	t.Run("a commit pushed twice has one ID", func(t *testing.T) {
		feature, err := Parse(headers("Push Hook", keyA), fixture(t, "push.feature.json"))
		if err != nil {
			t.Fatal(err)
		}
		main, err := Parse(headers("Push Hook", keyB), fixture(t, "push.main.json"))
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
	t.Run("distinct occurrences get distinct IDs", func(t *testing.T) {
		ids := map[string]string{}
		for i, c := range []struct{ event, file string }{
			{"Merge Request Hook", "merge_request.open.json"}, {"Merge Request Hook", "merge_request.approved.json"},
			{"Merge Request Hook", "merge_request.unapproved.json"}, {"Merge Request Hook", "merge_request.merge.json"},
			{"Merge Request Hook", "merge_request.close.json"}, {"Pipeline Hook", "pipeline.pending.json"},
			{"Pipeline Hook", "pipeline.running.json"}, {"Pipeline Hook", "pipeline.success.json"},
			{"Deployment Hook", "deployment.success.json"}, {"Push Hook", "push.main.json"},
		} {
			// Each delivery has its own Idempotency-Key.
			key := keyA[:len(keyA)-2] + string(rune('a'+i)) + "0"
			events, err := Parse(headers(c.event, key), fixture(t, c.file))
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

func TestDeliveryID(t *testing.T) {
	body := fixture(t, "merge_request.approved.json")
	sum := sha256.Sum256(body)
	bodyID := "sha256:" + hex.EncodeToString(sum[:])
	tests := []struct {
		name          string
		idempotency   string
		eventUUID     string
		want, wantErr string
	}{
		{"Idempotency-Key first", keyA, "e1a2b3c4-0000-4000-8000-000000000001", keyA, ""},
		{"X-Gitlab-Event-UUID without Idempotency-Key", "", keyB, keyB, ""},
		{"SHA-256 of the body without either", "", "", bodyID, ""},
		{"blank Idempotency-Key is ignored", "  ", keyB, keyB, ""},
		{"Idempotency-Key with a control character", "abc\x01", "", "", "Idempotency-Key header is not a UUID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			h.Set(EventHeader, "Merge Request Hook")
			if tt.idempotency != "" {
				h[IdempotencyKeyHeader] = []string{tt.idempotency}
			}
			if tt.eventUUID != "" {
				h.Set(EventUUIDHeader, tt.eventUUID)
			}
			events, err := Parse(h, body)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse: got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := events[0].ID; got != tt.want {
				t.Errorf("ID: got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		name    string
		raw     string // JSON token
		want    string // RFC 3339 UTC
		wantErr string
	}{
		{"UTC suffix", `"2016-08-12 15:23:28 UTC"`, "2016-08-12T15:23:28Z", ""},
		{"numeric offset", `"2021-04-28 21:50:00 +0200"`, "2021-04-28T19:50:00Z", ""},
		{"negative offset", `"2021-04-28 21:50:00 -0700"`, "2021-04-29T04:50:00Z", ""},
		{"offset with colon", `"2021-04-28 21:50:00 +02:00"`, "2021-04-28T19:50:00Z", ""},
		{"RFC 3339 UTC", `"2013-12-03T17:23:34Z"`, "2013-12-03T17:23:34Z", ""},
		{"RFC 3339 offset", `"2012-01-03T23:36:29+02:00"`, "2012-01-03T21:36:29Z", ""},
		{"RFC 3339 fraction", `"2024-03-05T10:21:09.123Z"`, "2024-03-05T10:21:09.123Z", ""},
		{"UTC suffix with fraction", `"2016-08-12 15:23:28.5 UTC"`, "2016-08-12T15:23:28.5Z", ""},
		{"space and Z", `"2024-03-05 10:21:09Z"`, "2024-03-05T10:21:09Z", ""},
		{"surrounding spaces", `" 2016-08-12 15:23:28 UTC "`, "2016-08-12T15:23:28Z", ""},
		{"zone abbreviation", `"2016-08-12 15:23:28 CEST"`, "", `f: parsing time "2016-08-12 15:23:28 CEST"`},
		{"no zone", `"2016-08-12 15:23:28"`, "", `f: parsing time "2016-08-12 15:23:28"`},
		{"date only", `"2016-08-12"`, "", `parsing time "2016-08-12"`},
		{"null", `null`, "", "f: missing"},
		{"absent", ``, "", "f: missing"},
		{"empty string", `""`, "", "f: missing"},
		{"number", `1470915808`, "", "f: 1470915808 is not a time string"},
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
			want, err := time.Parse(time.RFC3339Nano, tt.want)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(want) || got.Location() != time.UTC {
				t.Errorf("parseTime(%s): got %v, want %v in UTC", tt.raw, got, want)
			}
		})
	}
}
