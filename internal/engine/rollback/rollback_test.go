package rollback

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/engine/history"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func dg(c byte) string { return "sha256:" + strings.Repeat(string(c), 64) }

func TestRevision(t *testing.T) {
	knative := func(id, rev string, at time.Time) delivery.DeploymentRecord {
		return delivery.DeploymentRecord{Source: "kube", EventID: "knative/prod-eu/shop/service/api/deployment/" + rev + "/" + id, App: "api", Env: "prod", Time: at,
			Deployment: delivery.Deployment{Artifact: "ghcr.io/acme/api@" + dg('b'), InferredFrom: "knative", Revision: rev}}
	}
	rev := func(name, image, digest string, created time.Time) delivery.RevisionRecord {
		return delivery.RevisionRecord{Cluster: "prod-eu", Namespace: "shop", Name: name, App: "api", Env: "prod", Service: "api", Image: image, Digest: digest,
			CreatedAt: created, ReadyAt: created.Add(time.Minute)}
	}
	deleted := func(r delivery.RevisionRecord) delivery.RevisionRecord {
		r.DeletedAt = t0.Add(48 * time.Hour)
		return r
	}
	failed := func(r delivery.RevisionRecord) delivery.RevisionRecord {
		r.ReadyAt, r.FailedAt, r.Reason = time.Time{}, r.CreatedAt.Add(time.Minute), "ContainerMissing"
		return r
	}
	byDigest := history.Deployment{App: "api", Env: "prod", Artifact: "ghcr.io/acme/api:1.1@" + dg('b'),
		EventIDs: []string{"git/https://github.com/acme/gitops/abc", "kube/knative/prod-eu/shop/service/api/deployment/api-00002/7"}}
	gitOnly := history.Deployment{App: "api", Env: "prod", Artifact: "ghcr.io/acme/api:1.1", EventIDs: []string{"git/x"}}
	tests := []struct {
		name    string
		d       history.Deployment
		deps    []delivery.DeploymentRecord
		revs    []delivery.RevisionRecord
		want    string
		wantErr error
	}{
		{
			name: "named by the Knative deployment behind it",
			d:    byDigest,
			deps: []delivery.DeploymentRecord{knative("7", "api-00002", t0), knative("9", "api-00004", t0.Add(time.Hour))},
			// api-00004 runs the same digest (a configuration change) but is not this deployment's.
			revs: []delivery.RevisionRecord{rev("api-00002", "ghcr.io/acme/api:1.1", dg('b'), t0), rev("api-00004", "ghcr.io/acme/api:1.1", dg('b'), t0.Add(time.Hour))},
			want: "api-00002",
		},
		{
			name: "named, its own events never recorded",
			d:    byDigest,
			deps: []delivery.DeploymentRecord{knative("7", "api-00002", t0)},
			want: "api-00002",
		},
		{
			name:    "named and deleted",
			d:       byDigest,
			deps:    []delivery.DeploymentRecord{knative("7", "api-00002", t0)},
			revs:    []delivery.RevisionRecord{deleted(rev("api-00002", "ghcr.io/acme/api:1.1", dg('b'), t0)), rev("api-00004", "ghcr.io/acme/api:1.1", dg('b'), t0.Add(time.Hour))},
			want:    "api-00002",
			wantErr: ErrRevisionDeleted,
		},
		{
			name: "by digest: the newest not deleted, not failed",
			d:    history.Deployment{App: "api", Env: "prod", Artifact: "ghcr.io/acme/api:1.1@" + dg('b')},
			revs: []delivery.RevisionRecord{
				rev("api-00001", "ghcr.io/acme/api:1.0", dg('a'), t0),
				rev("api-00002", "ghcr.io/acme/api:1.1", dg('b'), t0.Add(time.Hour)),
				failed(rev("api-00003", "ghcr.io/acme/api:1.1", dg('b'), t0.Add(2*time.Hour))),
				deleted(rev("api-00004", "ghcr.io/acme/api@"+dg('b'), "", t0.Add(3*time.Hour))),
			},
			want: "api-00002",
		},
		{
			name: "by image, other environments ignored",
			d:    gitOnly,
			revs: []delivery.RevisionRecord{rev("api-00002", "ghcr.io/acme/api:1.1", dg('b'), t0), {Name: "api-00009", App: "api", Env: "staging", Image: "ghcr.io/acme/api:1.1", CreatedAt: t0.Add(time.Hour)}},
			want: "api-00002",
		},
		{
			name:    "every one deleted",
			d:       gitOnly,
			revs:    []delivery.RevisionRecord{deleted(rev("api-00002", "ghcr.io/acme/api:1.1", "", t0)), deleted(rev("api-00005", "ghcr.io/acme/api:1.1", "", t0.Add(time.Hour)))},
			want:    "api-00005",
			wantErr: ErrRevisionDeleted,
		},
		{
			name:    "unknown",
			d:       gitOnly,
			revs:    []delivery.RevisionRecord{rev("api-00001", "ghcr.io/acme/api:1.0", dg('a'), t0)},
			wantErr: ErrNoRevision,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Revision(tc.d, tc.deps, tc.revs)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("error: got %v, want %v", err, tc.wantErr)
			}
			if got.Name != tc.want {
				t.Errorf("revision: got %q, want %q", got.Name, tc.want)
			}
		})
	}
}
