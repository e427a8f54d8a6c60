package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// HelmVersion is the helm that .ci/helm-binary builds.
const helmVersion = "v3.22.0"

var (
	root       string // the repository
	shiplogBin string // built once by TestMain
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	root = filepath.Dir(wd)
	dir, err := os.MkdirTemp("", "shiplog-deploy-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	shiplogBin = filepath.Join(dir, "shiplog")
	cmd := exec.Command("go", "build", "-o", shiplogBin, "./cmd/shiplog")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build ./cmd/shiplog: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// requireOrSkip skips the test when a tool is missing, except in CI (the
// environment variable CI set), where the test must run: it fails.
func requireOrSkip(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// helmBinary returns the helm built by .ci/helm-binary: $SHIPLOG_HELM_BINARY,
// else ${XDG_CACHE_HOME:-~/.cache}/shiplog/helm/<version>/helm.
func helmBinary(t *testing.T) string {
	t.Helper()
	p := os.Getenv("SHIPLOG_HELM_BINARY")
	if p == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				requireOrSkip(t, "no home directory to find helm in: set SHIPLOG_HELM_BINARY")
			}
			cache = filepath.Join(home, ".cache")
		}
		p = filepath.Join(cache, "shiplog", "helm", helmVersion, "helm")
	}
	if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		requireOrSkip(t, fmt.Sprintf("helm not found at %s: run .ci/helm-binary (or set SHIPLOG_HELM_BINARY)", p))
	}
	return p
}

// render runs `helm template` on the chart with values, as release "shiplog"
// in namespace "shiplog". It returns the rendered objects, or helm's error
// output.
func render(t *testing.T, helm string, values map[string]any) ([]*unstructured.Unstructured, error) {
	t.Helper()
	b, err := yaml.Marshal(values)
	if err != nil {
		t.Fatal(err)
	}
	// Not under t.TempDir(): helm splits --values at commas, which subtest
	// names (hence their temporary directories) may hold.
	vf, err := os.CreateTemp("", "shiplog-values-*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f := vf.Name()
	t.Cleanup(func() { os.Remove(f) })
	if _, err := vf.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := vf.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, helm, "template", "shiplog", filepath.Join(root, "deploy", "helm", "shiplog"),
		"--namespace", "shiplog", "--values", f)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("helm template: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	objs, err := decode(stdout.Bytes())
	if err != nil {
		t.Fatalf("helm template output: %v\n%s", err, stdout.String())
	}
	return objs, nil
}

// decode splits a multi-document YAML stream into objects.
func decode(b []byte) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for i, doc := range strings.Split("\n"+string(b), "\n---") {
		j, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if s := strings.TrimSpace(string(j)); s == "null" || s == "" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(j); err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		out = append(out, u)
	}
	return out, nil
}

func decodeFile(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decode(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return objs
}

// find returns the only object of kind, or fails.
func find(t *testing.T, objs []*unstructured.Unstructured, apiVersion, kind string) *unstructured.Unstructured {
	t.Helper()
	var found []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetAPIVersion() == apiVersion && o.GetKind() == kind {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("rendered %d %s %s, want 1", len(found), apiVersion, kind)
	}
	return found[0]
}

func count(objs []*unstructured.Unstructured, apiVersion, kind string) int {
	n := 0
	for _, o := range objs {
		if o.GetAPIVersion() == apiVersion && o.GetKind() == kind {
			n++
		}
	}
	return n
}
