package cloudevents

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParsePURL(t *testing.T) {
	tests := []struct {
		in   string
		want purl
	}{
		{"pkg:oci/api@sha256%3A" + digest[7:] + "?repository_url=ghcr.io/acme/api&tag=1.4.0-4d09b7b",
			purl{Type: "oci", Name: "api", Version: digest, Qualifiers: map[string]string{"repository_url": "ghcr.io/acme/api", "tag": "1.4.0-4d09b7b"}}},
		{"pkg:docker/customer/dockerimage@sha256%3A244fd47e07d10?repository_url=gcr.io",
			purl{Type: "docker", Namespace: "customer", Name: "dockerimage", Version: "sha256:244fd47e07d10", Qualifiers: map[string]string{"repository_url": "gcr.io"}}},
		{"pkg:golang/github.com/acme/api@v1.4.0#cmd/server",
			purl{Type: "golang", Namespace: "github.com/acme", Name: "api", Version: "v1.4.0", Subpath: "cmd/server"}},
		{"pkg:npm/%40acme/web@2.1.0", purl{Type: "npm", Namespace: "@acme", Name: "web", Version: "2.1.0"}},
		{"PKG://Maven/org.apache/commons-io", purl{Type: "maven", Namespace: "org.apache", Name: "commons-io"}},
		{"pkg:oci/api?Arch=amd64&tag=", purl{Type: "oci", Name: "api", Qualifiers: map[string]string{"arch": "amd64"}}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parsePURL(tt.in)
			if err != nil {
				t.Fatalf("parsePURL: got error %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parsePURL:\ngot  %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestParsePURLErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ghcr.io/acme/api:1.4.0", "does not start with pkg:"},
		{"pkg:", "no package type"},
		{"pkg:oci", "no package type"},
		{"pkg:oci/@sha256%3Aabc", "no package name"},
		{"pkg:oci/api@sha256%ZZ", "version: invalid URL escape"},
		{"pkg:oci/a%ZZpi", "name: invalid URL escape"},
		{"pkg:oci/api?tag=%G1", "qualifier tag: invalid URL escape"},
		{"pkg:npm/%ZZ/web", "namespace: invalid URL escape"},
		{"pkg:npm/web#%ZZ", "subpath: invalid URL escape"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := parsePURL(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parsePURL(%q): got error %v, want one containing %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestImageFromPURL(t *testing.T) {
	hex := digest[7:]
	tests := []struct {
		in      string
		want    image
		wantRef string
	}{
		{"pkg:oci/api@sha256%3A" + hex + "?repository_url=ghcr.io/acme/api&tag=1.4.0-4d09b7b",
			image{"ghcr.io/acme/api", "1.4.0-4d09b7b", digest}, imageRef},
		{"pkg:oci/api@sha256%3A" + hex + "?repository_url=https://ghcr.io/acme/",
			image{"ghcr.io/acme/api", "", digest}, "ghcr.io/acme/api@" + digest},
		{"pkg:oci/debian@sha256%3A" + hex + "?repository_url=docker.io/library/debian&arch=amd64&tag=latest",
			image{"docker.io/library/debian", "latest", digest}, "docker.io/library/debian:latest@" + digest},
		{"pkg:oci/API?tag=v1", image{"api", "v1", ""}, "api:v1"},
		{"pkg:docker/acme/api@sha256%3A" + hex + "?repository_url=registry.acme.dev",
			image{"registry.acme.dev/acme/api", "", digest}, "registry.acme.dev/acme/api@" + digest},
		{"pkg:docker/cassandra@latest", image{"cassandra", "latest", ""}, "cassandra:latest"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := imageFromPURL(tt.in)
			if err != nil {
				t.Fatalf("imageFromPURL: got error %v", err)
			}
			if got != tt.want {
				t.Errorf("imageFromPURL:\ngot  %#v\nwant %#v", got, tt.want)
			}
			if ref := got.Ref(); ref != tt.wantRef {
				t.Errorf("Ref: got %q, want %q", ref, tt.wantRef)
			}
		})
	}
}

func TestImageFromPURLErrors(t *testing.T) {
	tests := []struct {
		in       string
		want     string
		notImage bool
	}{
		{"pkg:golang/github.com/acme/api@v1.4.0", `type "golang": not a container image`, true},
		{"pkg:oci/api@1.4.0", `version "1.4.0" is not an image digest`, false},
		{"pkg:docker/api@sha256%3A1234", `version "sha256:1234" is not an image digest`, false},
		{"pkg:oci/api", "names neither a digest nor a tag", false},
		{"docker.io/library/nginx", "does not start with pkg:", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := imageFromPURL(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("imageFromPURL(%q): got error %v, want one containing %q", tt.in, err, tt.want)
			}
			if got := errors.Is(err, errNotImage); got != tt.notImage {
				t.Errorf("errors.Is(err, errNotImage): got %v, want %v", got, tt.notImage)
			}
		})
	}
}

func TestChangeNumber(t *testing.T) {
	tests := []struct {
		id   string
		want int64 // 0: none
	}{
		{"1287", 1287},
		{"acme/api#1290", 1290},
		{"https://github.com/acme/api/pull/1287", 1287},
		{"https://gitlab.example.com/acme/api/-/merge_requests/77", 77},
		{"featureBranch123", 123},
		{"0", 0},
		{"main", 0},
		{"1a429d2f06fa49d8ece5045ac6471dc8a2276895", 0},
		{"I8473b95934b5732ac55d26311a706c9c2bde9940", 0},
		{"pr/99999999999999999999", 0}, // overflows int64
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			got, ok := changeNumber(tt.id)
			if got != tt.want || ok != (tt.want > 0) {
				t.Errorf("changeNumber(%q): got %d, %v; want %d, %v", tt.id, got, ok, tt.want, tt.want > 0)
			}
		})
	}
}
