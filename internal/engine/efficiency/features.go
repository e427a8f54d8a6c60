package efficiency

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine/history"
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

// isFeatTitle matches `^\s*(?i:feat)(\([^)]*\))?!?:` (a conventional
// commit of type feat), without a regular expression: it runs for every
// pull request merged in a window.
func isFeatTitle(t string) bool {
	i := 0
	for i < len(t) && strings.IndexByte("\t\n\f\r ", t[i]) >= 0 {
		i++
	}
	if len(t)-i < 4 || !strings.EqualFold(t[i:i+4], "feat") {
		return false
	}
	i += 4
	if i < len(t) && t[i] == '(' {
		j := strings.IndexByte(t[i+1:], ')')
		if j < 0 {
			return false
		}
		i += j + 2
	}
	if i < len(t) && t[i] == '!' {
		i++
	}
	return i < len(t) && t[i] == ':'
}

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
	if isFeatTitle(title) {
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

// SprintRange is when the sprints that overlap [since, until) start and
// end: features count the pull requests merged in it. With no since, it
// starts at the zero time.
func SprintRange(since, until time.Time, s Settings) (time.Time, time.Time) {
	if s.SprintLength <= 0 {
		return time.Time{}, time.Time{}
	}
	last := floorDiv(until.Add(-1).Sub(s.SprintStart), s.SprintLength)
	end := s.SprintStart.Add(time.Duration(last+1) * s.SprintLength)
	if since.IsZero() {
		return time.Time{}, end
	}
	first := floorDiv(since.Sub(s.SprintStart), s.SprintLength)
	return s.SprintStart.Add(time.Duration(first) * s.SprintLength), end
}

func features(changes []*delivery.ChangeRecord, linked func(sha string) bool, since, until, now time.Time, s Settings, lists bool) Features {
	out := Features{SprintStart: s.SprintStart, SprintLengthDays: s.SprintLength.Hours() / 24, Sprints: []Sprint{}}
	if since.IsZero() { // no window start: from the first merge on
		since = until
		for _, c := range changes {
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
	for n := first; n <= last; n++ { // out.Sprints[i] is sprint first+i
		start := s.SprintStart.Add(time.Duration(n) * s.SprintLength)
		end := start.Add(s.SprintLength)
		out.Sprints = append(out.Sprints, Sprint{Number: int(n), Start: start, End: end, Complete: !end.After(now)})
	}
	for _, c := range changes {
		if c.MergedAt.IsZero() || c.MergedAt.After(now) {
			continue
		}
		i := floorDiv(c.MergedAt.Sub(s.SprintStart), s.SprintLength) - first
		if i < 0 || i >= int64(len(out.Sprints)) || linked != nil && !linked(c.MergeSHA) && !linked(c.HeadSHA) {
			continue
		}
		sp := &out.Sprints[i]
		sp.MergedPRs++
		if ok, by := IsFeature(c.Title, c.Labels); ok {
			sp.Features++
			if !lists {
				continue
			}
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
// a commit was shipped (as a change or source commit) by one of deps of an
// app the filter keeps, in any environment.
func prFilter(deps []history.Deployment, teams map[string]string, f Filter) func(sha string) bool {
	if f.App == "" && f.Team == "" {
		return nil
	}
	var s Shipped
	for i := range deps {
		d := &deps[i]
		if (f.App != "" && d.App != f.App) || (f.Team != "" && teams[d.App] != f.Team && d.Team != f.Team) {
			continue
		}
		s.Add(d)
	}
	return s.Has
}

// Shipped is a set of shipped commits, for Parts.Shipped.
type Shipped struct{ shas map[string][]string } // by first 7 digits

// Add adds d's source commit and changes.
func (s *Shipped) Add(d *history.Deployment) {
	if s.shas == nil {
		s.shas = map[string][]string{}
	}
	add := func(sha string) {
		if len(sha) >= 7 {
			s.shas[sha[:7]] = append(s.shas[sha[:7]], sha)
		}
	}
	add(d.SourceCommit)
	for _, c := range d.Changes {
		add(c.SHA)
	}
}

// Has reports whether sha (or a commit it abbreviates, or that abbreviates
// it) was added.
func (s *Shipped) Has(sha string) bool {
	if len(sha) < 7 {
		return false
	}
	for _, v := range s.shas[sha[:7]] {
		if strings.HasPrefix(v, sha) || strings.HasPrefix(sha, v) {
			return true
		}
	}
	return false
}
