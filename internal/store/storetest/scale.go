package storetest

import (
	"cmp"
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// ScaleVersion names what ScaleGenerator produces: bump it whenever its
// output changes, so that stores filled by an older version are refilled.
const ScaleVersion = "scale-v1"

// ScaleEnd is when ScaleGenerator's histories end: the benchmarks' "now".
var ScaleEnd = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// ScaleOptions shape a ScaleGenerator's organisation.
type ScaleOptions struct {
	Teams, AppsPerTeam int           // default 16 × 8 = 128 apps
	Span               time.Duration // history length before ScaleEnd; default 3 years
	// Deployments is how many deployments the whole history holds (about
	// 10 events each); it spreads changes evenly over Span. Default 1,000,000.
	Deployments int
	// Prefix starts every event id, CI run id, revision name and incident
	// id, and FirstPR numbers pull requests from FirstPR+1: a second
	// generator over a filled store adds to its history instead of
	// repeating it.
	Prefix  string
	FirstPR int64
}

// ScaleGenerator makes an organisation's delivery history fast enough to
// fill a store with millions of events: teams of apps, each change flowing
// from commit through review, CI and an image to a GitOps manifest commit,
// an Argo CD sync and, for Knative apps, a revision serving traffic, then
// promoted from dev to staging to prod (some promotions are skipped). A few
// per cent of deployments degrade, get an incident, are rolled back by
// hand, ship a hotfix or are synced by hand. Same seed and options, same
// events.
type ScaleGenerator struct {
	rng     *rand.Rand
	opt     ScaleOptions
	apps    []scaleApp
	start   time.Time
	step    time.Duration // between two changes' first commits
	changes int
	n       uint64 // event ids
	// Deployments counts the deployments generated so far (one per
	// service.* event that is not a second report of the same one).
	Deployments int
	// Events counts the events generated so far.
	Events int
}

type scaleApp struct {
	name, team, repo, image string
	knative                 bool
	pr                      int64
	live                    [3]string // artifact live per env
	rev                     [3]int
}

var scaleTeams = []string{"payments", "search", "catalog", "checkout", "identity", "growth", "platform", "data",
	"mobile", "ledger", "pricing", "shipping", "support", "risk", "media", "ads", "maps", "messaging"}

var scaleParts = []string{"api", "web", "worker", "gateway", "indexer", "scheduler", "store", "sync", "notifier", "reports", "admin", "ingest"}

var scaleEnvs = [3]string{"dev", "staging", "prod"}

// NewScaleGenerator returns a generator for opt (zero fields take their defaults).
func NewScaleGenerator(seed uint64, opt ScaleOptions) *ScaleGenerator {
	if opt.Teams <= 0 {
		opt.Teams = 16
	}
	if opt.AppsPerTeam <= 0 {
		opt.AppsPerTeam = 8
	}
	if opt.Span <= 0 {
		opt.Span = 3 * 365 * 24 * time.Hour
	}
	if opt.Deployments <= 0 {
		opt.Deployments = 1_000_000
	}
	g := &ScaleGenerator{rng: rand.New(rand.NewPCG(seed, seed^0x5ca1e)), opt: opt, start: ScaleEnd.Add(-opt.Span)}
	for t := range opt.Teams {
		team := scaleTeams[t%len(scaleTeams)]
		if t >= len(scaleTeams) {
			team += strconv.Itoa(t / len(scaleTeams))
		}
		for a := range opt.AppsPerTeam {
			name := team + "-" + scaleParts[a%len(scaleParts)]
			g.apps = append(g.apps, scaleApp{name: name, team: team, repo: "https://git.example.com/" + team + "/" + name,
				image: "registry.example.com/" + team + "/" + name, knative: (t*opt.AppsPerTeam+a)%3 == 0, pr: opt.FirstPR})
		}
	}
	// About 2.55 deployments per change (some fail CI, some promotions are
	// skipped, a few are rolled back).
	g.step = time.Duration(float64(opt.Span) / (float64(opt.Deployments) / 2.55))
	return g
}

// Teams maps each app to its team.
func (g *ScaleGenerator) Teams() map[string]string {
	m := make(map[string]string, len(g.apps))
	for _, a := range g.apps {
		m[a.name] = a.team
	}
	return m
}

// Apps lists the apps' names.
func (g *ScaleGenerator) Apps() []string {
	out := make([]string, len(g.apps))
	for i, a := range g.apps {
		out[i] = a.name
	}
	return out
}

// Done reports whether the history holds opt.Deployments deployments.
func (g *ScaleGenerator) Done() bool { return g.Deployments >= g.opt.Deployments }

func (g *ScaleGenerator) hex(n int) string {
	var b [32]byte
	for i := 0; i < n; i += 8 {
		v := g.rng.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return hex.EncodeToString(b[:n])
}

func (g *ScaleGenerator) sha() string    { return g.hex(20) }
func (g *ScaleGenerator) digest() string { return "sha256:" + g.hex(32) }

// between returns a duration in [lo, hi).
func (g *ScaleGenerator) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(g.rng.Int64N(int64(hi-lo)))
}

func (g *ScaleGenerator) chance(p float64) bool { return g.rng.Float64() < p }

var scalePeople = []string{"alice", "bob", "carol", "dan", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "oscar", "peggy", "rupert", "sybil", "trent"}

func (g *ScaleGenerator) person() string { return scalePeople[g.rng.IntN(len(scalePeople))] }

// Change returns the events of the next change: its source flow and the
// deployments it reaches (dev, usually staging, often prod).
func (g *ScaleGenerator) Change() []delivery.Event {
	a := &g.apps[g.rng.IntN(len(g.apps))]
	t0 := g.start.Add(time.Duration(g.changes)*g.step + g.between(0, g.step))
	g.changes++
	out := make([]delivery.Event, 0, 32)
	add := func(source string, typ delivery.EventType, at time.Time, env string, p delivery.Payload) {
		g.n++
		e := delivery.Event{Source: source, ID: g.opt.Prefix + string(typ[:3]) + strconv.FormatUint(g.n, 36), Type: typ, Time: at, Payload: p}
		if env != "" {
			e.App, e.Env, e.Team, e.Namespace = a.name, env, a.team, a.name
			e.Cluster = "nonprod"
			if env == "prod" {
				e.Cluster = "prod-eu"
			}
		}
		out = append(out, e)
	}

	// Source: commit, pull request, review, merge, CI, image.
	head, merge := g.sha(), g.sha()
	author := g.person()
	a.pr++
	title := "fix: adjust " + head[:7]
	var labels []string
	switch r := g.rng.Float64(); {
	case r < 0.02:
		title = "hotfix: " + head[:7]
	case r < 0.40:
		title = "feat: change " + head[:7]
	case r < 0.45:
		title, labels = "Add "+head[:7], []string{"kind/feature"}
	}
	add("github", delivery.CommitAuthored, t0, "", &delivery.Commit{Repo: a.repo, SHA: head, AuthorName: author, AuthorEmail: author + "@example.com",
		AuthoredAt: t0, CommittedAt: t0, Subject: title, Branch: "change-" + head[:7]})
	opened := t0.Add(g.between(time.Minute, 2*time.Hour))
	add("github", delivery.ChangeCreated, opened, "", &delivery.Change{Repo: a.repo, Number: a.pr, Title: title, Author: author,
		HeadSHA: head, HeadRef: "change-" + head[:7], BaseRef: "main", Labels: labels})
	at := opened
	if g.chance(0.25) {
		at = at.Add(g.between(10*time.Minute, 4*time.Hour))
		add("github", delivery.ChangeReviewed, at, "", &delivery.Change{Repo: a.repo, Number: a.pr, Reviewer: "lead", ReviewState: delivery.ReviewCommented})
	}
	if g.chance(0.75) {
		at = at.Add(g.between(10*time.Minute, 20*time.Hour))
		reviewer := g.person()
		if reviewer == author {
			reviewer = "lead"
		}
		add("github", delivery.ChangeReviewed, at, "", &delivery.Change{Repo: a.repo, Number: a.pr, Reviewer: reviewer, ReviewState: delivery.ReviewApproved})
	}
	merged := at.Add(g.between(5*time.Minute, 3*time.Hour))
	add("github", delivery.ChangeMerged, merged, "", &delivery.Change{Repo: a.repo, Number: a.pr, MergeSHA: merge})
	add("github", delivery.CommitAuthored, merged, "", &delivery.Commit{Repo: a.repo, SHA: merge, Parents: []string{head}, AuthorName: author,
		AuthorEmail: author + "@example.com", AuthoredAt: t0, CommittedAt: merged, Subject: title, Branch: "main"})
	run := g.opt.Prefix + strconv.FormatUint(g.n, 10) + "/1"
	started := merged.Add(g.between(10*time.Second, 2*time.Minute))
	{
		add("github", delivery.PipelineRunStarted, started, "", &delivery.PipelineRun{RunID: run, Name: "build", Repo: a.repo, SHA: merge, Branch: "main"})
	}
	finished := started.Add(g.between(3*time.Minute, 20*time.Minute))
	outcome := delivery.OutcomeSuccess
	if g.chance(0.04) {
		outcome = delivery.OutcomeFailure
	}
	add("github", delivery.PipelineRunFinished, finished, "", &delivery.PipelineRun{RunID: run, Name: "build", Repo: a.repo, SHA: merge, Branch: "main",
		Outcome: outcome, URL: "https://ci.example.com/runs/" + run})
	if outcome != delivery.OutcomeSuccess {
		return g.count(out)
	}
	dg := g.digest()
	tag := "sha-" + merge[:7]
	published := finished.Add(g.between(30*time.Second, 2*time.Minute))
	add("github", delivery.ArtifactPublished, published, "", &delivery.Artifact{Name: a.image, Tag: tag, Digest: dg, SourceRepo: a.repo, SourceCommit: merge, PipelineRun: run})
	artifact := a.image + "@" + dg
	if g.chance(0.05) {
		artifact = a.image + ":" + tag // not pinned by digest
	}

	// Promotion: dev, then staging (90 %), then prod (80 % of those).
	ready := published
	for ei, env := range scaleEnvs {
		if ei == 1 && !g.chance(0.9) || ei == 2 && !g.chance(0.8) {
			break
		}
		if ei > 0 {
			ready = ready.Add(g.between(10*time.Minute, []time.Duration{0, 30 * time.Hour, 72 * time.Hour}[ei]))
		}
		ready = g.deploy(a, ei, env, ready, artifact, dg, merge, head, add)
	}
	return g.count(out)
}

func (g *ScaleGenerator) count(out []delivery.Event) []delivery.Event {
	g.Events += len(out)
	return out
}

const scaleGitops = "https://git.example.com/platform/gitops"

// deploy adds one environment's deployment of a change and returns when it went live.
func (g *ScaleGenerator) deploy(a *scaleApp, ei int, env string, from time.Time, artifact, dg, merge, head string,
	add func(string, delivery.EventType, time.Time, string, delivery.Payload)) time.Time {
	application := a.name + "-" + env
	mc := g.sha()
	human := g.chance(0.03)
	author, bot := "shiplog-bot[bot]", true
	if human {
		author, bot = g.person(), false
	}
	prev := a.live[ei]
	if prev == "" {
		prev = a.image + ":initial"
	}
	t := from.Add(g.between(time.Minute, 10*time.Minute))
	add("git", delivery.ManifestChanged, t, env, &delivery.ManifestChange{Repo: scaleGitops, Commit: mc, Path: "apps/" + a.name + "/" + env + "/values.yaml",
		Location: "image", Op: delivery.ManifestUpdated, OldImage: prev, NewImage: artifact, Author: author, AuthorEmail: author + "@example.com",
		Bot: bot, SourceCommit: merge, Subject: "deploy " + merge[:7] + " to " + env})
	manifestAt := t
	t = t.Add(g.between(5*time.Second, time.Minute))
	add("argocd", delivery.SyncStatusChanged, t, env, &delivery.SyncStatus{Application: application, Status: "OutOfSync", Revision: mc})
	manual := g.chance(0.05)
	initiator := ""
	if manual {
		initiator = g.person()
	}
	started := t.Add(g.between(10*time.Second, 3*time.Minute))
	if g.chance(0.6) {
		add("argocd", delivery.SyncStarted, started, env, &delivery.Sync{Application: application, StartedAt: started, Revision: mc,
			Automated: !manual, InitiatedBy: initiator, Phase: delivery.PhaseRunning})
	}
	done := started.Add(g.between(20*time.Second, 3*time.Minute))
	add("argocd", delivery.SyncFinished, done, env, &delivery.Sync{Application: application, StartedAt: started, FinishedAt: done, Revision: mc,
		Automated: !manual, InitiatedBy: initiator, Phase: delivery.PhaseSucceeded, Message: "successfully synced"})
	live := done
	dep := &delivery.Deployment{Artifact: artifact, PreviousArtifact: a.live[ei], Repo: scaleGitops, ManifestCommit: mc, SourceCommit: merge,
		Changes: []string{merge, head}, InferredFrom: "argocd", Author: author, Bot: bot}
	source := "argocd"
	if a.knative {
		a.rev[ei]++
		rev := g.opt.Prefix + a.name + "-" + env + "-" + strconv.Itoa(a.rev[ei])
		created := done.Add(g.between(2*time.Second, 20*time.Second))
		add("kube", delivery.RevisionCreated, created, env, &delivery.Revision{Name: rev, Service: a.name, Image: artifact, Digest: dg})
		live = created.Add(g.between(5*time.Second, 90*time.Second))
		add("kube", delivery.RevisionReady, live, env, &delivery.Revision{Name: rev})
		add("kube", delivery.TrafficChanged, live, env, &delivery.Traffic{Service: a.name, Targets: []delivery.TrafficTarget{{Revision: rev, Percent: 100, Latest: true}}})
		if g.chance(0.25) {
			add("kube", delivery.ScaleSampled, live.Add(time.Minute), env, &delivery.Scale{Revision: rev, Service: a.name, Actual: 1 + g.rng.IntN(3), Desired: 2})
		}
		dep.InferredFrom, dep.Revision, dep.ManifestCommit, dep.Repo = "knative", rev, "", ""
		source = "kube"
	} else {
		add("argocd", delivery.HealthChanged, done.Add(5*time.Second), env, &delivery.Health{Application: application, Status: delivery.Healthy, SyncStatus: "Synced", Revision: mc})
	}
	add(source, delivery.ServiceUpgraded, live, env, dep)
	g.Deployments++
	if g.chance(0.45) { // the Git import reported it too
		add("git", delivery.ServiceUpgraded, manifestAt, env, &delivery.Deployment{Artifact: artifact, PreviousArtifact: a.live[ei], Repo: scaleGitops,
			ManifestCommit: mc, SourceCommit: merge, Changes: []string{merge, head}, InferredFrom: "git", Author: author, Bot: bot})
	}
	a.live[ei] = artifact

	// Trouble after going live.
	switch r := g.rng.Float64(); {
	case r < 0.02 && !a.knative: // degraded, healthy again
		bad := live.Add(g.between(time.Minute, 2*time.Hour))
		add("argocd", delivery.HealthChanged, bad, env, &delivery.Health{Application: application, Status: delivery.Degraded, SyncStatus: "Synced", Revision: mc})
		add("argocd", delivery.HealthChanged, bad.Add(g.between(5*time.Minute, 3*time.Hour)), env,
			&delivery.Health{Application: application, Status: delivery.Healthy, SyncStatus: "Synced", Revision: mc})
	case r < 0.03: // an incident attributed to the image
		inc := g.opt.Prefix + "INC-" + strconv.FormatUint(g.n, 36)
		det := live.Add(g.between(time.Minute, 6*time.Hour))
		add("alertmanager", delivery.IncidentDetected, det, env, &delivery.Incident{IncidentID: inc, Title: a.name + " error rate", Artifact: dg, Severity: "critical"})
		add("alertmanager", delivery.IncidentResolved, det.Add(g.between(10*time.Minute, 8*time.Hour)), env, &delivery.Incident{IncidentID: inc})
	case r < 0.045 && prev != a.image+":initial": // rolled back by hand
		back := live.Add(g.between(10*time.Minute, 4*time.Hour))
		rc := g.sha()
		who := g.person()
		add("git", delivery.ManifestChanged, back, env, &delivery.ManifestChange{Repo: scaleGitops, Commit: rc, Path: "apps/" + a.name + "/" + env + "/values.yaml",
			Location: "image", Op: delivery.ManifestUpdated, OldImage: artifact, NewImage: prev, Author: who, AuthorEmail: who + "@example.com",
			Revert: true, Subject: "Revert \"deploy " + merge[:7] + " to " + env + "\""})
		rs := back.Add(g.between(10*time.Second, 2*time.Minute))
		rd := rs.Add(g.between(20*time.Second, 2*time.Minute))
		add("argocd", delivery.SyncFinished, rd, env, &delivery.Sync{Application: application, StartedAt: rs, FinishedAt: rd, Revision: rc,
			InitiatedBy: who, Phase: delivery.PhaseSucceeded, Message: "successfully synced"})
		add("argocd", delivery.ServiceRolledBack, rd, env, &delivery.Deployment{Artifact: prev, PreviousArtifact: artifact, Repo: scaleGitops,
			ManifestCommit: rc, InferredFrom: "argocd", Author: who, Revert: true})
		g.Deployments++
		a.live[ei] = prev
	}
	return live
}

// fillCursor is the cursor where FillScale records how far it got.
const fillCursor = "storetest:scale-fill"

// FillState is how far a store was filled by FillScale.
type FillState struct {
	Version string // the ScaleVersion that filled it; "" for a store it never filled
	Changes int    // changes appended
	Done    bool
}

// ReadFillState returns how far FillScale filled s.
func ReadFillState(ctx context.Context, s *store.Store) (FillState, error) {
	v, err := s.Cursor(ctx, fillCursor)
	if err != nil || v == "" {
		return FillState{}, err
	}
	var st FillState
	f := strings.Fields(v)
	if len(f) != 3 {
		return FillState{}, fmt.Errorf("fill cursor %q: want \"version changes done\"", v)
	}
	st.Version = f[0]
	if st.Changes, err = strconv.Atoi(f[1]); err != nil {
		return FillState{}, fmt.Errorf("fill cursor %q: %w", v, err)
	}
	st.Done = f[2] == "done"
	return st, nil
}

// FillScale appends g's history to s through Append, in batches of about
// batch events from writers goroutines, resuming where an earlier call on
// the same store stopped (the generator is replayed up to there). It
// records its progress in the store's cursors after each batch, and stops
// early, without error, when ctx is done: call it again to go on. progress,
// when set, is called after each batch.
func FillScale(ctx context.Context, s *store.Store, g *ScaleGenerator, batch, writers int, progress func(FillState)) (FillState, error) {
	st, err := ReadFillState(ctx, s)
	if err != nil {
		return st, err
	}
	if st.Version != "" && st.Version != ScaleVersion {
		return st, fmt.Errorf("the store was filled by generator %s, not %s: start from an empty store", st.Version, ScaleVersion)
	}
	st.Version = ScaleVersion
	if st.Done {
		return st, nil
	}
	for range st.Changes { // replay what is stored
		g.Change()
	}
	type job struct {
		events  []delivery.Event
		changes int // changes appended once this batch and all before it are
	}
	jobs := make(chan job, writers)
	results := make(chan int, writers) // batch changes count, in completion order
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	// Batches complete out of order with several writers: the cursor only
	// moves past a batch once every earlier one is stored.
	done := map[int]bool{}
	next := st.Changes
	for range max(1, writers) {
		wg.Go(func() {
			for j := range jobs {
				if _, err := s.Append(context.WithoutCancel(ctx), j.events...); err != nil {
					mu.Lock()
					firstErr = cmp.Or(firstErr, err)
					mu.Unlock()
					continue
				}
				results <- j.changes
			}
		})
	}
	go func() { wg.Wait(); close(results) }()
	var start []int // each batch's first change, in order
	go func() {
		defer close(jobs)
		changes := st.Changes
		for !g.Done() && ctx.Err() == nil {
			var evs []delivery.Event
			for len(evs) < batch && !g.Done() {
				evs = append(evs, g.Change()...)
				changes++
			}
			mu.Lock()
			start = append(start, changes)
			stop := firstErr != nil
			mu.Unlock()
			if stop {
				return
			}
			select {
			case jobs <- job{events: evs, changes: changes}:
			case <-ctx.Done():
				return
			}
		}
	}()
	for c := range results {
		mu.Lock()
		done[c] = true
		for len(start) > 0 && done[start[0]] {
			next = start[0]
			delete(done, start[0])
			start = start[1:]
		}
		mu.Unlock()
		cur := FillState{Version: ScaleVersion, Changes: next}
		if err := s.SetCursor(context.WithoutCancel(ctx), fillCursor, fmt.Sprintf("%s %d partial", ScaleVersion, next)); err != nil {
			mu.Lock()
			firstErr = cmp.Or(firstErr, err)
			mu.Unlock()
		}
		if progress != nil {
			progress(cur)
		}
	}
	if firstErr != nil {
		return st, firstErr
	}
	st.Changes = next
	if g.Done() && ctx.Err() == nil {
		st.Done = true
		if err := s.SetCursor(context.WithoutCancel(ctx), fillCursor, fmt.Sprintf("%s %d done", ScaleVersion, next)); err != nil {
			return st, err
		}
	}
	return st, nil
}
