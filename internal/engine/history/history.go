// Package history turns what the sources recorded into one deployment
// history per app and environment: deployments reported by several sources
// (Git, Argo CD, Knative, CDEvents, Git hosts) become one, timed by the most
// direct source; each deployment carries the changes it shipped with their
// lead times and stage breakdown, whether it failed (and why), and when
// service was restored.
//
// Everything here is a pure function of its input and the clock: no I/O.
package history

import (
	"cmp"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// Input is what Build reads: rows of the derived model.
type Input struct {
	Deployments  []delivery.DeploymentRecord
	Syncs        []delivery.SyncRecord
	Health       []delivery.HealthRecord
	Revisions    []delivery.RevisionRecord
	Incidents    []delivery.IncidentRecord
	Changes      []delivery.ChangeRecord
	PipelineRuns []delivery.PipelineRunRecord
	Artifacts    []delivery.ArtifactRecord
	Commits      map[string]delivery.CommitRecord // by SHA
}

// Config holds the definitions' settings.
type Config struct {
	// Teams maps an app to its team.
	Teams map[string]string
	// Hotfix matches the PR title, PR labels or manifest commit subject of
	// a deployment that fixes a production problem. Default `(?i)\bhotfix\b`.
	Hotfix *regexp.Regexp
	// Now is the clock: deployments after it are ignored.
	Now time.Time
}

// DefaultHotfix is the default hotfix pattern.
var DefaultHotfix = regexp.MustCompile(`(?i)\bhot-?fix\b`)

// Source precedence for a deployment's live time: the most direct
// observation of "serving" wins.
var precedence = map[string]int{"knative": 5, "argocd": 4, "cdevents": 3, "github-deployment": 2, "gitlab-deployment": 2, "git": 1}

func rank(inferredFrom string) int { return precedence[inferredFrom] }

// Failure reasons.
const (
	FailSync     = "sync-failed"     // an Argo CD sync failed or errored after it went live
	FailDegraded = "degraded"        // Argo CD health went Degraded
	FailRevision = "revision-failed" // a Knative revision failed to become ready
	FailRollback = "rolled-back"     // the next deployment rolled it back or reverted it
	FailIncident = "incident"        // an incident was attributed to it
	FailHotfix   = "hotfix"          // the next deployment was a hotfix
)

// Failure is one sign that a deployment failed.
type Failure struct {
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
	Ref    string    `json:"ref,omitempty"` // the sync, revision, incident or deployment behind it
}

// Change is a source commit a deployment shipped.
type Change struct {
	SHA         string         `json:"sha"`
	CommittedAt time.Time      `json:"committed_at,omitzero"`
	LeadTime    *time.Duration `json:"lead_time,omitempty"` // live − commit; nil when the commit time is unknown
	ClockSkew   bool           `json:"clock_skew,omitempty"`
	Stages      []Stage        `json:"stages,omitempty"`
}

// Deployment is one artifact becoming live for an app in an environment.
type Deployment struct {
	App              string    `json:"app"`
	Env              string    `json:"environment"`
	Team             string    `json:"team,omitempty"`
	LiveAt           time.Time `json:"live_at"`
	Kind             string    `json:"kind"` // deployed, upgraded, rolledback
	Artifact         string    `json:"artifact"`
	PreviousArtifact string    `json:"previous_artifact,omitempty"`
	Repo             string    `json:"repo,omitempty"`
	ManifestCommit   string    `json:"manifest_commit,omitempty"`
	ManifestAt       time.Time `json:"manifest_at,omitzero"` // the manifest commit's time, when Git reported it
	SourceCommit     string    `json:"source_commit,omitempty"`
	InferredFrom     string    `json:"inferred_from"`
	Sources          []string  `json:"sources"` // every source that reported it
	Author           string    `json:"author,omitempty"`
	Bot              bool      `json:"bot"`
	PR               int64     `json:"pr,omitempty"`
	Revert           bool      `json:"revert"`
	Rollback         bool      `json:"rollback"`
	Hotfix           bool      `json:"hotfix"`
	Rewritten        bool      `json:"rewritten"` // only Git reported it and the commit left the branch
	Changes          []Change  `json:"changes"`
	Failures         []Failure `json:"failures,omitempty"`
	RestoredAt       time.Time `json:"restored_at,omitzero"`
	EventIDs         []string  `json:"event_ids"` // source/event id of each record behind it
}

// Ref identifies a deployment behind a figure (a deviation, an
// untraceable deployment, a manual intervention).
type Ref struct {
	App            string    `json:"app"`
	Env            string    `json:"environment"`
	LiveAt         time.Time `json:"live_at"`
	Artifact       string    `json:"artifact"`
	ManifestCommit string    `json:"manifest_commit,omitempty"`
	EventIDs       []string  `json:"event_ids"`
}

// Ref returns the deployment's reference.
func (d *Deployment) Ref() Ref {
	ids := d.EventIDs
	if ids == nil {
		ids = []string{}
	}
	return Ref{App: d.App, Env: d.Env, LiveAt: d.LiveAt, Artifact: d.Artifact, ManifestCommit: d.ManifestCommit, EventIDs: ids}
}

// Failed reports whether any failure was attributed to the deployment.
func (d *Deployment) Failed() bool { return len(d.Failures) > 0 }

// Rework reports whether the deployment fixes a production problem:
// a rollback, a revert or a hotfix.
func (d *Deployment) Rework() bool { return d.Rollback || d.Revert || d.Hotfix }

// DetectedAt is when the first failure sign appeared (zero if none).
func (d *Deployment) DetectedAt() time.Time {
	var t time.Time
	for _, f := range d.Failures {
		if t.IsZero() || f.At.Before(t) {
			t = f.At
		}
	}
	return t
}

// RecoveryTime is restored − detected, or nil if not failed or not restored.
func (d *Deployment) RecoveryTime() *time.Duration {
	if !d.Failed() || d.RestoredAt.IsZero() {
		return nil
	}
	r := max(d.RestoredAt.Sub(d.DetectedAt()), 0)
	return &r
}

type appEnv struct{ app, env string }

// Partition is what a build reads of one app and environment beside the
// Index: its deployment records, Argo CD syncs and health transitions, and
// Knative revisions. Lists in the store's table order (see the Compare
// functions) give results independent of arrival order.
type Partition struct {
	App, Env    string
	Deployments []delivery.DeploymentRecord
	Syncs       []delivery.SyncRecord
	Health      []delivery.HealthRecord
	Revisions   []delivery.RevisionRecord
}

// Build returns the deployments of in, per app/env in live-time order,
// all app/envs together sorted by live time.
func Build(in Input, cfg Config) []Deployment {
	x := NewIndex()
	x.AddInput(in)
	parts := map[appEnv]*Partition{}
	part := func(app, env string) *Partition {
		p := parts[appEnv{app, env}]
		if p == nil {
			p = &Partition{App: app, Env: env}
			parts[appEnv{app, env}] = p
		}
		return p
	}
	for _, r := range in.Deployments {
		p := part(r.App, r.Env)
		p.Deployments = append(p.Deployments, r)
	}
	for _, r := range in.Syncs {
		if p := parts[appEnv{r.App, r.Env}]; p != nil {
			p.Syncs = append(p.Syncs, r)
		}
	}
	for _, r := range in.Health {
		if p := parts[appEnv{r.App, r.Env}]; p != nil {
			p.Health = append(p.Health, r)
		}
	}
	for _, r := range in.Revisions {
		if p := parts[appEnv{r.App, r.Env}]; p != nil {
			p.Revisions = append(p.Revisions, r)
		}
	}
	keys := slices.SortedFunc(maps.Keys(parts), func(a, b appEnv) int { return cmp.Or(strings.Compare(a.app, b.app), strings.Compare(a.env, b.env)) })
	var out []Deployment
	for _, k := range keys {
		out = append(out, BuildPartition(*parts[k], x.With(nil), cfg)...)
	}
	slices.SortStableFunc(out, CompareLive)
	return out
}

// CompareLive orders deployments by live time, then app and environment:
// the order of Build's result.
func CompareLive(a, b Deployment) int {
	return cmp.Or(a.LiveAt.Compare(b.LiveAt), strings.Compare(a.App, b.App), strings.Compare(a.Env, b.Env))
}

// BuildPartition returns the deployments of one app and environment, in
// live-time order, looking up what links them to other rows in l.
func BuildPartition(p Partition, l Lookup, cfg Config) []Deployment {
	if cfg.Hotfix == nil {
		cfg.Hotfix = DefaultHotfix
	}
	ae := appEnv{p.App, p.Env}
	deps := unify(p.Deployments, p.Revisions, cfg.Now)
	x := newIndex(p, l)
	timeBySync(deps, x)
	lastSource := ""
	for i := range deps {
		d := &deps[i]
		// A source that names only the deployed commit (a Git host's
		// deployment, a CDEvent) ships that commit, unless it was already live.
		if len(d.Changes) == 0 && d.SourceCommit != "" && d.SourceCommit != lastSource && !d.Rollback {
			d.Changes = []Change{{SHA: d.SourceCommit}}
		}
		if d.SourceCommit != "" {
			lastSource = d.SourceCommit
		}
		d.Team = cfg.Teams[d.App]
		d.Hotfix = isHotfix(d, x, cfg.Hotfix)
		for j, c := range d.Changes {
			d.Changes[j] = x.change(c.SHA, d)
		}
	}
	for i := range deps {
		var next *Deployment
		if i+1 < len(deps) {
			next = &deps[i+1]
		}
		deps[i].Failures = x.failures(ae, &deps[i], next)
	}
	// Restoration looks at whether later deployments failed: a second pass.
	for i := range deps {
		if d := &deps[i]; d.Failed() {
			d.RestoredAt = x.restored(ae, d, deps[i+1:])
		}
	}
	return deps
}

// unify merges the records (of one app and environment) that describe the
// same deployment: the same manifest commit or, lacking one, the same
// artifact. The live time comes from the most direct source.
//
// A Knative record names the image by the digest it resolved to, while Git
// and Argo CD name it as the manifest wrote it (often a tag): the record's
// revision tells both (revs), so they still meet.
func unify(recs []delivery.DeploymentRecord, revs []delivery.RevisionRecord, now time.Time) []Deployment {
	revByName := make(map[string]*delivery.RevisionRecord, len(revs))
	for i := range revs {
		revByName[revs[i].Name] = &revs[i]
	}
	// keys are the names a record's artifact goes by.
	keys := func(r delivery.DeploymentRecord) []string {
		k := []string{artifactKey(r.Artifact)}
		if rv := revByName[r.Revision]; r.Revision != "" && rv != nil {
			for _, a := range []string{rv.Image, rv.Digest} {
				if a != "" && !slices.Contains(k, artifactKey(a)) {
					k = append(k, artifactKey(a))
				}
			}
		}
		return k
	}
	type group struct {
		d    *Deployment
		best int
		key  string // the artifact key of its first record
	}
	var groups []*group
	// marks are the groups by the time they went live when created, to
	// tell whether another artifact went live between two records of one.
	type mark struct {
		at time.Time
		g  *group
	}
	var marks []mark
	// separated reports whether a deployment of another artifact went live
	// after c and more than an hour before r: then r is not c again (a
	// rollback to c's image, seen by a source without a manifest commit)
	// but a deployment of its own. Within the hour, rollouts overlap.
	separated := func(c *group, r delivery.DeploymentRecord) bool {
		limit := r.Time.Add(-time.Hour)
		i, _ := slices.BinarySearchFunc(marks, c.d.LiveAt, func(m mark, t time.Time) int {
			if !m.at.After(t) {
				return -1
			}
			return 1
		})
		for ; i < len(marks) && !marks[i].at.After(limit); i++ {
			if marks[i].g != c && marks[i].g.key != c.key {
				return true
			}
		}
		return false
	}
	byCommit := map[string]*group{}
	byArtifact := map[string][]*group{} // artifact → groups with it, in time order (one app and environment)
	sorted := slices.Clone(recs)
	slices.SortStableFunc(sorted, func(a, b delivery.DeploymentRecord) int {
		// Records with a manifest commit first, so artifact-only ones can join them.
		return cmp.Or(boolCmp(b.ManifestCommit != "", a.ManifestCommit != ""), a.Time.Compare(b.Time))
	})
	for _, r := range sorted {
		if r.Kind == delivery.ServiceRemoved || r.Artifact == "" || (!now.IsZero() && r.Time.After(now)) {
			continue
		}
		var g *group
		if r.ManifestCommit != "" {
			g = byCommit[r.ManifestCommit]
		}
		if g == nil {
			// The latest deployment of the same artifact that went live at
			// most an hour after this record, when one of the two lacks a
			// manifest commit (a Knative revision, a CDEvent).
			for _, k := range keys(r) {
				cands := byArtifact[k]
				for i := len(cands) - 1; i >= 0; i-- {
					c := cands[i]
					if !c.d.LiveAt.After(r.Time.Add(time.Hour)) {
						if (r.ManifestCommit == "" || c.d.ManifestCommit == "") && !separated(c, r) {
							g = c
						}
						break
					}
				}
				if g != nil {
					break
				}
			}
		}
		created := g == nil
		if created {
			g = &group{d: &Deployment{App: r.App, Env: r.Env}, best: -1, key: artifactKey(r.Artifact)}
			groups = append(groups, g)
		}
		merge(g.d, r, rank(r.InferredFrom) > g.best)
		if created {
			i, _ := slices.BinarySearchFunc(marks, g.d.LiveAt, func(m mark, t time.Time) int {
				if !m.at.After(t) {
					return -1
				}
				return 1
			})
			marks = slices.Insert(marks, i, mark{g.d.LiveAt, g})
		}
		if rk := rank(r.InferredFrom); rk > g.best {
			g.best = rk
		}
		if r.ManifestCommit != "" {
			byCommit[r.ManifestCommit] = g
		}
		for _, k := range keys(r) {
			if !slices.Contains(byArtifact[k], g) {
				byArtifact[k] = append(byArtifact[k], g)
				slices.SortStableFunc(byArtifact[k], func(a, b *group) int { return a.d.LiveAt.Compare(b.d.LiveAt) })
			}
		}
	}
	out := make([]Deployment, 0, len(groups))
	for _, g := range groups {
		d := g.d
		slices.Sort(d.Sources)
		d.Sources = slices.Compact(d.Sources)
		out = append(out, *d)
	}
	slices.SortStableFunc(out, CompareLive)
	return out
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// artifactKey compares images by digest when there is one.
func artifactKey(a string) string {
	if i := strings.Index(a, "@sha256:"); i >= 0 {
		return a[i+1:]
	}
	return a
}

// merge folds record r into d; primary says r is the most direct source so far.
func merge(d *Deployment, r delivery.DeploymentRecord, primary bool) {
	onlyGit := len(d.Sources) == 0 || (d.InferredFrom == "git" && r.InferredFrom == "git")
	if primary {
		d.LiveAt, d.InferredFrom = r.Time, r.InferredFrom
		d.Artifact = r.Artifact
		if r.PreviousArtifact != "" {
			d.PreviousArtifact = r.PreviousArtifact
		}
	}
	if r.InferredFrom == "git" {
		d.ManifestAt = r.Time
	}
	set := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	set(&d.PreviousArtifact, r.PreviousArtifact)
	set(&d.Repo, r.Repo)
	set(&d.ManifestCommit, r.ManifestCommit)
	set(&d.SourceCommit, r.SourceCommit)
	set(&d.Author, r.Author)
	d.Bot = d.Bot || r.Bot
	if d.PR == 0 {
		d.PR = r.PR
	}
	d.Revert = d.Revert || r.Revert
	d.Rollback = d.Rollback || r.Kind == delivery.ServiceRolledBack
	d.Rewritten = onlyGit && (d.Rewritten || r.Rewritten)
	if !onlyGit {
		d.Rewritten = false
	}
	if d.Kind == "" || primary {
		d.Kind = strings.TrimPrefix(string(r.Kind), "service.")
	}
	if d.Rollback {
		d.Kind = "rolledback"
	}
	for _, sha := range r.Changes {
		if !slices.ContainsFunc(d.Changes, func(c Change) bool { return c.SHA == sha }) {
			d.Changes = append(d.Changes, Change{SHA: sha})
		}
	}
	d.Sources = append(d.Sources, r.InferredFrom)
	d.EventIDs = append(d.EventIDs, r.Source+"/"+r.EventID)
}

// timeBySync gives a deployment that only Git (or another source without a
// live signal) reported the time Argo CD finished syncing its manifest
// commit successfully, when such a sync was recorded: "live" for an app
// Argo CD deploys is a succeeded sync, not the commit.
func timeBySync(deps []Deployment, idx *partIndex) {
	moved := false
	for i := range deps {
		d := &deps[i]
		if d.ManifestCommit == "" || rank(d.InferredFrom) >= rank("argocd") {
			continue
		}
		var best time.Time
		for _, s := range idx.l.SyncsByRevision(d.ManifestCommit) {
			if s.App == d.App && s.Env == d.Env && s.Phase == delivery.PhaseSucceeded && !s.FinishedAt.Before(d.LiveAt) &&
				(best.IsZero() || s.FinishedAt.Before(best)) {
				best = s.FinishedAt
			}
		}
		if best.IsZero() {
			continue
		}
		d.LiveAt, d.InferredFrom = best, "argocd"
		d.Sources = append(d.Sources, "argocd")
		slices.Sort(d.Sources)
		d.Sources = slices.Compact(d.Sources)
		moved = true
	}
	if moved {
		slices.SortStableFunc(deps, CompareLive)
	}
}
