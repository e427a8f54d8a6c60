package demo

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/shiplog-dev/shiplog/internal/source/webhook/argocd"
)

// delivery is one webhook request to shiplog's /ingest endpoints.
type hook struct {
	endpoint string // github, argocd, alertmanager
	event    string // X-GitHub-Event
	id       string // X-GitHub-Delivery
	body     any
}

// sender posts webhooks to the running server, signed or with the token.
type sender struct {
	base   string
	client *http.Client
	secret []byte
	token  string
}

func (s *sender) send(ctx context.Context, h hook) error {
	body, err := json.Marshal(h.body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+"/ingest/"+h.endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	switch h.endpoint {
	case "github":
		mac := hmac.New(sha256.New, s.secret)
		mac.Write(body)
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
		req.Header.Set("X-GitHub-Event", h.event)
		req.Header.Set("X-GitHub-Delivery", h.id)
	default:
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("POST /ingest/%s %s: %s: %s", h.endpoint, h.event, resp.Status, bytes.TrimSpace(b))
	}
	var ans struct {
		Status string `json:"status"`
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal(b, &ans); err != nil || ans.Status != "stored" {
		return fmt.Errorf("POST /ingest/%s %s: not stored: %s", h.endpoint, h.event, bytes.TrimSpace(b))
	}
	return nil
}

// sendAll posts hooks with a few workers; order does not matter to
// shiplog, whose records are folds of all their events.
func (s *sender) sendAll(ctx context.Context, hooks []hook, workers int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan hook)
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for h := range ch {
				if err := s.send(ctx, h); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		}()
	}
loop:
	for _, h := range hooks {
		select {
		case ch <- h:
		case <-ctx.Done():
			break loop
		}
	}
	close(ch)
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// --- GitHub payloads: exactly the fields shiplog's parser reads, named as
// GitHub names them.

func ghRepo(appName string) map[string]any {
	return map[string]any{"id": 4242, "name": appName, "full_name": org + "/" + appName, "html_url": repoURL(appName)}
}

func ghUser(p person) map[string]any { return map[string]any{"login": p.Login} }

func deliveryID(kind string, parts ...string) string {
	h := sha256.New()
	h.Write([]byte(kind))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	x := hex.EncodeToString(h.Sum(nil))
	return x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

func pushHook(appName, branch string, commits []*srcCommit, prs map[*srcCommit]int64) hook {
	var cs []map[string]any
	for _, c := range commits {
		cs = append(cs, map[string]any{"id": c.SHA, "message": sourceMessage(c, prs[c]), "timestamp": rfc(c.At),
			"author": map[string]any{"name": c.Author.Name, "email": c.Author.Email()}})
	}
	last := commits[len(commits)-1]
	return hook{endpoint: "github", event: "push", id: deliveryID("push", appName, last.SHA, branch), body: map[string]any{
		"ref": "refs/heads/" + branch, "before": "0000000000000000000000000000000000000001", "after": last.SHA,
		"commits": cs, "repository": ghRepo(appName),
	}}
}

func prObject(ch *change, merged bool) map[string]any {
	pr := map[string]any{
		"number": ch.PR, "html_url": repoURL(ch.Commit.App) + "/pull/" + strconv.FormatInt(ch.PR, 10), "title": ch.Title,
		"user": ghUser(ch.Commit.Author), "head": map[string]any{"ref": ch.Branch, "sha": ch.Commit.SHA},
		"base": map[string]any{"ref": "main"}, "labels": []any{}, "created_at": rfc(ch.Opened), "updated_at": rfc(ch.Opened),
		"merged": false, "merged_at": nil, "closed_at": nil, "merge_commit_sha": nil,
	}
	if merged {
		pr["merged"], pr["merged_at"], pr["closed_at"], pr["updated_at"] = true, rfc(ch.Merged), rfc(ch.Merged), rfc(ch.Merged)
		pr["merge_commit_sha"] = ch.Commit.SHA
	}
	return pr
}

func prOpenedHook(ch *change) hook {
	return hook{endpoint: "github", event: "pull_request", id: deliveryID("pr-opened", ch.Commit.App, strconv.FormatInt(ch.PR, 10)),
		body: map[string]any{"action": "opened", "number": ch.PR, "pull_request": prObject(ch, false), "repository": ghRepo(ch.Commit.App)}}
}

func prReviewHook(ch *change) hook {
	return hook{endpoint: "github", event: "pull_request_review", id: deliveryID("pr-review", ch.Commit.App, strconv.FormatInt(ch.PR, 10)),
		body: map[string]any{"action": "submitted",
			"review":       map[string]any{"id": ch.RunID + 7_000_000, "user": ghUser(ch.Approver), "state": "approved", "submitted_at": rfc(ch.Reviewed)},
			"pull_request": prObject(ch, false), "repository": ghRepo(ch.Commit.App)}}
}

func prMergedHook(ch *change) hook {
	return hook{endpoint: "github", event: "pull_request", id: deliveryID("pr-merged", ch.Commit.App, strconv.FormatInt(ch.PR, 10)),
		body: map[string]any{"action": "closed", "number": ch.PR, "pull_request": prObject(ch, true), "repository": ghRepo(ch.Commit.App)}}
}

func workflowHook(ch *change, action string) hook {
	run := map[string]any{
		"id": ch.RunID, "name": "ci", "html_url": repoURL(ch.Commit.App) + "/actions/runs/" + strconv.FormatInt(ch.RunID, 10),
		"head_sha": ch.Commit.SHA, "head_branch": "main", "event": "push", "run_attempt": 1,
		"created_at": rfc(ch.CIStart), "run_started_at": rfc(ch.CIStart), "updated_at": rfc(ch.CIStart), "pull_requests": []any{},
		"conclusion": nil,
	}
	if action == "completed" {
		run["updated_at"] = rfc(ch.CIEnd)
		run["conclusion"] = "failure"
		if ch.CIOK {
			run["conclusion"] = "success"
		}
	}
	return hook{endpoint: "github", event: "workflow_run", id: deliveryID("run", strconv.FormatInt(ch.RunID, 10), action),
		body: map[string]any{"action": action, "workflow_run": run, "workflow": map[string]any{"name": "ci"}, "repository": ghRepo(ch.Commit.App)}}
}

// digestOf is the simulated image digest of an app's image built from sha.
func digestOf(appName, sha string) string {
	sum := sha256.Sum256([]byte(appName + "@" + sha))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func packageHook(ch *change) hook {
	c := ch.Commit
	d := digestOf(c.App, c.SHA)
	tag := "sha-" + shortSHA(c.SHA)
	return hook{endpoint: "github", event: "registry_package", id: deliveryID("package", strconv.FormatInt(ch.PackageID, 10)),
		body: map[string]any{"action": "published", "registry_package": map[string]any{
			"id": 90000 + len(c.App), "name": c.App, "ecosystem": "CONTAINER", "package_type": "CONTAINER", "updated_at": rfc(ch.Published),
			"package_version": map[string]any{
				"id": ch.PackageID, "name": d, "version": d, "package_url": registry + "/" + c.App + ":" + tag,
				"created_at": rfc(ch.Published), "updated_at": rfc(ch.Published),
				"container_metadata": map[string]any{"tag": map[string]any{"name": tag, "digest": d},
					"labels": map[string]any{"revision": c.SHA, "all_labels": map[string]any{"org.opencontainers.image.revision": c.SHA}}},
			}}, "repository": ghRepo(c.App)}}
}

func deploymentStatusHook(gd *ghDeploy) hook {
	return hook{endpoint: "github", event: "deployment_status", id: deliveryID("deployment", strconv.FormatInt(gd.ID, 10)),
		body: map[string]any{"action": "created",
			"deployment_status": map[string]any{"id": gd.ID, "state": "success", "created_at": rfc(gd.At)},
			"deployment":        map[string]any{"id": gd.ID + 5_000_000, "sha": gd.Commit.SHA, "environment": gd.Env, "payload": map[string]any{}},
			"repository":        ghRepo(gd.App)}}
}

// --- Argo CD notification bodies, as shiplog's BodyTemplate renders them.

func argoBody(trigger string, sp *syncPlan, at time.Time) hook {
	g := sp.Commit
	phase, health, healthSince := "Running", "Progressing", ""
	finished := any(nil)
	switch trigger {
	case argocd.TriggerSyncSucceeded:
		phase, finished = "Succeeded", rfc(sp.End)
	case argocd.TriggerSyncFailed:
		phase, health, finished = "Failed", "Degraded", rfc(sp.End)
	case argocd.TriggerDeployed:
		phase, health, finished, healthSince = "Succeeded", "Healthy", rfc(sp.End), rfc(at)
	case argocd.TriggerHealthDegraded:
		phase, health, finished, healthSince = "Succeeded", "Degraded", rfc(sp.End), rfc(at)
	}
	msg := "successfully synced (all tasks run)"
	if phase == "Failed" {
		msg = `one or more objects failed to apply, reason: admission webhook "validation.webhook.serving.knative.dev" denied the request`
	} else if phase == "Running" {
		msg = "waiting for healthy state"
	}
	body := map[string]any{
		"trigger": trigger, "timestamp": rfc(at), "app": g.App, "namespace": "argocd", "project": "default", "environment": g.Env,
		"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": g.App + "-" + g.Env},
		"sync_status": "Synced", "health_status": health, "health_message": nil, "health_since": nilIfEmpty(healthSince),
		"revision": g.SHA, "revisions": nil,
		"operation": map[string]any{
			"phase": phase, "started_at": rfc(sp.Start), "finished_at": finished, "message": msg, "retry_count": 0,
			"initiated_by":  map[string]any{"username": sp.By, "automated": sp.By == ""},
			"sync_revision": g.SHA, "sync_revisions": nil,
		},
		"images": []string{imageRef(g.App, g.Image.SHA)},
	}
	return hook{endpoint: "argocd", event: trigger, body: body}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// --- Alertmanager webhook (version 4).

func alertHook(in *incident, resolved bool) hook {
	status, ends := "firing", "0001-01-01T00:00:00Z"
	if resolved {
		status, ends = "resolved", rfc(in.Resolved)
	}
	a := map[string]any{
		"status":      status,
		"labels":      map[string]string{"alertname": in.Name, "app": in.App, "env": in.Env, "severity": "critical"},
		"annotations": map[string]string{"summary": in.Name + " on " + in.App + " in " + in.Env},
		"startsAt":    rfc(in.Fired), "endsAt": ends, "fingerprint": in.Fingerprint,
		"generatorURL": "http://prometheus.monitoring:9090/graph",
	}
	return hook{endpoint: "alertmanager", event: status, body: map[string]any{
		"version": "4", "groupKey": `{}:{alertname="` + in.Name + `"}`, "status": status, "receiver": "shiplog", "alerts": []any{a},
	}}
}

// hooks lists every webhook of the planned history.
func (p *plan) hooks() []hook {
	var out []hook
	for _, ap := range p.Apps {
		prs := map[*srcCommit]int64{}
		for _, ch := range ap.Changes {
			prs[ch.Commit] = ch.PR
		}
		// Pushes: the pre-GitOps commits in pushes of one to three, the
		// merges one by one.
		for i := 0; i < len(ap.Commits); {
			n := 1
			if _, pr := prs[ap.Commits[i]]; !pr {
				n = 1 + i%3
			}
			j := min(i+n, len(ap.Commits))
			for k := i + 1; k < j; k++ {
				if _, pr := prs[ap.Commits[k]]; pr {
					j = k
					break
				}
			}
			out = append(out, pushHook(ap.App.Name, "main", ap.Commits[i:j], prs))
			i = j
		}
		for _, ch := range ap.Changes {
			out = append(out, prOpenedHook(ch))
			if ch.Reviewed.Before(p.End) {
				out = append(out, prReviewHook(ch))
			}
			out = append(out, prMergedHook(ch))
			if ch.CIEnd.Before(p.End) {
				out = append(out, workflowHook(ch, "completed"))
			}
			if ch.CIOK && ch.Published.Before(p.End) {
				out = append(out, packageHook(ch))
			}
		}
	}
	for _, gd := range p.GHDeploys {
		out = append(out, deploymentStatusHook(gd))
	}
	// History: the sync's end carries its start too, so on-sync-running
	// is only sent live.
	for _, sp := range p.Syncs {
		switch {
		case sp.End.IsZero():
		case sp.Failed:
			out = append(out, argoBody(argocd.TriggerSyncFailed, sp, sp.End))
		default:
			out = append(out, argoBody(argocd.TriggerSyncSucceeded, sp, sp.End))
		}
		if !sp.Healthy.IsZero() {
			out = append(out, argoBody(argocd.TriggerDeployed, sp, sp.Healthy))
		}
		if !sp.DegradedAt.IsZero() {
			out = append(out, argoBody(argocd.TriggerHealthDegraded, sp, sp.DegradedAt))
		}
		if !sp.RecoveredAt.IsZero() {
			out = append(out, argoBody(argocd.TriggerDeployed, sp, sp.RecoveredAt))
		}
	}
	for _, in := range p.Incidents {
		out = append(out, alertHook(in, false))
		if !in.Resolved.IsZero() {
			out = append(out, alertHook(in, true))
		}
	}
	return out
}
