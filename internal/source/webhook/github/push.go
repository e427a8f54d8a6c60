package github

import (
	"fmt"
	"strings"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// zeroSHA is the "after" of a push that deleted its ref.
const zeroSHA = "0000000000000000000000000000000000000000"

type pushEvent struct {
	Ref     string `json:"ref"`
	Before  string `json:"before"`
	After   string `json:"after"`
	Deleted bool   `json:"deleted"`
	Commits []struct {
		ID        string    `json:"id"`
		Message   string    `json:"message"`
		Timestamp timestamp `json:"timestamp"`
		Author    struct {
			Name  string `json:"name"`
			Email string `json:"email"`
		} `json:"author"`
	} `json:"commits"`
	Repository repository `json:"repository"`
}

// parsePush records each commit of a push to a branch.
//
// The commit's ID is commit/<repo>/<sha>, the same in every push that
// carries it, so the push to a feature branch and the later push of the
// merge record the commit once, with the branch it was first seen on. The
// push payload's "timestamp" is the committer date: it becomes CommittedAt
// and the event time; GitHub sends no author date.
func parsePush(body []byte) ([]delivery.Event, error) {
	var p pushEvent
	if err := decode(body, &p); err != nil {
		return nil, err
	}
	branch, ok := strings.CutPrefix(p.Ref, "refs/heads/")
	switch {
	case strings.HasPrefix(p.Ref, "refs/tags/"):
		return nil, unsupported("push", "to tag", p.Ref)
	case !ok || branch == "":
		return nil, unsupported("push", "to ref", p.Ref)
	case p.Deleted || p.After == zeroSHA:
		return nil, unsupported("push", "deleting branch", branch)
	}
	repo, err := p.Repository.repoURL()
	if err != nil {
		return nil, err
	}
	var events []delivery.Event
	seen := make(map[string]bool, len(p.Commits))
	for i, c := range p.Commits {
		field := fmt.Sprintf("commits[%d]", i)
		sha, err := requireString(field+".id", c.ID)
		if err != nil {
			return nil, err
		}
		if seen[sha] {
			continue
		}
		seen[sha] = true
		at, err := parseTime(field+".timestamp", c.Timestamp)
		if err != nil {
			return nil, err
		}
		events = append(events, delivery.Event{
			ID:   naturalID("commit", repo, sha),
			Type: delivery.CommitAuthored,
			Time: at,
			Payload: &delivery.Commit{
				Repo:        repo,
				SHA:         sha,
				Branch:      branch,
				AuthorName:  c.Author.Name,
				AuthorEmail: c.Author.Email,
				CommittedAt: at,
				Subject:     firstLine(c.Message),
			},
		})
	}
	return events, nil
}
