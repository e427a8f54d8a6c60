package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

const (
	digestSeed   = "sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
	digestWorker = "sha256:5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b"
)

// readFixture reads a file of the test GitOps repository, testdata/gitops.
func readFixture(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "gitops", filepath.FromSlash(path)))
	if err != nil {
		tb.Fatalf("reading fixture: %v", err)
	}
	return b
}

// checkRefs compares two Extract results field by field.
func checkRefs(t *testing.T, got, want []Ref) {
	t.Helper()
	for i := 0; i < len(got) || i < len(want); i++ {
		switch {
		case i >= len(want):
			t.Errorf("ref %d: got %+v, want none", i, got[i])
		case i >= len(got):
			t.Errorf("ref %d: got none, want %+v", i, want[i])
		case got[i] != want[i]:
			t.Errorf("ref %d:\ngot  %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func TestExtractFixtures(t *testing.T) {
	const (
		kustomization = "apps/api/overlays/prod/kustomization.yaml"
		shopValues    = "charts/shop/values-prod.yaml"
		shopSource    = "charts/shop/.argocd-source-shop-prod.yaml"
		webSource     = "apps/web/overlays/staging/.argocd-source-web-staging.yaml"
		webValues     = "apps/web/helm/values-staging.yaml"
	)
	tests := []struct {
		name string
		path string
		want []Ref
	}{
		{"knative service", "services/hello/prod/service.yaml", []Ref{
			{Key: "workload:Service/hello-prod/hello/containers/user-container", Style: StyleWorkload, Kind: "Service", Namespace: "hello-prod", Name: "hello", Container: "user-container", Image: "ghcr.io/acme/hello:sha-4d09b7b", Tag: "sha-4d09b7b", Line: 29},
		}},
		{"deployment with init containers and sidecars", "apps/api/base/deployment.yaml", []Ref{
			{Key: "workload:Deployment//api/initContainers/migrate", Style: StyleWorkload, Kind: "Deployment", Name: "api", Container: "migrate", Image: "ghcr.io/acme/api-migrations:3.6.0-4d09b7bd", Tag: "3.6.0-4d09b7bd", Line: 31},
			{Key: "workload:Deployment//api/initContainers/wait-for-cache", Style: StyleWorkload, Kind: "Deployment", Name: "api", Container: "wait-for-cache", Image: "busybox:1.36", Tag: "1.36", Line: 37},
			{Key: "workload:Deployment//api/containers/api", Style: StyleWorkload, Kind: "Deployment", Name: "api", Container: "api", Image: "ghcr.io/acme/api:3.6.0-4d09b7bd", Tag: "3.6.0-4d09b7bd", Line: 41},
			{Key: "workload:Deployment//api/containers/envoy", Style: StyleWorkload, Kind: "Deployment", Name: "api", Container: "envoy", Image: "docker.io/envoyproxy/envoy:v1.29.2@" + digestA, Tag: "v1.29.2", Digest: digestA, Line: 51},
			{Key: "workload:Deployment//api/containers/otel-agent", Style: StyleWorkload, Kind: "Deployment", Name: "api", Container: "otel-agent", Image: "otel/opentelemetry-collector-contrib:0.96.0", Tag: "0.96.0", Line: 54},
		}},
		{"cronjob", "clusters/prod/jobs/cronjob.yaml", []Ref{
			{Key: "workload:CronJob/reports-prod/nightly-report/containers/report", Style: StyleWorkload, Kind: "CronJob", Namespace: "reports-prod", Name: "nightly-report", Container: "report", Image: "registry.example.com:5000/data/report:20240305073303-4d09b7b", Tag: "20240305073303-4d09b7b", Line: 21},
		}},
		{"multi-document file with a List", "envs/staging/platform.yaml", []Ref{
			{Key: "workload:Deployment/shop-staging/web-staging/containers/web", Style: StyleWorkload, Kind: "Deployment", Namespace: "shop-staging", Name: "web-staging", Container: "web", Image: "ghcr.io/acme/web:2.0.1-9f8e7d6c", Tag: "2.0.1-9f8e7d6c", Line: 48},
			{Key: "workload:StatefulSet/shop-staging/postgres/containers/postgres", Style: StyleWorkload, Kind: "StatefulSet", Namespace: "shop-staging", Name: "postgres", Container: "postgres", Image: "postgres:16.2-alpine", Tag: "16.2-alpine", Line: 70},
			{Key: "workload:StatefulSet/shop-staging/postgres/containers/exporter", Style: StyleWorkload, Kind: "StatefulSet", Namespace: "shop-staging", Name: "postgres", Container: "exporter", Image: "quay.io/prometheuscommunity/postgres-exporter:v0.15.0", Tag: "v0.15.0", Line: 72},
			{Key: "workload:DaemonSet/monitoring/node-exporter/containers/node-exporter", Style: StyleWorkload, Kind: "DaemonSet", Namespace: "monitoring", Name: "node-exporter", Container: "node-exporter", Image: "quay.io/prometheus/node-exporter:v1.7.0", Tag: "v1.7.0", Line: 99},
			{Key: "workload:Job/shop-staging/db-seed-/containers/seed", Style: StyleWorkload, Kind: "Job", Namespace: "shop-staging", Name: "db-seed-", Container: "seed", Image: "ghcr.io/acme/db-seed@" + digestSeed, Digest: digestSeed, Line: 114},
			{Key: "workload:Pod/shop-staging/debug/containers/shell", Style: StyleWorkload, Kind: "Pod", Namespace: "shop-staging", Name: "debug", Container: "shell", Image: "nicolaka/netshoot", Line: 124},
			{Key: "workload:Deployment/shop-staging/worker/containers/worker", Style: StyleWorkload, Kind: "Deployment", Namespace: "shop-staging", Name: "worker", Container: "worker", Image: "ghcr.io/acme/worker:sha-9f8e7d6", Tag: "sha-9f8e7d6", Line: 159},
		}},
		{"hydrated manifests, sixty documents", "hydrated/shop/prod/manifest.yaml", hydratedRefs()},
		{"kustomization with all four fields", kustomization, []Ref{
			{Key: "kustomize:images/ghcr.io/acme/api", Style: StyleKustomize, Kind: "Kustomization", Namespace: "shop-prod", Name: kustomization, Container: "ghcr.io/acme/api", Image: "registry.example.com/acme/api:3.6.0-4d09b7bd@" + digestB, Tag: "3.6.0-4d09b7bd", Digest: digestB, Line: 13},
			{Key: "kustomize:images/ghcr.io/acme/api-migrations", Style: StyleKustomize, Kind: "Kustomization", Namespace: "shop-prod", Name: kustomization, Container: "ghcr.io/acme/api-migrations", Image: "ghcr.io/acme/api-migrations:3.6.0-4d09b7bd", Tag: "3.6.0-4d09b7bd", Line: 16},
			{Key: "kustomize:images/busybox", Style: StyleKustomize, Kind: "Kustomization", Namespace: "shop-prod", Name: kustomization, Container: "busybox", Image: "mirror.gcr.io/library/busybox", Line: 18},
			{Key: "kustomize:images/docker.io/envoyproxy/envoy", Style: StyleKustomize, Kind: "Kustomization", Namespace: "shop-prod", Name: kustomization, Container: "docker.io/envoyproxy/envoy", Image: "docker.io/envoyproxy/envoy@" + digestA, Digest: digestA, Line: 20},
		}},
		{"umbrella helm values", shopValues, []Ref{
			{Key: "helm:defaults.image", Style: StyleHelm, Name: shopValues, Container: "defaults.image", Image: "ghcr.io/acme/base:1.0.0", Tag: "1.0.0", Line: 12},
			{Key: "helm:api.image", Style: StyleHelm, Name: shopValues, Container: "api.image", Image: "ghcr.io/acme/api:3.6.0-4d09b7bd", Tag: "3.6.0-4d09b7bd", Line: 18},
			{Key: "helm:worker.image", Style: StyleHelm, Name: shopValues, Container: "worker.image", Image: "ghcr.io/acme/worker:sha-4d09b7b@" + digestWorker, Tag: "sha-4d09b7b", Digest: digestWorker, Line: 27},
			{Key: "helm:frontend.deployment.image", Style: StyleHelm, Name: shopValues, Container: "frontend.deployment.image", Image: "ghcr.io/acme/frontend:prod-4d09b7b-20240305T073303Z", Tag: "prod-4d09b7b-20240305T073303Z", Line: 32},
			{Key: "helm:frontend.sidecars[0].image", Style: StyleHelm, Name: shopValues, Container: "frontend.sidecars[0].image", Image: "nginx:1.25.4", Tag: "1.25.4", Line: 35},
			{Key: "helm:frontend.sidecars[1].image", Style: StyleHelm, Name: shopValues, Container: "frontend.sidecars[1].image", Image: "fluent/fluent-bit:2.2.2", Tag: "2.2.2", Line: 39},
			{Key: "helm:redis.image", Style: StyleHelm, Name: shopValues, Container: "redis.image", Image: "docker.io/bitnami/redis:7.2.4-debian-12-r9", Tag: "7.2.4-debian-12-r9", Line: 45},
			{Key: "helm:redis.metrics.image", Style: StyleHelm, Name: shopValues, Container: "redis.metrics.image", Image: "docker.io/bitnami/redis-exporter:1.58.0", Tag: "1.58.0", Line: 51},
			{Key: "helm:migrations.initImage", Style: StyleHelm, Name: shopValues, Container: "migrations.initImage", Image: "ghcr.io/acme/migrate:1.4.0", Tag: "1.4.0", Line: 54},
			{Key: "helm:images.cron", Style: StyleHelm, Name: shopValues, Container: "images.cron", Image: "ghcr.io/acme/cron:20240305073303-4d09b7b", Tag: "20240305073303-4d09b7b", Line: 59},
			{Key: "helm:consumer.image", Style: StyleHelm, Name: shopValues, Container: "consumer.image", Image: "ghcr.io/acme/base:1.0.0", Tag: "1.0.0", Line: 12},
		}},
		{"helm values setting only the tag", webValues, []Ref{
			{Key: "helm:image", Style: StyleHelm, Name: webValues, Container: "image", Image: ":2.0.1-9f8e7d6c", Tag: "2.0.1-9f8e7d6c", Line: 3},
		}},
		{"image-updater helm parameters", shopSource, []Ref{
			{Key: "image-updater:helm/api.image", Style: StyleImageUpdater, Name: shopSource, Container: "api.image", Image: "ghcr.io/acme/api:3.6.1-7c2e9a1f", Tag: "3.6.1-7c2e9a1f", Line: 7},
			{Key: "image-updater:helm/image", Style: StyleImageUpdater, Name: shopSource, Container: "image", Image: "ghcr.io/acme/shop:1.3.0", Tag: "1.3.0", Line: 13},
		}},
		{"image-updater kustomize images", webSource, []Ref{
			{Key: "image-updater:kustomize/ghcr.io/acme/web", Style: StyleImageUpdater, Name: webSource, Container: "ghcr.io/acme/web", Image: "ghcr.io/acme/web:2.0.1-9f8e7d6c", Tag: "2.0.1-9f8e7d6c", Line: 3},
			{Key: "image-updater:kustomize/ghcr.io/acme/web-assets", Style: StyleImageUpdater, Name: webSource, Container: "ghcr.io/acme/web-assets", Image: "registry.example.com/acme/web-assets:sha-9f8e7d6", Tag: "sha-9f8e7d6", Line: 4},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Extract(tt.path, readFixture(t, tt.path))
			if err != nil {
				t.Fatalf("Extract(%q): got error %v, want nil", tt.path, err)
			}
			checkRefs(t, got, tt.want)
		})
	}
}

// hydratedRefs is what testdata/gitops/hydrated/shop/prod/manifest.yaml
// holds: one Deployment per app, every 192 lines.
func hydratedRefs() []Ref {
	apps := []struct{ name, tag string }{
		{"api", "3.6.0-4d09b7bd"}, {"web", "2.0.1-9f8e7d6c"}, {"worker", "sha-4d09b7b"},
		{"cart", "1.4.2-7c2e9a1f"}, {"search", "0.9.0-1a2b3c4d"}, {"mailer", "20240305073303-4d09b7b"},
	}
	var refs []Ref
	for i, a := range apps {
		refs = append(refs, Ref{
			Key: "workload:Deployment/shop-prod/" + a.name + "/containers/" + a.name, Style: StyleWorkload,
			Kind: "Deployment", Namespace: "shop-prod", Name: a.name, Container: a.name,
			Image: "ghcr.io/acme/" + a.name + ":" + a.tag, Tag: a.tag, Line: 103 + 192*i,
		})
	}
	return refs
}

func TestExtractInline(t *testing.T) {
	tests := []struct {
		name    string
		path    string
		content string
		want    []Ref
	}{
		{
			name: "same workload twice gets numbered keys",
			path: "apps/a.yaml",
			content: "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, image: a:1}\n" +
				"---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, image: a:2}\n",
			want: []Ref{
				{Key: "workload:Pod//p/containers/c", Style: StyleWorkload, Kind: "Pod", Name: "p", Container: "c", Image: "a:1", Tag: "1", Line: 6},
				{Key: "workload:Pod//p/containers/c#2", Style: StyleWorkload, Kind: "Pod", Name: "p", Container: "c", Image: "a:2", Tag: "2", Line: 13},
			},
		},
		{
			name:    "container without a name is keyed by index",
			path:    "a.yml",
			content: "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - image: a:1\n  - image: b:1\n",
			want: []Ref{
				{Key: "workload:Pod//p/containers/#0", Style: StyleWorkload, Kind: "Pod", Name: "p", Image: "a:1", Tag: "1", Line: 6},
				{Key: "workload:Pod//p/containers/#1", Style: StyleWorkload, Kind: "Pod", Name: "p", Image: "b:1", Tag: "1", Line: 7},
			},
		},
		{
			name: "argo rollout and replicaset",
			path: "a.yaml",
			content: "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: r, namespace: n}\nspec:\n  template:\n    spec:\n      containers: [{name: c, image: 'r:1'}]\n" +
				"---\napiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: rs}\nspec:\n  template:\n    spec:\n      containers: [{name: c, image: 'rs:1'}]\n",
			want: []Ref{
				{Key: "workload:Rollout/n/r/containers/c", Style: StyleWorkload, Kind: "Rollout", Namespace: "n", Name: "r", Container: "c", Image: "r:1", Tag: "1", Line: 7},
				{Key: "workload:ReplicaSet//rs/containers/c", Style: StyleWorkload, Kind: "ReplicaSet", Name: "rs", Container: "c", Image: "rs:1", Tag: "1", Line: 15},
			},
		},
		{
			name:    "core Service with a template is not a workload",
			path:    "a.yaml",
			content: "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  template:\n    spec:\n      containers: [{name: c, image: 'x:1'}]\n",
		},
		{
			name:    "empty and null images are skipped",
			path:    "a.yaml",
			content: "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: a, image: ''}\n  - {name: b, image: ~}\n  - {name: c}\n",
		},
		{
			name:    "alias to an image",
			path:    "a.yaml",
			content: "x: &img ghcr.io/acme/a:1\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: a, image: *img}\n",
			want: []Ref{
				{Key: "workload:Pod//p/containers/a", Style: StyleWorkload, Kind: "Pod", Name: "p", Container: "a", Image: "ghcr.io/acme/a:1", Tag: "1", Line: 1},
			},
		},
		{
			name:    "Kustomization file without apiVersion, name only and numeric tag",
			path:    "base/Kustomization",
			content: "images:\n- name: a\n- name: b\n  newTag: 1.10\n- newTag: orphan\n",
			want: []Ref{
				{Key: "kustomize:images/a", Style: StyleKustomize, Kind: "Kustomization", Name: "base/Kustomization", Container: "a", Image: "a", Line: 2},
				{Key: "kustomize:images/b", Style: StyleKustomize, Kind: "Kustomization", Name: "base/Kustomization", Container: "b", Image: "b:1.10", Tag: "1.10", Line: 4},
			},
		},
		{
			name:    "kustomize Component in any YAML file",
			path:    "components/pin/component.yaml",
			content: "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nimages:\n- {name: a, newTag: '2'}\n",
			want: []Ref{
				{Key: "kustomize:images/a", Style: StyleKustomize, Kind: "Component", Name: "components/pin/component.yaml", Container: "a", Image: "a:2", Tag: "2", Line: 4},
			},
		},
		{
			name: "helm values edge cases",
			path: "charts/x/values.yaml",
			content: "a:\n  image: true\nb:\n  image: not an image\nc:\n  image: {repository: ghcr.io/acme/c}\nd:\n  image: {pullPolicy: Always}\n" +
				"e:\n  image: {name: ghcr.io/acme/e, tag: 1.10}\nf:\n  runtime: {repository: ghcr.io/acme/f}\ng:\n  image:\n    digest: " + digestA + "\n",
			want: []Ref{
				{Key: "helm:c.image", Style: StyleHelm, Name: "charts/x/values.yaml", Container: "c.image", Image: "ghcr.io/acme/c", Line: 6},
				{Key: "helm:e.image", Style: StyleHelm, Name: "charts/x/values.yaml", Container: "e.image", Image: "ghcr.io/acme/e:1.10", Tag: "1.10", Line: 10},
				{Key: "helm:g.image", Style: StyleHelm, Name: "charts/x/values.yaml", Container: "g.image", Image: "@" + digestA, Digest: digestA, Line: 15},
			},
		},
		{
			name:    "values file name outside a chart directory",
			path:    "api/prod-values.yml",
			content: "image: ghcr.io/acme/api:1\n",
			want: []Ref{
				{Key: "helm:image", Style: StyleHelm, Name: "api/prod-values.yml", Container: "image", Image: "ghcr.io/acme/api:1", Tag: "1", Line: 1},
			},
		},
		{
			name: "image-updater spec, digest, registry and non-image parameters",
			path: ".argocd-source.yaml",
			content: "helm:\n  parameters:\n  - {name: a.image.spec, value: 'ghcr.io/acme/a:1'}\n  - {name: b.registry, value: ghcr.io}\n" +
				"  - {name: b.repository, value: acme/b}\n  - {name: b.digest, value: '" + digestA + "'}\n  - {name: ingress.name, value: web}\n" +
				"  - {name: c.image.repository, value: ghcr.io/acme/c}\n  - {name: tag, value: top}\n",
			want: []Ref{
				{Key: "image-updater:helm/a.image", Style: StyleImageUpdater, Name: ".argocd-source.yaml", Container: "a.image", Image: "ghcr.io/acme/a:1", Tag: "1", Line: 3},
				{Key: "image-updater:helm/b", Style: StyleImageUpdater, Name: ".argocd-source.yaml", Container: "b", Image: "ghcr.io/acme/b@" + digestA, Digest: digestA, Line: 6},
				{Key: "image-updater:helm/c.image", Style: StyleImageUpdater, Name: ".argocd-source.yaml", Container: "c.image", Image: "ghcr.io/acme/c", Line: 8},
				{Key: "image-updater:helm/", Style: StyleImageUpdater, Name: ".argocd-source.yaml", Container: "", Image: ":top", Tag: "top", Line: 9},
			},
		},
		{
			name:    "image-updater file with both shapes",
			path:    "apps/x/.argocd-source-x.yaml",
			content: "helm:\n  parameters:\n  - {name: image.name, value: x}\n  - {name: image.tag, value: '1'}\nkustomize:\n  images:\n  - x=y:2\n",
			want: []Ref{
				{Key: "image-updater:helm/image", Style: StyleImageUpdater, Name: "apps/x/.argocd-source-x.yaml", Container: "image", Image: "x:1", Tag: "1", Line: 4},
				{Key: "image-updater:kustomize/x", Style: StyleImageUpdater, Name: "apps/x/.argocd-source-x.yaml", Container: "x", Image: "y:2", Tag: "2", Line: 7},
			},
		},
		{
			name: "documents split at --- and ..., lines stay file lines",
			path: "apps/a.yaml",
			content: "a: [unparsed\n--- # pod\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: 'a:1'}]\n...\n" +
				"apiVersion: v1\nkind: Pod\nmetadata: {name: q}\nspec:\n  containers:\n  - name: c\n    image: |-\n      b:1\n    args: ['--- not a marker', '---x']\n---\n",
			want: []Ref{
				{Key: "workload:Pod//p/containers/c", Style: StyleWorkload, Kind: "Pod", Name: "p", Container: "c", Image: "a:1", Tag: "1", Line: 7},
				{Key: "workload:Pod//q/containers/c", Style: StyleWorkload, Kind: "Pod", Name: "q", Container: "c", Image: "b:1", Tag: "1", Line: 15},
			},
		},
		{
			name:    "directives: the file is parsed whole",
			path:    "apps/a.yaml",
			content: "%YAML 1.1\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: 'a:1'}]\n",
			want: []Ref{
				{Key: "workload:Pod//p/containers/c", Style: StyleWorkload, Kind: "Pod", Name: "p", Container: "c", Image: "a:1", Tag: "1", Line: 7},
			},
		},
		{
			name:    "templates directory without template actions is plain YAML",
			path:    "charts/x/templates/pod.yaml",
			content: "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: 'x:1'}]\n",
			want: []Ref{
				{Key: "workload:Pod//p/containers/c", Style: StyleWorkload, Kind: "Pod", Name: "p", Container: "c", Image: "x:1", Tag: "1", Line: 5},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Extract(tt.path, []byte(tt.content))
			if err != nil {
				t.Fatalf("Extract(%q): got error %v, want nil", tt.path, err)
			}
			checkRefs(t, got, tt.want)
		})
	}
}

func TestExtractNotRelevant(t *testing.T) {
	tests := []struct {
		name    string
		path    string
		content string
	}{
		{"not YAML", "README.md", "image: ghcr.io/acme/a:1\n"},
		{"JSON", "apps/a/deployment.json", `{"image": "a:1"}`},
		{"no image at all", "apps/a/configmap.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"},
		{"malformed but no image", "apps/a/broken.yaml", "a: [1, 2\n"},
		{"CI workflow", ".github/workflows/ci.yaml", "jobs:\n  build:\n    container:\n      image: node:20\n"},
		{"compose file", "docker-compose.yml", "services:\n  web:\n    image: nginx:1.25\n"},
		{"Chart.yaml", "charts/shop/Chart.yaml", "apiVersion: v2\nname: shop\nannotations:\n  artifacthub.io/images: |\n    - image: a:1\n"},
		{"argocd-source with .yml", "apps/x/.argocd-source-x.yml", "kustomize:\n  images: [x:1]\n"},
		{"Argo CD Application", "apps/x/app.yaml", "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: x}\nspec:\n  source:\n    helm:\n      parameters:\n      - {name: image.tag, value: '1'}\n"},
		{"empty file", "apps/a/empty.yaml", ""},
		{"comments only", "apps/a/values.yaml", "# image: a:1\n"},
		{"scalar document", "apps/a/values.yaml", "--- image\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Extract(tt.path, []byte(tt.content))
			if got != nil || err != nil {
				t.Errorf("Extract(%q): got %+v, %v; want nil, nil", tt.path, got, err)
			}
		})
	}
}

func TestExtractErrors(t *testing.T) {
	tests := []struct {
		name    string
		path    string
		content string // read from testdata/gitops/<path> when empty
		want    FileError
	}{
		{"helm chart template", "charts/shop/templates/deployment.yaml", "",
			FileError{Path: "charts/shop/templates/deployment.yaml", Line: 4, Reason: ReasonHelmTemplate}},
		{"malformed YAML", "apps/broken/deployment.yaml", "",
			FileError{Path: "apps/broken/deployment.yaml", Line: 9, Reason: "malformed YAML: did not find expected '-' indicator"}},
		{"tab in indentation", "apps/a/pod.yaml", "image: a\n\tname: b\n",
			FileError{Path: "apps/a/pod.yaml", Line: 2, Reason: "malformed YAML: found a tab character that violates indentation"}},
		{"error in a later document", "apps/a/pods.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{image: 'a:1'}]\n---\nimage: [1\n",
			FileError{Path: "apps/a/pods.yaml", Line: 7, Reason: "malformed YAML: did not find expected ',' or ']'"}},
		{"template in a later document", "apps/a/pods.yaml", "kind: ConfigMap\n---\n# pod\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{image: '{{ .Values.image }}'}]\n",
			FileError{Path: "apps/a/pods.yaml", Line: 8, Reason: ReasonHelmTemplate}},
		{"error in a document after a directive", "apps/a/pods.yaml", "%YAML 1.1\n---\nimage: [1\n",
			FileError{Path: "apps/a/pods.yaml", Line: 3, Reason: "malformed YAML: did not find expected ',' or ']'"}},
		{"template action as a flow mapping outside templates/", "apps/legacy/deployment.yaml",
			"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: legacy}\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: {{ .Values.image }}\n",
			FileError{Path: "apps/legacy/deployment.yaml", Line: 9, Reason: ReasonHelmTemplate}},
		{"unparsable template outside templates/", "apps/legacy/pod.yaml",
			"{{- if .Values.enabled }}\napiVersion: v1\nkind: Pod\nspec:\n  containers: [{image: x}]\n{{- end }}\n",
			FileError{Path: "apps/legacy/pod.yaml", Line: 1, Reason: ReasonHelmTemplate}},
		{"templated tag in values", "charts/x/values.yaml",
			"nameOverride: x\nimage:\n  repository: ghcr.io/acme/x\n  tag: \"{{ .Chart.AppVersion }}\"\n",
			FileError{Path: "charts/x/values.yaml", Line: 4, Reason: ReasonHelmTemplate}},
		{"templated kustomize tag", "kustomization.yaml",
			"images:\n- name: x\n  newTag: '{{ tag }}'\n",
			FileError{Path: "kustomization.yaml", Line: 3, Reason: ReasonHelmTemplate}},
		{"templated image-updater value", ".argocd-source-x.yaml",
			"helm:\n  parameters:\n  - {name: image.tag, value: '{{ tag }}'}\n",
			FileError{Path: ".argocd-source-x.yaml", Line: 3, Reason: ReasonHelmTemplate}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			content := []byte(tt.content)
			if tt.content == "" {
				content = readFixture(t, tt.path)
			}
			got, err := Extract(tt.path, content)
			if got != nil {
				t.Errorf("Extract(%q): got refs %+v, want nil", tt.path, got)
			}
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("Extract(%q): got error %v (%T), want *FileError", tt.path, err, err)
			}
			if *fe != tt.want {
				t.Errorf("Extract(%q):\ngot  %+v\nwant %+v", tt.path, *fe, tt.want)
			}
		})
	}
}

func TestFileErrorMessage(t *testing.T) {
	tests := []struct {
		name string
		err  *FileError
		want string
	}{
		{"with line", &FileError{Path: "a/b.yaml", Line: 3, Reason: "malformed YAML: x"}, "a/b.yaml:3: malformed YAML: x"},
		{"without line", &FileError{Path: "a/b.yaml", Reason: ReasonHelmTemplate}, "a/b.yaml: helm template, not rendered values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error(): got %q, want %q", got, tt.want)
			}
		})
	}
}

func BenchmarkExtract(b *testing.B) {
	benchmarks := []struct {
		name, path string
		refs       int
	}{
		// Eleven documents, seven workloads, as a team writes them.
		{"multi-doc", "envs/staging/platform.yaml", 7},
		// Sixty documents rendered by Argo CD's Source Hydrator, six of
		// them workloads.
		{"hydrated", "hydrated/shop/prod/manifest.yaml", 6},
	}
	for _, bm := range benchmarks {
		b.Run(bm.name, func(b *testing.B) {
			content := readFixture(b, bm.path)
			b.SetBytes(int64(len(content)))
			b.ReportAllocs()
			for b.Loop() {
				refs, err := Extract(bm.path, content)
				if err != nil || len(refs) != bm.refs {
					b.Fatalf("Extract: got %d refs, %v; want %d, nil", len(refs), err, bm.refs)
				}
			}
		})
	}
}

func TestExtractMalformedLines(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    FileError
	}{
		{"valid", "image: a\n", FileError{}},
		{"parser error on line 1, printed without a line", "image: [a}\n", FileError{Line: 1, Reason: "malformed YAML: did not find expected ',' or ']'"}},
		{"scanner error on line 1, printed without a line", "image: `a`\n", FileError{Line: 1, Reason: "malformed YAML: found character that cannot start any token"}},
		{"unclosed flow sequence", "image: a\nb: [1, 2\n", FileError{Line: 2, Reason: "malformed YAML: did not find expected ',' or ']'"}},
		{"bad indentation", "image: a\nb:\n  c: 1\n d: 2\n", FileError{Line: 4, Reason: "malformed YAML: did not find expected key"}},
		{"mapping in a scalar", "image: a: b\n", FileError{Line: 1, Reason: "malformed YAML: mapping values are not allowed in this context"}},
		{"unclosed flow mapping at the end of the file", "image: {", FileError{Line: 1, Reason: "malformed YAML: did not find expected node content"}},
		{"unclosed flow sequence before blank lines", "image: [1,\n\n\n", FileError{Line: 3, Reason: "malformed YAML: did not find expected node content"}},
		{"unclosed quote", "image: \"a\n", FileError{Line: 1, Reason: "malformed YAML: found unexpected end of stream"}},
		{"sequence in a mapping", "image: a\n- b\n", FileError{Line: 2, Reason: "malformed YAML: did not find expected key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const path = "charts/x/values.yaml"
			_, err := Extract(path, []byte(tt.content))
			if tt.want == (FileError{}) {
				if err != nil {
					t.Fatalf("Extract: got error %v, want nil", err)
				}
				return
			}
			tt.want.Path = path
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("Extract: got error %v (%T), want *FileError", err, err)
			}
			if *fe != tt.want {
				t.Errorf("Extract:\ngot  %+v\nwant %+v", *fe, tt.want)
			}
		})
	}
}

func TestExtractStrictReportsErrorsExtractSkips(t *testing.T) {
	content := []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n   bad: indent\n")
	refs, err := Extract("apps/x/envs/prod/cm.yaml", content)
	if err != nil || refs != nil {
		t.Fatalf("Extract: %v, %v; want nil, nil (the document mentions no image)", refs, err)
	}
	_, err = ExtractStrict("apps/x/envs/prod/cm.yaml", content)
	var fe *FileError
	if !errors.As(err, &fe) || fe.Line == 0 {
		t.Fatalf("ExtractStrict: %v, want a *FileError with a line", err)
	}
}
