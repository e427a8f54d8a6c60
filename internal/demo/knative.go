package demo

import (
	"container/heap"
	"context"
	"fmt"
	"slices"
	"time"
)

// The simulated cluster's Knative Serving. After the GitOps adoption each
// successful Argo CD sync of a Knative app creates a Revision
// (<service>-000NN, the image resolved to its digest) that becomes Ready
// and takes the Service's traffic: at once in dev, for a first revision and
// for rollbacks; 50 → 100 % in staging; 10 → 50 → 100 % over minutes in
// prod. A revision created while the previous one is still rolling out
// cuts that rollout short. Each revision's PodAutoscaler follows the
// environment's load, hour by hour: busy production apps keep one to five
// replicas, quiet ones and dev/staging scale to zero at night and on
// weekends; a revision that loses its traffic scales to zero a minute or
// two later. The simulated Argo CD degradations of Knative apps are the
// serving revision's Ready condition turning False for a while.

// kubeCluster names the simulated cluster, as Argo CD's ingest names it.
const kubeCluster = "in-cluster"

// lowTraffic apps scale to zero in production at night and on weekends.
var lowTraffic = map[string]bool{"pricing": true, "inventory": true, "notifications": true}

// knStep is one step of a rollout: the revision serves Percent from At.
type knStep struct {
	At      time.Time
	Percent int
}

// knRevision is one Knative Revision of the simulation.
type knRevision struct {
	App, Env string
	Gen      int       // configuration generation: the name's suffix
	Sync     *syncPlan // the Argo CD sync that applied it
	Created  time.Time
	Ready    time.Time // zero: not Ready before the end of the history
	// Steps are the traffic steps reached before the next revision was
	// created (or the history ended); Live is when it served 100 %.
	Steps []knStep
	Live  time.Time
	// FailedAt..RecoveredAt: its Ready condition was False (a degradation).
	FailedAt, RecoveredAt   time.Time
	FailReason, FailMessage string

	// init is how long its initial replica stays up without traffic;
	// linger how long it keeps its replicas once it has lost its traffic.
	init, linger time.Duration

	// Playing state.
	name        string
	share       int
	replicas    int
	sampled     bool
	retired     bool
	freshUntil  time.Time
	lingerUntil time.Time
}

// Name is the revision's name, as Knative derives it.
func (r *knRevision) Name() string {
	if r.name == "" {
		r.name = fmt.Sprintf("%s-%05d", r.App, r.Gen)
	}
	return r.name
}

// commit is the source commit the revision's image was built from.
func (r *knRevision) commit() *srcCommit { return r.Sync.Commit.Image }

func (r *knRevision) image() string { return imageRef(r.App, r.commit().SHA) }

func (r *knRevision) digest() string { return digestOf(r.App, r.commit().SHA) }

// cut drops the steps at or after t: a newer revision took over.
func (r *knRevision) cut(t time.Time) {
	r.Steps = slices.DeleteFunc(r.Steps, func(s knStep) bool { return !s.At.Before(t) })
	r.Live = time.Time{}
	for _, s := range r.Steps {
		if s.Percent == 100 {
			r.Live = s.At
		}
	}
}

// knTarget is one entry of a traffic split.
type knTarget struct {
	Rev     *knRevision
	Percent int
}

// knService is one Knative Service (an app in an environment), its
// revisions and, while the timeline is played, its state.
type knService struct {
	App  service
	Env  string
	Revs []*knRevision // creation order

	newest *knRevision // the last revision created
	split  []knTarget  // in force
	stable *knRevision
	active []*knRevision // Ready and not scaled to zero for good
	rv     int64         // resourceVersion of the namespace's objects
	clock  time.Time     // time of the last observation
	obs    []kubeObs     // observations not converted yet
	feed   *kubeFeed     // what was converted
	uids   map[string]string

	// What the history's PodAutoscalers reported: replica-seconds, and
	// the always-on baseline (at least one replica while routable).
	at                              time.Time
	replicaSeconds, baselineSeconds float64
	samples                         int
}

func (ks *knService) namespace() string { return ks.App.Name + "-" + ks.Env }

// knative plans the revisions of every Knative app's successful syncs,
// their rollouts and failures. The degradations of the Knative apps' syncs
// move after their revision's rollout: a revision fails once it serves.
func (p *plan) knative(s sim) {
	bySvc := map[[2]string][]*syncPlan{}
	for _, sp := range p.Syncs {
		g := sp.Commit
		if sp.Failed || sp.End.IsZero() {
			continue
		}
		bySvc[[2]string{g.App, g.Env}] = append(bySvc[[2]string{g.App, g.Env}], sp)
	}
	for _, a := range apps() {
		if !a.Knative {
			continue
		}
		for _, env := range envs {
			ks := &knService{App: a, Env: env}
			p.KServices = append(p.KServices, ks)
			var prev *knRevision
			hasLive := false
			for _, sp := range bySvc[[2]string{a.Name, env}] {
				created := sp.Start.Add(s.between(2*time.Second, 8*time.Second))
				if prev != nil && !created.After(prev.Created) {
					created = prev.Created.Add(time.Second)
				}
				if !created.Before(p.End) {
					break
				}
				r := &knRevision{App: a.Name, Env: env, Gen: len(ks.Revs) + 1, Sync: sp, Created: created,
					init: s.between(time.Minute, 2*time.Minute), linger: s.between(time.Minute, 150*time.Second)}
				r.Ready = created.Add(s.between(5*time.Second, 40*time.Second))
				// Argo CD reports the Service Healthy once its revision is Ready.
				if h := sp.Healthy.Add(-time.Second); !sp.Healthy.IsZero() && h.After(created) && r.Ready.After(h) {
					r.Ready = h
				}
				if prev != nil {
					prev.cut(created)
					hasLive = hasLive || !prev.Live.IsZero()
				}
				r.Steps = s.rollout(env, sp.Commit.Kind, r.Ready, !hasLive)
				if !r.Ready.Before(p.End) {
					r.Ready = time.Time{}
				}
				r.cut(p.End)
				if r.Ready.IsZero() {
					r.Steps = nil
				}
				ks.Revs = append(ks.Revs, r)
				prev = r
			}
		}
	}
	for _, ks := range p.KServices {
		for _, r := range ks.Revs {
			sp := r.Sync
			if sp.DegradedAt.IsZero() || r.Live.IsZero() {
				continue
			}
			if !sp.DegradedAt.After(r.Live) {
				shift := r.Live.Sub(sp.DegradedAt) + s.between(time.Minute, 10*time.Minute)
				sp.DegradedAt = sp.DegradedAt.Add(shift)
				if !sp.RecoveredAt.IsZero() {
					sp.RecoveredAt = sp.RecoveredAt.Add(shift)
				}
				for _, t := range []*time.Time{&sp.DegradedAt, &sp.RecoveredAt} {
					if !t.Before(p.End) {
						*t = time.Time{}
					}
				}
				if sp.DegradedAt.IsZero() {
					sp.RecoveredAt = time.Time{}
				}
			}
			if sp.DegradedAt.IsZero() {
				continue
			}
			f := revisionFailures[s.rng.IntN(len(revisionFailures))]
			r.FailedAt, r.RecoveredAt, r.FailReason, r.FailMessage = sp.DegradedAt, sp.RecoveredAt, f[0], f[1]
		}
	}
}

var revisionFailures = [][2]string{
	{"ExitCode1", "Container failed with: panic: runtime error: invalid memory address or nil pointer dereference"},
	{"ExitCode137", "Container failed with: OOMKilled"},
	{"ExitCode2", "Container failed with: failed to connect to the database: connection refused"},
}

// rollout draws the traffic steps of a revision Ready at ready: straight
// to 100 % in dev, for the first revision and for rollbacks; 50 → 100 %
// in staging; 10 → 50 → 100 % in prod.
func (s sim) rollout(env, kind string, ready time.Time, first bool) []knStep {
	t := ready.Add(s.between(time.Second, 5*time.Second))
	switch {
	case first || env == "dev" || kind == kindRollback || kind == kindRevert:
		return []knStep{{t, 100}}
	case env == "staging":
		return []knStep{{t, 50}, {t.Add(s.between(time.Minute, 3*time.Minute)), 100}}
	}
	t50 := t.Add(s.between(2*time.Minute, 5*time.Minute))
	return []knStep{{t, 10}, {t50, 50}, {t50.Add(s.between(2*time.Minute, 5*time.Minute)), 100}}
}

// demand is how many replicas an app needs in an environment during the
// hour starting at hour: busy production apps follow the working day (one
// replica at night, two in the morning and evening, three to five in
// working hours depending on the day; one or two on weekends); quiet
// production apps have one or two replicas in the day and scale to zero at
// night and on weekends, as dev and staging do outside working hours (and
// on a few idle days). The numbers change at most a few times a day: the
// PodAutoscalers, sampled on change, stay few.
func demand(seed uint64, a service, env string, hour time.Time) int {
	hour = hour.UTC()
	day := mix(seed, a.Name, env, hour.Unix()/86400)
	u := float64(day>>11) / (1 << 53) // the day's draw
	hr := hour.Hour()
	we := weekend(hour)
	switch {
	case env == "prod" && !lowTraffic[a.Name]:
		switch {
		case hr < 7 || hr >= 22:
			return 1
		case we:
			return 1 + b2i(hr >= 9 && hr < 21)
		case hr < 9 || hr >= 19:
			return 2
		case hr >= 11 && hr < 16:
			return 3 + b2i(u < 0.6) + b2i(u < 0.2) // the busiest hours
		}
		return 3
	case env == "prod":
		if we || hr < 8 || hr >= 20 {
			return 0
		}
		return 1 + b2i(hr >= 11 && hr < 15 && u < 0.4)
	}
	if we || hr < 9 || hr >= 18 || u < 0.1 {
		return 0
	}
	return 1
}

// mix hashes a day or hour of an app's environment into 64 random bits.
func mix(seed uint64, app, env string, n int64) uint64 {
	x := seed ^ uint64(n)*0x9e3779b97f4a7c15
	for _, c := range []byte(app + "/" + env) {
		x = (x ^ uint64(c)) * 0x100000001b3
	}
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// replicasFor is a revision's replicas for an environment that needs d
// replicas when it serves share percent; a fresh revision keeps its
// initial replica.
func replicasFor(d, share int, fresh bool) int {
	n := 0
	if share > 0 && d > 0 {
		n = (d*share + 99) / 100
	}
	if fresh {
		n = max(n, 1)
	}
	return n
}

// The transitions of a service; each returns the observations it makes.

// create: the revision exists (Argo CD applied the Service).
func (ks *knService) create(r *knRevision, t time.Time) {
	ks.newest = r
	ks.observe(t, ks.revisionObject(r, t, revCreated))
}

// ready: the revision is Ready, with its initial replica for freshFor.
func (ks *knService) ready(r *knRevision, t time.Time, freshFor time.Duration) {
	if r.Ready.IsZero() {
		r.Ready = t // live: the plan did not know
	}
	r.freshUntil = t.Add(freshFor)
	ks.active = append(ks.active, r)
	ks.observe(t, ks.revisionObject(r, t, revReady))
}

// step: the latest revision serves pct percent of the traffic (all of it
// at 100, else the rest stays on the last revision that served it all).
// The revisions left out keep their replicas for linger. A revision that
// is no longer the latest has been cut short: nothing happens.
func (ks *knService) step(r *knRevision, pct int, t time.Time, linger func(*knRevision) time.Duration) bool {
	if r != ks.newest || r.Ready.IsZero() {
		return false
	}
	var split []knTarget
	if pct >= 100 || ks.stable == nil || ks.stable == r {
		split, ks.stable = []knTarget{{r, 100}}, r
	} else {
		split = []knTarget{{ks.stable, 100 - pct}, {r, pct}}
	}
	for _, old := range ks.split {
		if !slices.ContainsFunc(split, func(x knTarget) bool { return x.Rev == old.Rev }) {
			old.Rev.share, old.Rev.lingerUntil = 0, t.Add(linger(old.Rev))
		}
	}
	for _, x := range split {
		x.Rev.share = x.Percent
	}
	ks.split = split
	ks.observe(t, ks.serviceObject(r, t))
	return true
}

// rescale sets each active revision's replicas for demand d at t and
// observes the PodAutoscalers that change; revisions without traffic or
// replicas left retire.
func (ks *knService) rescale(t time.Time, d int) {
	kept := ks.active[:0]
	for _, r := range ks.active {
		fresh := t.Before(r.freshUntil)
		want := replicasFor(d, r.share, fresh)
		lingering := r.share == 0 && !fresh && t.Before(r.lingerUntil)
		if lingering {
			want = r.replicas
		}
		if !r.sampled || want != r.replicas {
			r.replicas, r.sampled = want, true
			ks.observe(t, ks.autoscalerObject(r, t))
		}
		if want == 0 && r.share == 0 && !fresh && !lingering {
			r.retired = true
			continue
		}
		kept = append(kept, r)
	}
	clear(ks.active[len(kept):])
	ks.active = kept
}

// advance integrates the replicas up to t.
func (ks *knService) advance(t time.Time) {
	if !ks.at.IsZero() && t.After(ks.at) {
		dur := t.Sub(ks.at).Seconds()
		for _, r := range ks.active {
			ks.replicaSeconds += float64(r.replicas) * dur
			base := r.replicas
			if r.share > 0 {
				base = max(base, 1)
			}
			ks.baselineSeconds += float64(base) * dur
		}
	}
	if t.After(ks.at) {
		ks.at = t
	}
}

// Kinds of timeline actions, in the order they apply at the same time.
const (
	actCreate = iota
	actReady
	actStep
	actFail
	actRecover
	actWake // nothing but a rescale: the hour's demand changed, or a grace period ended
)

type knAction struct {
	at   time.Time
	kind int
	seq  int
	rev  *knRevision
	pct  int
}

type actionHeap []knAction

func (h actionHeap) Len() int { return len(h) }
func (h actionHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	if h[i].kind != h[j].kind {
		return h[i].kind < h[j].kind
	}
	return h[i].seq < h[j].seq
}
func (h actionHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *actionHeap) Push(x any)   { *h = append(*h, x.(knAction)) }
func (h *actionHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// play runs the service's planned history up to end: the observations of
// its Revisions, Service and PodAutoscalers, and the replica-seconds they
// report. Everything happening at one time is observed together, then the
// PodAutoscalers once.
func (ks *knService) play(seed uint64, end time.Time) {
	h := &actionHeap{}
	seq := 0
	push := func(a knAction) {
		if a.at.Before(end) {
			seq++
			a.seq = seq
			heap.Push(h, a)
		}
	}
	var first time.Time
	for _, r := range ks.Revs {
		push(knAction{at: r.Created, kind: actCreate, rev: r})
		if r.Ready.IsZero() {
			continue
		}
		if first.IsZero() {
			first = r.Ready
		}
		push(knAction{at: r.Ready, kind: actReady, rev: r})
		push(knAction{at: r.Ready.Add(r.init), kind: actWake})
		for _, st := range r.Steps {
			push(knAction{at: st.At, kind: actStep, rev: r, pct: st.Percent})
		}
		if !r.FailedAt.IsZero() {
			push(knAction{at: r.FailedAt, kind: actFail, rev: r})
			if !r.RecoveredAt.IsZero() {
				push(knAction{at: r.RecoveredAt, kind: actRecover, rev: r})
			}
		}
	}
	if !first.IsZero() {
		hour := first.Truncate(time.Hour)
		last := demand(seed, ks.App, ks.Env, hour)
		for hour = hour.Add(time.Hour); hour.Before(end); hour = hour.Add(time.Hour) {
			if d := demand(seed, ks.App, ks.Env, hour); d != last {
				push(knAction{at: hour, kind: actWake})
				last = d
			}
		}
	}
	linger := func(r *knRevision) time.Duration { return r.linger }
	for h.Len() > 0 {
		t := (*h)[0].at
		ks.advance(t)
		for h.Len() > 0 && (*h)[0].at.Equal(t) {
			a := heap.Pop(h).(knAction)
			switch a.kind {
			case actCreate:
				ks.create(a.rev, t)
			case actReady:
				ks.ready(a.rev, t, a.rev.init)
			case actStep:
				var dropped []*knRevision
				for _, x := range ks.split {
					dropped = append(dropped, x.Rev)
				}
				if ks.step(a.rev, a.pct, t, linger) {
					for _, r := range dropped {
						if r.share == 0 {
							push(knAction{at: r.lingerUntil, kind: actWake})
						}
					}
				}
			case actFail:
				ks.observe(t, ks.revisionObject(a.rev, t, revFailed))
			case actRecover:
				ks.observe(t, ks.revisionObject(a.rev, t, revReady))
			}
		}
		n := len(ks.obs)
		ks.rescale(t, demand(seed, ks.App, ks.Env, t.Truncate(time.Hour)))
		ks.samples += len(ks.obs) - n
	}
	ks.advance(end)
}

// Live: the services go on from where the history left them.

// newRevision creates the next revision for a live sync at t.
func (ks *knService) newRevision(sp *syncPlan, t time.Time) *knRevision {
	r := &knRevision{App: ks.App.Name, Env: ks.Env, Gen: len(ks.Revs) + 1, Sync: sp, Created: t}
	ks.Revs = append(ks.Revs, r)
	ks.create(r, t)
	return r
}

// settle ends every revision's initial replica and grace period: the
// revisions without traffic scale to zero.
func (ks *knService) settle(t time.Time) {
	for _, r := range ks.active {
		r.freshUntil = minTime(r.freshUntil, t)
		r.lingerUntil = minTime(r.lingerUntil, t)
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// liveRollout is the traffic steps of a live revision.
func liveRollout(env string) []int {
	switch env {
	case "dev":
		return []int{100}
	case "staging":
		return []int{50, 100}
	}
	return []int{10, 50, 100}
}

// kservice returns the Knative Service of an app in env, nil when the app
// does not run on Knative.
func (d *Demo) kservice(app, env string) *knService {
	for _, ks := range d.plan.KServices {
		if ks.App.Name == app && ks.Env == env {
			return ks
		}
	}
	return nil
}

// knative changes the app's Service in env with f at the current time
// (after its last observation), then records what was observed.
func (d *Demo) knative(ctx context.Context, ks *knService, f func(now time.Time)) error {
	d.knMu.Lock()
	defer d.knMu.Unlock()
	now := d.opts.Now().UTC().Truncate(time.Second)
	if !now.After(ks.clock) {
		now = ks.clock.Add(time.Second)
	}
	f(now)
	ks.rescale(now, demand(d.plan.Seed, ks.App, ks.Env, now.Truncate(time.Hour)))
	_, _, err := ks.flush(ctx, d.st, 500)
	return err
}

// scaleHourly follows the load of every Knative Service at each hour.
func (d *Demo) scaleHourly(ctx context.Context) {
	defer d.liveWG.Done()
	for {
		now := d.opts.Now()
		next := now.Truncate(time.Hour).Add(time.Hour)
		select {
		case <-ctx.Done():
			return
		case <-time.After(next.Sub(now)):
		}
		for _, ks := range d.plan.KServices {
			if err := d.knative(ctx, ks, func(time.Time) {}); err != nil {
				if ctx.Err() == nil {
					d.opts.Logger.Warn("demo: Knative scale", "app", ks.App.Name, "env", ks.Env, "err", err)
				}
				return
			}
		}
	}
}
