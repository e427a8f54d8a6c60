package kube_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/source/kube"
	"github.com/shiplog-dev/shiplog/internal/source/kube/kubetest"
	"github.com/shiplog-dev/shiplog/internal/store"
	"github.com/shiplog-dev/shiplog/internal/store/sqlite"
)

var (
	gvrApp      = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applications"}
	gvrService  = schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "services"}
	gvrRevision = schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "revisions"}
	gvrRoute    = schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "routes"}
	gvrPA       = schema.GroupVersionResource{Group: "autoscaling.internal.knative.dev", Version: "v1alpha1", Resource: "podautoscalers"}
)

// Files the tests install.
var (
	crdArgo    = filepath.Join("testdata", "crds", "argocd.yaml")
	crdKnative = filepath.Join("testdata", "crds", "knative-serving.yaml")
	rbacRole   = filepath.Join("..", "..", "..", "deploy", "rbac", "clusterrole.yaml")
	rbacBind   = filepath.Join("testdata", "rbac-binding.yaml")
)

// fakeClock is the source's clock, moved by the test.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// env is a real API server, a real SQLite store and the source under test,
// which runs as the user "shiplog" with the ClusterRole of deploy/rbac.
type env struct {
	t     *testing.T
	srv   *kubetest.Server
	dyn   dynamic.Interface
	st    *store.Store
	clock *fakeClock
	cfg   kube.ClusterConfig

	src    *kube.Source
	cancel context.CancelFunc
	done   chan error
}

// base is where the source's clock starts: now, to the second, so that
// times the API server sets (creationTimestamp) and the test's agree.
var base = time.Now().UTC().Truncate(time.Second)

// newEnv starts an API server with the given files applied (CRDs, RBAC)
// and opens a store.
func newEnv(t *testing.T, files ...string) *env {
	t.Helper()
	srv := kubetest.Start(t)
	if len(files) > 0 {
		srv.Apply(t, files...)
	}
	srv.Namespaces(t, "argocd", "shop-prod", "shop-staging")
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "shiplog.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: srv, dyn: srv.Dynamic(t), st: st, clock: &fakeClock{t: base}}
	e.cfg = kube.ClusterConfig{Name: "prod-eu", Kubeconfig: srv.Kubeconfig(t, kubetest.Shiplog)}
	t.Cleanup(func() {
		e.stopSource()
		st.Close()
	})
	return e
}

// logger writes the source's log into the test log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tlogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tlogWriter struct{ t testing.TB }

func (w tlogWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// startSource starts a new source on the store and waits until it is ready.
func (e *env) startSource() {
	e.t.Helper()
	src, err := kube.New(e.cfg, e.st, testLogger(e.t), e.clock.Now)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.src, e.cancel, e.done = src, cancel, make(chan error, 1)
	go func() { e.done <- src.Run(ctx) }()
	e.waitFor("source ready", func() error { return src.Ready() })
}

// stopSource stops the source and waits for Run to return.
func (e *env) stopSource() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	if err := <-e.done; err != nil {
		e.t.Errorf("Run: %v", err)
	}
	e.cancel = nil
}

// waitFor polls cond until it returns nil, failing the test after 30 s.
func (e *env) waitFor(what string, cond func() error) {
	e.t.Helper()
	waitFor(e.t, what, 30*time.Second, cond)
}

func waitFor(t testing.TB, what string, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// line renders an event for comparison: everything but the store's fields.
func line(e delivery.Event) string {
	p, _ := json.Marshal(e.Payload)
	return fmt.Sprintf("%s %s at=%s app=%s env=%s cluster=%s ns=%s %s", e.ID, e.Type, e.Time.UTC().Format(time.RFC3339Nano),
		e.App, e.Env, e.Cluster, e.Namespace, p)
}

func lines(evs []delivery.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = line(e)
	}
	slices.Sort(out)
	return out
}

// stored returns the source's events in the store.
func (e *env) stored() []delivery.Event {
	evs, err := e.st.Events(context.Background(), store.EventFilter{Source: kube.SourceKind})
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

// expectStored waits until the store holds exactly want (in any order).
func (e *env) expectStored(want []delivery.Event) {
	e.t.Helper()
	w := lines(want)
	var last []string
	deadline := time.Now().Add(30 * time.Second)
	for {
		last = lines(e.stored())
		if slices.Equal(last, w) {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	var b strings.Builder
	for _, l := range w {
		if !slices.Contains(last, l) {
			fmt.Fprintf(&b, "\n  missing: %s", l)
		}
	}
	for _, l := range last {
		if !slices.Contains(w, l) {
			fmt.Fprintf(&b, "\n  extra:   %s", l)
		}
	}
	e.t.Fatalf("stored events differ from the expected %d (got %d):%s", len(w), len(last), b.String())
}

// Object helpers, as the admin.

func (e *env) create(gvr schema.GroupVersionResource, obj map[string]any) *unstructured.Unstructured {
	e.t.Helper()
	u := &unstructured.Unstructured{Object: obj}
	status, hasStatus := obj["status"]
	out, err := e.dyn.Resource(gvr).Namespace(u.GetNamespace()).Create(context.Background(), u, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatalf("create %s %s: %v", gvr.Resource, u.GetName(), err)
	}
	if hasStatus && gvr != gvrApp {
		out.Object["status"] = status
		out, err = e.dyn.Resource(gvr).Namespace(u.GetNamespace()).UpdateStatus(context.Background(), out, metav1.UpdateOptions{})
		if err != nil {
			e.t.Fatalf("update status of %s %s: %v", gvr.Resource, u.GetName(), err)
		}
	}
	return out
}

// setStatus replaces the status of an object: with UpdateStatus for kinds
// with the subresource, with Update for Applications (as Argo CD does). It
// returns the object written.
func (e *env) setStatus(gvr schema.GroupVersionResource, ns, name string, status map[string]any) *unstructured.Unstructured {
	e.t.Helper()
	ri := e.dyn.Resource(gvr).Namespace(ns)
	ctx := context.Background()
	for {
		cur, err := ri.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			e.t.Fatalf("get %s %s: %v", gvr.Resource, name, err)
		}
		cur.Object["status"] = status
		var out *unstructured.Unstructured
		if gvr == gvrApp {
			out, err = ri.Update(ctx, cur, metav1.UpdateOptions{})
		} else {
			out, err = ri.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		}
		if err == nil {
			return out
		}
		if !strings.Contains(err.Error(), "the object has been modified") {
			e.t.Fatalf("update %s %s: %v", gvr.Resource, name, err)
		}
	}
}

func (e *env) delete(gvr schema.GroupVersionResource, ns, name string) {
	e.t.Helper()
	if err := e.dyn.Resource(gvr).Namespace(ns).Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
		e.t.Fatalf("delete %s %s: %v", gvr.Resource, name, err)
	}
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }
