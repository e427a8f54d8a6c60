package web

import (
	"cmp"
	"context"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine/history"
	"github.com/shiplog-dev/shiplog/internal/store"
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
	fl := s.inFlight
	d := &flowData{Since: sinceText, Envs: s.settings.ProductionEnvs}
	d.Empty = !s.hasDeployments() && len(fl.Changes) == 0 && len(fl.Runs) == 0 && len(s.apps) == 0
	for _, p := range phases {
		d.Phases = append(d.Phases, flowPhase{Key: p.key})
	}
	// Median time per phase over the changes deployed to production in the window.
	f := depFilter{Envs: s.settings.ProductionEnvs, Since: since, Until: until}
	vals := make([][]float64, len(phases))
	for _, p := range s.partsOf("", f.Envs) {
		w := p.Window(since, until)
		for i := range w {
			dep := &w[i]
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
	// Development: pull requests open (opened in the window). The engine
	// lists the work in flight newest first.
	for _, c := range fl.Changes {
		if c.OpenedAt.After(now) {
			continue
		}
		if c.OpenedAt.Before(since) {
			d.Phases[0].Stale++
			continue
		}
		add(0, token{Label: "#" + strconv.FormatInt(c.Number, 10), Title: strings.TrimSpace(c.Title + " · " + c.Author), Href: changeLink("#" + strconv.FormatInt(c.Number, 10))}, c.OpenedAt, 0)
	}
	// Continuous Integration: runs started and not finished.
	for _, p := range fl.Runs {
		started := cmp.Or(p.StartedAt, p.QueuedAt)
		if started.After(now) {
			continue
		}
		t := token{Label: cmp.Or(short(p.SHA), p.RunID), Title: strings.TrimSpace(p.Name + " " + p.Branch)}
		if p.SHA != "" {
			t.Href = changeLink(p.SHA)
		}
		add(1, t, started, staleAfter)
	}
	ctx := r.Context()
	// Argo CD: sync operations running.
	for _, sy := range fl.Syncs {
		if sy.StartedAt.After(now) {
			continue
		}
		t := token{Label: cmp.Or(sy.App, sy.Application) + " → " + cmp.Or(sy.Env, "?"), Title: sy.Application + " @ " + short(sy.Revision)}
		if d.Phases[2].InFlight < maxTokens && now.Sub(sy.StartedAt) <= staleAfter { // a drawn token: find where it leads
			if t.Href, err = w.manifestLink(ctx, s, sy); err != nil {
				return nil, err
			}
		}
		add(2, t, sy.StartedAt, staleAfter)
	}
	// Knative: revisions created and not yet Ready, and splits in progress.
	seen := map[string]bool{}
	for _, rv := range fl.Revisions {
		if rv.CreatedAt.After(now) {
			continue
		}
		seen[rv.Name] = true
		t := token{Label: rv.Name, Title: cmp.Or(rv.App, rv.Service) + " " + rv.Env}
		if d.Phases[3].InFlight < maxTokens && now.Sub(rv.CreatedAt) <= staleAfter {
			if t.Href, err = w.artifactLink(ctx, rv.Digest, rv.Image, rv.App); err != nil {
				return nil, err
			}
		}
		add(3, t, rv.CreatedAt, staleAfter)
	}
	for _, p := range s.parts {
		split, _ := latestSplit(p.Traffic)
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
				tok := token{Label: t.Revision + " " + strconv.Itoa(t.Percent) + "\u00a0%", Title: p.App + " " + p.Env}
				if d.Phases[3].InFlight < maxTokens {
					rv := p.Revision(t.Revision)
					if tok.Href, err = w.artifactLink(ctx, rv.Digest, rv.Image, p.App); err != nil {
						return nil, err
					}
				}
				add(3, tok, now, 0)
			}
		}
	}
	return d, nil
}

func changeLink(q string) string { return "/changes?q=" + url.QueryEscape(q) }

func appLink(app string) string { return "/apps/" + url.PathEscape(app) }

// manifestLink links a running sync to the trace of the source commit its
// GitOps commit deploys (the manifest change, else a deployment of it),
// else to the app.
func (w *Web) manifestLink(ctx context.Context, s *snapshot, sy delivery.SyncRecord) (string, error) {
	if sy.Revision != "" && sy.App != "" {
		// The manifest change comes before its sync: look back a month.
		mcs, err := w.st.ManifestChanges(ctx, store.ModelFilter{App: sy.App, Env: sy.Env, Since: sy.StartedAt.AddDate(0, -1, 0)})
		if err != nil {
			return "", err
		}
		for _, m := range mcs {
			if m.Commit == sy.Revision && m.SourceCommit != "" {
				return changeLink(m.SourceCommit), nil
			}
		}
		for _, p := range s.partsOf(sy.App, nil) {
			for i := len(p.Deployments) - 1; i >= 0; i-- {
				if d := &p.Deployments[i]; d.ManifestCommit == sy.Revision && d.SourceCommit != "" {
					return changeLink(d.SourceCommit), nil
				}
			}
		}
	}
	if sy.App != "" {
		return appLink(sy.App), nil
	}
	return "", nil
}

// artifactLink links an image to the trace of the commit it was built from,
// else to the app.
func (w *Web) artifactLink(ctx context.Context, digest, image, app string) (string, error) {
	arts, err := w.st.FindArtifacts(ctx, store.ArtifactLookup{Digest: digest, Image: image})
	if err != nil {
		return "", err
	}
	for _, a := range arts {
		if a.SourceCommit != "" {
			return changeLink(a.SourceCommit), nil
		}
	}
	if app != "" {
		return appLink(app), nil
	}
	return "", nil
}
