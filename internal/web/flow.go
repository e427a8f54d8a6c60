package web

import (
	"cmp"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine/history"
)

// The Flow page: the four phases of the GitOps flow, what is in each right
// now, and how long each takes.

// phases in flow order, with the lead-time stages (docs/metrics.md) whose
// time each one sums.
var phases = []struct {
	key    string
	stages []string
}{
	{"dev", []string{history.StageReview}},
	{"ci", []string{history.StageCI, history.StageArtifact}},
	{"argocd", []string{history.StageManifest, history.StageSync}},
	{"knative", []string{history.StageRollout}},
}

// staleAfter is how long a CI run, sync or revision may go without an end
// before the page stops counting it as in flight: its end was never
// recorded.
const staleAfter = 24 * time.Hour

// maxTokens bounds the tokens drawn per phase.
const maxTokens = 12

type token struct {
	Label, Title, Href string
}

type flowPhase struct {
	Key      string
	InFlight int
	Tokens   []token
	More     int // in flight, not drawn
	Stale    int // started long ago, no end recorded
	Median   *float64
	Measured int // changes whose phase time is known
}

type flowData struct {
	Empty  bool
	Since  string
	Envs   []string
	Phases []flowPhase
}

func (w *Web) flow(r *request) (any, error) {
	s := r.snap
	since, until, sinceText, err := r.window("30d")
	if err != nil {
		return nil, err
	}
	d := &flowData{Since: sinceText, Envs: s.settings.ProductionEnvs}
	d.Empty = len(s.deps) == 0 && len(s.in.Changes) == 0 && len(s.in.PipelineRuns) == 0 && len(s.apps) == 0
	for _, p := range phases {
		d.Phases = append(d.Phases, flowPhase{Key: p.key})
	}
	// Median time per phase over the changes deployed to production in the window.
	f := depFilter{Envs: s.settings.ProductionEnvs, Since: since, Until: until}
	vals := make([][]float64, len(phases))
	for i := range s.deps {
		dep := &s.deps[i]
		if !f.keep(dep) {
			continue
		}
		for _, c := range dep.Changes {
			for pi, p := range phases {
				sum, known := 0.0, false
				for _, st := range c.Stages {
					if slices.Contains(p.stages, st.Name) {
						sum += st.Duration.Seconds()
						known = true
					}
				}
				if known {
					vals[pi] = append(vals[pi], sum)
				}
			}
		}
	}
	for i := range phases {
		d.Phases[i].Median, d.Phases[i].Measured = median(vals[i]), len(vals[i])
	}
	now := r.now
	add := func(pi int, t token, started time.Time, staleAge time.Duration) {
		ph := &d.Phases[pi]
		if staleAge > 0 && now.Sub(started) > staleAge {
			ph.Stale++
			return
		}
		ph.InFlight++
		if len(ph.Tokens) < maxTokens {
			ph.Tokens = append(ph.Tokens, t)
		} else {
			ph.More++
		}
	}
	// Development: pull requests open (opened in the window).
	for _, c := range newestFirst(s.in.Changes, func(c delivery.ChangeRecord) time.Time { return c.OpenedAt }) {
		if c.OpenedAt.IsZero() || !c.MergedAt.IsZero() || !c.ClosedAt.IsZero() || c.OpenedAt.After(now) {
			continue
		}
		if c.OpenedAt.Before(since) {
			d.Phases[0].Stale++
			continue
		}
		add(0, token{Label: "#" + strconv.FormatInt(c.Number, 10), Title: strings.TrimSpace(c.Title + " · " + c.Author), Href: changeLink("#" + strconv.FormatInt(c.Number, 10))}, c.OpenedAt, 0)
	}
	// Continuous Integration: runs started and not finished.
	for _, p := range newestFirst(s.in.PipelineRuns, func(p delivery.PipelineRunRecord) time.Time { return cmp.Or(p.StartedAt, p.QueuedAt) }) {
		started := cmp.Or(p.StartedAt, p.QueuedAt)
		if started.IsZero() || !p.FinishedAt.IsZero() || started.After(now) {
			continue
		}
		t := token{Label: cmp.Or(short(p.SHA), p.RunID), Title: strings.TrimSpace(p.Name + " " + p.Branch)}
		if p.SHA != "" {
			t.Href = changeLink(p.SHA)
		}
		add(1, t, started, staleAfter)
	}
	// Argo CD: sync operations running.
	for _, sy := range newestFirst(s.in.Syncs, func(x delivery.SyncRecord) time.Time { return x.StartedAt }) {
		if !sy.FinishedAt.IsZero() || sy.StartedAt.After(now) {
			continue
		}
		t := token{Label: cmp.Or(sy.App, sy.Application) + " → " + cmp.Or(sy.Env, "?"), Title: sy.Application + " @ " + short(sy.Revision), Href: s.manifestLink(sy.Revision, sy.App)}
		add(2, t, sy.StartedAt, staleAfter)
	}
	// Knative: revisions created and not yet Ready, and splits in progress.
	seen := map[string]bool{}
	for _, rv := range newestFirst(s.in.Revisions, func(x delivery.RevisionRecord) time.Time { return x.CreatedAt }) {
		if rv.CreatedAt.IsZero() || !rv.ReadyAt.IsZero() || !rv.FailedAt.IsZero() || !rv.DeletedAt.IsZero() || rv.CreatedAt.After(now) {
			continue
		}
		seen[rv.Name] = true
		add(3, token{Label: rv.Name, Title: cmp.Or(rv.App, rv.Service) + " " + rv.Env, Href: s.artifactLink(rv.Digest, rv.Image, rv.App)}, rv.CreatedAt, staleAfter)
	}
	type ae struct{ app, env string }
	done := map[ae]bool{}
	for _, tr := range s.in.Traffic {
		k := ae{tr.App, tr.Env}
		if done[k] {
			continue
		}
		done[k] = true
		split, _ := latestSplit(s.in.Traffic, tr.App, tr.Env)
		serving := 0
		for _, t := range split {
			if t.Percent > 0 {
				serving++
			}
		}
		if serving < 2 {
			continue
		}
		for _, t := range split {
			if t.Percent > 0 && t.Percent < 100 && t.Latest && !seen[t.Revision] {
				seen[t.Revision] = true
				rv := s.revision(t.Revision)
				add(3, token{Label: t.Revision + " " + strconv.Itoa(t.Percent) + "\u00a0%", Title: tr.App + " " + tr.Env, Href: s.artifactLink(rv.Digest, rv.Image, tr.App)}, now, 0)
			}
		}
	}
	return d, nil
}

func changeLink(q string) string { return "/changes?q=" + url.QueryEscape(q) }

func appLink(app string) string { return "/apps/" + url.PathEscape(app) }

// newestFirst returns a copy of rows sorted by time, newest first.
func newestFirst[T any](rows []T, at func(T) time.Time) []T {
	out := slices.Clone(rows)
	slices.SortStableFunc(out, func(a, b T) int { return at(b).Compare(at(a)) })
	return out
}

// manifestLink links a GitOps commit to the trace of the source commit it
// deployed, else to the app.
func (s *snapshot) manifestLink(commit, app string) string {
	if commit != "" {
		for _, m := range s.manifests {
			if m.Commit == commit && m.SourceCommit != "" {
				return changeLink(m.SourceCommit)
			}
		}
		for _, d := range s.deps {
			if d.ManifestCommit == commit && d.SourceCommit != "" {
				return changeLink(d.SourceCommit)
			}
		}
	}
	if app != "" {
		return appLink(app)
	}
	return ""
}

// artifactLink links an image to the trace of the commit it was built from,
// else to the app.
func (s *snapshot) artifactLink(digest, image, app string) string {
	for _, a := range s.in.Artifacts {
		if a.SourceCommit != "" && ((digest != "" && a.Digest == digest) || (image != "" && (a.Key == image || a.Name+":"+a.Tag == image))) {
			return changeLink(a.SourceCommit)
		}
	}
	if app != "" {
		return appLink(app)
	}
	return ""
}

func (s *snapshot) revision(name string) delivery.RevisionRecord {
	for _, r := range s.in.Revisions {
		if r.Name == name {
			return r
		}
	}
	return delivery.RevisionRecord{Name: name}
}
