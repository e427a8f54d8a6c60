package github

import (
	"fmt"
	"strconv"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

type workflowRunEvent struct {
	Action      string `json:"action"`
	WorkflowRun struct {
		ID           int64     `json:"id"`
		Name         string    `json:"name"`
		HTMLURL      string    `json:"html_url"`
		HeadSHA      string    `json:"head_sha"`
		HeadBranch   string    `json:"head_branch"`
		Event        string    `json:"event"`
		Conclusion   string    `json:"conclusion"`
		RunAttempt   int       `json:"run_attempt"`
		CreatedAt    timestamp `json:"created_at"`
		UpdatedAt    timestamp `json:"updated_at"`
		RunStartedAt timestamp `json:"run_started_at"`
		PullRequests []pullRef `json:"pull_requests"`
	} `json:"workflow_run"`
	Workflow struct {
		Name string `json:"name"`
	} `json:"workflow"`
	Repository repository `json:"repository"`
}

// parseWorkflowRun records the life of one GitHub Actions run attempt.
//
// RunID is <run id>/<run_attempt>: a re-run is a separate pipeline run. The
// queued time is run_started_at (it resets for each attempt) or created_at,
// the started time run_started_at, the finished time updated_at.
func parseWorkflowRun(body []byte) ([]delivery.Event, error) {
	var p workflowRunEvent
	if err := decode(body, &p); err != nil {
		return nil, err
	}
	r := &p.WorkflowRun
	var typ delivery.EventType
	switch p.Action {
	case "requested":
		typ = delivery.PipelineRunQueued
	case "in_progress":
		typ = delivery.PipelineRunStarted
	case "completed":
		typ = delivery.PipelineRunFinished
	default:
		return nil, unsupported("workflow_run", "action", p.Action)
	}
	if r.ID <= 0 {
		return nil, fmt.Errorf("workflow_run.id: %d is not a run id", r.ID)
	}
	attempt := r.RunAttempt
	if attempt <= 0 {
		attempt = 1 // payloads from before run_attempt existed
	}
	repo, err := p.Repository.repoURL()
	if err != nil {
		return nil, err
	}
	var at time.Time
	switch typ {
	case delivery.PipelineRunQueued:
		if r.RunStartedAt.isSet() {
			at, err = parseTime("workflow_run.run_started_at", r.RunStartedAt)
		} else {
			at, err = parseTime("workflow_run.created_at", r.CreatedAt)
		}
	case delivery.PipelineRunStarted:
		at, err = parseTime("workflow_run.run_started_at", r.RunStartedAt)
	case delivery.PipelineRunFinished:
		at, err = parseTime("workflow_run.updated_at", r.UpdatedAt)
	}
	if err != nil {
		return nil, err
	}
	run := &delivery.PipelineRun{
		RunID:    strconv.FormatInt(r.ID, 10) + "/" + strconv.Itoa(attempt),
		Name:     r.Name,
		URL:      r.HTMLURL,
		Repo:     repo,
		SHA:      r.HeadSHA,
		Branch:   r.HeadBranch,
		Attempt:  attempt,
		Trigger:  r.Event,
		ChangeNo: firstPull(r.PullRequests),
	}
	if run.Name == "" {
		run.Name = p.Workflow.Name
	}
	if typ == delivery.PipelineRunFinished {
		run.Outcome = outcome(r.Conclusion)
	}
	id := naturalID("workflow_run", strconv.FormatInt(r.ID, 10), strconv.Itoa(attempt), p.Action)
	return []delivery.Event{{ID: id, Type: typ, Time: at, Payload: run}}, nil
}

// actionsApp is the slug of the GitHub Actions app. Its check suites and
// check runs mirror workflow runs and their jobs, which workflow_run records.
const actionsApp = "github-actions"

type checkApp struct {
	Slug string `json:"slug"`
	Name string `json:"name"`
}

type checkSuiteEvent struct {
	Action     string `json:"action"`
	CheckSuite struct {
		ID           int64     `json:"id"`
		HeadBranch   string    `json:"head_branch"`
		HeadSHA      string    `json:"head_sha"`
		Conclusion   string    `json:"conclusion"`
		UpdatedAt    timestamp `json:"updated_at"`
		PullRequests []pullRef `json:"pull_requests"`
		App          checkApp  `json:"app"`
	} `json:"check_suite"`
	Repository repository `json:"repository"`
}

// parseCheckSuite records a completed check suite of a third-party CI app as
// a finished pipeline run "check-suite/<id>". A re-requested suite keeps its
// id, so a later completion updates the same run.
func parseCheckSuite(body []byte) ([]delivery.Event, error) {
	var p checkSuiteEvent
	if err := decode(body, &p); err != nil {
		return nil, err
	}
	s := &p.CheckSuite
	if p.Action != "completed" {
		return nil, unsupported("check_suite", "action", p.Action)
	}
	if s.App.Slug == actionsApp {
		return nil, unsupported("check_suite", "from app", s.App.Slug+" (recorded from workflow_run)")
	}
	if s.ID <= 0 {
		return nil, fmt.Errorf("check_suite.id: %d is not a check suite id", s.ID)
	}
	repo, err := p.Repository.repoURL()
	if err != nil {
		return nil, err
	}
	at, err := parseTime("check_suite.updated_at", s.UpdatedAt)
	if err != nil {
		return nil, err
	}
	id := strconv.FormatInt(s.ID, 10)
	return []delivery.Event{{
		ID:   naturalID("check_suite", id, "completed", unixKey(at)),
		Type: delivery.PipelineRunFinished,
		Time: at,
		Payload: &delivery.PipelineRun{
			RunID:    "check-suite/" + id,
			Name:     s.App.Name,
			Repo:     repo,
			SHA:      s.HeadSHA,
			Branch:   s.HeadBranch,
			Outcome:  outcome(s.Conclusion),
			ChangeNo: firstPull(s.PullRequests),
		},
	}}, nil
}

type checkRunEvent struct {
	Action   string `json:"action"`
	CheckRun struct {
		ID           int64     `json:"id"`
		Name         string    `json:"name"`
		HTMLURL      string    `json:"html_url"`
		HeadSHA      string    `json:"head_sha"`
		Conclusion   string    `json:"conclusion"`
		CompletedAt  timestamp `json:"completed_at"`
		PullRequests []pullRef `json:"pull_requests"`
		App          checkApp  `json:"app"`
		CheckSuite   struct {
			HeadBranch string `json:"head_branch"`
		} `json:"check_suite"`
	} `json:"check_run"`
	Repository repository `json:"repository"`
}

// parseCheckRun records a completed check run of a third-party CI app as a
// finished pipeline run "check-run/<id>".
func parseCheckRun(body []byte) ([]delivery.Event, error) {
	var p checkRunEvent
	if err := decode(body, &p); err != nil {
		return nil, err
	}
	r := &p.CheckRun
	if p.Action != "completed" {
		return nil, unsupported("check_run", "action", p.Action)
	}
	if r.App.Slug == actionsApp {
		return nil, unsupported("check_run", "from app", r.App.Slug+" (recorded from workflow_run)")
	}
	if r.ID <= 0 {
		return nil, fmt.Errorf("check_run.id: %d is not a check run id", r.ID)
	}
	repo, err := p.Repository.repoURL()
	if err != nil {
		return nil, err
	}
	at, err := parseTime("check_run.completed_at", r.CompletedAt)
	if err != nil {
		return nil, err
	}
	id := strconv.FormatInt(r.ID, 10)
	return []delivery.Event{{
		ID:   naturalID("check_run", id, "completed", unixKey(at)),
		Type: delivery.PipelineRunFinished,
		Time: at,
		Payload: &delivery.PipelineRun{
			RunID:    "check-run/" + id,
			Name:     r.Name,
			URL:      r.HTMLURL,
			Repo:     repo,
			SHA:      r.HeadSHA,
			Branch:   r.CheckSuite.HeadBranch,
			Outcome:  outcome(r.Conclusion),
			ChangeNo: firstPull(r.PullRequests),
		},
	}}, nil
}
