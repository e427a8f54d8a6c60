package engine

import (
	"context"
	"fmt"

	"github.com/shiplog-dev/shiplog/internal/engine/history"
	"github.com/shiplog-dev/shiplog/internal/engine/trace"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// AuditInput loads what an audit trail entry reads of deps: the pull
// requests of their source commits, the CI runs of those commits (from the
// store, through its commit indexes) and the Argo CD syncs of their
// manifest commits (through the revision index). An entry costs what it
// links to, not what the store holds.
func (e *Engine) AuditInput(ctx context.Context, deps []history.Deployment) (trace.Input, error) {
	in := trace.Input{Deployments: deps}
	if len(deps) == 0 {
		return in, nil
	}
	seen := map[string]bool{}
	var shas []string
	type revAt struct{ app, env, rev string }
	revs := map[revAt]bool{}
	for i := range deps {
		d := &deps[i]
		if d.SourceCommit != "" && !seen[d.SourceCommit] {
			seen[d.SourceCommit] = true
			shas = append(shas, d.SourceCommit)
		}
		if d.ManifestCommit != "" {
			revs[revAt{d.App, d.Env, d.ManifestCommit}] = true
		}
	}
	var err error
	if len(shas) > 0 {
		if in.Changes, err = e.st.FindChanges(ctx, store.ChangeLookup{SHAs: shas}); err != nil {
			return in, fmt.Errorf("load pull requests: %w", err)
		}
		if in.PipelineRuns, err = e.st.PipelineRunsForSHAs(ctx, shas); err != nil {
			return in, fmt.Errorf("load pipeline runs: %w", err)
		}
	}
	var revList []string
	for k := range revs {
		revList = append(revList, k.rev)
	}
	if len(revList) > 0 {
		syncs, err := e.st.SyncsForRevisions(ctx, revList)
		if err != nil {
			return in, fmt.Errorf("load syncs: %w", err)
		}
		for _, s := range syncs {
			if revs[revAt{s.App, s.Env, s.Revision}] {
				in.Syncs = append(in.Syncs, s)
			}
		}
	}
	return in, nil
}
