package github

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// pullRequest is the "pull_request" object of pull_request and
// pull_request_review payloads.
type pullRequest struct {
	Number  int64  `json:"number"`
	HTMLURL string `json:"html_url"`
	Title   string `json:"title"`
	User    user   `json:"user"`
	Head    struct {
		Ref string `json:"ref"`
		SHA string `json:"sha"`
	} `json:"head"`
	Base struct {
		Ref string `json:"ref"`
	} `json:"base"`
	Labels []struct {
		Name string `json:"name"`
	} `json:"labels"`
	CreatedAt      timestamp `json:"created_at"`
	UpdatedAt      timestamp `json:"updated_at"`
	ClosedAt       timestamp `json:"closed_at"`
	MergedAt       timestamp `json:"merged_at"`
	Merged         bool      `json:"merged"`
	MergeCommitSHA string    `json:"merge_commit_sha"`
}

// change builds the payload common to every change.* event of the pull
// request.
func (pr *pullRequest) change(repo repository) (*delivery.Change, error) {
	url, err := repo.repoURL()
	if err != nil {
		return nil, err
	}
	if pr.Number <= 0 {
		return nil, fmt.Errorf("pull_request.number: %d is not a pull request number", pr.Number)
	}
	c := &delivery.Change{
		Repo:    url,
		Number:  pr.Number,
		Title:   pr.Title,
		Author:  pr.User.Login,
		HeadSHA: pr.Head.SHA,
		HeadRef: pr.Head.Ref,
		BaseRef: pr.Base.Ref,
		URL:     pr.HTMLURL,
	}
	for _, l := range pr.Labels {
		if l.Name != "" {
			c.Labels = append(c.Labels, l.Name)
		}
	}
	return c, nil
}

// key returns the natural-key prefix of the pull request's events.
func (pr *pullRequest) key(c *delivery.Change) []string {
	return []string{"pull_request", c.Repo, strconv.FormatInt(c.Number, 10)}
}

type pullRequestEvent struct {
	Action      string      `json:"action"`
	PullRequest pullRequest `json:"pull_request"`
	Repository  repository  `json:"repository"`
}

func parsePullRequest(body []byte) ([]delivery.Event, error) {
	var p pullRequestEvent
	if err := decode(body, &p); err != nil {
		return nil, err
	}
	switch p.Action {
	case "opened", "reopened", "closed":
	default:
		return nil, unsupported("pull_request", "action", p.Action)
	}
	pr := &p.PullRequest
	c, err := pr.change(p.Repository)
	if err != nil {
		return nil, err
	}
	var (
		typ delivery.EventType
		at  time.Time
		id  []string
	)
	switch {
	case p.Action == "opened":
		typ = delivery.ChangeCreated
		if at, err = parseTime("pull_request.created_at", pr.CreatedAt); err != nil {
			return nil, err
		}
		id = append(pr.key(c), "opened")
	case p.Action == "reopened":
		// GitHub has no reopened_at: the reopening is the last update.
		typ = delivery.ChangeCreated
		if at, err = parseTime("pull_request.updated_at", pr.UpdatedAt); err != nil {
			return nil, err
		}
		id = append(pr.key(c), "reopened", unixKey(at))
	case pr.Merged:
		// A closed pull request is merged only when "merged" is true; an
		// unmerged one still carries a (test) merge_commit_sha.
		typ = delivery.ChangeMerged
		if at, err = parseTime("pull_request.merged_at", pr.MergedAt); err != nil {
			return nil, err
		}
		if c.MergeSHA, err = requireString("pull_request.merge_commit_sha", pr.MergeCommitSHA); err != nil {
			return nil, err
		}
		id = append(pr.key(c), "merged")
	default:
		typ = delivery.ChangeAbandoned
		if at, err = parseTime("pull_request.closed_at", pr.ClosedAt); err != nil {
			return nil, err
		}
		id = append(pr.key(c), "closed", unixKey(at))
	}
	return []delivery.Event{{ID: naturalID(id...), Type: typ, Time: at, Payload: c}}, nil
}

type pullRequestReviewEvent struct {
	Action string `json:"action"`
	Review struct {
		ID          int64     `json:"id"`
		User        user      `json:"user"`
		State       string    `json:"state"`
		SubmittedAt timestamp `json:"submitted_at"`
	} `json:"review"`
	PullRequest pullRequest `json:"pull_request"`
	Repository  repository  `json:"repository"`
}

func parsePullRequestReview(body []byte) ([]delivery.Event, error) {
	var p pullRequestReviewEvent
	if err := decode(body, &p); err != nil {
		return nil, err
	}
	var state delivery.ReviewState
	switch p.Action {
	case "submitted":
		switch s := strings.ToLower(p.Review.State); s {
		case "approved", "changes_requested", "commented":
			state = delivery.ReviewState(s)
		default:
			return nil, unsupported("pull_request_review", "state", p.Review.State)
		}
	case "dismissed":
		state = delivery.ReviewDismissed
	default:
		return nil, unsupported("pull_request_review", "action", p.Action)
	}
	c, err := p.PullRequest.change(p.Repository)
	if err != nil {
		return nil, err
	}
	if p.Review.ID <= 0 {
		return nil, fmt.Errorf("review.id: %d is not a review id", p.Review.ID)
	}
	if c.Reviewer, err = requireString("review.user.login", p.Review.User.Login); err != nil {
		return nil, err
	}
	c.ReviewState = state
	submitted, err := parseTime("review.submitted_at", p.Review.SubmittedAt)
	if err != nil {
		return nil, err
	}
	at := submitted
	if p.Action == "dismissed" {
		// GitHub does not say when a review was dismissed. The pull
		// request's updated_at is the best guess, but it can still be the
		// submission time; the dismissal must sort after the review it
		// dismisses, so it is never earlier than one second after it.
		updated, err := optionalTime("pull_request.updated_at", p.PullRequest.UpdatedAt)
		if err != nil {
			return nil, err
		}
		at = submitted.Add(time.Second)
		if updated.After(at) {
			at = updated
		}
	}
	id := naturalID("pull_request_review", strconv.FormatInt(p.Review.ID, 10), p.Action)
	return []delivery.Event{{ID: id, Type: delivery.ChangeReviewed, Time: at, Payload: c}}, nil
}
