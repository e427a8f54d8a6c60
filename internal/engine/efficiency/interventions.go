package efficiency

import (
	"cmp"
	"slices"
	"sort"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine/history"
)

// Interventions are the manual steps of the window and the engineer time
// they cost: count × the minutes configured for their kind.
type Interventions struct {
	Total           int         `json:"total"`
	EngineerMinutes float64     `json:"engineer_minutes"` // the sum of ByKind[].Minutes
	ByKind          []KindCount `json:"by_kind"`
}

// KindCount is one kind of intervention.
type KindCount struct {
	Kind        string         `json:"kind"`
	Count       int            `json:"count"`
	MinutesEach float64        `json:"minutes_each"`
	Minutes     float64        `json:"minutes"` // Count × MinutesEach
	Items       []Intervention `json:"items,omitempty"`
}

// Intervention is one manual step.
type Intervention struct {
	Kind  string    `json:"kind"`
	At    time.Time `json:"at"`
	App   string    `json:"app"`
	Env   string    `json:"environment"`
	Actor string    `json:"actor,omitempty"` // who started the sync or wrote the commit, when known
	// Ref is the Argo CD sync ("application@started-at") or the manifest
	// commit behind the intervention.
	Ref        string       `json:"ref"`
	Deployment *history.Ref `json:"deployment,omitempty"` // the rollback deployment
	Detail     string       `json:"detail,omitempty"`
}

// allInterventions classifies each manual step once, under the most
// specific kind: the manual sync or human commit of a manual rollback
// counts as the rollback, the manual sync that ends a drift counts as the
// drift fix.
func allInterventions(m *model) []Intervention {
	var items []Intervention
	absorbedSync := map[*delivery.SyncRecord]bool{}
	absorbedCommit := map[commitKey]bool{}

	// Manual rollbacks: a rollback or revert whose manifest commit a person
	// wrote or whose deploying sync a user started.
	for i := range m.deps {
		d := &m.deps[i]
		if d.Rewritten || !d.Rollback && !d.Revert {
			continue
		}
		who, author := m.manifestStep(d)
		sync := m.deployingSync(d)
		if who != stepHuman && !isManual(sync) {
			continue
		}
		if d.ManifestCommit != "" {
			absorbedCommit[commitKey{d.ManifestCommit, d.App, d.Env}] = true
		}
		it := Intervention{Kind: ManualRollback, At: d.LiveAt, App: d.App, Env: d.Env, Ref: d.ManifestCommit, Detail: "manifest commit by a person"}
		ref := d.Ref()
		it.Deployment = &ref
		if who == stepHuman {
			it.Actor = author
		}
		if isManual(sync) {
			absorbedSync[sync] = true
			it.Actor = cmp.Or(it.Actor, sync.InitiatedBy)
			it.Detail = "sync " + syncRef(sync) + " started by " + sync.InitiatedBy
			if who == stepHuman {
				it.Detail = "manifest commit by a person, sync " + syncRef(sync) + " started by " + sync.InitiatedBy
			}
		}
		items = append(items, it)
	}

	// Drift fixes.
	for _, fix := range driftFixes(m) {
		if isManual(fix.sync) {
			absorbedSync[fix.sync] = true
		}
		actor := fix.sync.InitiatedBy
		if fix.sync.Automated {
			actor = "automated"
		}
		items = append(items, Intervention{Kind: DriftFix, At: fix.sync.StartedAt, App: fix.sync.App, Env: fix.sync.Env,
			Actor: actor, Ref: syncRef(fix.sync), Detail: "OutOfSync with drift since " + fix.since.UTC().Format(time.RFC3339) + " at revision " + fix.revision})
	}

	// Human-written image bumps: one per commit, app and environment.
	for k, ma := range m.manifest {
		if ma.who != stepHuman || !ma.bump || absorbedCommit[k] {
			continue
		}
		items = append(items, Intervention{Kind: HumanImageBump, At: ma.at, App: k.app, Env: k.env, Actor: ma.author, Ref: k.commit})
	}

	// Manual syncs that are not part of a rollback or drift fix.
	for i := range m.syncs {
		sy := &m.syncs[i]
		if !isManual(sy) || absorbedSync[sy] {
			continue
		}
		items = append(items, Intervention{Kind: ManualSync, At: sy.StartedAt, App: sy.App, Env: sy.Env,
			Actor: sy.InitiatedBy, Ref: syncRef(sy), Detail: "revision " + sy.Revision + ", " + string(sy.Phase)})
	}
	return items
}

// summarize counts the interventions of [since, until) that f keeps, per
// kind, each kind's items in time order.
func summarize(all []Intervention, f Filter, since, until time.Time, s Settings) Interventions {
	minutes := DefaultMinutes()
	for k, v := range s.Minutes {
		minutes[k] = v
	}
	items := map[string][]Intervention{}
	for _, it := range all {
		if f.keep(it.App, it.Env, s.Teams) && inWindow(it.At, since, until) {
			items[it.Kind] = append(items[it.Kind], it)
		}
	}
	out := Interventions{ByKind: []KindCount{}}
	for _, k := range Kinds {
		list := items[k]
		slices.SortFunc(list, func(a, b Intervention) int {
			return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Ref, b.Ref), cmp.Compare(a.App, b.App), cmp.Compare(a.Env, b.Env),
				cmp.Compare(a.Actor, b.Actor), cmp.Compare(a.Detail, b.Detail))
		})
		kc := KindCount{Kind: k, Count: len(list), MinutesEach: minutes[k], Minutes: float64(len(list)) * minutes[k], Items: list}
		out.Total += kc.Count
		out.EngineerMinutes += kc.Minutes
		out.ByKind = append(out.ByKind, kc)
	}
	return out
}

type driftFix struct {
	since    time.Time
	revision string
	sync     *delivery.SyncRecord
}

// driftFixes finds, per app and environment, each drift episode (an
// OutOfSync status with drift: the cluster changed while the Git revision
// did not) that a succeeded sync of the same revision ended. The episode
// lasts until the next status that is neither OutOfSync with drift nor
// Unknown (Synced, or OutOfSync because Git changed); the fixing sync is the
// first succeeded sync that started in it.
func driftFixes(m *model) []driftFix {
	var out []driftFix
	for ae, list := range m.statuses {
		syncs := m.syncsByAE[ae]
		for i := 0; i < len(list); i++ {
			st := list[i]
			if st.Status != "OutOfSync" || !st.Drift {
				continue
			}
			j := i + 1
			for j < len(list) && (list[j].Status == "Unknown" || list[j].Status == "OutOfSync" && list[j].Drift) {
				j++
			}
			var end time.Time // zero: the episode is still open
			if j < len(list) {
				end = list[j].Time
			}
			first := sort.Search(len(syncs), func(k int) bool { return !syncs[k].StartedAt.Before(st.Time) })
			for _, sy := range syncs[first:] {
				if sy.Phase != delivery.PhaseSucceeded {
					continue
				}
				if !end.IsZero() && sy.StartedAt.After(end) {
					break
				}
				if st.Revision == "" || sy.Revision == "" || sy.Revision == st.Revision {
					out = append(out, driftFix{since: st.Time, revision: st.Revision, sync: sy})
				}
				break
			}
			i = j - 1
		}
	}
	return out
}

// Automation is the share of deployments that reached their environment
// with no manual step.
type Automation struct {
	Deployments int `json:"deployments"`
	Automated   int `json:"automated"` // manifest commit by a bot, no manual sync
	Manual      int `json:"manual"`    // manifest commit by a person, or a manual sync
	Unknown     int `json:"unknown"`   // who made the manifest commit is not known, and no manual sync
	// Level is automated ÷ (automated + manual); null when both are 0.
	Level        *float64         `json:"level"`
	ManualItems  []AutomationItem `json:"manual_deployments,omitempty"`
	UnknownItems []history.Ref    `json:"unknown_deployments,omitempty"`
}

// AutomationItem is a deployment with manual steps.
type AutomationItem struct {
	Deployment history.Ref  `json:"deployment"`
	Steps      []ManualStep `json:"steps"`
}

// ManualStep is a step a person took.
type ManualStep struct {
	Step  string `json:"step"` // manifest_commit or sync
	Actor string `json:"actor,omitempty"`
	Ref   string `json:"ref"`
}

// deploymentSteps says who took the steps of d.
func deploymentSteps(m *model, d *history.Deployment) Steps {
	who, author := m.manifestStep(d)
	sync := m.deployingSync(d)
	var st Steps
	if who == stepHuman {
		st.Manual = append(st.Manual, ManualStep{Step: "manifest_commit", Actor: author, Ref: d.ManifestCommit})
	}
	if isManual(sync) {
		st.Manual = append(st.Manual, ManualStep{Step: "sync", Actor: sync.InitiatedBy, Ref: syncRef(sync)})
	}
	st.Bot = who == stepBot
	return st
}

// automation classifies deps (in live-time order, with their steps),
// newest first.
func automation(deps []*history.Deployment, steps []Steps, teams map[string]string, f Filter, since, until time.Time, lists bool) Automation {
	var a Automation
	for i := len(deps) - 1; i >= 0; i-- {
		d := deps[i]
		if d.Rewritten || !f.keep(d.App, d.Env, teams) || !inWindow(d.LiveAt, since, until) {
			continue
		}
		a.Deployments++
		switch st := steps[i]; {
		case len(st.Manual) > 0:
			a.Manual++
			if !lists {
				continue
			}
			a.ManualItems = append(a.ManualItems, AutomationItem{Deployment: d.Ref(), Steps: st.Manual})
		case st.Bot:
			a.Automated++
		default:
			a.Unknown++
			if !lists {
				continue
			}
			a.UnknownItems = append(a.UnknownItems, d.Ref())
		}
	}
	if n := a.Automated + a.Manual; n > 0 {
		l := float64(a.Automated) / float64(n)
		a.Level = &l
	}
	return a
}
