package efficiency

import (
	"cmp"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Features are the pull requests merged per sprint, and how many of them
// were features.
type Features struct {
	SprintStart      time.Time `json:"sprint_start"`
	SprintLengthDays float64   `json:"sprint_length_days"`
	// Sprints are those that overlap the window, each counted whole.
	Sprints []Sprint `json:"sprints"`
	// CompleteSprints are the listed sprints that ended by now;
	// FeaturesPerSprint is their mean number of features (null when none ended).
	CompleteSprints   int      `json:"complete_sprints"`
	FeaturesPerSprint *float64 `json:"features_per_sprint"`
}

// Sprint is one sprint's merged pull requests.
type Sprint struct {
	Number    int         `json:"number"` // 0 starts at the configured start, negative before it
	Start     time.Time   `json:"start"`
	End       time.Time   `json:"end"`
	Complete  bool        `json:"complete"`
	MergedPRs int         `json:"merged_prs"`
	Features  int         `json:"features"`
	Items     []FeaturePR `json:"items,omitempty"` // the features
}

// FeaturePR is a merged pull request classified as a feature.
type FeaturePR struct {
	Repo     string    `json:"repo"`
	Number   int64     `json:"number"`
	Title    string    `json:"title,omitempty"`
	URL      string    `json:"url,omitempty"`
	MergedAt time.Time `json:"merged_at"`
	By       string    `json:"by"` // why it is a feature: `label "x"` or "title"
}

// FeatureLabels are the pull request labels that mark a feature.
var FeatureLabels = []string{"feature", "enhancement"}

var featTitle = regexp.MustCompile(`^\s*(?i:feat)(\([^)]*\))?!?:`)

// IsFeature says whether a pull request is a feature, and why: a label
// whose last part (after a "/" or ":", as in "kind/feature" or "type:
// enhancement") is feature or enhancement, case-insensitive; or a
// conventional-commit title of type feat ("feat: …", "feat(ui)!: …").
func IsFeature(title string, labels []string) (bool, string) {
	for _, l := range labels {
		last := l[strings.LastIndexAny(l, "/:")+1:]
		if slices.Contains(FeatureLabels, strings.ToLower(strings.TrimSpace(last))) {
			return true, `label "` + l + `"`
		}
	}
	if featTitle.MatchString(title) {
		return true, "title"
	}
	return false, ""
}

const maxSprints = 10000

func floorDiv(a, b time.Duration) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return int64(q)
}

func features(in Input, m *model, f Filter, since, until, now time.Time, s Settings) Features {
	out := Features{SprintStart: s.SprintStart, SprintLengthDays: s.SprintLength.Hours() / 24, Sprints: []Sprint{}}
	if since.IsZero() { // no window start: from the first merge on
		since = until
		for _, c := range in.Changes {
			if !c.MergedAt.IsZero() && c.MergedAt.Before(since) {
				since = c.MergedAt
			}
		}
	}
	first := floorDiv(since.Sub(s.SprintStart), s.SprintLength)
	last := floorDiv(until.Add(-1).Sub(s.SprintStart), s.SprintLength)
	if last-first >= maxSprints {
		first = last - maxSprints + 1
	}
	index := map[int64]int{}
	for n := first; n <= last; n++ {
		start := s.SprintStart.Add(time.Duration(n) * s.SprintLength)
		end := start.Add(s.SprintLength)
		index[n] = len(out.Sprints)
		out.Sprints = append(out.Sprints, Sprint{Number: int(n), Start: start, End: end, Complete: !end.After(now)})
	}
	linked := prFilter(m, f)
	for _, c := range in.Changes {
		if c.MergedAt.IsZero() || c.MergedAt.After(now) {
			continue
		}
		i, ok := index[floorDiv(c.MergedAt.Sub(s.SprintStart), s.SprintLength)]
		if !ok || linked != nil && !linked(c.MergeSHA) && !linked(c.HeadSHA) {
			continue
		}
		sp := &out.Sprints[i]
		sp.MergedPRs++
		if ok, by := IsFeature(c.Title, c.Labels); ok {
			sp.Features++
			sp.Items = append(sp.Items, FeaturePR{Repo: c.Repo, Number: c.Number, Title: c.Title, URL: c.URL, MergedAt: c.MergedAt, By: by})
		}
	}
	total := 0
	for i := range out.Sprints {
		sp := &out.Sprints[i]
		slices.SortFunc(sp.Items, func(a, b FeaturePR) int {
			return cmp.Or(a.MergedAt.Compare(b.MergedAt), cmp.Compare(a.Repo, b.Repo), cmp.Compare(a.Number, b.Number))
		})
		if sp.Complete {
			out.CompleteSprints++
			total += sp.Features
		}
	}
	if out.CompleteSprints > 0 {
		v := float64(total) / float64(out.CompleteSprints)
		out.FeaturesPerSprint = &v
	}
	return out
}

// prFilter returns nil when every pull request counts, else a test that
// a commit was shipped (as a change or source commit) by a deployment of an
// app the filter keeps, in any environment.
func prFilter(m *model, f Filter) func(sha string) bool {
	if f.App == "" && f.Team == "" {
		return nil
	}
	shas := map[string][]string{} // by first 7 digits
	add := func(sha string) {
		if len(sha) >= 7 {
			shas[sha[:7]] = append(shas[sha[:7]], sha)
		}
	}
	for i := range m.deps {
		d := &m.deps[i]
		if (f.App != "" && d.App != f.App) || (f.Team != "" && m.teams[d.App] != f.Team && d.Team != f.Team) {
			continue
		}
		add(d.SourceCommit)
		for _, c := range d.Changes {
			add(c.SHA)
		}
	}
	return func(sha string) bool {
		if len(sha) < 7 {
			return false
		}
		for _, s := range shas[sha[:7]] {
			if strings.HasPrefix(s, sha) || strings.HasPrefix(sha, s) {
				return true
			}
		}
		return false
	}
}
