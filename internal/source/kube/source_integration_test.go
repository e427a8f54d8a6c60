package kube_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/source/kube"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// readyErr waits until Ready returns an error containing want.
func (e *env) readyErr(want string) {
	e.t.Helper()
	e.waitFor("Ready() to report "+want, func() error {
		err := e.src.Ready()
		if err == nil || !strings.Contains(err.Error(), want) {
			return fmt.Errorf("Ready() = %v", err)
		}
		return nil
	})
}

// startSourceNotReady starts a source without waiting for it to be ready.
func (e *env) startSourceNotReady() {
	e.t.Helper()
	src, err := kube.New(e.cfg, e.st, testLogger(e.t), e.clock.Now)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.src, e.cancel, e.done = src, cancel, make(chan error, 1)
	go func() { e.done <- src.Run(ctx) }()
}

// TestMissingCRDs: a cluster without Knative is watched for Argo CD alone;
// once Knative's CRDs are installed, the source watches them too, without
// a restart. A cluster with neither is reported not ready.
func TestMissingCRDs(t *testing.T) {
	defer kube.SetRediscoverEvery(200 * time.Millisecond)()
	e := newEnv(t, crdArgo, rbacRole, rbacBind)
	e.startSource()
	if err := e.src.Ready(); err != nil {
		t.Fatalf("Ready() with Argo CD only = %v, want nil", err)
	}
	if got, want := strings.Join(e.src.Skipped(), " "), "services.serving.knative.dev routes.serving.knative.dev revisions.serving.knative.dev podautoscalers.autoscaling.internal.knative.dev"; got != want {
		t.Errorf("Skipped() = %q, want %q", got, want)
	}
	e.srv.Apply(t, crdKnative)
	r := e.create(gvrRevision, revisionObject("hello-00001", image("1.0")))
	x := &knEvents{}
	x.revision(r, delivery.RevisionCreated, r.GetCreationTimestamp().UTC(), image("1.0"), "", "", "")
	e.expectStored(x.out)
	if err := e.src.Ready(); err != nil {
		t.Errorf("Ready() after Knative was installed = %v, want nil", err)
	}
	if got := e.src.Skipped(); len(got) != 0 {
		t.Errorf("Skipped() after Knative was installed = %q, want none", got)
	}

	t.Run("none served", func(t *testing.T) {
		e := newEnv(t, rbacRole, rbacBind)
		e.startSourceNotReady()
		e.readyErr("serves none of Argo CD Applications")
	})
}

// TestForbidden: without the ClusterRole bound, the source says so in
// Ready, and starts recording as soon as it is granted.
func TestForbidden(t *testing.T) {
	e := newEnv(t, crdKnative, rbacRole)
	e.startSourceNotReady()
	e.readyErr(`services.serving.knative.dev is forbidden: User "shiplog" cannot list resource "services"`)
	e.srv.Apply(t, rbacBind)
	e.waitFor("source ready once granted", e.src.Ready)
	r := e.create(gvrRevision, revisionObject("hello-00001", image("1.0")))
	x := &knEvents{}
	x.revision(r, delivery.RevisionCreated, r.GetCreationTimestamp().UTC(), image("1.0"), "", "", "")
	e.expectStored(x.out)
}

// TestNamespacesAndLabelSelector: only the configured namespaces, and only
// the objects the selector selects, are recorded.
func TestNamespacesAndLabelSelector(t *testing.T) {
	e := newEnv(t, crdKnative, rbacRole, rbacBind)
	e.srv.Namespaces(t, "other")
	e.cfg.Namespaces = []string{knNS, "shop-prod"}
	e.cfg.LabelSelector = "team=payments"
	mk := func(ns, name, team string) map[string]any {
		o := revisionObject(name, image("1.0"))
		m := o["metadata"].(map[string]any)
		m["namespace"] = ns
		m["labels"].(map[string]any)["team"] = team
		return o
	}
	e.create(gvrRevision, mk("other", "hello-00001", "payments"))
	e.create(gvrRevision, mk(knNS, "hello-00002", "search"))
	e.startSource()
	r := e.create(gvrRevision, mk(knNS, "hello-00003", "payments"))
	x := &knEvents{}
	x.revision(r, delivery.RevisionCreated, r.GetCreationTimestamp().UTC(), image("1.0"), "", "", "")
	e.expectStored(x.out)
}

// TestScaleSampledPeriodically: while a revision runs replicas its scale
// is sampled every interval besides every change; at zero it is not.
func TestScaleSampledPeriodically(t *testing.T) {
	e := newEnv(t, crdKnative, rbacRole, rbacBind)
	e.cfg.ScaleSampleInterval = 300 * time.Millisecond
	var clock fakeClock
	clock.Set(time.Now())
	e.clock = &clock
	stop := make(chan struct{})
	defer close(stop)
	go func() { // the source's clock follows real time here
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
				clock.Set(time.Now())
			}
		}
	}()
	e.create(gvrPA, paObject("hello-00001"))
	e.setStatus(gvrPA, knNS, "hello-00001", scaleStatus(2, 2))
	e.create(gvrPA, paObject("hello-00002"))
	e.setStatus(gvrPA, knNS, "hello-00002", scaleStatus(0, 0))
	e.startSource()
	count := func(rev string) (n int) {
		samples, err := e.st.ScaleSamples(context.Background(), store.ModelFilter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range samples {
			if s.Revision == rev {
				if s.Revision == "hello-00001" && (s.Actual != 2 || s.Desired != 2) {
					t.Errorf("sample %+v, want 2/2", s)
				}
				n++
			}
		}
		return n
	}
	e.waitFor("four samples of a running revision", func() error {
		if n := count("hello-00001"); n < 4 {
			return fmt.Errorf("%d samples", n)
		}
		return nil
	})
	if n := count("hello-00002"); n != 1 {
		t.Errorf("a revision scaled to zero has %d samples, want 1", n)
	}
	// Scaled to zero: the samples stop.
	e.setStatus(gvrPA, knNS, "hello-00001", scaleStatus(0, 0))
	var last int
	e.waitFor("a zero sample", func() error {
		samples, err := e.st.ScaleSamples(context.Background(), store.ModelFilter{})
		if err != nil {
			return err
		}
		for _, s := range samples {
			if s.Revision == "hello-00001" && s.Actual == 0 {
				last = len(samples)
				return nil
			}
		}
		return fmt.Errorf("none yet")
	})
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		samples, err := e.st.ScaleSamples(context.Background(), store.ModelFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(samples) != last {
			t.Fatalf("samples went on after the scale to zero: %d, then %d", last, len(samples))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
