// Package efficiency computes what delivery costs beyond the DORA metrics:
// manual interventions and the engineer time they take, the automation
// level of production deployments, the infrastructure cost of Knative
// revisions with the saving scale-to-zero brings against an always-on
// baseline, and features delivered per sprint. Definitions are in
// docs/metrics.md; each figure comes with the items behind it.
//
// Everything here is a pure function of its input: no I/O, no clock (the
// caller passes now).
package efficiency

import (
	"slices"
	"sync"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine/history"
)

// Kinds of manual intervention.
const (
	ManualSync     = "manual_sync"      // an Argo CD sync started by a user
	ManualRollback = "manual_rollback"  // a rollback or revert made by hand
	HumanImageBump = "human_image_bump" // an image reference changed in Git by a person
	DriftFix       = "drift_fix"        // a sync with no Git change that ended a drift
)

// Kinds lists the intervention kinds in report order.
var Kinds = []string{ManualSync, ManualRollback, HumanImageBump, DriftFix}

// DefaultMinutes is the engineer time each kind of intervention is
// assumed to take when the configuration does not say.
func DefaultMinutes() map[string]float64 {
	return map[string]float64{ManualSync: 10, ManualRollback: 30, HumanImageBump: 15, DriftFix: 20}
}

// Defaults of the settings.
const (
	DefaultSprintLength = 14 * 24 * time.Hour
	DefaultCurrency     = "USD"
)

// DefaultSprintStart is the first day of sprint 0 when the configuration
// does not say: Monday 5 January 2026.
func DefaultSprintStart() time.Time { return time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC) }

// Settings are the configurable parts of the definitions.
type Settings struct {
	// Minutes per intervention kind; a kind not set takes DefaultMinutes.
	Minutes map[string]float64
	// CostPerReplicaHour prices one replica running for an hour; 0: not
	// configured (costs are null, replica-hours are still counted).
	CostPerReplicaHour float64
	Currency           string
	// BaselineMinReplicas is the number of replicas an always-on revision
	// keeps while it is routable (default 1).
	BaselineMinReplicas int
	// Sprints start at SprintStart and last SprintLength (the engine
	// defaults them to DefaultSprintStart and DefaultSprintLength); zero
	// length: no sprint figures.
	SprintStart  time.Time
	SprintLength time.Duration
	// Teams maps an app to its team.
	Teams map[string]string
}

// Input is the model efficiency reads. Scale samples may start before the
// window (the engine loads 24 hours more) so that the replica count at its
// start is known.
type Input struct {
	Deployments     []history.Deployment
	Syncs           []delivery.SyncRecord
	SyncStatuses    []delivery.SyncStatusRecord
	ManifestChanges []delivery.ManifestChangeRecord
	Scale           []delivery.ScaleRecord
	Traffic         []delivery.TrafficRecord
	Revisions       []delivery.RevisionRecord
	Changes         []delivery.ChangeRecord
}

// Filter selects what is counted. Empty fields do not filter.
type Filter struct {
	App  string   `json:"app,omitempty"`
	Team string   `json:"team,omitempty"`
	Envs []string `json:"environments,omitempty"`
}

func (f Filter) keep(app, env string, teams map[string]string) bool {
	return (f.App == "" || app == f.App) && (f.Team == "" || teams[app] == f.Team) && (len(f.Envs) == 0 || slices.Contains(f.Envs, env))
}

// Report is every efficiency figure of one window.
type Report struct {
	Since         time.Time     `json:"since"`
	Until         time.Time     `json:"until"`
	Filter        Filter        `json:"filter"`
	Interventions Interventions `json:"manual_interventions"`
	Automation    Automation    `json:"automation"`
	Cost          Cost          `json:"knative_cost"`
	Features      *Features     `json:"features"` // nil when no sprints are configured
}

// Compute returns the efficiency figures of [since, until) that f keeps;
// now tells which sprints are over.
func Compute(in Input, f Filter, since, until, now time.Time, s Settings) Report {
	if s.BaselineMinReplicas <= 0 {
		s.BaselineMinReplicas = 1
	}
	fig := Prepare(in, s)
	var kept []*history.Deployment
	var steps []Steps
	for i := range in.Deployments {
		if d := &in.Deployments[i]; !d.LiveAt.Before(since) && d.LiveAt.Before(until) {
			kept = append(kept, d)
			steps = append(steps, fig.Steps[i])
		}
	}
	changes := make([]*delivery.ChangeRecord, len(in.Changes))
	for i := range in.Changes {
		changes[i] = &in.Changes[i]
	}
	return Combine(Parts{Interventions: fig.Interventions, Deployments: kept, Steps: steps, Scale: in.Scale, Cost: costInput(in),
		Changes: changes, Shipped: prFilter(in.Deployments, s.Teams, f)}, f, since, until, now, s)
}

// Figures are what Compute counts of some apps and environments over all
// time, before any filter or window: a caller that keeps a history per
// app and environment prepares them once per partition and combines them
// per query (Combine).
type Figures struct {
	// Interventions are every manual intervention, of every kind.
	Interventions []Intervention
	// Steps are per deployment of the input, in its order.
	Steps []Steps
}

// Steps say who took the steps of one deployment.
type Steps struct {
	Manual []ManualStep // the steps a person took
	Bot    bool         // a bot made the manifest commit
}

// Prepare computes the figures of in's deployments, syncs, sync statuses
// and manifest changes (every rule reads only rows of one app and
// environment).
func Prepare(in Input, s Settings) Figures {
	m := newModel(in, s.Teams)
	f := Figures{Interventions: allInterventions(m), Steps: make([]Steps, len(in.Deployments))}
	for i := range in.Deployments {
		f.Steps[i] = deploymentSteps(m, &in.Deployments[i])
	}
	return f
}

// Parts are what Combine reads.
type Parts struct {
	// Summary leaves the item lists out, and the work of making them: the
	// report is then Report.Summary of the full one.
	Summary       bool
	Interventions []Intervention // of the apps and environments counted, any time
	// Deployments are those that went live in the window, in live-time
	// order, with their Steps.
	Deployments []*history.Deployment
	Steps       []Steps
	// Scale are the scale samples of the window and the lookback before it
	// (every app's); Cost the revisions and routes the cost reads.
	Scale []delivery.ScaleRecord
	Cost  CostInput
	// Changes are the pull requests merged in SprintRange (every one when
	// the window has no start).
	Changes []*delivery.ChangeRecord
	// Shipped says whether a commit was shipped by a deployment (any time,
	// any environment) of an app the filter keeps; nil: every pull request counts.
	Shipped func(sha string) bool
}

// Combine computes the report of [since, until) that f keeps from parts.
func Combine(p Parts, f Filter, since, until, now time.Time, s Settings) Report {
	if s.BaselineMinReplicas <= 0 {
		s.BaselineMinReplicas = 1
	}
	r := Report{Since: since, Until: until, Filter: f}
	// The Knative cost, the longest, on another core meanwhile.
	var cost sync.WaitGroup
	lists := !p.Summary
	cost.Go(func() { r.Cost = costOf(p.Cost, p.Scale, f, since, until, s, lists) })
	r.Interventions = summarize(p.Interventions, f, since, until, s)
	r.Automation = automation(p.Deployments, p.Steps, s.Teams, f, since, until, lists)
	if s.SprintLength > 0 {
		feats := features(p.Changes, p.Shipped, since, until, now, s, lists)
		r.Features = &feats
	}
	cost.Wait()
	if !lists {
		r.Interventions = r.Summary().Interventions
	}
	return r
}

// Summary returns r without the item lists.
func (r Report) Summary() Report {
	out := r
	out.Interventions.ByKind = slices.Clone(r.Interventions.ByKind)
	for i := range out.Interventions.ByKind {
		out.Interventions.ByKind[i].Items = nil
	}
	out.Automation.ManualItems, out.Automation.UnknownItems = nil, nil
	out.Cost.Revisions = nil
	if r.Features != nil {
		f := *r.Features
		f.Sprints = slices.Clone(f.Sprints)
		for i := range f.Sprints {
			f.Sprints[i].Items = nil
		}
		out.Features = &f
	}
	return out
}

// step says who took a step of a deployment.
type step int

const (
	stepUnknown step = iota
	stepBot          // automation
	stepHuman        // a person
)

type aeKey struct{ app, env string }

type commitKey struct{ commit, app, env string }

// manifestAuthor is who made an app's image change in one commit.
type manifestAuthor struct {
	who    step
	author string
	at     time.Time
	bump   bool // an image reference was updated (not only added or removed)
}

// model indexes the input.
type model struct {
	deps      []history.Deployment
	teams     map[string]string
	syncs     []delivery.SyncRecord
	deploying map[commitKey]*delivery.SyncRecord // earliest succeeded sync of a revision in an app/env
	manifest  map[commitKey]*manifestAuthor
	statuses  map[aeKey][]delivery.SyncStatusRecord
	syncsByAE map[aeKey][]*delivery.SyncRecord // by start time
}

func newModel(in Input, teams map[string]string) *model {
	m := &model{deps: in.Deployments, teams: teams, syncs: in.Syncs, deploying: map[commitKey]*delivery.SyncRecord{},
		manifest: map[commitKey]*manifestAuthor{}, statuses: map[aeKey][]delivery.SyncStatusRecord{}, syncsByAE: map[aeKey][]*delivery.SyncRecord{}}
	for i := range in.Syncs {
		s := &in.Syncs[i]
		ae := aeKey{s.App, s.Env}
		m.syncsByAE[ae] = append(m.syncsByAE[ae], s)
		if s.Phase == delivery.PhaseSucceeded && s.Revision != "" {
			k := commitKey{s.Revision, s.App, s.Env}
			if old, ok := m.deploying[k]; !ok || s.StartedAt.Before(old.StartedAt) {
				m.deploying[k] = s
			}
		}
	}
	for _, list := range m.syncsByAE {
		slices.SortStableFunc(list, func(a, b *delivery.SyncRecord) int { return a.StartedAt.Compare(b.StartedAt) })
	}
	for _, c := range in.ManifestChanges {
		k := commitKey{c.Commit, c.App, c.Env}
		ma := m.manifest[k]
		if ma == nil {
			ma = &manifestAuthor{who: stepBot, at: c.Time}
			m.manifest[k] = ma
		}
		if !c.Bot {
			ma.who, ma.author = stepHuman, c.Author
		}
		if c.Op == delivery.ManifestUpdated {
			ma.bump = true
		}
	}
	for _, s := range in.SyncStatuses {
		ae := aeKey{s.App, s.Env}
		m.statuses[ae] = append(m.statuses[ae], s)
	}
	for _, list := range m.statuses {
		slices.SortStableFunc(list, func(a, b delivery.SyncStatusRecord) int { return a.Time.Compare(b.Time) })
	}
	return m
}

// manifestStep says who made d's manifest commit: from the recorded
// manifest changes, else from the deployment as Git reported it.
func (m *model) manifestStep(d *history.Deployment) (step, string) {
	if d.ManifestCommit == "" {
		return stepUnknown, ""
	}
	if ma := m.manifest[commitKey{d.ManifestCommit, d.App, d.Env}]; ma != nil {
		return ma.who, ma.author
	}
	if slices.Contains(d.Sources, "git") {
		switch {
		case d.Bot:
			return stepBot, d.Author
		case d.Author != "":
			return stepHuman, d.Author
		}
	}
	return stepUnknown, ""
}

// deployingSync is the earliest succeeded sync of d's manifest commit in
// its app and environment.
func (m *model) deployingSync(d *history.Deployment) *delivery.SyncRecord {
	if d.ManifestCommit == "" {
		return nil
	}
	return m.deploying[commitKey{d.ManifestCommit, d.App, d.Env}]
}

// isManual reports whether a user started the sync: not automated and
// with a user name (a sync recovered without an initiator is not counted).
func isManual(s *delivery.SyncRecord) bool { return s != nil && !s.Automated && s.InitiatedBy != "" }

func syncRef(s *delivery.SyncRecord) string {
	return s.Application + "@" + s.StartedAt.UTC().Format(time.RFC3339)
}

func inWindow(t, since, until time.Time) bool { return !t.Before(since) && t.Before(until) }
