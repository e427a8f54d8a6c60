package kube

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// SourceKind is the source kind of the events the Kubernetes source records.
const SourceKind = "kube"

// The API groups, versions and kinds shiplog reads.
const (
	argoGroupVersion     = "argoproj.io/v1alpha1"
	servingGroupVersion  = "serving.knative.dev/v1"
	autoscalGroupVersion = "autoscaling.internal.knative.dev/v1alpha1"
)

// ConvertObject returns the events for the change of one Argo CD or Knative
// object from prev (nil: never seen) to obj (nil: deleted), as the
// Kubernetes source records them for cluster: it is what the source's
// workers do for one object, without the source's memory of other objects.
// It suits a receiver that gets objects one at a time, such as Knative's
// ApiServerSource in Resource mode.
//
// What prev would have recorded is taken as recorded: the result is the
// difference. Deployments of Knative Services name revisions by the
// Service's template image (latest revision) or by name, as no Revision is
// at hand. An object of another kind gives an error wrapping
// delivery.ErrUnsupported.
func ConvertObject(cluster string, obj, prev *unstructured.Unstructured, now time.Time) ([]delivery.Event, error) {
	o := Origin{Source: SourceKind, Cluster: cluster}
	ref := obj
	if ref == nil {
		ref = prev
	}
	if ref == nil {
		return nil, nil
	}
	switch gk := ref.GetAPIVersion() + "/" + ref.GetKind(); gk {
	case argoGroupVersion + "/Application":
		return convertPair(obj, prev,
			func(a *Application, st *AppState) ([]delivery.Event, error) { return ConvertApplication(o, a, st, now) },
			func(st *AppState) []delivery.Event {
				return RemoveApplication(o, st, prev.GetNamespace(), prev.GetName(), now)
			})
	case servingGroupVersion + "/Service":
		return convertPair(obj, prev,
			func(s *KService, st *ServiceState) ([]delivery.Event, error) {
				return ConvertService(o, s, st, nil, now)
			},
			func(st *ServiceState) []delivery.Event {
				return RemoveService(o, st, "service", prev.GetNamespace(), prev.GetName(), now)
			})
	case servingGroupVersion + "/Route":
		return convertPair(obj, prev,
			func(r *Route, st *ServiceState) ([]delivery.Event, error) { return ConvertRoute(o, r, st, nil, now) },
			func(st *ServiceState) []delivery.Event {
				return RemoveService(o, st, "route", prev.GetNamespace(), prev.GetName(), now)
			})
	case servingGroupVersion + "/Revision":
		convert := func(r *Revision, st *RevisionState) ([]delivery.Event, error) {
			names := RevisionNames(r.Metadata, nil)
			evs, err := ConvertRevision(o, r, st, names, now)
			if err != nil {
				return nil, err
			}
			// Without a PodAutoscaler at hand, the Revision's replicas.
			sc, err := ConvertScale(o, r.Metadata.Namespace, r.Metadata.Name, names, r.Status.ActualReplicas, r.Status.DesiredReplicas,
				r.Metadata.ResourceVersion, st.scale(), now)
			return append(evs, sc...), err
		}
		return convertPair(obj, prev, convert, func(st *RevisionState) []delivery.Event {
			return RemoveRevision(o, st, prev.GetNamespace(), prev.GetName(), now)
		})
	case autoscalGroupVersion + "/PodAutoscaler":
		convert := func(pa *PodAutoscaler, st *RevisionState) ([]delivery.Event, error) {
			rev := pa.revision()
			return ConvertScale(o, pa.Metadata.Namespace, rev, RevisionNames(pa.Metadata, nil), pa.Status.ActualScale, pa.Status.DesiredScale,
				pa.Metadata.ResourceVersion, st.scale(), now)
		}
		return convertPair(obj, prev, convert, func(*RevisionState) []delivery.Event { return nil })
	default:
		return nil, fmt.Errorf("%w: %s is not an Argo CD Application or a Knative Service, Route, Revision or PodAutoscaler", delivery.ErrUnsupported, gk)
	}
}

// revision is the name of the Revision a PodAutoscaler scales.
func (pa *PodAutoscaler) revision() string {
	if r := pa.Metadata.Labels[labelRevision]; r != "" {
		return r
	}
	return pa.Metadata.Name
}

// applier is a state that folds recorded events.
type applier interface{ Apply(delivery.Event) }

// convertPair decodes obj and prev as T, takes as recorded what converting
// prev from nothing gives, and converts obj against that; with obj nil it
// returns what removing gives.
func convertPair[T any, S any, PS interface {
	*S
	applier
}](obj, prev *unstructured.Unstructured, convert func(*T, PS) ([]delivery.Event, error), remove func(PS) []delivery.Event) ([]delivery.Event, error) {
	st := PS(new(S))
	if prev != nil {
		var p T
		if err := decode(prev, &p); err != nil {
			return nil, err
		}
		evs, err := convert(&p, st)
		if err != nil {
			return nil, fmt.Errorf("previous state: %w", err)
		}
		for _, e := range evs {
			st.Apply(e)
		}
	}
	if obj == nil {
		evs := remove(st)
		for i := range evs {
			if err := evs[i].Validate(); err != nil {
				return nil, fmt.Errorf("%w: deleted object: %w", ErrMalformed, err)
			}
		}
		return evs, nil
	}
	var cur T
	if err := decode(obj, &cur); err != nil {
		return nil, err
	}
	return convert(&cur, st)
}
