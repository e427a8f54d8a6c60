package manifest

import (
	"errors"
	"strings"
	"testing"
)

const (
	digestA = "sha256:2f1e3c9d6b8a7e5f4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e"
	digestB = "sha256:9b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a"
)

func TestParseImage(t *testing.T) {
	tests := []struct {
		name string
		ref  string
		want Image
	}{
		{"docker hub official image", "nginx",
			Image{Registry: "docker.io", Repository: "library/nginx", Tag: "latest", TagImplicit: true, name: "nginx"}},
		{"docker hub official image with tag", "nginx:1.25.4",
			Image{Registry: "docker.io", Repository: "library/nginx", Tag: "1.25.4", name: "nginx"}},
		{"explicit latest is not implicit", "library/nginx:latest",
			Image{Registry: "docker.io", Repository: "library/nginx", Tag: "latest", name: "library/nginx"}},
		{"docker hub user image", "acme/api:2",
			Image{Registry: "docker.io", Repository: "acme/api", Tag: "2", name: "acme/api"}},
		{"docker.io written out", "docker.io/nginx",
			Image{Registry: "docker.io", Repository: "library/nginx", Tag: "latest", TagImplicit: true, name: "docker.io/nginx"}},
		{"index.docker.io is docker.io", "index.docker.io/acme/api:1",
			Image{Registry: "docker.io", Repository: "acme/api", Tag: "1", name: "index.docker.io/acme/api"}},
		{"tag and digest", "ghcr.io/acme/api:1.2.3@" + digestA,
			Image{Registry: "ghcr.io", Repository: "acme/api", Tag: "1.2.3", Digest: digestA, name: "ghcr.io/acme/api"}},
		{"digest only has no tag", "ghcr.io/acme/api@" + digestA,
			Image{Registry: "ghcr.io", Repository: "acme/api", Digest: digestA, name: "ghcr.io/acme/api"}},
		{"registry port and tag", "localhost:5000/x:y",
			Image{Registry: "localhost:5000", Repository: "x", Tag: "y", name: "localhost:5000/x"}},
		{"registry port without tag", "localhost:5000/team/x",
			Image{Registry: "localhost:5000", Repository: "team/x", Tag: "latest", TagImplicit: true, name: "localhost:5000/team/x"}},
		{"localhost without port", "localhost/x:1",
			Image{Registry: "localhost", Repository: "x", Tag: "1", name: "localhost/x"}},
		{"no slash: the colon is a tag", "localhost:5000",
			Image{Registry: "docker.io", Repository: "library/localhost", Tag: "5000", name: "localhost"}},
		{"deep path and pre-release tag", "registry.example.com:5000/team/sub/app:v1.0.0-rc.1",
			Image{Registry: "registry.example.com:5000", Repository: "team/sub/app", Tag: "v1.0.0-rc.1", name: "registry.example.com:5000/team/sub/app"}},
		{"IPv6 registry", "[::1]:5000/app:1",
			Image{Registry: "[::1]:5000", Repository: "app", Tag: "1", name: "[::1]:5000/app"}},
		{"upper-case first component is a registry", "Registry.Example.com/app:1",
			Image{Registry: "Registry.Example.com", Repository: "app", Tag: "1", name: "Registry.Example.com/app"}},
		{"all separators", "gcr.io/my-project/a.b_c__d---e:1_0",
			Image{Registry: "gcr.io", Repository: "my-project/a.b_c__d---e", Tag: "1_0", name: "gcr.io/my-project/a.b_c__d---e"}},
		{"other digest algorithm", "ghcr.io/acme/api@sha384+b64:0123456789abcdefABCDEF0123456789-_=",
			Image{Registry: "ghcr.io", Repository: "acme/api", Digest: "sha384+b64:0123456789abcdefABCDEF0123456789-_=", name: "ghcr.io/acme/api"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseImage(tt.ref)
			if err != nil {
				t.Fatalf("ParseImage(%q): got error %v, want nil", tt.ref, err)
			}
			if got != tt.want {
				t.Errorf("ParseImage(%q):\ngot  %#v\nwant %#v", tt.ref, got, tt.want)
			}
			if s := got.String(); s != tt.ref {
				t.Errorf("ParseImage(%q).String(): got %q, want %q", tt.ref, s, tt.ref)
			}
			if n := got.Name(); n != tt.want.name {
				t.Errorf("ParseImage(%q).Name(): got %q, want %q", tt.ref, n, tt.want.name)
			}
		})
	}
}

func TestParseImageErrors(t *testing.T) {
	tests := []struct {
		name string
		ref  string
		want string // the part after `invalid image reference "<ref>": `
	}{
		{"empty", "", "empty reference"},
		{"space", "nginx latest", "contains whitespace or a control character"},
		{"trailing newline", "nginx\n", "contains whitespace or a control character"},
		{"upper-case repository", "ghcr.io/Acme/api:1", `repository "Acme/api" must be lower-case`},
		{"upper-case single name", "Nginx", `repository "Nginx" must be lower-case`},
		{"short sha256 digest", "ghcr.io/acme/api@sha256:abc", `digest "sha256:abc": sha256 needs 64 lower-case hex characters`},
		{"upper-case sha256 digest", "ghcr.io/acme/api@" + strings.ToUpper(digestA), `digest "SHA256:2F1E3C9D6B8A7E5F4D3C2B1A0F9E8D7C6B5A4F3E2D1C0B9A8F7E6D5C4B3A2F1E" has an invalid algorithm "SHA256"`},
		{"digest without algorithm", "ghcr.io/acme/api@abc", `digest "abc" has no algorithm (want algorithm:hex)`},
		{"empty digest", "ghcr.io/acme/api@", `empty digest after "@"`},
		{"two digests", "ghcr.io/acme/api@" + digestA + "@" + digestB, `digest "` + digestA + "@" + digestB + `": sha256 needs 64 lower-case hex characters`},
		{"short other digest", "ghcr.io/acme/api@md5:abc", `digest "md5:abc": encoded part is shorter than 32 characters`},
		{"empty tag", "ghcr.io/acme/api:", `empty tag after ":"`},
		{"tag starting with dash", "ghcr.io/acme/api:-x", `tag "-x" must not start with '-'`},
		{"tag with plus", "ghcr.io/acme/api:v1+build", `tag "v1+build" has an invalid character '+'`},
		{"tag too long", "api:" + strings.Repeat("a", 129), "tag is longer than 128 characters"},
		{"missing name", ":1.0", "missing repository name"},
		{"name too long", "ghcr.io/" + strings.Repeat("a", 250), "name is longer than 255 characters"},
		{"empty path component", "ghcr.io//api", `repository "/api" has an empty path component`},
		{"component ending in separator", "ghcr.io/acme/api-", `repository "acme/api-": component "api-" must start and end with a letter or digit`},
		{"double dot", "ghcr.io/acme/a..b", `repository "acme/a..b": invalid separator ".."`},
		{"triple underscore", "ghcr.io/acme/a___b", `repository "acme/a___b": invalid separator "___"`},
		{"invalid character", "ghcr.io/acme/a$b", `repository "acme/a$b" has an invalid character '$'`},
		{"port not a number", "ghcr.io:http/api", `registry "ghcr.io:http": port "http" is not a number`},
		{"empty port", "ghcr.io:/api", `registry "ghcr.io:": empty port`},
		{"bad host", "ghcr..io/api", `registry "ghcr..io": invalid host`},
		{"unclosed IPv6", "[::1:5000/api", `registry "[::1:5000": unclosed IPv6 address`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseImage(tt.ref)
			if err == nil {
				t.Fatalf("ParseImage(%q): got %#v, nil error; want error %q", tt.ref, got, tt.want)
			}
			want := `invalid image reference "` + strings.ReplaceAll(tt.ref, "\n", `\n`) + `": ` + tt.want
			if err.Error() != want {
				t.Errorf("ParseImage(%q) error:\ngot  %s\nwant %s", tt.ref, err, want)
			}
			if !errors.Is(err, ErrInvalidImage) {
				t.Errorf("ParseImage(%q): errors.Is(err, ErrInvalidImage) = false, want true", tt.ref)
			}
		})
	}
}

func TestImageLiteral(t *testing.T) {
	tests := []struct {
		name               string
		im                 Image
		wantName, wantText string
	}{
		{"registry and tag", Image{Registry: "ghcr.io", Repository: "acme/api", Tag: "1"}, "ghcr.io/acme/api", "ghcr.io/acme/api:1"},
		{"implicit tag is not written", Image{Registry: "docker.io", Repository: "library/nginx", Tag: "latest", TagImplicit: true}, "docker.io/library/nginx", "docker.io/library/nginx"},
		{"no registry", Image{Repository: "api", Digest: digestA}, "api", "api@" + digestA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.im.Name(); got != tt.wantName {
				t.Errorf("Name(): got %q, want %q", got, tt.wantName)
			}
			if got := tt.im.String(); got != tt.wantText {
				t.Errorf("String(): got %q, want %q", got, tt.wantText)
			}
		})
	}
}
