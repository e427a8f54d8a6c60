package demo

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	gitsrc "github.com/shiplog-dev/shiplog/internal/source/git"
	"github.com/shiplog-dev/shiplog/internal/source/webhook/argocd"
)

// LiveChange is a change the demo started live.
type LiveChange struct {
	App string
	SHA string
	PR  int64
}

// live starts a change every LiveInterval until ctx ends.
func (d *Demo) live(ctx context.Context) {
	defer d.liveWG.Done()
	s := sim{newRand(d.opts.Seed, "live")}
	tick := time.NewTicker(d.opts.LiveInterval)
	defer tick.Stop()
	for n := 1; ; n++ {
		ap := d.plan.Apps[s.rng.IntN(len(d.plan.Apps))]
		ch := d.newLiveChange(s, ap)
		d.liveWG.Add(1)
		go func() {
			defer d.liveWG.Done()
			if err := d.runChange(ctx, ap, ch, n); err != nil && ctx.Err() == nil {
				d.opts.Logger.Warn("demo: live change stopped", "app", ap.App.Name, "err", err)
			}
		}()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// newLiveChange draws a change; its times are set as its stages happen.
func (d *Demo) newLiveChange(s sim, ap *appPlan) *change {
	d.liveMu.Lock()
	defer d.liveMu.Unlock()
	tm := teamOf(ap.App.Name)
	author := s.pick(tm.People)
	ap.nextPR++
	ch := &change{Commit: &srcCommit{App: ap.App.Name, Author: author, Msg: s.subject()}, PR: ap.nextPR,
		Approver: s.other(tm.People, author), CIOK: !s.chance(0.1)}
	ch.Title = ch.Commit.Msg
	ch.Branch = fmt.Sprintf("feat/%s-%d", ap.App.Name, ch.PR)
	d.plan.ids++
	ch.RunID = 1_000_000 + d.plan.ids
	d.plan.ids++
	ch.PackageID = 1_000_000 + d.plan.ids
	return ch
}

// runChange moves one change through the stages, one every
// StageInterval: commit, pull request, review, merge, CI, image, GitOps
// bump in dev, Argo CD sync, healthy and, for a Knative app, its new
// revision Ready and taking the traffic step by step (10 → 50 → 100 % in
// prod, 50 → 100 % in staging, 100 % in dev); every third change is then
// promoted to staging, every sixth to prod.
func (d *Demo) runChange(ctx context.Context, ap *appPlan, ch *change, n int) error {
	now := func() time.Time { return d.opts.Now().UTC().Truncate(time.Second) }
	wait := func() error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d.opts.StageInterval):
			return nil
		}
	}
	send := func(h hook) error { return d.sender.send(ctx, h) }

	// Commit: appended to main of the app's source repository.
	ch.Commit.At = now()
	if err := d.appendSource(ctx, ap, ch); err != nil {
		return err
	}
	if err := send(pushHook(ap.App.Name, ch.Branch, []*srcCommit{ch.Commit}, map[*srcCommit]int64{ch.Commit: ch.PR})); err != nil {
		return err
	}
	if d.opts.OnLive != nil {
		d.opts.OnLive(LiveChange{App: ap.App.Name, SHA: ch.Commit.SHA, PR: ch.PR})
	}
	steps := []func() error{
		func() error { ch.Opened = now(); return send(prOpenedHook(ch)) },
		func() error { ch.Reviewed = now(); return send(prReviewHook(ch)) },
		func() error { ch.Merged = now(); return send(prMergedHook(ch)) },
		func() error { ch.CIStart = now(); return send(workflowHook(ch, "in_progress")) },
		func() error {
			ch.CIEnd = now()
			if err := send(workflowHook(ch, "completed")); err != nil {
				return err
			}
			if !ch.CIOK {
				return errStop
			}
			return nil
		},
		func() error { ch.Published = now(); return send(packageHook(ch)) },
	}
	envsTo := []string{"dev"}
	if n%3 == 0 {
		envsTo = append(envsTo, "staging")
	}
	if n%6 == 0 {
		envsTo = append(envsTo, "prod")
	}
	tm := teamOf(ap.App.Name)
	for i, env := range envsTo {
		author, kind := bot, kindBump
		if env != "dev" {
			author, kind = tm.People[(n+i)%len(tm.People)], kindPromote
		}
		var sp *syncPlan
		// A Knative app's sync creates a revision, Ready before Argo CD
		// reports the Service Healthy; its traffic then moves step by step.
		ks := d.kservice(ap.App.Name, env)
		var rev *knRevision
		kn := func(f func(now time.Time)) error {
			if ks == nil {
				return nil
			}
			return d.knative(ctx, ks, f)
		}
		steps = append(steps,
			func() error {
				g := &gitopsCommit{At: now(), App: ap.App.Name, Env: env, Image: ch.Commit, Author: author, Kind: kind}
				if err := d.appendGitOps(ctx, g); err != nil {
					return err
				}
				sp = &syncPlan{Commit: g}
				return nil
			},
			func() error {
				sp.Start = d.syncStart(ap.App.Name, now())
				if err := send(argoBody(argocd.TriggerSyncRunning, sp, sp.Start)); err != nil {
					return err
				}
				return kn(func(t time.Time) { rev = ks.newRevision(sp, t) })
			},
			func() error {
				sp.End = now()
				if !sp.End.After(sp.Start) {
					sp.End = sp.Start.Add(time.Second)
				}
				if err := send(argoBody(argocd.TriggerSyncSucceeded, sp, sp.End)); err != nil {
					return err
				}
				return kn(func(t time.Time) { ks.ready(rev, t, 24*time.Hour) })
			},
			func() error {
				sp.Healthy = now()
				if sp.Healthy.Before(sp.End) {
					sp.Healthy = sp.End
				}
				return send(argoBody(argocd.TriggerDeployed, sp, sp.Healthy))
			},
		)
		if ks == nil {
			continue
		}
		for _, pct := range liveRollout(env) {
			steps = append(steps, func() error {
				return kn(func(t time.Time) { ks.step(rev, pct, t, func(*knRevision) time.Duration { return 24 * time.Hour }) })
			})
		}
		// The revisions left without traffic scale to zero.
		steps = append(steps, func() error { return kn(ks.settle) })
	}
	for _, step := range steps {
		if err := wait(); err != nil {
			return nil
		}
		if err := step(); err == errStop {
			return nil
		} else if err != nil {
			return err
		}
	}
	return nil
}

type stopError struct{}

func (stopError) Error() string { return "stop" }

// errStop ends a change whose CI failed: nothing is built from it.
var errStop error = stopError{}

// appendSource writes the change's commit on main of its app's repository.
func (d *Demo) appendSource(ctx context.Context, ap *appPlan, ch *change) error {
	d.liveMu.Lock()
	defer d.liveMu.Unlock()
	c := ch.Commit
	parent := ""
	if len(ap.Commits) > 0 {
		parent = ap.Commits[len(ap.Commits)-1].SHA
	}
	c.Idx = len(ap.Commits)
	shas, err := fastImport(ctx, filepath.Join(d.Dir, "src", ap.App.Name), parent, []gitCommit{{
		Author: c.Author, Authored: c.At, Committed: c.At, Message: sourceMessage(c, ch.PR),
		Files: map[string][]byte{fmt.Sprintf("changes/%d.md", c.Idx): []byte(c.Msg + "\n")},
	}})
	if err != nil {
		return err
	}
	c.SHA = shas[0]
	ap.Commits = append(ap.Commits, c)
	return nil
}

// appendGitOps commits g to the GitOps repository and imports it again
// (incrementally: only the new commit is read).
func (d *Demo) appendGitOps(ctx context.Context, g *gitopsCommit) error {
	d.liveMu.Lock()
	defer d.liveMu.Unlock()
	if err := d.gitops.write(ctx, []*gitopsCommit{g}); err != nil {
		return err
	}
	_, err := gitsrc.Import(ctx, d.st, d.importOptions())
	return err
}

// syncStart returns a sync start time not used by another sync of the
// app: Argo CD names an operation by its application and start.
func (d *Demo) syncStart(appName string, t time.Time) time.Time {
	d.liveMu.Lock()
	defer d.liveMu.Unlock()
	if d.syncStarts == nil {
		d.syncStarts = map[string]time.Time{}
	}
	if last := d.syncStarts[appName]; !t.After(last) {
		t = last.Add(time.Second)
	}
	d.syncStarts[appName] = t
	return t
}
