package demo

import (
	"slices"
	"time"

	"github.com/shiplog-dev/shiplog/internal/engine/metrics"
)

// Deployment is one deployment the simulation generated, as shiplog's
// definitions (docs/metrics.md) count it: its live time, the lead time of
// each change it shipped, and whether it failed.
type Deployment struct {
	App, Env  string
	LiveAt    time.Time
	Via       string // github-deployment (before GitOps), knative (its revision served 100 %) or git
	LeadTimes []time.Duration
	Failed    bool
	Rollback  bool
}

// Truth is what the simulation generated, to compare with what shiplog
// shows.
type Truth struct {
	Start, Adoption, End time.Time
	Deployments          []Deployment // live-time order
	Knative              KnativeTruth
}

// KnativeTruth is what the simulated Knative Serving reported over the
// history, per environment.
type KnativeTruth struct {
	Revisions int // created
	Samples   int // PodAutoscaler changes, each a scale sample
	// ReplicaSeconds integrate the replicas the PodAutoscalers reported
	// over [Start, End); BaselineReplicaSeconds the same revisions run
	// always-on (at least one replica while they serve traffic).
	ReplicaSeconds         map[string]float64
	BaselineReplicaSeconds map[string]float64
}

// Period sums the deployments of env live in [from, to).
type Period struct {
	Deployments           int
	Failed                int
	Changes               int // changes with a lead time
	LeadTimeMedianSeconds float64
	ChangeFailureRate     float64
	PerDay                float64
}

// Period returns the figures of env's deployments live in [from, to).
func (t *Truth) Period(env string, from, to time.Time) Period {
	var p Period
	var leads []float64
	for _, d := range t.Deployments {
		if d.Env != env || d.LiveAt.Before(from) || !d.LiveAt.Before(to) {
			continue
		}
		p.Deployments++
		if d.Failed {
			p.Failed++
		}
		for _, l := range d.LeadTimes {
			leads = append(leads, l.Seconds())
		}
	}
	p.Changes = len(leads)
	if len(leads) > 0 {
		slices.Sort(leads)
		p.LeadTimeMedianSeconds = metrics.Percentile(leads, 0.5)
	}
	if p.Deployments > 0 {
		p.ChangeFailureRate = float64(p.Failed) / float64(p.Deployments)
	}
	if span := to.Sub(from).Hours() / 24; span > 0 {
		p.PerDay = float64(p.Deployments) / span
	}
	return p
}

// Before is env's figures from the start of the history to the adoption.
func (t *Truth) Before(env string) Period { return t.Period(env, t.Start, t.Adoption) }

// After is env's figures from the adoption to the end of the history.
func (t *Truth) After(env string) Period { return t.Period(env, t.Adoption, t.End) }

// truthDeployment is a deployment with what computing its truth needs.
type truthDeployment struct {
	Deployment
	commit   *srcCommit
	manifest string // GitOps commit SHA, "" before GitOps
	revert   bool
}

// truth applies shiplog's definitions to the plan: deployments per app
// and environment, the changes each shipped (a GitOps deployment ships
// the source commits since the previous one of its app and environment, a
// first one only its own commit, a rollback none; a deployment reported
// only with its commit ships that commit unless it was already live), and
// failure signs up to the next deployment.
func (p *plan) truth() *Truth {
	byAE := map[[2]string][]*truthDeployment{}
	for _, gd := range p.GHDeploys {
		k := [2]string{gd.App, gd.Env}
		byAE[k] = append(byAE[k], &truthDeployment{Deployment: Deployment{App: gd.App, Env: gd.Env, LiveAt: gd.At, Via: "github-deployment"}, commit: gd.Commit})
	}
	// A GitOps commit of a Knative app is live when its revision served
	// 100 % of the traffic; else when Argo CD synced it successfully;
	// without such a sync, at the commit (inferred from Git).
	served := map[*gitopsCommit]time.Time{}
	revisions := map[[2]string][]*knRevision{}
	for _, ks := range p.KServices {
		for _, r := range ks.Revs {
			if !r.Live.IsZero() {
				served[r.Sync.Commit] = r.Live
			}
		}
		revisions[[2]string{ks.App.Name, ks.Env}] = ks.Revs
	}
	synced := map[*gitopsCommit]time.Time{}
	for _, sp := range p.Syncs {
		if !sp.Failed && !sp.End.IsZero() && !sp.End.Before(sp.Commit.At) {
			if t, ok := synced[sp.Commit]; !ok || sp.End.Before(t) {
				synced[sp.Commit] = sp.End
			}
		}
	}
	for _, g := range p.GitOps {
		k := [2]string{g.App, g.Env}
		live, via := g.At, "git"
		if t, ok := synced[g]; ok {
			live = t
		}
		if t, ok := served[g]; ok {
			live, via = t, "knative"
		}
		byAE[k] = append(byAE[k], &truthDeployment{Deployment: Deployment{App: g.App, Env: g.Env, LiveAt: live, Via: via,
			Rollback: g.Kind == kindRollback || g.Kind == kindRevert}, commit: g.Image, manifest: g.SHA, revert: g.Kind == kindRevert})
	}
	commits := map[string][]*srcCommit{}
	for _, ap := range p.Apps {
		commits[ap.App.Name] = ap.Commits
	}
	t := &Truth{Start: p.Start, Adoption: p.Adoption, End: p.End}
	for k, list := range byAE {
		slices.SortStableFunc(list, func(a, b *truthDeployment) int { return a.LiveAt.Compare(b.LiveAt) })
		var lastGit, lastAny *srcCommit
		for i, d := range list {
			var shipped []*srcCommit
			switch {
			case d.manifest != "" && lastGit == nil:
				shipped = []*srcCommit{d.commit}
			case d.manifest != "" && d.commit.Idx > lastGit.Idx:
				shipped = commits[k[0]][lastGit.Idx+1 : d.commit.Idx+1]
			}
			if len(shipped) == 0 && d.commit != lastAny && !d.Rollback {
				shipped = []*srcCommit{d.commit}
			}
			if d.manifest != "" {
				lastGit = d.commit
			}
			lastAny = d.commit
			for _, c := range shipped {
				d.LeadTimes = append(d.LeadTimes, max(d.LiveAt.Sub(c.At), 0))
			}
			var next *truthDeployment
			if i+1 < len(list) {
				next = list[i+1]
			}
			d.Failed = p.failed(d, next, revisions[k])
			t.Deployments = append(t.Deployments, d.Deployment)
		}
	}
	slices.SortStableFunc(t.Deployments, func(a, b Deployment) int { return a.LiveAt.Compare(b.LiveAt) })
	return t
}

// knativeTruth sums what the Knative Services reported once played.
func (p *plan) knativeTruth() KnativeTruth {
	k := KnativeTruth{ReplicaSeconds: map[string]float64{}, BaselineReplicaSeconds: map[string]float64{}}
	for _, ks := range p.KServices {
		k.Revisions += len(ks.Revs)
		k.Samples += ks.samples
		k.ReplicaSeconds[ks.Env] += ks.replicaSeconds
		k.BaselineReplicaSeconds[ks.Env] += ks.baselineSeconds
	}
	return k
}

// failed applies the change failure signs of docs/metrics.md to d, whose
// app and environment have the Knative revisions revs.
func (p *plan) failed(d, next *truthDeployment, revs []*knRevision) bool {
	var end time.Time
	if next != nil {
		end = next.LiveAt
		if next.Rollback || next.revert {
			return true
		}
	}
	in := func(at time.Time) bool { return at.After(d.LiveAt) && (end.IsZero() || at.Before(end)) }
	for _, sp := range p.Syncs {
		g := sp.Commit
		if g.App != d.App || g.Env != d.Env {
			continue
		}
		if sp.Failed && in(sp.End) && (d.manifest == "" || g.SHA == d.manifest) {
			return true
		}
		if !sp.DegradedAt.IsZero() && in(sp.DegradedAt) {
			return true
		}
	}
	for _, r := range revs {
		if !r.FailedAt.IsZero() && in(r.FailedAt) && r.commit() == d.commit {
			return true
		}
	}
	for _, inc := range p.Incidents {
		if inc.App == d.App && inc.Env == d.Env && !inc.Fired.Before(d.LiveAt) && (end.IsZero() || inc.Fired.Before(end)) {
			return true
		}
	}
	return false
}
