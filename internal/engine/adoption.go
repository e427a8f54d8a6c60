package engine

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/shiplog-dev/shiplog/internal/engine/history"
	"github.com/shiplog-dev/shiplog/internal/engine/metrics"
)

// Where an app's GitOps adoption date comes from.
const (
	AdoptionManifest = "manifest" // its first manifest commit the Git importer saw
	AdoptionSync     = "sync"     // its first Argo CD sync
	AdoptionConfig   = "config"   // metrics.gitops_adoption
)

// AdoptionDate is when an app adopted GitOps, and how shiplog knows.
type AdoptionDate struct {
	At     time.Time `json:"at"`
	Source string    `json:"source"` // AdoptionManifest, AdoptionSync or AdoptionConfig
}

// Adoption returns the GitOps adoption date of every app allow (nil:
// every one) lets the asker see, in any of its environments: the earlier
// of its first deployment record the Git importer made from a manifest
// commit (inferred_from "git", with a manifest commit, still on its
// branch) and its first Argo CD sync (started, else finished), across the
// environments allow keeps; metrics.gitops_adoption overrides it. Apps
// with neither are absent.
func (e *Engine) Adoption(ctx context.Context, allow func(app, team, env string) bool) (map[string]AdoptionDate, error) {
	v, err := e.current(ctx)
	if err != nil {
		return nil, err
	}
	return e.adoption(e.partitions(v, "", "", nil, allow), allow == nil), nil
}

// adoption detects the adoption dates of the apps of parts, with the
// configured ones of those apps (of every configured app when all).
func (e *Engine) adoption(parts []*part, all bool) map[string]AdoptionDate {
	out := map[string]AdoptionDate{}
	seen := map[string]bool{}
	earlier := func(app string, at time.Time, src string) {
		if at.IsZero() {
			return
		}
		if d, ok := out[app]; !ok || at.Before(d.At) || at.Equal(d.At) && src < d.Source {
			out[app] = AdoptionDate{At: at.UTC(), Source: src}
		}
	}
	for _, p := range parts {
		app := p.ae.app
		if app == "" {
			continue
		}
		seen[app] = true
		for _, r := range p.rows.deployments {
			if r.InferredFrom == "git" && r.ManifestCommit != "" && !r.Rewritten {
				earlier(app, r.Time, AdoptionManifest)
			}
		}
		for _, s := range p.rows.syncs {
			at := s.StartedAt
			if at.IsZero() {
				at = s.FinishedAt
			}
			earlier(app, at, AdoptionSync)
		}
	}
	for app, at := range e.cfg.Adoption {
		if all || seen[app] {
			out[app] = AdoptionDate{At: at.UTC(), Source: AdoptionConfig}
		}
	}
	return out
}

// CompareAdoption computes the KPIs of q before and after each app's own
// GitOps adoption date (Adoption, over the environments of the asker's
// scope): an app's deployments before its date count before, the others
// after; an app with no adoption date counts wholly before. Medians are
// over the pooled changes of each side, rates over its pooled
// deployments; deployment frequency is per app-day (metrics.PerAppDays).
// Apps lists the apps q selects, by name.
func (e *Engine) CompareAdoption(ctx context.Context, q Query) (metrics.Comparison, error) {
	v, err := e.current(ctx)
	if err != nil {
		return metrics.Comparison{}, err
	}
	f, until := e.filter(q)
	since := q.Since
	parts := e.partitions(v, f.App, f.Team, f.Envs, q.Allow)
	dates := e.adoption(e.partitions(v, f.App, f.Team, nil, q.Allow), q.Allow == nil)
	before := make([][]history.Deployment, len(parts))
	after := make([][]history.Deployment, len(parts))
	rows := map[string]*metrics.AppSplit{}
	var beforeDays, afterDays float64
	days := func(from, to time.Time) float64 { return max(0, to.Sub(from).Hours()/24) }
	for i, p := range parts {
		app := p.ae.app
		d, adopted := dates[app]
		split := until // not adopted (or after the window): wholly before
		if adopted && d.At.Before(until) {
			split = d.At
			if split.Before(since) {
				split = since // before the window: wholly after
			}
		}
		before[i], after[i] = p.window(since, split), p.window(split, until)
		r := rows[app]
		if r == nil {
			r = &metrics.AppSplit{App: app}
			if adopted {
				at := d.At
				r.AdoptedAt, r.Source = &at, d.Source
			}
			r.BeforeDays, r.AfterDays = days(since, split), days(split, until)
			beforeDays += r.BeforeDays
			afterDays += r.AfterDays
			rows[app] = r
		}
		r.BeforeDeployments += counted(before[i])
		r.AfterDeployments += counted(after[i])
	}
	th := e.cfg.Thresholds
	c := metrics.Comparison{By: "adoption", Before: metrics.ComputeParts(before, f, since, until, th),
		After: metrics.ComputeParts(after, f, since, until, th), Apps: []metrics.AppSplit{}}
	metrics.PerAppDays(&c.Before, beforeDays, th)
	metrics.PerAppDays(&c.After, afterDays, th)
	for _, app := range slices.Sorted(maps.Keys(rows)) {
		c.Apps = append(c.Apps, *rows[app])
	}
	return c, nil
}

// counted is the number of deployments of w the metrics count.
func counted(w []history.Deployment) int {
	n := 0
	for i := range w {
		if !w[i].Rewritten {
			n++
		}
	}
	return n
}
