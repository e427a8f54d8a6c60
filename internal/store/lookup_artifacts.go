package store

import (
	"context"
	"fmt"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// ArtifactLookup finds container images by what a Knative revision or a
// deployment names of them: a digest ("sha256:…"), or an image reference
// (the artifact's key). Both are indexed.
type ArtifactLookup struct {
	Digest string
	Image  string
}

// FindArtifacts returns the artifacts q names, in the order of Artifacts.
func (s *Store) FindArtifacts(ctx context.Context, q ArtifactLookup) ([]delivery.ArtifactRecord, error) {
	var w or
	if q.Digest != "" {
		w.add("digest = ?", q.Digest)
	}
	if q.Image != "" {
		w.add("key = ?", q.Image)
	}
	if len(w.conds) == 0 {
		return nil, nil
	}
	out, err := find(ctx, s, tblArtifacts, w, nil, nil, scanArtifact, delivery.CompareArtifacts, func(a *delivery.ArtifactRecord) bool {
		return (q.Digest != "" && a.Digest == q.Digest) || (q.Image != "" && a.Key == q.Image)
	})
	if err != nil {
		return nil, fmt.Errorf("find artifacts: %w", err)
	}
	return out, nil
}

// SyncsForRevisions returns the Argo CD syncs of these revisions (GitOps
// commits), in the order of Syncs, through the revision index.
func (s *Store) SyncsForRevisions(ctx context.Context, revisions []string) ([]delivery.SyncRecord, error) {
	want := map[string]bool{}
	var keys []string
	for _, r := range revisions {
		if r != "" && !want[r] {
			want[r] = true
			keys = append(keys, r)
		}
	}
	out, err := find(ctx, s, tblSyncs, or{}, keys, func(w *or, rev string) { w.add("revision = ?", rev) },
		scanSync, delivery.CompareSyncs, func(r *delivery.SyncRecord) bool { return want[r.Revision] })
	if err != nil {
		return nil, fmt.Errorf("find syncs: %w", err)
	}
	return out, nil
}
