package git

import (
	"regexp"
	"strconv"
	"strings"
)

// DefaultBots are author names and e-mail local parts treated as automation,
// besides any name ending in "[bot]".
var DefaultBots = []string{"argocd-image-updater", "renovate", "dependabot", "github-actions", "flux", "fluxcdbot", "shiplog", "gitlab-bot", "jenkins", "tekton"}

// isBot reports whether a commit author is automation: a "[bot]" suffix,
// a name or e-mail local part in bots, or a noreply bot address.
func isBot(name, email string, bots []string) bool {
	n := strings.ToLower(strings.TrimSpace(name))
	if strings.HasSuffix(n, "[bot]") || strings.HasSuffix(strings.ToLower(email), "[bot]@users.noreply.github.com") {
		return true
	}
	local, _, _ := strings.Cut(strings.ToLower(email), "@")
	for _, b := range bots {
		b = strings.ToLower(b)
		if n == b || local == b || strings.HasPrefix(n, b+" ") {
			return true
		}
	}
	return false
}

var (
	mergePR    = regexp.MustCompile(`^Merge pull request #(\d+) from `)
	squashPR   = regexp.MustCompile(`\(#(\d+)\)\s*$`)
	gitlabMR   = regexp.MustCompile(`(?m)^See merge request [^\s!]+!(\d+)\s*$`)
	reverts    = regexp.MustCompile(`(?m)^This reverts commit ([0-9a-f]{7,40})`)
	revertLine = regexp.MustCompile(`(?m)^Revert "`)
)

// prNumber finds the pull/merge request a commit came from: a GitHub merge
// subject, a squash-merge subject ending in "(#123)", or GitLab's "See
// merge request group/project!123". 0 when none.
func prNumber(subject, body string) int64 {
	for _, re := range []*regexp.Regexp{mergePR, squashPR} {
		if m := re.FindStringSubmatch(subject); m != nil {
			n, _ := strconv.ParseInt(m[1], 10, 64)
			return n
		}
	}
	if m := gitlabMR.FindStringSubmatch(body); m != nil {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		return n
	}
	return 0
}

// isRevert reports whether a commit reverts another: git's default subject
// `Revert "…"`, the "This reverts commit <sha>" line, or a merge commit whose
// body (GitHub puts the pull request's title there) starts a line with
// `Revert "`.
func isRevert(subject, body string) bool {
	return strings.HasPrefix(subject, `Revert "`) || reverts.MatchString(body) || revertLine.MatchString(body)
}

// trailers reads "Key: value" lines of a commit message's last paragraph.
// Keys are compared case-insensitively; the map keys are lower-case.
func trailers(body string) map[string]string {
	paras := strings.Split(strings.TrimSpace(body), "\n\n")
	last := paras[len(paras)-1]
	out := map[string]string{}
	for _, line := range strings.Split(last, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || strings.ContainsAny(k, " \t") || k == "" {
			continue
		}
		out[strings.ToLower(k)] = strings.TrimSpace(v)
	}
	return out
}

// Trailers shiplog reads from manifest commits.
const (
	TrailerSourceCommit   = "shiplog-source-commit"
	TrailerArtifactDigest = "shiplog-artifact-digest"
	TrailerPipelineRun    = "shiplog-pipeline-run"
	TrailerArgoReference  = "argocd-reference-commit-sha"
)

var semverRe = regexp.MustCompile(`^v?(\d+)\.(\d+)\.(\d+)`)

// semverLess reports whether tag a names a lower version than tag b; both
// must start with a semantic version (v optional).
func semverLess(a, b string) bool {
	ma, mb := semverRe.FindStringSubmatch(a), semverRe.FindStringSubmatch(b)
	if ma == nil || mb == nil {
		return false
	}
	for i := 1; i <= 3; i++ {
		x, _ := strconv.Atoi(ma[i])
		y, _ := strconv.Atoi(mb[i])
		if x != y {
			return x < y
		}
	}
	return false
}
