// Package trace answers "where is my change?": for a source commit, the
// stages it has reached — code, review, CI, artifact, and per environment
// manifest, sync, live and traffic — with the time of each, or why a time is
// unknown. It is a pure function of the deployment history and the model.
package trace

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine/history"
)

// Stage states.
const (
	Known    = "known"    // a recorded event gives the time
	Inferred = "inferred" // deduced from another stage's record (Source says which)
	Unknown  = "unknown"  // no record: shiplog does not guess
)

// Stage is one step of a change's trace.
type Stage struct {
	Name   string    `json:"name"`
	State  string    `json:"state"`
	At     time.Time `json:"at,omitzero"`
	Source string    `json:"source,omitempty"` // what the time comes from
	Detail string    `json:"detail,omitempty"` // PR number, run URL, image, revision …
	// Duration is the time since the previous known stage.
	Duration *time.Duration `json:"duration,omitempty"`
}

// EnvTrace is the part of a trace in one environment.
type EnvTrace struct {
	Env            string   `json:"environment"`
	App            string   `json:"app"`
	Stages         []Stage  `json:"stages"`
	Live           bool     `json:"live"` // the deployment that shipped the change is still the latest
	Artifact       string   `json:"artifact,omitempty"`
	ManifestCommit string   `json:"manifest_commit,omitempty"`
	Revision       string   `json:"revision,omitempty"`
	TrafficPercent *int     `json:"traffic_percent,omitempty"`
	Failures       []string `json:"failures,omitempty"`
}

// Trace is one change's journey.
type Trace struct {
	SHA     string     `json:"sha"`
	Repo    string     `json:"repo,omitempty"`
	Subject string     `json:"subject,omitempty"`
	Author  string     `json:"author,omitempty"`
	PR      int64      `json:"pr,omitempty"`
	Stages  []Stage    `json:"stages"` // code, review, ci, artifact
	Envs    []EnvTrace `json:"environments"`
}

// Input is the model a trace reads.
type Input struct {
	Deployments  []history.Deployment
	Commits      []delivery.CommitRecord
	Changes      []delivery.ChangeRecord
	PipelineRuns []delivery.PipelineRunRecord
	Artifacts    []delivery.ArtifactRecord
	Syncs        []delivery.SyncRecord
	Revisions    []delivery.RevisionRecord
	Traffic      []delivery.TrafficRecord
}

// Query selects changes: a SHA (or prefix of at least 4), a PR number, a
// branch (the PR's head ref) or an author (commit author or PR author).
type Query struct {
	SHA    string
	PR     int64
	Branch string
	Author string
}

// Find returns the traces of the changes q selects, newest commit first.
func Find(in Input, q Query) []Trace {
	shas := map[string]bool{}
	var order []string
	add := func(s string) {
		if s != "" && !shas[s] {
			shas[s] = true
			order = append(order, s)
		}
	}
	for _, c := range in.Changes {
		if (q.PR != 0 && c.Number == q.PR) || (q.Branch != "" && c.HeadRef == q.Branch) || (q.Author != "" && strings.EqualFold(c.Author, q.Author)) {
			if c.MergeSHA != "" {
				add(c.MergeSHA)
			} else {
				add(c.HeadSHA)
			}
		}
	}
	if q.SHA != "" && len(q.SHA) >= 4 {
		p := strings.ToLower(q.SHA)
		for _, c := range in.Commits {
			if strings.HasPrefix(c.SHA, p) {
				add(c.SHA)
			}
		}
		for _, d := range in.Deployments {
			for _, ch := range d.Changes {
				if strings.HasPrefix(ch.SHA, p) {
					add(ch.SHA)
				}
			}
			if strings.HasPrefix(d.SourceCommit, p) {
				add(d.SourceCommit)
			}
		}
	}
	if q.Author != "" {
		for _, c := range in.Commits {
			if strings.EqualFold(c.AuthorName, q.Author) || strings.EqualFold(c.AuthorEmail, q.Author) {
				add(c.SHA)
			}
		}
	}
	out := make([]Trace, 0, len(order))
	for _, s := range order {
		out = append(out, build(in, s))
	}
	slices.SortStableFunc(out, func(a, b Trace) int { return -a.Stages[0].At.Compare(b.Stages[0].At) })
	return out
}

func hasPrefix(full, short string) bool {
	return short != "" && full != "" && (strings.HasPrefix(full, short) || strings.HasPrefix(short, full))
}

func build(in Input, sha string) Trace {
	t := Trace{SHA: sha}
	code := Stage{Name: "code", State: Unknown}
	for _, c := range in.Commits {
		if c.SHA == sha {
			t.Repo, t.Subject, t.Author = c.Repo, c.Subject, c.AuthorName
			code = Stage{Name: "code", State: Known, At: c.CommittedAt, Source: "commit"}
		}
	}
	review := Stage{Name: "review", State: Unknown}
	ciSHA := sha
	for _, c := range in.Changes {
		if hasPrefix(c.MergeSHA, sha) || hasPrefix(c.HeadSHA, sha) {
			t.PR = c.Number
			if c.Author != "" && t.Author == "" {
				t.Author = c.Author
			}
			if !c.MergedAt.IsZero() {
				review = Stage{Name: "review", State: Known, At: c.MergedAt, Source: "pull request merged", Detail: "#" + itoa(c.Number)}
				ciSHA = cmp.Or(c.MergeSHA, sha)
			} else {
				review = Stage{Name: "review", State: Unknown, Detail: "#" + itoa(c.Number) + " open"}
			}
		}
	}
	ci := Stage{Name: "ci", State: Unknown}
	for _, r := range in.PipelineRuns {
		if (hasPrefix(r.SHA, ciSHA) || hasPrefix(r.SHA, sha)) && !r.FinishedAt.IsZero() && (ci.State == Unknown || r.FinishedAt.Before(ci.At)) {
			ci = Stage{Name: "ci", State: Known, At: r.FinishedAt, Source: "pipeline run " + string(r.Outcome), Detail: cmp.Or(r.URL, r.Name)}
		}
	}
	art := Stage{Name: "artifact", State: Unknown}
	for _, a := range in.Artifacts {
		when := cmp.Or(a.PublishedAt, a.PackagedAt)
		if (hasPrefix(a.SourceCommit, sha) || hasPrefix(a.SourceCommit, ciSHA)) && !when.IsZero() && (art.State == Unknown || when.Before(art.At)) {
			art = Stage{Name: "artifact", State: Known, At: when, Source: "image published", Detail: a.Key}
		}
	}
	t.Stages = durations([]Stage{code, review, ci, art})
	// Per environment: the first deployment that shipped the change.
	byEnv := map[string]*history.Deployment{}
	latest := map[string]*history.Deployment{}
	for i := range in.Deployments {
		d := &in.Deployments[i]
		k := d.App + "|" + d.Env
		latest[k] = d
		if byEnv[k] != nil {
			continue
		}
		shipped := hasPrefix(d.SourceCommit, sha)
		for _, c := range d.Changes {
			shipped = shipped || hasPrefix(c.SHA, sha)
		}
		if shipped {
			byEnv[k] = d
		}
	}
	keys := make([]string, 0, len(byEnv))
	for k := range byEnv {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return byEnv[a].LiveAt.Compare(byEnv[b].LiveAt) })
	for _, k := range keys {
		d := byEnv[k]
		t.Envs = append(t.Envs, envTrace(in, d, latest[k] == d, t.Stages))
	}
	return t
}

func envTrace(in Input, d *history.Deployment, live bool, before []Stage) EnvTrace {
	e := EnvTrace{Env: d.Env, App: d.App, Live: live && !d.Failed(), Artifact: d.Artifact, ManifestCommit: d.ManifestCommit}
	for _, f := range d.Failures {
		e.Failures = append(e.Failures, f.Reason)
	}
	manifest := Stage{Name: "manifest", State: Unknown}
	if !d.ManifestAt.IsZero() {
		manifest = Stage{Name: "manifest", State: Known, At: d.ManifestAt, Source: "GitOps commit", Detail: short(d.ManifestCommit)}
	}
	sync := Stage{Name: "sync", State: Unknown}
	for _, s := range in.Syncs {
		if d.ManifestCommit != "" && s.Revision == d.ManifestCommit && s.App == d.App && s.Env == d.Env && !s.FinishedAt.IsZero() &&
			(sync.State == Unknown || s.FinishedAt.Before(sync.At)) {
			by := "automated"
			if !s.Automated && s.InitiatedBy != "" {
				by = s.InitiatedBy
			}
			sync = Stage{Name: "sync", State: Known, At: s.FinishedAt, Source: "Argo CD sync " + string(s.Phase), Detail: by}
		}
	}
	revision := Stage{Name: "revision", State: Unknown}
	for _, r := range in.Revisions {
		if r.App == d.App && r.Env == d.Env && (sameImage(r.Image, d.Artifact) || sameImage(r.Digest, d.Artifact)) && !r.ReadyAt.IsZero() {
			revision = Stage{Name: "revision", State: Known, At: r.ReadyAt, Source: "Knative revision ready", Detail: r.Name}
			e.Revision = r.Name
		}
	}
	liveStage := Stage{Name: "live", State: Known, At: d.LiveAt, Source: d.InferredFrom}
	if d.InferredFrom == "git" {
		liveStage.State, liveStage.Source = Inferred, "inferred from the GitOps commit"
	}
	if e.Revision != "" {
		var at time.Time
		for _, tr := range in.Traffic {
			if tr.Revision == e.Revision && !tr.Time.Before(at) {
				at = tr.Time
				p := tr.Percent
				e.TrafficPercent = &p
			}
		}
	}
	all := durations(append(slices.Clone(before), manifest, sync, revision, liveStage))
	e.Stages = all[len(before):]
	return e
}

// durations fills each known stage's time since the previous known one.
func durations(st []Stage) []Stage {
	var prev time.Time
	for i := range st {
		if st[i].State == Unknown || st[i].At.IsZero() {
			continue
		}
		if !prev.IsZero() && !st[i].At.Before(prev) {
			d := st[i].At.Sub(prev)
			st[i].Duration = &d
		}
		prev = st[i].At
	}
	return st
}

func sameImage(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	return a == b || strings.HasSuffix(b, "@"+a) || strings.HasSuffix(a, "@"+b) || strings.HasPrefix(b, a+"@")
}

func short(s string) string {
	if len(s) > 7 {
		return s[:7]
	}
	return s
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
