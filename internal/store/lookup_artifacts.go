package store

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// ArtifactLookup finds container images by what a Knative revision or a
// deployment names of them: a digest ("sha256:…"), or an image reference
// (the artifact's key). Both are indexed.
type ArtifactLookup struct {
	Digest string
	Image  string
}

// FindArtifacts returns the artifacts q names, in table order (published
// at, then key), through the digest and key indexes.
func (s *Store) FindArtifacts(ctx context.Context, q ArtifactLookup) ([]delivery.ArtifactRecord, error) {
	var or []string
	var args []any
	if q.Digest != "" {
		or, args = append(or, "digest = ?"), append(args, q.Digest)
	}
	if q.Image != "" {
		or, args = append(or, "key = ?"), append(args, q.Image)
	}
	if len(or) == 0 {
		return nil, nil
	}
	all, err := listWhere(ctx, s, tblArtifacts, "("+strings.Join(or, " OR ")+")", args, scanArtifact)
	if err != nil {
		return nil, err
	}
	var out []delivery.ArtifactRecord
	for _, a := range all {
		if (q.Digest != "" && a.Digest == q.Digest) || (q.Image != "" && a.Key == q.Image) {
			out = append(out, a)
		}
	}
	return out, nil
}

// listWhere runs a select on t with a condition (? placeholders), in the
// table's order, and scans each row with scan.
func listWhere[T any](ctx context.Context, s *Store, t table, cond string, args []any, scan func(sc func(...any) error) (T, error)) ([]T, error) {
	order := t.orderBy
	if order == "" {
		order = t.timeCol + ", " + strings.Join(t.cols[:t.pk], ", ")
	}
	query := "SELECT " + strings.Join(append(slices.Clone(t.cols), t.extra...), ", ") + " FROM " + t.name + " WHERE " + cond + " ORDER BY " + order
	rows, err := s.read.QueryContext(ctx, s.dialect.Rebind(query), args...)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", t.name, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows.Scan)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", t.name, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list %s: %w", t.name, err)
	}
	return out, nil
}
