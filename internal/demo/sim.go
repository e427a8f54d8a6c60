package demo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// srcCommit is a commit on main of an app's source repository.
type srcCommit struct {
	App    string
	Idx    int // position on main, from 0
	SHA    string
	Author person
	At     time.Time // author and committer time
	Msg    string
}

// change is one pull request of the GitOps period, squash-merged as its
// commit. Zero times are stages not reached before the end of the history.
type change struct {
	Commit    *srcCommit
	PR        int64
	Branch    string
	Title     string
	Opened    time.Time
	Approver  person
	Reviewed  time.Time
	Merged    time.Time
	RunID     int64
	CIStart   time.Time
	CIEnd     time.Time
	CIOK      bool
	PackageID int64
	Published time.Time
}

// Kinds of GitOps commits.
const (
	kindBump     = "bump"     // the image updater, in dev
	kindPromote  = "promote"  // a person, to staging or prod
	kindRollback = "rollback" // a person, back to the previous image
	kindRevert   = "revert"   // a person reverts the last promotion
)

// gitopsCommit changes one app's image in one environment.
type gitopsCommit struct {
	At      time.Time
	App     string
	Env     string
	Image   *srcCommit // the source commit the image was built from
	Author  person
	Subject string
	Kind    string
	PR      int64 // the GitOps pull request that made it, 0 for a direct push
	SHA     string
}

// ghDeploy is a manual deployment of the pre-GitOps period, reported by a
// GitHub deployment status.
type ghDeploy struct {
	App, Env string
	At       time.Time
	Commit   *srcCommit
	ID       int64
}

// syncPlan is one Argo CD sync of a GitOps commit and what followed.
type syncPlan struct {
	Commit      *gitopsCommit
	Start, End  time.Time
	Failed      bool
	By          string // username of a manual sync; "" when automated
	Healthy     time.Time
	DegradedAt  time.Time
	RecoveredAt time.Time
}

// incident is one Alertmanager alert.
type incident struct {
	App, Env    string
	Name        string
	Fingerprint string
	Fired       time.Time
	Resolved    time.Time // zero: still firing
}

// appPlan is one app's simulated history.
type appPlan struct {
	App     service
	Commits []*srcCommit // main, oldest first
	Changes []*change    // pull requests of the GitOps period, merge order
	nextPR  int64
}

// plan is the whole simulated history.
type plan struct {
	Start, Adoption, End time.Time
	Apps                 []*appPlan
	GitOps               []*gitopsCommit // time order
	GHDeploys            []*ghDeploy
	Syncs                []*syncPlan
	Incidents            []*incident
	KServices            []*knService // the Knative apps in each environment
	Seed                 uint64
	nextGitOpsPR         int64
	ids                  int64
}

func (p *plan) id() int64 { p.ids++; return 1_000_000 + p.ids }

// sim holds the random source of one part of the history.
type sim struct{ rng *rand.Rand }

func newRand(seed uint64, stream string) *rand.Rand {
	h := uint64(14695981039346656037)
	for _, c := range []byte(stream) {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return rand.New(rand.NewPCG(seed, h))
}

// between returns a duration in [a, b), whole seconds.
func (s sim) between(a, b time.Duration) time.Duration {
	if b <= a {
		return a.Truncate(time.Second)
	}
	return (a + time.Duration(s.rng.Int64N(int64(b-a)))).Truncate(time.Second)
}

// logNormal returns a log-normal duration with the given median, whole seconds.
func (s sim) logNormal(median time.Duration, sigma float64) time.Duration {
	v := float64(median) * math.Exp(sigma*s.rng.NormFloat64())
	return time.Duration(v).Truncate(time.Second)
}

func (s sim) chance(p float64) bool { return s.rng.Float64() < p }

// poisson draws a Poisson count (Knuth; small means only).
func (s sim) poisson(mean float64) int {
	l, k, p := math.Exp(-mean), 0, 1.0
	for {
		p *= s.rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

func (s sim) pick(ps []person) person { return ps[s.rng.IntN(len(ps))] }

// other picks someone other than p, when the team has anyone else.
func (s sim) other(ps []person, p person) person {
	for range 10 {
		if o := s.pick(ps); o != p {
			return o
		}
	}
	return p
}

func weekend(t time.Time) bool { return t.Weekday() == time.Saturday || t.Weekday() == time.Sunday }

// dayRate is the mean number of changes an app gets on day d: bursts on
// weekdays, quiet weekends.
func dayRate(d time.Time, base float64) float64 {
	switch d.Weekday() {
	case time.Saturday, time.Sunday:
		return base * 0.04
	case time.Monday:
		return base * 0.9
	case time.Tuesday, time.Wednesday:
		return base * 1.25
	case time.Friday:
		return base * 0.7
	}
	return base
}

// workTime is a time of day d during working hours, most in the morning
// and early afternoon.
func (s sim) workTime(d time.Time) time.Time {
	h := 9*time.Hour + s.between(0, 5*time.Hour) + s.between(0, 4*time.Hour)
	return d.Add(h)
}

func days(from, to time.Time) []time.Time {
	var out []time.Time
	for d := from.Truncate(24 * time.Hour); d.Before(to); d = d.AddDate(0, 0, 1) {
		out = append(out, d)
	}
	return out
}

var verbs = []string{"add", "fix", "refactor", "speed up", "log", "validate", "cache", "retry", "document", "simplify"}
var nouns = []string{"payment intent", "cart totals", "invoice export", "search ranking", "price rules", "stock sync",
	"rate limiter", "login flow", "email templates", "webhook retries", "currency rounding", "session refresh", "SKU lookup"}

func (s sim) subject() string {
	return verbs[s.rng.IntN(len(verbs))] + " " + nouns[s.rng.IntN(len(nouns))]
}

// simulate builds the history of every app between start and end, GitOps
// adopted at adoption. Nothing here has a SHA yet: the repositories are
// written afterwards.
func simulate(seed uint64, start, adoption, end time.Time) *plan {
	p := &plan{Start: start, Adoption: adoption, End: end, Seed: seed, nextGitOpsPR: 1}
	for _, a := range apps() {
		ap := &appPlan{App: a, nextPR: 100}
		p.Apps = append(p.Apps, ap)
		s := sim{newRand(seed, "app/"+a.Name)}
		p.before(s, ap)
		p.after(s, ap)
	}
	slices.SortStableFunc(p.GitOps, func(a, b *gitopsCommit) int { return a.At.Compare(b.At) })
	gs := sim{newRand(seed, "gitops")}
	for _, g := range p.GitOps {
		if g.Kind == kindPromote && gs.chance(0.45) {
			g.PR = p.nextGitOpsPR
			p.nextGitOpsPR++
		}
	}
	p.argo(sim{newRand(seed, "argocd")})
	p.knative(sim{newRand(seed, "knative")})
	p.incidentsAfter(sim{newRand(seed, "incidents")})
	return p
}

// before: direct pushes to main, deployed by hand every week or two, with
// long lead times and frequent incidents.
func (p *plan) before(s sim, ap *appPlan) {
	tm := teamOf(ap.App.Name)
	for _, d := range days(p.Start, p.Adoption) {
		for range s.poisson(dayRate(d, 0.9)) {
			t := s.workTime(d)
			if !t.Before(p.Adoption) {
				continue
			}
			ap.Commits = append(ap.Commits, &srcCommit{App: ap.App.Name, Author: s.pick(tm.People), At: t, Msg: s.subject()})
		}
	}
	slices.SortStableFunc(ap.Commits, func(a, b *srcCommit) int { return a.At.Compare(b.At) })
	for i, c := range ap.Commits {
		c.Idx = i
	}
	last := -1
	var prodDeploys []*ghDeploy
	for d := p.Start.Add(s.between(72*time.Hour, 12*24*time.Hour)); ; d = d.Add(s.between(8*24*time.Hour, 19*24*time.Hour)) {
		day := d.Truncate(24 * time.Hour)
		for weekend(day) {
			day = day.AddDate(0, 0, 1)
		}
		at := day.Add(13*time.Hour + s.between(0, 4*time.Hour))
		if !at.Before(p.Adoption) {
			break
		}
		lead := max(s.logNormal(5*24*time.Hour, 0.6), 3*time.Hour)
		var c *srcCommit
		for _, x := range ap.Commits {
			if x.Idx > last && !x.At.After(at.Add(-lead)) {
				c = x
			}
		}
		if c == nil {
			continue
		}
		last = c.Idx
		staging := at.Add(-s.between(2*time.Hour, 30*time.Hour))
		if !staging.After(c.At.Add(10 * time.Minute)) {
			staging = c.At.Add(10 * time.Minute)
		}
		if staging.Before(at) {
			p.GHDeploys = append(p.GHDeploys, &ghDeploy{App: ap.App.Name, Env: "staging", At: staging, Commit: c, ID: p.id()})
		}
		gd := &ghDeploy{App: ap.App.Name, Env: "prod", At: at, Commit: c, ID: p.id()}
		p.GHDeploys = append(p.GHDeploys, gd)
		prodDeploys = append(prodDeploys, gd)
	}
	// A third of the manual production deployments caused an incident.
	for i, gd := range prodDeploys {
		if !s.chance(0.3) {
			continue
		}
		next := p.Adoption
		if i+1 < len(prodDeploys) {
			next = prodDeploys[i+1].At
		}
		fired := gd.At.Add(s.between(20*time.Minute, 20*time.Hour))
		if !fired.Before(next) {
			continue
		}
		p.addIncident(s, gd.App, "prod", fired, fired.Add(s.between(40*time.Minute, 10*time.Hour)))
	}
}

var alerts = []string{"HighErrorRate", "HighLatencyP99", "PodCrashLooping", "SLOBurnRateFast", "Upstream5xx"}

func (p *plan) addIncident(s sim, appName, env string, fired, resolved time.Time) {
	if !fired.Before(p.End) {
		return
	}
	if !resolved.Before(p.End) {
		resolved = time.Time{}
	}
	p.Incidents = append(p.Incidents, &incident{App: appName, Env: env, Name: alerts[s.rng.IntN(len(alerts))],
		Fingerprint: fmt.Sprintf("%016x", s.rng.Uint64()), Fired: fired, Resolved: resolved})
}

// envState is what runs in one environment of an app during the simulation.
type envState struct {
	cur    *srcCommit
	prev   *srcCommit
	liveAt time.Time
	maxIdx int
}

// after: pull requests, CI, images, and GitOps commits.
func (p *plan) after(s sim, ap *appPlan) {
	tm := teamOf(ap.App.Name)
	var chs []*change
	for _, d := range days(p.Adoption, p.End) {
		for range s.poisson(dayRate(d, 0.9)) {
			c := s.workTime(d)
			if c.Before(p.Adoption) {
				continue
			}
			author := s.pick(tm.People)
			ch := &change{Commit: &srcCommit{App: ap.App.Name, Author: author, At: c, Msg: s.subject()}}
			ch.Title = ch.Commit.Msg
			ch.Opened = c.Add(s.between(3*time.Minute, 40*time.Minute))
			ch.Reviewed = ch.Opened.Add(s.logNormal(150*time.Minute, 0.9))
			ch.Approver = author
			if !s.chance(0.06) {
				ch.Approver = s.other(tm.People, author)
			}
			ch.Merged = ch.Reviewed.Add(s.between(5*time.Minute, 90*time.Minute))
			ch.CIStart = ch.Merged.Add(s.between(10*time.Second, 60*time.Second))
			ch.CIEnd = ch.CIStart.Add(s.between(5*time.Minute, 14*time.Minute))
			ch.CIOK = !s.chance(0.1)
			ch.Published = ch.CIEnd.Add(s.between(time.Minute, 3*time.Minute))
			if !ch.Merged.Before(p.End) {
				continue // still in review when the history ends: left out
			}
			chs = append(chs, ch)
		}
	}
	slices.SortStableFunc(chs, func(a, b *change) int { return a.Merged.Compare(b.Merged) })
	for _, ch := range chs {
		ch.Commit.Idx = len(ap.Commits)
		ap.Commits = append(ap.Commits, ch.Commit)
		ap.nextPR++
		ch.PR = ap.nextPR
		ch.Branch = fmt.Sprintf("%s/%s-%d", []string{"feat", "fix", "chore"}[s.rng.IntN(3)], ap.App.Name, ch.PR)
		ch.RunID = p.id()
		ch.PackageID = p.id()
		ap.Changes = append(ap.Changes, ch)
	}

	// The timeline of one app: dev bumps as images appear, promotion
	// windows to staging (twice a weekday) and prod (most weekday
	// afternoons, rarely on Fridays).
	type step struct {
		at  time.Time
		env string
		ch  *change
	}
	var steps []step
	for _, ch := range ap.Changes {
		if ch.CIOK && ch.Published.Before(p.End) {
			steps = append(steps, step{ch.Published.Add(s.between(time.Minute, 4*time.Minute)), "dev", ch})
		}
	}
	for _, d := range days(p.Adoption, p.End) {
		if weekend(d) {
			continue
		}
		steps = append(steps, step{d.Add(10*time.Hour + 30*time.Minute + s.between(0, 45*time.Minute)), "staging", nil})
		steps = append(steps, step{d.Add(15*time.Hour + 30*time.Minute + s.between(0, 45*time.Minute)), "staging", nil})
		prob := 0.8
		if d.Weekday() == time.Friday {
			prob = 0.3
		}
		if s.chance(prob) {
			steps = append(steps, step{d.Add(14*time.Hour + s.between(0, 2*time.Hour)), "prod", nil})
		}
	}
	slices.SortStableFunc(steps, func(a, b step) int { return a.at.Compare(b.at) })
	state := map[string]*envState{"dev": {maxIdx: -1}, "staging": {maxIdx: -1}, "prod": {maxIdx: -1}}
	var blockedUntil time.Time
	deploy := func(env string, c *srcCommit, at time.Time, author person, kind, subject string) {
		st := state[env]
		st.prev, st.cur, st.liveAt = st.cur, c, at
		st.maxIdx = max(st.maxIdx, c.Idx)
		p.GitOps = append(p.GitOps, &gitopsCommit{At: at, App: ap.App.Name, Env: env, Image: c, Author: author, Subject: subject, Kind: kind})
	}
	for _, st := range steps {
		if !st.at.Before(p.End) {
			continue
		}
		switch st.env {
		case "dev":
			if st.ch.Commit.Idx <= state["dev"].maxIdx {
				continue
			}
			deploy("dev", st.ch.Commit, st.at, bot, kindBump, "")
		case "staging":
			dev := state["dev"]
			if dev.cur == nil || dev.cur.Idx <= state["staging"].maxIdx || st.at.Sub(dev.liveAt) < 15*time.Minute {
				continue
			}
			deploy("staging", dev.cur, st.at, s.pick(tm.People), kindPromote, "")
		case "prod":
			stg, prod := state["staging"], state["prod"]
			if stg.cur == nil || stg.cur.Idx <= prod.maxIdx || st.at.Sub(stg.liveAt) < 2*time.Hour || st.at.Before(blockedUntil) {
				continue
			}
			who := s.pick(tm.People)
			deploy("prod", stg.cur, st.at, who, kindPromote, "")
			// A few production deployments are rolled back or reverted.
			switch r := s.rng.Float64(); {
			case prod.prev == nil:
			case r < 0.03, r < 0.045:
				kind := kindRollback
				if r >= 0.03 {
					kind = kindRevert
				}
				at := st.at.Add(s.between(75*time.Minute, 3*time.Hour))
				if at.Before(p.End) {
					deploy("prod", prod.prev, at, s.pick(tm.People), kind, "")
					blockedUntil = at.Add(time.Hour)
				}
			}
		}
	}
}

// argo plans the Argo CD sync of every GitOps commit, its health, and a
// few failed syncs and degradations.
func (p *plan) argo(s sim) {
	used := map[string]map[int64]bool{} // app → sync start seconds (a sync is app + start)
	for _, g := range p.GitOps {
		sp := &syncPlan{Commit: g}
		if g.Env == "prod" && g.Kind != kindBump && s.chance(0.5) {
			sp.By = g.Author.Login
			sp.Start = g.At.Add(s.between(2*time.Minute, 15*time.Minute))
		} else {
			sp.Start = g.At.Add(s.between(20*time.Second, 3*time.Minute))
		}
		if used[g.App] == nil {
			used[g.App] = map[int64]bool{}
		}
		for used[g.App][sp.Start.Unix()] {
			sp.Start = sp.Start.Add(time.Second)
		}
		used[g.App][sp.Start.Unix()] = true
		if !sp.Start.Before(p.End) {
			continue
		}
		if s.chance(0.02) {
			sp.Failed = true
			sp.End = sp.Start.Add(s.between(30*time.Second, 2*time.Minute))
		} else {
			sp.End = sp.Start.Add(s.between(15*time.Second, 90*time.Second))
			sp.Healthy = sp.End.Add(s.between(5*time.Second, 45*time.Second))
			if g.Env != "dev" && s.chance(0.03) {
				sp.DegradedAt = sp.Healthy.Add(s.between(3*time.Minute, 20*time.Minute))
				sp.RecoveredAt = sp.DegradedAt.Add(s.between(5*time.Minute, 30*time.Minute))
			}
		}
		for _, t := range []*time.Time{&sp.End, &sp.Healthy, &sp.DegradedAt, &sp.RecoveredAt} {
			if !t.Before(p.End) {
				*t = time.Time{}
			}
		}
		if sp.End.IsZero() {
			sp.Failed, sp.Healthy = false, time.Time{}
		}
		p.Syncs = append(p.Syncs, sp)
	}
}

// incidentsAfter: a few production deployments of the GitOps period cause
// an incident while they run.
func (p *plan) incidentsAfter(s sim) {
	byApp := map[string][]*gitopsCommit{}
	for _, g := range p.GitOps {
		if g.Env == "prod" {
			byApp[g.App] = append(byApp[g.App], g)
		}
	}
	for _, a := range apps() {
		list := byApp[a.Name]
		for i, g := range list {
			if g.Kind != kindPromote || !s.chance(0.05) {
				continue
			}
			next := p.End
			if i+1 < len(list) {
				next = list[i+1].At
			}
			fired := g.At.Add(s.between(15*time.Minute, 4*time.Hour))
			if !fired.Before(next) {
				continue
			}
			p.addIncident(s, a.Name, "prod", fired, fired.Add(s.between(10*time.Minute, 90*time.Minute)))
		}
	}
}
