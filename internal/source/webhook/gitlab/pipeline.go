package gitlab

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

type pipelineEvent struct {
	ObjectAttributes struct {
		ID             int64     `json:"id"`
		Name           string    `json:"name"`
		URL            string    `json:"url"`
		Ref            string    `json:"ref"`
		Tag            bool      `json:"tag"`
		SHA            string    `json:"sha"`
		Source         string    `json:"source"`
		Status         string    `json:"status"`
		CreatedAt      timestamp `json:"created_at"`
		FinishedAt     timestamp `json:"finished_at"`
		QueuedDuration *float64  `json:"queued_duration"` // seconds, null until the pipeline starts
	} `json:"object_attributes"`
	MergeRequest *struct {
		IID int64 `json:"iid"`
	} `json:"merge_request"`
	Project project `json:"project"`
}

// pipelineStatus maps a GitLab pipeline status to the event it records and,
// for finished pipelines, the outcome.
var pipelineStatus = map[string]struct {
	typ     delivery.EventType
	outcome delivery.Outcome
}{
	"created":              {delivery.PipelineRunQueued, ""},
	"waiting_for_resource": {delivery.PipelineRunQueued, ""},
	"preparing":            {delivery.PipelineRunQueued, ""},
	"pending":              {delivery.PipelineRunQueued, ""},
	"running":              {delivery.PipelineRunStarted, ""},
	"success":              {delivery.PipelineRunFinished, delivery.OutcomeSuccess},
	"failed":               {delivery.PipelineRunFinished, delivery.OutcomeFailure},
	"canceled":             {delivery.PipelineRunFinished, delivery.OutcomeCancel},
	"skipped":              {delivery.PipelineRunFinished, delivery.OutcomeCancel},
}

// parsePipeline records a pipeline status change. RunID is the pipeline id.
//
// The queued time is created_at. GitLab sends no started_at: the started
// time is created_at plus queued_duration when GitLab sends it, else
// created_at. The finished time is finished_at, else (a pipeline skipped or
// canceled before it ran) created_at. Other statuses (manual, scheduled,
// canceling) are not recorded.
func parsePipeline(_ string, body []byte) ([]delivery.Event, error) {
	var p pipelineEvent
	if err := decode(body, &p); err != nil {
		return nil, err
	}
	a := &p.ObjectAttributes
	st, ok := pipelineStatus[a.Status]
	if !ok {
		return nil, unsupported("pipeline", "status", a.Status)
	}
	if a.ID <= 0 {
		return nil, fmt.Errorf("object_attributes.id: %d is not a pipeline id", a.ID)
	}
	repo, err := p.Project.repoURL()
	if err != nil {
		return nil, err
	}
	created, err := parseTime("object_attributes.created_at", a.CreatedAt)
	if err != nil {
		return nil, err
	}
	id := strconv.FormatInt(a.ID, 10)
	at, key := created, []string{"pipeline", id, "queued"}
	switch st.typ {
	case delivery.PipelineRunStarted:
		if q := a.QueuedDuration; q != nil && *q > 0 && *q < math.MaxInt32 {
			at = created.Add(time.Duration(math.Round(*q)) * time.Second)
		}
		key = []string{"pipeline", id, "started", unixKey(at)}
	case delivery.PipelineRunFinished:
		if a.FinishedAt.isSet() {
			if at, err = parseTime("object_attributes.finished_at", a.FinishedAt); err != nil {
				return nil, err
			}
		}
		key = []string{"pipeline", id, "finished", unixKey(at)}
	}
	run := &delivery.PipelineRun{
		RunID:   id,
		Name:    a.Name,
		URL:     a.URL,
		Repo:    repo,
		SHA:     a.SHA,
		Outcome: st.outcome,
		Trigger: a.Source,
	}
	if run.URL == "" {
		run.URL = strings.TrimSuffix(repo, "/") + "/-/pipelines/" + id
	}
	if !a.Tag {
		run.Branch = strings.TrimPrefix(a.Ref, "refs/heads/")
	}
	if p.MergeRequest != nil {
		run.ChangeNo = p.MergeRequest.IID
	}
	return []delivery.Event{{ID: naturalID(key...), Type: st.typ, Time: at, Payload: run}}, nil
}
