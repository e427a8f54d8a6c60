package gitlab

import (
	"fmt"
	"strings"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// zeroSHA is the "after" of a push that deleted its ref.
const zeroSHA = "0000000000000000000000000000000000000000"

type pushEvent struct {
	Ref     string  `json:"ref"`
	After   string  `json:"after"`
	Project project `json:"project"`
	Commits []struct {
		ID        string    `json:"id"`
		Message   string    `json:"message"`
		Title     string    `json:"title"`
		Timestamp timestamp `json:"timestamp"`
		Author    struct {
			Name  string `json:"name"`
			Email string `json:"email"`
		} `json:"author"`
	} `json:"commits"`
}

// parsePush records each commit of a push to a branch.
//
// The commit's ID is commit/<repo>/<sha>, the same in every push that
// carries it, so a commit pushed to a feature branch and then merged is
// recorded once, with the branch it was first seen on. The push payload's
// "timestamp" is the committer date: it becomes CommittedAt and the event
// time. GitLab lists at most 20 commits of a push; the rest are not seen.
func parsePush(_ string, body []byte) ([]delivery.Event, error) {
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
	case p.After == zeroSHA:
		return nil, unsupported("push", "deleting branch", branch)
	}
	repo, err := p.Project.repoURL()
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
		subject := strings.TrimSpace(c.Title)
		if subject == "" {
			subject = firstLine(c.Message)
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
				Subject:     subject,
			},
		})
	}
	return events, nil
}
