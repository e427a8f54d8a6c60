// Package rollback decides a GitOps rollback: from an app's deployment
// history in one environment, the deployment live now and the one to
// return to, and whether reverting the live manifest commit gets there;
// for an app on Knative, the revision that served the deployment returned
// to, to pin the traffic to.
// `shiplog rollback` applies the plan to a Git working clone; the API
// hands it to operators. Neither changes a cluster.
package rollback

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine/history"
)

// Plan is a rollback decided.
type Plan struct {
	Current history.Deployment `json:"current"`
	Target  history.Deployment `json:"target"`
	// Revert: a git revert of the current manifest commit returns to the
	// target (it is the deployment just before). Otherwise the target's
	// image is written back into the manifests.
	Revert bool `json:"revert"`
}

// Choose picks the current deployment of app in env and the one to return
// to: the deployment whose image is to, or whose manifest commit starts
// with to (7+ characters); with to empty, the latest earlier deployment
// that did not fail and runs another image.
func Choose(deps []history.Deployment, app, env, to string) (Plan, error) {
	var list []history.Deployment
	for _, d := range deps {
		if d.App == app && d.Env == env && !d.Rewritten {
			list = append(list, d)
		}
	}
	if len(list) == 0 {
		return Plan{}, fmt.Errorf("no deployment of %s in %s is recorded", app, env)
	}
	cur := list[len(list)-1]
	if cur.ManifestCommit == "" {
		return Plan{}, fmt.Errorf("the live deployment of %s in %s has no manifest commit: it was not deployed from Git", app, env)
	}
	for i := len(list) - 2; i >= 0; i-- {
		d := list[i]
		match := to == "" && !d.Failed() && d.Artifact != cur.Artifact
		if to != "" {
			match = d.Artifact == to || (len(to) >= 7 && strings.HasPrefix(d.ManifestCommit, to))
		}
		if match {
			return Plan{Current: cur, Target: d, Revert: i == len(list)-2 && !cur.Rollback}, nil
		}
	}
	if to != "" {
		return Plan{}, fmt.Errorf("no earlier deployment of %s in %s matches %q", app, env, to)
	}
	return Plan{}, fmt.Errorf("no earlier good deployment of %s in %s with another image", app, env)
}

// Errors of Revision.
var (
	// ErrNoRevision: shiplog recorded no Knative revision that ran the
	// deployment.
	ErrNoRevision = errors.New("no Knative revision is recorded for it")
	// ErrRevisionDeleted: the revision that ran the deployment was
	// garbage-collected or deleted; traffic cannot return to it.
	ErrRevisionDeleted = errors.New("its Knative revision was deleted")
)

// Revision finds the Knative revision that served deployment d, from the
// deployment records and the Knative revision records of d's app and
// environment: the revision a Knative deployment record behind d names
// (its event id is among d's), else the newest revision that ran d's
// artifact (the same digest, else the same image) and did not fail before
// becoming ready, preferring one not deleted. A deleted revision comes
// with ErrRevisionDeleted; none with ErrNoRevision.
func Revision(d history.Deployment, deps []delivery.DeploymentRecord, revs []delivery.RevisionRecord) (delivery.RevisionRecord, error) {
	named, namedAt := "", time.Time{}
	for _, r := range deps {
		if r.App == d.App && r.Env == d.Env && r.Revision != "" && slices.Contains(d.EventIDs, r.Source+"/"+r.EventID) &&
			(named == "" || !r.Time.Before(namedAt)) {
			named, namedAt = r.Revision, r.Time
		}
	}
	var found []delivery.RevisionRecord
	for _, r := range revs {
		if r.App != d.App || r.Env != d.Env {
			continue
		}
		if named != "" && r.Name == named || named == "" && ranArtifact(r, d.Artifact) {
			found = append(found, r)
		}
	}
	if len(found) == 0 {
		if named != "" {
			// A Knative deployment named it; its own events were not recorded.
			return delivery.RevisionRecord{Name: named, App: d.App, Env: d.Env}, nil
		}
		return delivery.RevisionRecord{}, fmt.Errorf("%s: %w", d.Artifact, ErrNoRevision)
	}
	// Best last: not deleted, then created later.
	slices.SortStableFunc(found, func(a, b delivery.RevisionRecord) int {
		return cmp.Or(boolCmp(a.DeletedAt.IsZero(), b.DeletedAt.IsZero()), a.CreatedAt.Compare(b.CreatedAt))
	})
	best := found[len(found)-1]
	if !best.DeletedAt.IsZero() {
		return best, fmt.Errorf("revision %s, deleted at %s: %w", best.Name, best.DeletedAt.UTC().Format(time.RFC3339), ErrRevisionDeleted)
	}
	return best, nil
}

// ranArtifact reports whether revision r ran artifact a: the same digest,
// or the same image reference, and it did not fail before becoming ready.
func ranArtifact(r delivery.RevisionRecord, a string) bool {
	if !r.FailedAt.IsZero() && r.ReadyAt.IsZero() {
		return false
	}
	if dg := digestOf(a); dg != "" && (r.Digest == dg || digestOf(r.Image) == dg) {
		return true
	}
	return a != "" && r.Image == a
}

func digestOf(ref string) string {
	if i := strings.Index(ref, "@sha256:"); i >= 0 {
		return ref[i+1:]
	}
	return ""
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
