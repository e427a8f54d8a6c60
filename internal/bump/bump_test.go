package bump

import (
	"errors"
	"strings"
	"testing"

	"github.com/shiplog-dev/shiplog/internal/source/git/manifest"
)

// changedLines lists the lines that differ between two versions.
func changedLines(a, b string) []string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for i := range max(len(al), len(bl)) {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			out = append(out, x+" => "+y)
		}
	}
	return out
}

func TestApply(t *testing.T) {
	tests := []struct {
		name, path, in string
		req            Request
		want           []string // changed lines, "old => new"
	}{
		{
			name: "knative service, comments kept",
			path: "apps/api/envs/prod/service.yaml",
			in: `# the api
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: api # public
spec:
  template:
    spec:
      containers:
        - name: api
          image: ghcr.io/acme/api:1.0.0 # bumped by CI
        - name: proxy
          image: "ghcr.io/acme/proxy:2.1"
`,
			req:  Request{Image: "ghcr.io/acme/api:1.1.0"},
			want: []string{"          image: ghcr.io/acme/api:1.0.0 # bumped by CI =>           image: ghcr.io/acme/api:1.1.0 # bumped by CI"},
		},
		{
			name: "deployment by container name, quoted value keeps its quotes, digest",
			path: "apps/api/deploy.yaml",
			in:   "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec:\n  template:\n    spec:\n      initContainers:\n      - name: migrate\n        image: \"ghcr.io/acme/migrate:1\"\n      containers:\n      - name: api\n        image: ghcr.io/acme/api:1\n",
			req:  Request{Image: "ghcr.io/acme/migrate:2@sha256:" + strings.Repeat("a", 64), Container: "migrate"},
			want: []string{`        image: "ghcr.io/acme/migrate:1" =>         image: "ghcr.io/acme/migrate:2@sha256:` + strings.Repeat("a", 64) + `"`},
		},
		{
			name: "cronjob in a multi-document file",
			path: "apps/jobs/jobs.yaml",
			in:   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b}\n---\napiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: nightly\nspec:\n  schedule: \"0 2 * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers:\n            - name: nightly\n              image: ghcr.io/acme/nightly:1\n",
			req:  Request{Image: "ghcr.io/acme/nightly:2"},
			want: []string{"              image: ghcr.io/acme/nightly:1 =>               image: ghcr.io/acme/nightly:2"},
		},
		{
			name: "kustomization newTag",
			path: "apps/web/overlays/prod/kustomization.yaml",
			in:   "resources: [../../base]\nimages:\n  - name: web # the web image\n    newName: ghcr.io/acme/web\n    newTag: sha-4d09b7b\n",
			req:  Request{Image: "ghcr.io/acme/web:sha-abcdef1"},
			want: []string{"    newTag: sha-4d09b7b =>     newTag: sha-abcdef1"},
		},
		{
			name: "kustomization digest inserted",
			path: "kustomization.yaml",
			in:   "images:\n- name: ghcr.io/acme/web\n  newTag: \"1.0\"\nresources:\n- base\n",
			req:  Request{Image: "ghcr.io/acme/web:1.1@sha256:" + strings.Repeat("b", 64)},
			want: []string{`  newTag: "1.0" =>   newTag: "1.1"`, "  digest: sha256:" + strings.Repeat("b", 64)[:0] + "", ""},
		},
		{
			name: "helm values, nested component, numeric-looking tag stays a string",
			path: "charts/shop/values-prod.yaml",
			in:   "# shop\ncart:\n  image:\n    repository: ghcr.io/acme/cart\n    tag: \"2.0\"   # pinned\npay:\n  image:\n    repository: ghcr.io/acme/pay\n    tag: 3.0.0\n",
			req:  Request{Image: "ghcr.io/acme/pay:3.1"},
			want: []string{`    tag: 3.0.0 =>     tag: "3.1"`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, changes, err := Apply(tc.path, []byte(tc.in), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			got := changedLines(tc.in, string(out))
			if tc.name == "kustomization digest inserted" {
				want := "images:\n- name: ghcr.io/acme/web\n  newTag: \"1.1\"\n  digest: sha256:" + strings.Repeat("b", 64) + "\nresources:\n- base\n"
				if string(out) != want {
					t.Errorf("got:\n%s\nwant:\n%s", out, want)
				}
			} else if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("changed lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if len(changes) == 0 {
				t.Error("no change reported")
			}
			// The importer reads the new image back.
			refs, err := manifest.Extract(tc.path, out)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, r := range refs {
				found = found || strings.HasSuffix(r.Image, strings.TrimPrefix(tc.req.Image, "ghcr.io/acme/")) || r.Image == tc.req.Image
			}
			if !found {
				t.Errorf("the importer does not see %s in the result: %+v", tc.req.Image, refs)
			}
		})
	}
}

func TestApplyRefuses(t *testing.T) {
	if _, _, err := Apply("a.yaml", []byte("kind: Deployment\nspec: {}\n"), Request{Image: "ghcr.io/acme/api:1"}); !errors.Is(err, ErrNoReference) {
		t.Errorf("no reference: %v", err)
	}
	if _, _, err := Apply("a.yaml", []byte("x: 1\n"), Request{Image: "NOT VALID"}); err == nil || !strings.Contains(err.Error(), "--image") {
		t.Errorf("bad image: %v", err)
	}
	if _, _, err := Apply("templates/d.yaml", []byte("image: {{ .Values.image }}\n"), Request{Image: "ghcr.io/acme/api:1"}); err == nil || !strings.Contains(err.Error(), "Helm template") {
		t.Errorf("template: %v", err)
	}
	if _, _, err := Apply("a.yaml", []byte("a: [\n"), Request{Image: "ghcr.io/acme/api:1"}); err == nil {
		t.Error("malformed YAML: no error")
	}
}
