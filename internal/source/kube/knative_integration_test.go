package kube_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/store"
)

const knNS = "shop-staging"

func digest(c byte) string { return "sha256:" + strings.Repeat(string(c), 64) }

func image(v string) string { return "ghcr.io/acme/hello:" + v }

func imageByDigest(c byte) string { return "ghcr.io/acme/hello@" + digest(c) }

func ready(status string, at time.Time, reason, msg string) map[string]any {
	c := map[string]any{"type": "Ready", "status": status, "lastTransitionTime": ts(at)}
	if reason != "" {
		c["reason"], c["message"] = reason, msg
	}
	return c
}

func revisionObject(name, img string) map[string]any {
	return map[string]any{
		"apiVersion": "serving.knative.dev/v1", "kind": "Revision",
		"metadata": map[string]any{"name": name, "namespace": knNS, "labels": map[string]any{
			"serving.knative.dev/service": "hello", "serving.knative.dev/configuration": "hello"}},
		"spec": map[string]any{"containers": []any{map[string]any{"name": "user-container", "image": img}}},
	}
}

func revisionStatus(cond map[string]any, dig string) map[string]any {
	st := map[string]any{"conditions": []any{cond}}
	if dig != "" {
		st["containerStatuses"] = []any{map[string]any{"name": "user-container", "imageDigest": "ghcr.io/acme/hello@" + dig}}
	}
	return st
}

func paObject(rev string) map[string]any {
	return map[string]any{
		"apiVersion": "autoscaling.internal.knative.dev/v1alpha1", "kind": "PodAutoscaler",
		"metadata": map[string]any{"name": rev, "namespace": knNS, "labels": map[string]any{
			"serving.knative.dev/revision": rev, "serving.knative.dev/service": "hello"}},
		"spec": map[string]any{"scaleTargetRef": map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": rev + "-deployment"}},
	}
}

func scaleStatus(actual, desired int64) map[string]any {
	return map[string]any{"actualScale": actual, "desiredScale": desired}
}

type split []struct {
	rev     string
	percent int64
	tag     string
	latest  bool
}

func (s split) status(latestCreated string) map[string]any {
	var tr []any
	for _, t := range s {
		e := map[string]any{"revisionName": t.rev, "percent": t.percent, "latestRevision": t.latest}
		if t.tag != "" {
			e["tag"] = t.tag
		}
		tr = append(tr, e)
	}
	return map[string]any{
		"observedGeneration": int64(1), "latestCreatedRevisionName": latestCreated, "url": "http://hello.shop-staging.example.com",
		"traffic": tr, "conditions": []any{map[string]any{"type": "Ready", "status": "True"}},
	}
}

func (s split) targets() []delivery.TrafficTarget {
	var out []delivery.TrafficTarget
	for _, t := range s {
		out = append(out, delivery.TrafficTarget{Revision: t.rev, Percent: int(t.percent), Tag: t.tag, Latest: t.latest})
	}
	slices.SortFunc(out, func(a, b delivery.TrafficTarget) int { return strings.Compare(a.Revision+a.Tag, b.Revision+b.Tag) })
	return out
}

// knEvents builds the expected events of the Knative Service hello.
type knEvents struct{ out []delivery.Event }

func (x *knEvents) add(id string, t delivery.EventType, at time.Time, p delivery.Payload) {
	x.out = append(x.out, delivery.Event{Source: "kube", ID: "knative/prod-eu/" + knNS + "/" + id, Type: t, Time: at, App: "hello", Env: "staging",
		Cluster: "prod-eu", Namespace: knNS, Payload: p})
}

func (x *knEvents) revision(obj *unstructured.Unstructured, t delivery.EventType, at time.Time, img, dig, reason, msg string) {
	created := obj.GetCreationTimestamp().UTC()
	suffix := map[delivery.EventType]string{delivery.RevisionCreated: "created", delivery.RevisionReady: "ready",
		delivery.RevisionDeleted: "deleted", delivery.RevisionFailed: "failed/" + ts(at)}[t]
	p := &delivery.Revision{Name: obj.GetName(), Service: "hello", Image: img, Digest: dig, Reason: reason, Message: msg}
	x.add("revision/"+obj.GetName()+"/"+ts(created)+"/"+suffix, t, at, p)
}

func (x *knEvents) scale(rev, id string, at time.Time, actual, desired int) {
	x.add("revision/"+rev+"/scale/"+id, delivery.ScaleSampled, at, &delivery.Scale{Revision: rev, Service: "hello", Actual: actual, Desired: desired})
}

func (x *knEvents) traffic(svc *unstructured.Unstructured, at time.Time, s split) {
	x.add("service/hello/traffic/"+svc.GetResourceVersion(), delivery.TrafficChanged, at, &delivery.Traffic{Service: "hello", Targets: s.targets()})
}

func (x *knEvents) deployment(svc *unstructured.Unstructured, t delivery.EventType, at time.Time, rev, artifact, previous string) {
	x.add("service/hello/deployment/"+rev+"/"+svc.GetResourceVersion(), t, at, &delivery.Deployment{Artifact: artifact, PreviousArtifact: previous,
		InferredFrom: "knative", Revision: rev})
}

// TestKnativeLifecycle drives a Knative Service through revisions created,
// Ready and failed, a canary 10 % → 50 % → 100 %, a rollback, scale to zero
// and back, garbage collection, an API server restart mid-watch, a restart
// of shiplog with changes while it was down, and deletion, and checks
// every event recorded.
func TestKnativeLifecycle(t *testing.T) {
	e := newEnv(t, crdKnative, rbacRole, rbacBind)
	e.cfg.ScaleSampleInterval = time.Hour // no periodic sample within the test's clock steps
	x := &knEvents{}
	at := func(d time.Duration) time.Time { return base.Add(d) }

	// Before shiplog: revision 1 Ready, serving 100 %, one replica; its
	// Route is owned by the Service, whose status tells the same traffic.
	r1 := e.create(gvrRevision, revisionObject("hello-00001", image("1.0")))
	r1 = e.setStatus(gvrRevision, knNS, "hello-00001", revisionStatus(ready("True", at(-time.Minute), "", ""), digest('a')))
	pa1 := e.create(gvrPA, paObject("hello-00001"))
	pa1 = e.setStatus(gvrPA, knNS, "hello-00001", scaleStatus(1, 1))
	s1 := split{{"hello-00001", 100, "", true}}
	svc := e.create(gvrService, map[string]any{
		"apiVersion": "serving.knative.dev/v1", "kind": "Service",
		"metadata": map[string]any{"name": "hello", "namespace": knNS},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
			"containers": []any{map[string]any{"image": image("1.0")}}}}},
	})
	svc = e.setStatus(gvrService, knNS, "hello", s1.status("hello-00001"))
	route := e.create(gvrRoute, map[string]any{
		"apiVersion": "serving.knative.dev/v1", "kind": "Route",
		"metadata": map[string]any{"name": "hello", "namespace": knNS, "ownerReferences": []any{map[string]any{
			"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "hello", "uid": string(svc.GetUID()), "controller": true}}},
	})
	e.setStatus(gvrRoute, knNS, route.GetName(), s1.status("hello-00001"))

	e.startSource()
	x.revision(r1, delivery.RevisionCreated, r1.GetCreationTimestamp().UTC(), image("1.0"), digest('a'), "", "")
	x.revision(r1, delivery.RevisionReady, at(-time.Minute), image("1.0"), digest('a'), "", "")
	x.scale("hello-00001", pa1.GetResourceVersion(), base, 1, 1)
	x.traffic(svc, base, s1)
	x.deployment(svc, delivery.ServiceDeployed, base, "hello-00001", imageByDigest('a'), "")
	e.expectStored(x.out)

	// Revision 2: created, then Ready; a canary 10 % → 50 % → 100 %.
	e.clock.Set(at(time.Minute))
	r2 := e.create(gvrRevision, revisionObject("hello-00002", image("1.1")))
	e.setStatus(gvrRevision, knNS, "hello-00002", revisionStatus(ready("Unknown", at(time.Minute), "Deploying", ""), ""))
	x.revision(r2, delivery.RevisionCreated, r2.GetCreationTimestamp().UTC(), image("1.1"), "", "", "")
	e.expectStored(x.out)
	e.setStatus(gvrRevision, knNS, "hello-00002", revisionStatus(ready("True", at(90*time.Second), "", ""), digest('b')))
	pa2 := e.create(gvrPA, paObject("hello-00002"))
	pa2 = e.setStatus(gvrPA, knNS, "hello-00002", scaleStatus(2, 2))
	x.revision(r2, delivery.RevisionReady, at(90*time.Second), image("1.1"), digest('b'), "", "")
	x.scale("hello-00002", pa2.GetResourceVersion(), at(time.Minute), 2, 2)
	e.expectStored(x.out)

	for i, sp := range []split{
		{{"hello-00001", 90, "", false}, {"hello-00002", 10, "candidate", true}},
		{{"hello-00001", 50, "", false}, {"hello-00002", 50, "candidate", true}},
		{{"hello-00002", 100, "", true}},
	} {
		e.clock.Set(at(time.Duration(2+i) * time.Minute))
		svc = e.setStatus(gvrService, knNS, "hello", sp.status("hello-00002"))
		x.traffic(svc, e.clock.Now(), sp)
		if i == 2 {
			x.deployment(svc, delivery.ServiceUpgraded, e.clock.Now(), "hello-00002", imageByDigest('b'), imageByDigest('a'))
		}
		e.expectStored(x.out)
	}

	// Revision 3 fails: its image cannot be pulled.
	e.clock.Set(at(5 * time.Minute))
	r3 := e.create(gvrRevision, revisionObject("hello-00003", image("1.2")))
	msg := `Unable to fetch image "ghcr.io/acme/hello:1.2": not found`
	e.setStatus(gvrRevision, knNS, "hello-00003", revisionStatus(ready("False", at(5*time.Minute+10*time.Second), "ContainerMissing", msg), ""))
	x.revision(r3, delivery.RevisionCreated, r3.GetCreationTimestamp().UTC(), image("1.2"), "", "", "")
	x.revision(r3, delivery.RevisionFailed, at(5*time.Minute+10*time.Second), image("1.2"), "", "ContainerMissing", msg)
	e.expectStored(x.out)

	// Rollback: all traffic back to revision 1.
	e.clock.Set(at(6 * time.Minute))
	back := split{{"hello-00001", 100, "", false}, {"hello-00002", 0, "candidate", true}}
	svc = e.setStatus(gvrService, knNS, "hello", back.status("hello-00003"))
	x.traffic(svc, at(6*time.Minute), back)
	x.deployment(svc, delivery.ServiceRolledBack, at(6*time.Minute), "hello-00001", imageByDigest('a'), imageByDigest('b'))
	e.expectStored(x.out)

	// Revision 2, without traffic, scales to zero; later back to one.
	e.clock.Set(at(7 * time.Minute))
	pa2 = e.setStatus(gvrPA, knNS, "hello-00002", scaleStatus(0, 0))
	x.scale("hello-00002", pa2.GetResourceVersion(), at(7*time.Minute), 0, 0)
	e.expectStored(x.out)
	e.clock.Set(at(8 * time.Minute))
	pa2 = e.setStatus(gvrPA, knNS, "hello-00002", scaleStatus(0, 1))
	x.scale("hello-00002", pa2.GetResourceVersion(), at(8*time.Minute), 0, 1)
	e.expectStored(x.out)
	pa2 = e.setStatus(gvrPA, knNS, "hello-00002", scaleStatus(1, 1))
	x.scale("hello-00002", pa2.GetResourceVersion(), at(8*time.Minute), 1, 1)
	e.expectStored(x.out)

	// Revision 3 is garbage-collected: its history stays.
	e.clock.Set(at(9 * time.Minute))
	e.delete(gvrRevision, knNS, "hello-00003")
	x.revision(r3, delivery.RevisionDeleted, at(9*time.Minute), "", "", "", "")
	e.expectStored(x.out)

	// The API server restarts mid-watch: the source reports it is down,
	// then resumes by itself and records what changes next.
	e.srv.StopAPIServer(t)
	e.waitFor("the source to report the API down", func() error {
		if err := e.src.Ready(); err == nil {
			return fmt.Errorf("Ready() = nil")
		}
		return nil
	})
	t.Logf("while the API server is down, Ready() = %v", e.src.Ready())
	e.srv.StartAPIServer(t)
	e.waitFor("the source to be ready again", e.src.Ready)
	e.clock.Set(at(10 * time.Minute))
	half := split{{"hello-00001", 50, "", false}, {"hello-00002", 50, "candidate", true}}
	svc = e.setStatus(gvrService, knNS, "hello", half.status("hello-00003"))
	x.traffic(svc, at(10*time.Minute), half)
	e.expectStored(x.out)

	// shiplog stops; meanwhile revision 2 is garbage-collected, traffic
	// returns to revision 1 and it scales to zero. On restart, all of it is
	// recorded, and nothing twice.
	e.stopSource()
	e.delete(gvrRevision, knNS, "hello-00002")
	e.delete(gvrPA, knNS, "hello-00002")
	only1 := split{{"hello-00001", 100, "", true}}
	svc = e.setStatus(gvrService, knNS, "hello", only1.status("hello-00001"))
	pa1 = e.setStatus(gvrPA, knNS, "hello-00001", scaleStatus(0, 0))
	e.clock.Set(at(20 * time.Minute))
	e.startSource()
	x.revision(r2, delivery.RevisionDeleted, at(20*time.Minute), "", "", "", "")
	x.traffic(svc, at(20*time.Minute), only1)
	x.scale("hello-00001", pa1.GetResourceVersion(), at(20*time.Minute), 0, 0)
	e.expectStored(x.out)

	// The Service is deleted: its deployment is removed.
	e.clock.Set(at(21 * time.Minute))
	e.delete(gvrService, knNS, "hello")
	x.add("service/hello/removed/hello-00001", delivery.ServiceRemoved, at(21*time.Minute),
		&delivery.Deployment{PreviousArtifact: imageByDigest('a'), InferredFrom: "knative", Revision: "hello-00001"})
	e.expectStored(x.out)

	// The derived model: every revision, including the collected ones.
	revs, err := e.st.Revisions(context.Background(), store.ModelFilter{App: "hello", Env: "staging"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range revs {
		got = append(got, fmt.Sprintf("%s ready=%v failed=%q deleted=%v %s", r.Name, !r.ReadyAt.IsZero(), r.Reason, !r.DeletedAt.IsZero(), r.Digest))
	}
	want := []string{
		"hello-00001 ready=true failed=\"\" deleted=false " + digest('a'),
		"hello-00002 ready=true failed=\"\" deleted=true " + digest('b'),
		"hello-00003 ready=false failed=\"ContainerMissing\" deleted=true ",
	}
	if !slices.Equal(got, want) {
		t.Errorf("revisions:\n got %q\nwant %q", got, want)
	}
}
