package demo

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/source/kube"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// The Knative objects of the simulated cluster, shaped as Knative Serving's
// controllers write them, and their conversion into shiplog's events by
// the Kubernetes source's own functions.

// kubeObs is one observed state of an object.
type kubeObs struct {
	At  time.Time
	Obj *unstructured.Unstructured
}

// observe records the object's state at t.
func (ks *knService) observe(t time.Time, obj *unstructured.Unstructured) {
	ks.obs = append(ks.obs, kubeObs{At: t, Obj: obj})
	if t.After(ks.clock) {
		ks.clock = t
	}
}

// meta starts an object's metadata; every change of the namespace's
// objects gets the next resourceVersion.
func (ks *knService) meta(kind, name string, created time.Time) map[string]any {
	ks.rv++
	ns := ks.namespace()
	return map[string]any{
		"name": name, "namespace": ns, "uid": ks.uid(kind, name), "resourceVersion": strconv.FormatInt(ks.rv, 10),
		"creationTimestamp": rfc(created),
	}
}

// uid is a stable UID for one of the namespace's objects.
func (ks *knService) uid(kind, name string) string {
	k := kind + "/" + name
	if u, ok := ks.uids[k]; ok {
		return u
	}
	x := sha256.Sum256([]byte(kind + "/" + ks.namespace() + "/" + name))
	h := hex.EncodeToString(x[:16])
	u := h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	if ks.uids == nil {
		ks.uids = map[string]string{}
	}
	ks.uids[k] = u
	return u
}

func cond(typ, status, reason, msg string, at time.Time) map[string]any {
	c := map[string]any{"type": typ, "status": status, "lastTransitionTime": rfc(at)}
	if reason != "" {
		c["reason"] = reason
	}
	if msg != "" {
		c["message"] = msg
	}
	return c
}

const argoCreator = "system:serviceaccount:argocd:argocd-application-controller"

// serviceObject is the Service as Knative reports it once r's rollout
// step is in force: r is its latest created and ready revision.
func (ks *knService) serviceObject(r *knRevision, t time.Time) *unstructured.Unstructured {
	name, ns := ks.App.Name, ks.namespace()
	m := ks.meta("Service", name, ks.Revs[0].Created)
	m["generation"] = int64(r.Gen)
	m["annotations"] = map[string]any{"serving.knative.dev/creator": argoCreator, "serving.knative.dev/lastModifier": argoCreator}
	var traffic []any
	for _, x := range ks.split {
		traffic = append(traffic, map[string]any{"revisionName": x.Rev.Name(), "percent": int64(x.Percent), "latestRevision": x.Rev == r})
	}
	ready := []any{
		cond("ConfigurationsReady", "True", "", "", r.Ready),
		cond("Ready", "True", "", "", t),
		cond("RoutesReady", "True", "", "", t),
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": m,
		"spec": map[string]any{
			"template": map[string]any{
				"metadata": map[string]any{"annotations": map[string]any{"autoscaling.knative.dev/min-scale": "0"}},
				"spec": map[string]any{"containerConcurrency": int64(0), "timeoutSeconds": int64(300),
					"containers": []any{map[string]any{"image": r.image(), "ports": []any{map[string]any{"containerPort": int64(8080)}}}}},
			},
			"traffic": []any{map[string]any{"latestRevision": true, "percent": int64(100)}},
		},
		"status": map[string]any{
			"observedGeneration":        int64(r.Gen),
			"latestCreatedRevisionName": r.Name(), "latestReadyRevisionName": r.Name(),
			"url":        "https://" + name + "." + ns + ".apps.acme.dev",
			"address":    map[string]any{"url": "http://" + name + "." + ns + ".svc.cluster.local"},
			"traffic":    traffic,
			"conditions": ready,
		},
	}}
}

// States of a Revision's Ready condition.
const (
	revCreated = iota // Unknown: deploying
	revReady          // True
	revFailed         // False: its container fails
)

// revisionObject is the Revision in a state, changed at t.
func (ks *knService) revisionObject(r *knRevision, t time.Time, state int) *unstructured.Unstructured {
	name := r.Name()
	m := ks.meta("Revision", name, r.Created)
	m["generation"] = int64(1)
	m["labels"] = map[string]any{
		"serving.knative.dev/service": ks.App.Name, "serving.knative.dev/configuration": ks.App.Name,
		"serving.knative.dev/configurationGeneration": strconv.Itoa(r.Gen), "serving.knative.dev/routingState": "active",
		"serving.knative.dev/serviceUID": ks.uid("Service", ks.App.Name),
	}
	m["annotations"] = map[string]any{"serving.knative.dev/creator": argoCreator, "serving.knative.dev/routes": ks.App.Name,
		"autoscaling.knative.dev/min-scale": "0"}
	m["ownerReferences"] = []any{map[string]any{"apiVersion": "serving.knative.dev/v1", "kind": "Configuration", "name": ks.App.Name,
		"uid": ks.uid("Configuration", ks.App.Name), "controller": true, "blockOwnerDeletion": true}}
	var conds []any
	switch state {
	case revCreated:
		conds = []any{
			cond("Active", "Unknown", "Deploying", "", t),
			cond("ContainerHealthy", "Unknown", "Deploying", "", t),
			cond("Ready", "Unknown", "Deploying", "", t),
			cond("ResourcesAvailable", "Unknown", "Deploying", "", t),
		}
	case revReady:
		conds = []any{
			cond("Active", "True", "", "", r.Ready),
			cond("ContainerHealthy", "True", "", "", t),
			cond("Ready", "True", "", "", t),
			cond("ResourcesAvailable", "True", "", "", r.Ready),
		}
	case revFailed:
		conds = []any{
			cond("Active", "True", "", "", r.Ready),
			cond("ContainerHealthy", "False", r.FailReason, r.FailMessage, t),
			cond("Ready", "False", r.FailReason, r.FailMessage, t),
			cond("ResourcesAvailable", "True", "", "", r.Ready),
		}
	}
	// actualReplicas and desiredReplicas are left out: the PodAutoscaler
	// reports the scale, as the Kubernetes source reads it when it can.
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "serving.knative.dev/v1", "kind": "Revision", "metadata": m,
		"spec": map[string]any{"containerConcurrency": int64(0), "timeoutSeconds": int64(300),
			"containers": []any{map[string]any{"name": "user-container", "image": r.image(),
				"ports":          []any{map[string]any{"containerPort": int64(8080), "name": "user-port", "protocol": "TCP"}},
				"readinessProbe": map[string]any{"successThreshold": int64(1), "tcpSocket": map[string]any{"port": int64(0)}}}}},
		"status": map[string]any{
			"observedGeneration": int64(1),
			"containerStatuses":  []any{map[string]any{"name": "user-container", "imageDigest": registry + "/" + r.App + "@" + r.digest()}},
			"conditions":         conds,
		},
	}}
}

// autoscalerObject is the revision's PodAutoscaler with its replicas.
func (ks *knService) autoscalerObject(r *knRevision, t time.Time) *unstructured.Unstructured {
	name := r.Name()
	m := ks.meta("PodAutoscaler", name, r.Created)
	m["generation"] = int64(1)
	m["labels"] = map[string]any{
		"serving.knative.dev/service": ks.App.Name, "serving.knative.dev/configuration": ks.App.Name,
		"serving.knative.dev/configurationGeneration": strconv.Itoa(r.Gen), "serving.knative.dev/revision": name,
		"serving.knative.dev/revisionUID": ks.uid("Revision", name),
	}
	m["annotations"] = map[string]any{"autoscaling.knative.dev/class": "kpa.autoscaling.knative.dev", "autoscaling.knative.dev/metric": "concurrency",
		"autoscaling.knative.dev/min-scale": "0"}
	m["ownerReferences"] = []any{map[string]any{"apiVersion": "serving.knative.dev/v1", "kind": "Revision", "name": name,
		"uid": ks.uid("Revision", name), "controller": true, "blockOwnerDeletion": true}}
	reach, active := "Unreachable", cond("Active", "False", "NoTraffic", "The target is not receiving traffic.", t)
	if r.share > 0 {
		reach = "Reachable"
	}
	if r.replicas > 0 {
		active = cond("Active", "True", "", "", t)
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "autoscaling.internal.knative.dev/v1alpha1", "kind": "PodAutoscaler", "metadata": m,
		"spec": map[string]any{"protocolType": "http1", "reachability": reach,
			"scaleTargetRef": map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": name + "-deployment"}},
		"status": map[string]any{
			"observedGeneration": int64(1), "serviceName": name, "metricsServiceName": name + "-private",
			"actualScale": int64(r.replicas), "desiredScale": int64(r.replicas),
			"conditions": []any{active, cond("Ready", "True", "", "", r.Ready), cond("SKSReady", "True", "", "", r.Ready),
				cond("ScaleTargetInitialized", "True", "", "", r.Ready)},
		},
	}}
}

// kubeFeed turns one service's observed objects into events as the
// workers of shiplog's Kubernetes source do: each object read into the
// source's view of its kind and converted (kube.ConvertService,
// ConvertRevision, ConvertScale) against what the events recorded so far
// (kube.ServiceState, RevisionState), folded in once appended.
// kube.ConvertObject, which knows only the previous object, would give
// the same Revision and PodAutoscaler events, decoding twice as much, and
// would take a rollout's last step, from a split where no revision served
// everything, for a first deployment.
type kubeFeed struct {
	origin    kube.Origin
	service   kube.ServiceState
	revisions map[string]*kube.RevisionState // by revision name
}

func newKubeFeed() *kubeFeed {
	return &kubeFeed{origin: kube.Origin{Source: kube.SourceKind, Cluster: kubeCluster}, revisions: map[string]*kube.RevisionState{}}
}

// decode reads an object into the Kubernetes source's view of its kind
// (by its JSON field names, as the source's own decoding does).
func decode(obj *unstructured.Unstructured, into any) error {
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, into); err != nil {
		return fmt.Errorf("decode %s %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
	}
	return nil
}

func (f *kubeFeed) revision(name string) *kube.RevisionState {
	st := f.revisions[name]
	if st == nil {
		st = &kube.RevisionState{}
		f.revisions[name] = st
	}
	return st
}

func (f *kubeFeed) convert(o kubeObs) ([]delivery.Event, error) {
	obj := o.Obj
	var evs []delivery.Event
	var err error
	switch obj.GetKind() {
	case "Service":
		var svc kube.KService
		if err := decode(obj, &svc); err != nil {
			return nil, err
		}
		if evs, err = kube.ConvertService(f.origin, &svc, &f.service, nil, o.At); err != nil {
			return nil, err
		}
		for _, e := range evs {
			f.service.Apply(e)
		}
	case "Revision":
		var r kube.Revision
		if err := decode(obj, &r); err != nil {
			return nil, err
		}
		st := f.revision(r.Metadata.Name)
		if evs, err = kube.ConvertRevision(f.origin, &r, st, kube.RevisionNames(r.Metadata, nil), o.At); err != nil {
			return nil, err
		}
		for _, e := range evs {
			st.Apply(e)
		}
	case "PodAutoscaler":
		var pa kube.PodAutoscaler
		if err := decode(obj, &pa); err != nil {
			return nil, err
		}
		rev := cmp.Or(pa.Metadata.Labels["serving.knative.dev/revision"], pa.Metadata.Name)
		st := f.revision(rev)
		evs, err = kube.ConvertScale(f.origin, pa.Metadata.Namespace, rev, kube.RevisionNames(pa.Metadata, nil),
			pa.Status.ActualScale, pa.Status.DesiredScale, pa.Metadata.ResourceVersion, &st.Scale, o.At)
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			st.Apply(e)
		}
	default:
		return nil, fmt.Errorf("%s %s/%s: not a Knative object the demo records", obj.GetKind(), obj.GetNamespace(), obj.GetName())
	}
	return evs, nil
}

// flush converts the service's pending observations, in order, and
// appends their events to st, at most batch a call.
func (ks *knService) flush(ctx context.Context, st *store.Store, batch int) (objects, events int, err error) {
	if ks.feed == nil {
		ks.feed = newKubeFeed()
	}
	f := ks.feed
	var evs []delivery.Event
	send := func() error {
		if len(evs) == 0 {
			return nil
		}
		if _, err := st.Append(ctx, evs...); err != nil {
			return fmt.Errorf("append %d Knative events of %s: %w", len(evs), ks.namespace(), err)
		}
		events += len(evs)
		evs = evs[:0]
		return nil
	}
	for _, o := range ks.obs {
		e, err := f.convert(o)
		if err != nil {
			return objects, events, err
		}
		evs = append(evs, e...)
		if len(evs) >= batch {
			if err := send(); err != nil {
				return objects, events, err
			}
		}
	}
	objects = len(ks.obs)
	ks.obs = ks.obs[:0]
	return objects, events, send()
}
