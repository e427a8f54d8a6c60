package gitlab

import (
	"fmt"
	"strconv"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

type label struct {
	Title string `json:"title"`
}

type mergeRequestEvent struct {
	User             user    `json:"user"`
	Project          project `json:"project"`
	ObjectAttributes struct {
		IID             int64     `json:"iid"`
		Title           string    `json:"title"`
		URL             string    `json:"url"`
		Action          string    `json:"action"`
		SourceBranch    string    `json:"source_branch"`
		TargetBranch    string    `json:"target_branch"`
		MergeCommitSHA  string    `json:"merge_commit_sha"`
		SquashCommitSHA string    `json:"squash_commit_sha"`
		CreatedAt       timestamp `json:"created_at"`
		UpdatedAt       timestamp `json:"updated_at"`
		System          bool      `json:"system"` // GitLab 18.6+: an action GitLab took, such as resetting approvals
		Labels          []label   `json:"labels"`
		LastCommit      struct {
			ID string `json:"id"`
		} `json:"last_commit"`
	} `json:"object_attributes"`
	Labels []label `json:"labels"`
}

// parseMergeRequest maps merge request actions to change.* events.
//
// GitLab sends no merged_at: a merge happened at updated_at. The merge SHA is
// merge_commit_sha, else squash_commit_sha, else (a fast-forward merge
// without squash) the last commit. The payload names the author of a merge
// request only by id, so Author is set from the acting user on open only.
func parseMergeRequest(deliveryID string, body []byte) ([]delivery.Event, error) {
	var p mergeRequestEvent
	if err := decode(body, &p); err != nil {
		return nil, err
	}
	a := &p.ObjectAttributes
	switch a.Action {
	case "open", "reopen", "merge", "close", "approved", "approval", "unapproved", "unapproval":
	default:
		return nil, unsupported("merge request", "action", a.Action)
	}
	if a.System && (a.Action == "unapproved" || a.Action == "unapproval") {
		// An approval reset by GitLab (a new push) names no reviewer
		// whose approval was withdrawn.
		return nil, unsupported("merge request", "action", a.Action+" by the system")
	}
	repo, err := p.Project.repoURL()
	if err != nil {
		return nil, err
	}
	if a.IID <= 0 {
		return nil, fmt.Errorf("object_attributes.iid: %d is not a merge request number", a.IID)
	}
	c := &delivery.Change{
		Repo:    repo,
		Number:  a.IID,
		Title:   a.Title,
		HeadSHA: a.LastCommit.ID,
		HeadRef: a.SourceBranch,
		BaseRef: a.TargetBranch,
		URL:     a.URL,
	}
	labels := p.Labels
	if len(labels) == 0 {
		labels = a.Labels
	}
	for _, l := range labels {
		if l.Title != "" {
			c.Labels = append(c.Labels, l.Title)
		}
	}
	key := []string{"merge_request", repo, strconv.FormatInt(a.IID, 10)}
	var (
		typ delivery.EventType
		at  time.Time
		id  string
	)
	switch a.Action {
	case "open":
		typ, c.Author = delivery.ChangeCreated, p.User.Username
		if at, err = parseTime("object_attributes.created_at", a.CreatedAt); err != nil {
			return nil, err
		}
		id = naturalID(append(key, "opened")...)
	case "reopen":
		typ = delivery.ChangeCreated
		if at, err = parseTime("object_attributes.updated_at", a.UpdatedAt); err != nil {
			return nil, err
		}
		id = naturalID(append(key, "reopened", unixKey(at))...)
	case "merge":
		typ = delivery.ChangeMerged
		if at, err = parseTime("object_attributes.updated_at", a.UpdatedAt); err != nil {
			return nil, err
		}
		for _, sha := range []string{a.MergeCommitSHA, a.SquashCommitSHA, a.LastCommit.ID} {
			if sha != "" {
				c.MergeSHA = sha
				break
			}
		}
		if c.MergeSHA == "" {
			return nil, missing("object_attributes.merge_commit_sha")
		}
		id = naturalID(append(key, "merged")...)
	case "close":
		typ = delivery.ChangeAbandoned
		if at, err = parseTime("object_attributes.updated_at", a.UpdatedAt); err != nil {
			return nil, err
		}
		id = naturalID(append(key, "closed", unixKey(at))...)
	default: // approvals
		typ = delivery.ChangeReviewed
		c.ReviewState = delivery.ReviewApproved
		if a.Action == "unapproved" || a.Action == "unapproval" {
			c.ReviewState = delivery.ReviewDismissed
		}
		if c.Reviewer, err = requireString("user.username", p.User.Username); err != nil {
			return nil, err
		}
		if at, err = parseTime("object_attributes.updated_at", a.UpdatedAt); err != nil {
			return nil, err
		}
		id = deliveryID
	}
	return []delivery.Event{{ID: id, Type: typ, Time: at, Payload: c}}, nil
}
