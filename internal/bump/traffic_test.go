package bump

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/shiplog-dev/shiplog/internal/source/git/manifest"
)

const pinComment = " # pinned by shiplog rollback: delete this block to route to the latest revision again"

// pinned is the traffic block PinTraffic writes for api-00002: key at
// indent, dashes seq further.
func pinned(indent, seq int) string {
	k, d := strings.Repeat(" ", indent), strings.Repeat(" ", indent+seq)
	return k + "traffic:" + pinComment + "\n" +
		d + "- revisionName: api-00002\n" +
		d + "  percent: 100\n" +
		d + "- latestRevision: true\n" +
		d + "  percent: 0\n" +
		d + "  tag: latest\n"
}

func TestPinTraffic(t *testing.T) {
	tests := []struct {
		name, in, want string
		service        string
		replaced       bool
		templateName   string
	}{
		{
			name: "comments kept, block added at the end of spec",
			in: `# the api, serving since 2024
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: api # public
  namespace: shop
spec:
  template:
    spec:
      containers:
        - image: ghcr.io/acme/api:1.2 # by CI
`,
			want: `# the api, serving since 2024
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: api # public
  namespace: shop
spec:
  template:
    spec:
      containers:
        - image: ghcr.io/acme/api:1.2 # by CI
` + pinned(2, 2),
		},
		{
			name: "multi-document file: only the Knative Service changes",
			in: `apiVersion: v1
kind: ConfigMap
metadata: {name: api-config}
data:
  spec: x
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: api
spec:
  template:
    metadata:
      name: api-00003
    spec:
      containers:
      - image: "ghcr.io/acme/api:1.2"
status:
  url: https://api.example.com
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker
spec:
  template:
    spec:
      containers:
      - image: ghcr.io/acme/worker:1
`,
			want: `apiVersion: v1
kind: ConfigMap
metadata: {name: api-config}
data:
  spec: x
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: api
spec:
  template:
    metadata:
      name: api-00003
    spec:
      containers:
      - image: "ghcr.io/acme/api:1.2"
` + pinned(2, 0) + `status:
  url: https://api.example.com
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker
spec:
  template:
    spec:
      containers:
      - image: ghcr.io/acme/worker:1
`,
			templateName: "api-00003",
		},
		{
			name: "4-space indentation",
			in: `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
    name: api
spec:
    template:
        spec:
            containers:
                -   image: ghcr.io/acme/api:1.2
                    ports:
                        -   containerPort: 8080
`,
			want: `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
    name: api
spec:
    template:
        spec:
            containers:
                -   image: ghcr.io/acme/api:1.2
                    ports:
                        -   containerPort: 8080
` + pinned(4, 4),
		},
		{
			name: "existing traffic block replaced in place, its neighbours kept",
			in: `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: api
spec:
  # canary: 10 % to the new revision
  traffic:
    - revisionName: api-00001 # the old one
      percent: 90
    # the new one, reachable as candidate-api
    - latestRevision: true
      tag: candidate
      percent: 10
  template:
    spec:
      containers:
        - image: ghcr.io/acme/api:1.2
`,
			want: `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: api
spec:
  # canary: 10 % to the new revision
` + pinned(2, 2) + `  template:
    spec:
      containers:
        - image: ghcr.io/acme/api:1.2
`,
			replaced: true,
		},
		{
			name: "existing flow-style traffic at the end of a file without a final newline",
			in:   "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: api}\nspec:\n  template:\n    spec:\n      containers: [{image: ghcr.io/acme/api:1.2}]\n  traffic: [{latestRevision: true,\n    percent: 100}]",
			want: "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: api}\nspec:\n  template:\n    spec:\n      containers: [{image: ghcr.io/acme/api:1.2}]\n" +
				strings.TrimSuffix(pinned(2, 0), "\n"),
			replaced: true,
		},
		{
			name: "comments inside spec, a block scalar with a blank line, no final newline",
			in: `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: api
spec: # owned by the payments team
  template:
    # revisions are named by Knative
    spec:
      containers:
        - image: ghcr.io/acme/api:1.2
          args:
            - |
              --first

              --second
        # a sidecar may come here
  # end of the spec

# end of the file`,
			want: `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: api
spec: # owned by the payments team
  template:
    # revisions are named by Knative
    spec:
      containers:
        - image: ghcr.io/acme/api:1.2
          args:
            - |
              --first

              --second
        # a sidecar may come here
  # end of the spec
` + pinned(2, 2) + `
# end of the file`,
		},
		{
			name: "two Services in one file: the one named",
			in: `apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: web}
spec:
  template: {spec: {containers: [{image: ghcr.io/acme/web:1}]}}
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: api}
spec:
  template: {spec: {containers: [{image: ghcr.io/acme/api:1.2}]}}
`,
			want: `apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: web}
spec:
  template: {spec: {containers: [{image: ghcr.io/acme/web:1}]}}
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: api}
spec:
  template: {spec: {containers: [{image: ghcr.io/acme/api:1.2}]}}
` + pinned(2, 0),
			service: "api",
		},
		{
			name: "CRLF line endings",
			in:   "apiVersion: serving.knative.dev/v1\r\nkind: Service\r\nmetadata:\r\n  name: api\r\nspec:\r\n  template:\r\n    spec:\r\n      containers:\r\n      - image: ghcr.io/acme/api:1.2\r\n",
			want: "apiVersion: serving.knative.dev/v1\r\nkind: Service\r\nmetadata:\r\n  name: api\r\nspec:\r\n  template:\r\n    spec:\r\n      containers:\r\n      - image: ghcr.io/acme/api:1.2\r\n" +
				strings.ReplaceAll(pinned(2, 0), "\n", "\r\n"),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, svc, err := PinTraffic("apps/api/envs/prod/service.yaml", []byte(tc.in), TrafficPin{Revision: "api-00002", Service: tc.service})
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", out, tc.want)
			}
			if svc.Name != "api" || svc.Traffic != tc.replaced || svc.TemplateName != tc.templateName {
				t.Errorf("service: got %+v, want api with traffic=%v, template name %q", svc, tc.replaced, tc.templateName)
			}
			// Read back: the traffic is the pin, every other value as before.
			wantDocs, gotDocs := decodeAll(t, []byte(tc.in)), decodeAll(t, out)
			var traffic any
			for i, d := range gotDocs {
				if spec, ok := d["spec"].(map[string]any); ok && d["kind"] == "Service" && name(d) == "api" {
					traffic = spec["traffic"]
					delete(spec, "traffic")
					delete(wantDocs[i]["spec"].(map[string]any), "traffic")
				}
			}
			wantTraffic := []any{
				map[string]any{"revisionName": "api-00002", "percent": 100},
				map[string]any{"latestRevision": true, "percent": 0, "tag": "latest"},
			}
			if !reflect.DeepEqual(traffic, wantTraffic) {
				t.Errorf("spec.traffic read back: got %v, want %v", traffic, wantTraffic)
			}
			if !reflect.DeepEqual(gotDocs, wantDocs) {
				t.Errorf("the rest of the file changed:\ngot  %v\nwant %v", gotDocs, wantDocs)
			}
			// The importer still reads the same image.
			before, _ := manifest.Extract("apps/api/envs/prod/service.yaml", []byte(tc.in))
			after, err := manifest.Extract("apps/api/envs/prod/service.yaml", out)
			for i := range min(len(before), len(after)) {
				after[i].Line = before[i].Line // lines after the block moved
			}
			if err != nil || !reflect.DeepEqual(after, before) {
				t.Errorf("image references: got %+v (%v), want %+v", after, err, before)
			}
			// Pinning again changes nothing more.
			again, _, err := PinTraffic("apps/api/envs/prod/service.yaml", out, TrafficPin{Revision: "api-00002", Service: tc.service})
			if err != nil || !bytes.Equal(again, out) {
				t.Errorf("pinning twice: %v\n%s", err, again)
			}
		})
	}
}

func decodeAll(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var d map[string]any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%v\n%s", err, b)
		}
		out = append(out, d)
	}
}

func name(doc map[string]any) string {
	m, _ := doc["metadata"].(map[string]any)
	s, _ := m["name"].(string)
	return s
}

func TestPinTrafficRefuses(t *testing.T) {
	const svc = "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: api}\nspec:\n  template: {}\n"
	tests := []struct {
		name, in, revision, service, want string
		is                                error
	}{
		{name: "a Deployment", in: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec: {}\n", revision: "api-00002", is: ErrNoKnativeService},
		{name: "a Knative Route is no Service", in: "apiVersion: serving.knative.dev/v1\nkind: Route\nmetadata: {name: api}\nspec: {}\n", revision: "api-00002", is: ErrNoKnativeService},
		{name: "flow-style spec", in: "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: api}\nspec: {template: {}}\n", revision: "api-00002", want: "spec is not a block mapping"},
		{name: "not a revision name", in: svc, revision: "API 2", want: `"API 2" is not a Knative revision name`},
		{name: "several Services, none named", in: svc + "---\n" + strings.ReplaceAll(svc, "{name: api}", "{name: web}"), revision: "api-00002", service: "shop", want: `holds the Knative Services api, web, none named "shop"`},
		{name: "a Helm template", in: "kind: Service\nspec:\n  traffic: {{ .Values.traffic }}\n", revision: "api-00002", want: "a Helm template"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := PinTraffic("service.yaml", []byte(tc.in), TrafficPin{Revision: tc.revision, Service: tc.service})
			switch {
			case err == nil:
				t.Fatal("no error")
			case tc.is != nil && !errors.Is(err, tc.is):
				t.Errorf("got %v, want %v", err, tc.is)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestKnativeServices(t *testing.T) {
	in := "apiVersion: v1\nkind: ConfigMap\n---\napiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: api}\nspec:\n  template:\n    metadata: {name: api-v3}\n  traffic: [{latestRevision: true, percent: 100}]\n"
	got, err := KnativeServices("a.yaml", []byte(in))
	want := []KnativeService{{Name: "api", Line: 7, TemplateName: "api-v3", Traffic: true}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v (%v), want %+v", got, err, want)
	}
}
