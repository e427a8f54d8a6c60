package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/ingest"
	"github.com/shiplog-dev/shiplog/internal/source/webhook/alertmanager"
	"github.com/shiplog-dev/shiplog/internal/store"
)

const ghRepo = "https://github.com/acme/shop-api"

var (
	prOpened = key{"github", "pull_request/" + ghRepo + "/42/opened", delivery.ChangeCreated}
	prMerged = key{"github", "pull_request/" + ghRepo + "/42/merged", delivery.ChangeMerged}
	prReview = key{"github", "pull_request_review/1918273645/submitted", delivery.ChangeReviewed}
	commits  = []key{
		{"github", "commit/" + ghRepo + "/88db18062c5b415d37e4026822d68d4378000b2f", delivery.CommitAuthored},
		{"github", "commit/" + ghRepo + "/99ef3ce411f1ea918a61142ac0e8ffd076e8d442", delivery.CommitAuthored},
		{"github", "commit/" + ghRepo + "/d61a2b41e6c06392fc77c081a1f19e2dc9199500", delivery.CommitAuthored},
	}
)

func TestGitHub(t *testing.T) {
	s := newServer(t, nil)
	opened := readFile(t, githubData, "pull_request.opened.json")
	push := readFile(t, githubData, "push.main.json")

	t.Run("pull request opened", func(t *testing.T) {
		r := s.post(t, "/ingest/github", githubHeaders("pull_request", "72d3162e-cc78-11e3-81ab-4c9367dc0958", opened), opened)
		r.wantStored(t, 1, 0)
		wantKeys(t, s.store, prOpened)
		changes, err := s.store.Changes(context.Background(), store.ModelFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(changes) != 1 || changes[0].Repo != ghRepo || changes[0].Number != 42 ||
			!changes[0].OpenedAt.Equal(time.Date(2024, 3, 5, 9, 12, 44, 0, time.UTC)) {
			t.Errorf("changes = %+v, want #42 of %s opened at 2024-03-05T09:12:44Z", changes, ghRepo)
		}
	})
	t.Run("push with three commits", func(t *testing.T) {
		r := s.post(t, "/ingest/github", githubHeaders("push", "9a1b2c3d-cc78-11e3-81ab-4c9367dc0958", push), push)
		r.wantStored(t, 3, 0)
		wantKeys(t, s.store, append([]key{prOpened}, commits...)...)
	})
	t.Run("redelivery stores nothing new", func(t *testing.T) {
		r := s.post(t, "/ingest/github", githubHeaders("push", "9a1b2c3d-cc78-11e3-81ab-4c9367dc0958", push), push)
		r.wantStored(t, 0, 3)
		// An organisation hook delivers the same push under another GUID.
		r = s.post(t, "/ingest/github", githubHeaders("push", "0f0e0d0c-cc78-11e3-81ab-4c9367dc0958", push), push)
		r.wantStored(t, 0, 3)
		wantKeys(t, s.store, append([]key{prOpened}, commits...)...)
	})
	ignored := []struct {
		name, event, file, reason, kind string
	}{
		{"ping", "ping", "ping.json", `github event "ping"`, "ping"},
		{"event type shiplog does not record", "issues", "ping.json", `github event "issues"`, "event_type"},
		{"tag push", "push", "push.tag.json", "unsupported event", "action"},
	}
	for _, tc := range ignored {
		t.Run("ignored: "+tc.name, func(t *testing.T) {
			body := readFile(t, githubData, tc.file)
			before := metricValue(t, s.reg, "shiplog_ingest_ignored_total", map[string]string{"endpoint": "github", "reason_kind": tc.kind})
			r := s.post(t, "/ingest/github", githubHeaders(tc.event, "1d2e3f40-cc78-11e3-81ab-4c9367dc0958", body), body)
			r.wantIgnored(t, tc.reason)
			after := metricValue(t, s.reg, "shiplog_ingest_ignored_total", map[string]string{"endpoint": "github", "reason_kind": tc.kind})
			if after != before+1 {
				t.Errorf("shiplog_ingest_ignored_total{endpoint=github,reason_kind=%s} went from %v to %v, want +1", tc.kind, before, after)
			}
			wantKeys(t, s.store, append([]key{prOpened}, commits...)...)
		})
	}

	merged := readFile(t, githubData, "pull_request.closed.merged.json")
	noNumber := patchJSON(t, merged, func(doc map[string]any) { delete(doc["pull_request"].(map[string]any), "number") })
	rejected := []struct {
		name  string
		h     http.Header
		body  []byte
		code  int
		parts []string
	}{
		{"signature with another secret", withHeader(githubHeaders("pull_request", "a1", merged), "X-Hub-Signature-256", sign("not the secret", merged)), merged,
			401, []string{"X-Hub-Signature-256 does not match the body"}},
		{"signature of another body", withHeader(githubHeaders("pull_request", "a2", merged), "X-Hub-Signature-256", sign(githubSecret, opened)), merged,
			401, []string{"does not match"}},
		{"no signature", withHeader(githubHeaders("pull_request", "a3", merged), "X-Hub-Signature-256", ""), merged,
			401, []string{"missing X-Hub-Signature-256"}},
		{"sha1 signature only", withHeader(githubHeaders("pull_request", "a4", merged), "X-Hub-Signature-256", "sha1=0123"), merged,
			401, []string{`does not start with "sha256="`}},
		{"malformed JSON", githubHeaders("pull_request", "a5", []byte(`{"action": "closed",`)), []byte(`{"action": "closed",`),
			400, []string{"github"}},
		{"missing field", githubHeaders("pull_request", "a6", noNumber), noNumber,
			400, []string{"pull_request.number"}},
		{"no event header", withHeader(githubHeaders("", "a7", merged), "X-GitHub-Event", ""), merged,
			400, []string{"missing X-GitHub-Event header"}},
		{"no delivery header", withHeader(githubHeaders("pull_request", "", merged), "X-GitHub-Delivery", ""), merged,
			400, []string{"missing X-GitHub-Delivery header"}},
		{"form-encoded", withHeader(githubHeaders("pull_request", "a8", merged), "Content-Type", "application/x-www-form-urlencoded"), merged,
			400, []string{"application/json"}},
	}
	for _, tc := range rejected {
		t.Run("rejected: "+tc.name, func(t *testing.T) {
			r := s.post(t, "/ingest/github", tc.h, tc.body)
			r.wantError(t, tc.code, tc.parts...)
			wantKeys(t, s.store, append([]key{prOpened}, commits...)...)
		})
	}
	t.Run("GET is not allowed", func(t *testing.T) {
		r := s.do(t, http.MethodGet, "/ingest/github", nil, nil)
		r.wantError(t, http.StatusMethodNotAllowed, "send POST")
		if got := r.header.Get("Allow"); got != "POST" {
			t.Errorf("Allow: %q, want POST", got)
		}
	})
	t.Run("metrics", func(t *testing.T) {
		for _, c := range []struct {
			code string
			want float64
		}{{"202", 7}, {"401", 4}, {"400", 5}, {"405", 1}} {
			if got := metricValue(t, s.reg, "shiplog_ingest_requests_total", map[string]string{"endpoint": "github", "code": c.code}); got != c.want {
				t.Errorf("shiplog_ingest_requests_total{endpoint=github,code=%s} = %v, want %v", c.code, got, c.want)
			}
		}
		if got := metricValue(t, s.reg, "shiplog_ingest_request_duration_seconds", map[string]string{"endpoint": "github"}); got != 17 {
			t.Errorf("shiplog_ingest_request_duration_seconds_count{endpoint=github} = %v, want 17", got)
		}
	})
}

func TestBodyLimit(t *testing.T) {
	s := newServer(t, func(o *ingest.Options) { o.MaxBodyBytes = 4096 })
	push := readFile(t, githubData, "push.main.json") // 10 KiB
	t.Run("with Content-Length", func(t *testing.T) {
		r := s.post(t, "/ingest/github", githubHeaders("push", "b1", push), push)
		r.wantError(t, http.StatusRequestEntityTooLarge, "request body larger than 4096 bytes (ingest.max_body_bytes)")
	})
	t.Run("chunked", func(t *testing.T) {
		// A reader of unknown length makes the client send the body chunked.
		r := s.do(t, http.MethodPost, "/ingest/github", githubHeaders("push", "b2", push), io.MultiReader(bytes.NewReader(push)))
		r.wantError(t, http.StatusRequestEntityTooLarge, "4096 bytes")
	})
	t.Run("bearer endpoints too", func(t *testing.T) {
		body := bytes.Repeat([]byte(" "), 5000)
		r := s.post(t, "/ingest/alertmanager", bearerHeaders(ingestToken), body)
		r.wantError(t, http.StatusRequestEntityTooLarge, "4096 bytes")
	})
	t.Run("at the limit", func(t *testing.T) {
		ping := []byte(`{"zen": "Keep it logically awesome.", "hook_id": 462311907}`)
		ping = append(ping, bytes.Repeat([]byte(" "), 4096-len(ping))...)
		r := s.post(t, "/ingest/github", githubHeaders("ping", "b3", ping), ping)
		r.wantIgnored(t, "ping")
	})
	wantKeys(t, s.store)
}

func TestSecretNotConfigured(t *testing.T) {
	s := newServer(t, func(o *ingest.Options) { o.GitHubSecret, o.GitLabSecret, o.Token = "", "", "" })
	push := readFile(t, githubData, "push.main.json")
	for _, tc := range []struct {
		path string
		h    http.Header
		want string
	}{
		{"/ingest/github", githubHeaders("push", "c1", push), "github webhook secret not configured: set ingest.github.secret_file or SHIPLOG_GITHUB_WEBHOOK_SECRET"},
		{"/ingest/gitlab", gitlabHeaders("Push Hook", "", ""), "gitlab webhook secret not configured: set ingest.gitlab.secret_file or SHIPLOG_GITLAB_WEBHOOK_SECRET"},
		{"/ingest/cloudevents", bearerHeaders(""), "ingest token not configured: set ingest.token_file or SHIPLOG_INGEST_TOKEN"},
		{"/ingest/argocd", bearerHeaders(""), "ingest token not configured: set ingest.token_file or SHIPLOG_INGEST_TOKEN"},
		{"/ingest/alertmanager", bearerHeaders("anything"), "ingest token not configured: set ingest.token_file or SHIPLOG_INGEST_TOKEN"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			r := s.post(t, tc.path, tc.h, push)
			if r.code != http.StatusServiceUnavailable || r.body["error"] != tc.want {
				t.Errorf("got %d %s, want 503 {\"error\": %q}", r.code, r.raw, tc.want)
			}
		})
	}
	wantKeys(t, s.store)
}

func TestStoreClosed(t *testing.T) {
	s := newServer(t, nil)
	if err := s.store.Close(); err != nil {
		t.Fatal(err)
	}
	push := readFile(t, githubData, "push.main.json")
	r := s.post(t, "/ingest/github", githubHeaders("push", "d1", push), push)
	r.wantError(t, http.StatusServiceUnavailable, "nothing was stored; retry later")
	if got := r.header.Get("Retry-After"); got != "5" {
		t.Errorf("Retry-After: %q, want 5", got)
	}
	// Ignored deliveries do not need the store.
	ping := readFile(t, githubData, "ping.json")
	s.post(t, "/ingest/github", githubHeaders("ping", "d2", ping), ping).wantIgnored(t, "ping")
	if got := metricValue(t, s.reg, "shiplog_ingest_requests_total", map[string]string{"endpoint": "github", "code": "503"}); got != 1 {
		t.Errorf("requests_total{code=503} = %v, want 1", got)
	}
}

func gitlabHeaders(event, token, idempotencyKey string) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "GitLab/17.9.2")
	h.Set("X-Gitlab-Event", event)
	if token != "" {
		h.Set("X-Gitlab-Token", token)
	}
	if idempotencyKey != "" {
		h.Set("Idempotency-Key", idempotencyKey)
		h.Set("X-Gitlab-Event-UUID", "e"+idempotencyKey[1:])
	}
	return h
}

func TestGitLab(t *testing.T) {
	s := newServer(t, nil)
	const project = "https://gitlab.acme.example/acme/platform/shop-web"
	mrOpened := key{"gitlab", "merge_request/" + project + "/17/opened", delivery.ChangeCreated}
	open := readFile(t, gitlabData, "merge_request.open.json")
	t.Run("merge request opened", func(t *testing.T) {
		r := s.post(t, "/ingest/gitlab", gitlabHeaders("Merge Request Hook", gitlabSecret, "4c2f8a10-6b1e-4d3a-9c7f-2e5d8b1a0c93"), open)
		r.wantStored(t, 1, 0)
		wantKeys(t, s.store, mrOpened)
	})
	t.Run("retry with the same Idempotency-Key", func(t *testing.T) {
		r := s.post(t, "/ingest/gitlab", gitlabHeaders("Merge Request Hook", gitlabSecret, "4c2f8a10-6b1e-4d3a-9c7f-2e5d8b1a0c93"), open)
		r.wantStored(t, 0, 1)
	})
	t.Run("pipeline with mixed timestamp formats", func(t *testing.T) {
		body := readFile(t, gitlabData, "pipeline.success.json")
		r := s.post(t, "/ingest/gitlab", gitlabHeaders("Pipeline Hook", gitlabSecret, "5d3f8a10-6b1e-4d3a-9c7f-2e5d8b1a0c93"), body)
		r.wantStored(t, 1, 0)
		wantKeys(t, s.store, mrOpened, key{"gitlab", "pipeline/98412/finished/1709634471", delivery.PipelineRunFinished})
	})
	t.Run("ignored: tag push", func(t *testing.T) {
		r := s.post(t, "/ingest/gitlab", gitlabHeaders("Tag Push Hook", gitlabSecret, ""), readFile(t, gitlabData, "tag_push.json"))
		r.wantIgnored(t, `gitlab event "Tag Push Hook"`)
		if got := metricValue(t, s.reg, "shiplog_ingest_ignored_total", map[string]string{"endpoint": "gitlab", "reason_kind": "event_type"}); got != 1 {
			t.Errorf("ignored_total{gitlab,event_type} = %v, want 1", got)
		}
	})
	t.Run("ignored: merge request update", func(t *testing.T) {
		r := s.post(t, "/ingest/gitlab", gitlabHeaders("Merge Request Hook", gitlabSecret, ""), readFile(t, gitlabData, "merge_request.update.json"))
		r.wantIgnored(t, "unsupported event")
		if got := metricValue(t, s.reg, "shiplog_ingest_ignored_total", map[string]string{"endpoint": "gitlab", "reason_kind": "action"}); got != 1 {
			t.Errorf("ignored_total{gitlab,action} = %v, want 1", got)
		}
	})
	merge := readFile(t, gitlabData, "merge_request.merge.json")
	for _, tc := range []struct {
		name  string
		h     http.Header
		body  []byte
		code  int
		parts []string
	}{
		{"no token", gitlabHeaders("Merge Request Hook", "", ""), merge, 401, []string{"missing X-Gitlab-Token header"}},
		{"wrong token", gitlabHeaders("Merge Request Hook", "glpat-guess", ""), merge, 401, []string{"does not match"}},
		{"malformed", gitlabHeaders("Merge Request Hook", gitlabSecret, ""), []byte(`{"object_kind": "merge_request", "object_attributes": 7}`), 400, []string{"gitlab Merge Request Hook"}},
		{"no event header", gitlabHeaders("", gitlabSecret, ""), merge, 400, []string{"missing X-Gitlab-Event header"}},
	} {
		t.Run("rejected: "+tc.name, func(t *testing.T) {
			s.post(t, "/ingest/gitlab", tc.h, tc.body).wantError(t, tc.code, tc.parts...)
			wantKeys(t, s.store, mrOpened, key{"gitlab", "pipeline/98412/finished/1709634471", delivery.PipelineRunFinished})
		})
	}
}

func TestCloudEvents(t *testing.T) {
	s := newServer(t, nil)
	reqs := cloudeventsData + "/requests/"
	pipelineRun := key{"cloudevents", "/tekton/ci a3f4e5d6-c7b8-4a99-8cbd-2e3f4a5b6c7d", delivery.PipelineRunFinished}
	batch := []key{
		{"cloudevents", "/tekton/ci d6c7b8a9-faeb-4dcc-9fea-5b6c7d8e9fa0", delivery.PipelineRunFinished},
		{"cloudevents", "/tekton/ci d6c7b8a9-faeb-4dcc-9fea-5b6c7d8e9fa0#artifact", delivery.ArtifactPackaged},
		{"cloudevents", "/ghcr.io/acme f8e9dacb-1c0d-4fee-9b1c-7d8e9fa0b1c2", delivery.ArtifactPublished},
		{"cloudevents", "/argocd/prod-eu-1 0a1b2c3d-4e5f-4061-8273-8e9fa0b1c2d3", delivery.ServiceDeployed},
	}
	send := func(t *testing.T, file, token string) reply {
		t.Helper()
		h, body := readRequest(t, reqs+file)
		if token != "" {
			h.Set("Authorization", "Bearer "+token)
		}
		return s.post(t, "/ingest/cloudevents", h, body)
	}
	t.Run("structured", func(t *testing.T) {
		send(t, "structured.http", ingestToken).wantStored(t, 1, 0)
		wantKeys(t, s.store, pipelineRun)
	})
	t.Run("batch, in one append", func(t *testing.T) {
		r := send(t, "batch.http", ingestToken)
		r.wantStored(t, 4, 0)
		wantKeys(t, s.store, append([]key{pipelineRun}, batch...)...)
		events, err := s.store.Events(context.Background(), store.EventFilter{Source: "cloudevents"})
		if err != nil {
			t.Fatal(err)
		}
		// One Append, one transaction: the batch's events share received_at.
		if len(events) != 5 || !events[1].ReceivedAt.Equal(events[4].ReceivedAt) {
			t.Errorf("batch events received at different times: %v", events)
		}
	})
	t.Run("broker redelivery in binary mode", func(t *testing.T) {
		// binary-broker.http is the service.deployed of the batch, as a
		// broker delivers it: same source and id, so a duplicate.
		send(t, "binary-broker.http", ingestToken).wantStored(t, 0, 1)
		send(t, "batch.http", ingestToken).wantStored(t, 0, 4)
		wantKeys(t, s.store, append([]key{pipelineRun}, batch...)...)
	})
	t.Run("ignored: ApiServerSource resource event", func(t *testing.T) {
		send(t, "apiserver-resource.http", ingestToken).wantIgnored(t, "handled by the kube source")
		if got := metricValue(t, s.reg, "shiplog_ingest_ignored_total", map[string]string{"endpoint": "cloudevents", "reason_kind": "kubernetes_object"}); got != 1 {
			t.Errorf("ignored_total{cloudevents,kubernetes_object} = %v, want 1", got)
		}
	})
	t.Run("ignored: ApiServerSource reference event", func(t *testing.T) {
		send(t, "apiserver-ref.http", ingestToken).wantIgnored(t, "spec.mode to Resource")
		if got := metricValue(t, s.reg, "shiplog_ingest_ignored_total", map[string]string{"endpoint": "cloudevents", "reason_kind": "kubernetes_reference"}); got != 1 {
			t.Errorf("ignored_total{cloudevents,kubernetes_reference} = %v, want 1", got)
		}
	})
	t.Run("empty batch", func(t *testing.T) {
		r := s.post(t, "/ingest/cloudevents", withHeader(bearerHeaders(ingestToken), "Content-Type", "application/cloudevents-batch+json"), []byte(`[]`))
		r.wantStored(t, 0, 0)
	})
	t.Run("batch with ignored events stores the others", func(t *testing.T) {
		body := batchOf(t,
			structuredEvent(t, "/ci/acme", "e-1", "dev.cdevents.pipelinerun.started.0.3.0",
				`{"context":{"specversion":"0.5.0","id":"e-1","source":"/ci/acme","type":"dev.cdevents.pipelinerun.started.0.3.0","timestamp":"2024-03-05T07:00:00Z"},"subject":{"id":"run-9","content":{"pipelineName":"api-ci"}}}`),
			structuredEvent(t, "/ci/acme", "e-2", "com.example.build.log", `{"line":"ok"}`),
		)
		r := s.post(t, "/ingest/cloudevents", withHeader(bearerHeaders(ingestToken), "Content-Type", "application/cloudevents-batch+json"), body)
		r.wantStored(t, 1, 0)
		ig, _ := r.body["ignored"].([]any)
		if len(ig) != 1 || ig[0].(map[string]any)["index"] != float64(1) {
			t.Errorf("ignored = %v, want the event at index 1", r.body["ignored"])
		}
	})
	before := storedKeys(t, s.store)
	t.Run("batch with one malformed event stores nothing", func(t *testing.T) {
		body := batchOf(t,
			structuredEvent(t, "/ci/acme", "e-3", "dev.cdevents.pipelinerun.started.0.3.0",
				`{"context":{"specversion":"0.5.0","id":"e-3","source":"/ci/acme","type":"dev.cdevents.pipelinerun.started.0.3.0","timestamp":"2024-03-05T07:00:00Z"},"subject":{"id":"run-10","content":{}}}`),
			structuredEvent(t, "/ci/acme", "e-4", "dev.cdevents.pipelinerun.finished.0.3.0",
				`{"context":{"specversion":"0.5.0","id":"e-4","source":"/ci/acme","type":"dev.cdevents.pipelinerun.finished.0.3.0","timestamp":"2024-03-05T07:00:00Z"},"subject":{"id":"run-10","content":{"outcome":"exploded"}}}`),
		)
		r := s.post(t, "/ingest/cloudevents", withHeader(bearerHeaders(ingestToken), "Content-Type", "application/cloudevents-batch+json"), body)
		r.wantError(t, http.StatusBadRequest, "batch event 1", "subject.content.outcome")
	})
	t.Run("malformed CloudEvent names the attribute", func(t *testing.T) {
		h, body := readRequest(t, reqs+"binary-broker.http")
		h.Del("Ce-Specversion")
		h.Set("Authorization", "Bearer "+ingestToken)
		s.post(t, "/ingest/cloudevents", h, body).wantError(t, http.StatusBadRequest, "specversion")
	})
	for _, tc := range []struct{ name, auth, want string }{
		{"no token", "", "missing Authorization header"},
		{"wrong token", "Bearer shiplog-ingest-guess", "does not match the ingest token"},
		{"basic auth", "Basic c2hpcGxvZzpwYXNz", "not a Bearer token"},
		{"token of another length", "Bearer " + ingestToken + "x", "does not match"},
	} {
		t.Run("rejected: "+tc.name, func(t *testing.T) {
			h, body := readRequest(t, reqs+"structured.http")
			h = withHeader(h, "Authorization", tc.auth)
			r := s.post(t, "/ingest/cloudevents", h, body)
			r.wantError(t, http.StatusUnauthorized, tc.want)
			if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Errorf("WWW-Authenticate: %q, want Bearer", got)
			}
		})
	}
	after := storedKeys(t, s.store)
	if !reflect.DeepEqual(before, after) {
		t.Errorf("rejected requests changed the store: %v, then %v", before, after)
	}
}

func TestArgoCD(t *testing.T) {
	s := newServer(t, nil)
	running := readFile(t, argocdData, "on-sync-running.json")
	t.Run("sync started", func(t *testing.T) {
		s.post(t, "/ingest/argocd", bearerHeaders(ingestToken), running).wantStored(t, 1, 0)
		events, err := s.store.Events(context.Background(), store.EventFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 1 || events[0].ID != "api-prod/2024-03-05T07:33:03Z/Running" || events[0].Type != delivery.SyncStarted ||
			events[0].Cluster != "prod-eu-1" || events[0].App != "api-prod" || events[0].Env != "production" {
			t.Errorf("stored %+v, want sync.started of api-prod in cluster prod-eu-1 (ingest.argocd.cluster)", events)
		}
	})
	t.Run("sent twice", func(t *testing.T) {
		s.post(t, "/ingest/argocd", bearerHeaders(ingestToken), running).wantStored(t, 0, 1)
	})
	t.Run("ignored trigger", func(t *testing.T) {
		s.post(t, "/ingest/argocd", bearerHeaders(ingestToken), readFile(t, argocdData, "on-sync-status-unknown.json")).wantIgnored(t, "on-sync-status-unknown")
		if got := metricValue(t, s.reg, "shiplog_ingest_ignored_total", map[string]string{"endpoint": "argocd", "reason_kind": "trigger"}); got != 1 {
			t.Errorf("ignored_total{argocd,trigger} = %v, want 1", got)
		}
	})
	t.Run("rejected: missing app", func(t *testing.T) {
		s.post(t, "/ingest/argocd", bearerHeaders(ingestToken), []byte(`{"trigger": "on-sync-running"}`)).wantError(t, 400, "argocd: app: missing")
	})
	t.Run("rejected: wrong token", func(t *testing.T) {
		s.post(t, "/ingest/argocd", bearerHeaders("nope"), running).wantError(t, 401, "does not match")
	})
	wantKeys(t, s.store, key{"argocd", "api-prod/2024-03-05T07:33:03Z/Running", delivery.SyncStarted})
}

func TestArgoCDDefaultCluster(t *testing.T) {
	s := newServer(t, func(o *ingest.Options) { o.ArgoCDCluster = "in-cluster" })
	s.post(t, "/ingest/argocd", bearerHeaders(ingestToken), readFile(t, argocdData, "on-sync-succeeded.json")).wantStored(t, 1, 0)
	syncs, err := s.store.Syncs(context.Background(), store.ModelFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(syncs) != 1 || syncs[0].Cluster != "in-cluster" {
		t.Errorf("syncs = %+v, want one in cluster in-cluster", syncs)
	}
}

func TestAlertmanager(t *testing.T) {
	s := newServer(t, func(o *ingest.Options) {
		o.AlertmanagerMapping = alertmanager.Mapping{EnvLabels: []string{"namespace"}}
	})
	firing := readFile(t, alertmanagerData, "firing.json")
	t.Run("firing", func(t *testing.T) {
		s.post(t, "/ingest/alertmanager", bearerHeaders(ingestToken), firing).wantStored(t, 2, 0)
		incidents, err := s.store.Incidents(context.Background(), store.ModelFilter{})
		if err != nil {
			t.Fatal(err)
		}
		envs := map[string]string{}
		for _, in := range incidents {
			envs[in.App] = in.Env
		}
		if len(incidents) != 2 || envs["api"] != "shop" || envs["web"] != "shop-staging" {
			t.Errorf("incidents %+v: want api in shop and web in shop-staging (env from the namespace label, as configured)", incidents)
		}
	})
	t.Run("repeated notification", func(t *testing.T) {
		s.post(t, "/ingest/alertmanager", bearerHeaders(ingestToken), firing).wantStored(t, 0, 2)
	})
	t.Run("resolved", func(t *testing.T) {
		s.post(t, "/ingest/alertmanager", bearerHeaders(ingestToken), readFile(t, alertmanagerData, "resolved.json")).wantStored(t, 1, 0)
	})
	t.Run("no alerts", func(t *testing.T) {
		s.post(t, "/ingest/alertmanager", bearerHeaders(ingestToken), []byte(`{"version":"4","groupKey":"{}:{}","status":"firing","alerts":[]}`)).wantIgnored(t, "has no alerts")
		if got := metricValue(t, s.reg, "shiplog_ingest_ignored_total", map[string]string{"endpoint": "alertmanager", "reason_kind": "no_alerts"}); got != 1 {
			t.Errorf("ignored_total{alertmanager,no_alerts} = %v, want 1", got)
		}
	})
	t.Run("rejected: version 3", func(t *testing.T) {
		s.post(t, "/ingest/alertmanager", bearerHeaders(ingestToken), []byte(`{"version":"3","alerts":[{}]}`)).wantError(t, 400, "version")
	})
	t.Run("rejected: alert without fingerprint", func(t *testing.T) {
		body := patchJSON(t, firing, func(doc map[string]any) {
			delete(doc["alerts"].([]any)[1].(map[string]any), "fingerprint")
		})
		s.post(t, "/ingest/alertmanager", bearerHeaders(ingestToken), body).wantError(t, 400, "alerts[1].fingerprint: missing")
	})
	t.Run("rejected: no token", func(t *testing.T) {
		s.post(t, "/ingest/alertmanager", bearerHeaders(""), firing).wantError(t, 401, "missing Authorization")
	})
	if got := len(storedKeys(t, s.store)); got != 3 {
		t.Errorf("store holds %d events, want 3", got)
	}
}

// hook is one delivery to an endpoint, and how many events it stands for.
type hook struct {
	path   string
	h      http.Header
	body   []byte
	events int
}

// TestOutOfOrder delivers the same occurrences in order and in reverse to
// two stores: the derived rows must be the same.
func TestOutOfOrder(t *testing.T) {
	gh := func(event, file string) hook {
		b := readFile(t, githubData, file)
		return hook{"/ingest/github", githubHeaders(event, "guid-"+file, b), b, 1}
	}
	bearer := func(path, dir, file string, events int) hook {
		return hook{path, bearerHeaders(ingestToken), readFile(t, dir, file), events}
	}
	inOrder := []hook{
		gh("pull_request", "pull_request.opened.json"),
		gh("pull_request_review", "pull_request_review.submitted.json"),
		gh("pull_request", "pull_request.closed.merged.json"),
		gh("workflow_run", "workflow_run.requested.json"),
		gh("workflow_run", "workflow_run.in_progress.json"),
		gh("workflow_run", "workflow_run.completed.json"),
		bearer("/ingest/argocd", argocdData, "on-sync-running.json", 1),
		bearer("/ingest/argocd", argocdData, "on-sync-succeeded.json", 1),
		bearer("/ingest/alertmanager", alertmanagerData, "firing.json", 2),
		bearer("/ingest/alertmanager", alertmanagerData, "resolved.json", 1),
	}
	ordered, reversed := newServer(t, nil), newServer(t, nil)
	for _, d := range inOrder {
		ordered.post(t, d.path, d.h, d.body).wantStored(t, d.events, 0)
	}
	for i := len(inOrder) - 1; i >= 0; i-- {
		d := inOrder[i]
		reversed.post(t, d.path, d.h, d.body).wantStored(t, d.events, 0)
	}
	ctx := context.Background()
	for _, q := range []struct {
		name string
		rows func(*store.Store) (any, error)
	}{
		{"changes", func(s *store.Store) (any, error) { return s.Changes(ctx, store.ModelFilter{}) }},
		{"pipeline runs", func(s *store.Store) (any, error) { return s.PipelineRuns(ctx, store.ModelFilter{}) }},
		{"syncs", func(s *store.Store) (any, error) { return s.Syncs(ctx, store.ModelFilter{}) }},
		{"incidents", func(s *store.Store) (any, error) { return s.Incidents(ctx, store.ModelFilter{}) }},
		{"apps", func(s *store.Store) (any, error) { return s.Apps(ctx, store.ModelFilter{}) }},
	} {
		t.Run(q.name, func(t *testing.T) {
			a, err := q.rows(ordered.store)
			if err != nil {
				t.Fatal(err)
			}
			b, err := q.rows(reversed.store)
			if err != nil {
				t.Fatal(err)
			}
			if reflect.ValueOf(a).Len() == 0 {
				t.Fatalf("no %s derived", q.name)
			}
			if !reflect.DeepEqual(a, b) {
				t.Errorf("in order:\n%+v\nreversed:\n%+v", a, b)
			}
		})
	}
	t.Run("the merged pull request", func(t *testing.T) {
		changes, err := reversed.store.Changes(ctx, store.ModelFilter{})
		if err != nil {
			t.Fatal(err)
		}
		c := changes[0]
		if c.OpenedAt.IsZero() || c.MergedAt.IsZero() || c.MergeSHA == "" || len(c.Approvers) != 1 {
			t.Errorf("merged-before-opened PR folded to %+v, want opened, merged and approved", c)
		}
	})
}

// withHeader returns h with name set to value (deleted when empty).
func withHeader(h http.Header, name, value string) http.Header {
	h = h.Clone()
	if value == "" {
		h.Del(name)
	} else {
		h.Set(name, value)
	}
	return h
}

// patchJSON decodes body, lets change edit it, and encodes it again.
func patchJSON(t *testing.T, body []byte, change func(map[string]any)) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	change(doc)
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// structuredEvent is a CloudEvent in the JSON format with JSON data.
func structuredEvent(t *testing.T, source, id, typ, data string) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"specversion": "1.0", "id": id, "source": source, "type": typ,
		"datacontenttype": "application/json", "data": json.RawMessage(data),
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func batchOf(t *testing.T, events ...json.RawMessage) []byte {
	t.Helper()
	b, err := json.Marshal(events)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
