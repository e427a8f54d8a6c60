// Package rollback decides a GitOps rollback: from an app's deployment
// history in one environment, the deployment live now and the one to
// return to, and whether reverting the live manifest commit gets there.
// `shiplog rollback` applies the plan to a Git working clone; the API
// hands it to operators. Neither changes a cluster.
package rollback

import (
	"fmt"
	"strings"

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
