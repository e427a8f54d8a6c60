package kube

import (
	"encoding/json"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// shiplog's own minimal views of the Argo CD and Knative objects it reads:
// only the fields it uses, decoded from the objects' JSON. Timestamps are
// kept as the RFC 3339 strings the API serves and parsed where used.

// Meta is the part of metadata shiplog reads.
type Meta struct {
	Name              string            `json:"name"`
	Namespace         string            `json:"namespace,omitempty"`
	UID               string            `json:"uid,omitempty"`
	ResourceVersion   string            `json:"resourceVersion,omitempty"`
	Generation        int64             `json:"generation,omitempty"`
	CreationTimestamp string            `json:"creationTimestamp,omitempty"`
	DeletionTimestamp string            `json:"deletionTimestamp,omitempty"`
	Labels            map[string]string `json:"labels,omitempty"`
	Annotations       map[string]string `json:"annotations,omitempty"`
	OwnerReferences   []OwnerReference  `json:"ownerReferences,omitempty"`
}

// OwnerReference names an object's owner.
type OwnerReference struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
}

// Application is an Argo CD Application (argoproj.io/v1alpha1).
type Application struct {
	Metadata Meta      `json:"metadata"`
	Spec     AppSpec   `json:"spec"`
	Status   AppStatus `json:"status"`
}

// AppSpec is the part of an Application's spec shiplog reads.
type AppSpec struct {
	Project     string         `json:"project,omitempty"`
	Source      *AppSource     `json:"source,omitempty"`
	Sources     []AppSource    `json:"sources,omitempty"`
	Destination AppDestination `json:"destination"`
}

// AppSource is where an Application's manifests come from.
type AppSource struct {
	RepoURL        string `json:"repoURL,omitempty"`
	Path           string `json:"path,omitempty"`
	TargetRevision string `json:"targetRevision,omitempty"`
	Chart          string `json:"chart,omitempty"`
}

// AppDestination is the cluster and namespace an Application deploys to.
type AppDestination struct {
	Server    string `json:"server,omitempty"`
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}

// AppStatus is the part of an Application's status shiplog reads.
type AppStatus struct {
	Sync           AppSyncStatus   `json:"sync"`
	Health         AppHealth       `json:"health"`
	History        []HistoryEntry  `json:"history,omitempty"`
	OperationState *OperationState `json:"operationState,omitempty"`
	Summary        AppSummary      `json:"summary"`
	ReconciledAt   string          `json:"reconciledAt,omitempty"`
	Resources      []ManagedRes    `json:"resources,omitempty"`
}

// AppSyncStatus is status.sync: the comparison with Git.
type AppSyncStatus struct {
	Status    string   `json:"status,omitempty"` // Synced, OutOfSync, Unknown
	Revision  string   `json:"revision,omitempty"`
	Revisions []string `json:"revisions,omitempty"`
}

// AppHealth is status.health.
type AppHealth struct {
	Status             string `json:"status,omitempty"`
	Message            string `json:"message,omitempty"`
	LastTransitionTime string `json:"lastTransitionTime,omitempty"`
}

// HistoryEntry is one successful sync in status.history.
type HistoryEntry struct {
	ID              int64       `json:"id"`
	Revision        string      `json:"revision,omitempty"`
	Revisions       []string    `json:"revisions,omitempty"`
	DeployedAt      string      `json:"deployedAt,omitempty"`
	DeployStartedAt string      `json:"deployStartedAt,omitempty"`
	Source          *AppSource  `json:"source,omitempty"`
	Sources         []AppSource `json:"sources,omitempty"`
	InitiatedBy     Initiator   `json:"initiatedBy"`
}

// Initiator is who started a sync operation.
type Initiator struct {
	Username  string `json:"username,omitempty"`
	Automated bool   `json:"automated,omitempty"`
}

// OperationState is status.operationState: the current or last operation.
type OperationState struct {
	Operation  Operation   `json:"operation"`
	Phase      string      `json:"phase,omitempty"`
	Message    string      `json:"message,omitempty"`
	SyncResult *SyncResult `json:"syncResult,omitempty"`
	StartedAt  string      `json:"startedAt,omitempty"`
	FinishedAt string      `json:"finishedAt,omitempty"`
	RetryCount int64       `json:"retryCount,omitempty"`
}

// Operation is what was asked: a sync to a revision, by someone.
type Operation struct {
	Sync        *SyncOperation `json:"sync,omitempty"`
	InitiatedBy Initiator      `json:"initiatedBy"`
}

// SyncOperation is the sync an operation asked for.
type SyncOperation struct {
	Revision  string   `json:"revision,omitempty"`
	Revisions []string `json:"revisions,omitempty"`
}

// SyncResult is what a sync operation applied.
type SyncResult struct {
	Revision  string     `json:"revision,omitempty"`
	Revisions []string   `json:"revisions,omitempty"`
	Source    *AppSource `json:"source,omitempty"`
}

// AppSummary is status.summary.
type AppSummary struct {
	Images []string `json:"images,omitempty"`
}

// ManagedRes is one entry of status.resources: an object the Application manages.
type ManagedRes struct {
	Group     string `json:"group,omitempty"`
	Version   string `json:"version,omitempty"`
	Kind      string `json:"kind,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
}

// Condition is a Knative status condition.
type Condition struct {
	Type               string `json:"type"`
	Status             string `json:"status"` // True, False, Unknown
	Reason             string `json:"reason,omitempty"`
	Message            string `json:"message,omitempty"`
	LastTransitionTime string `json:"lastTransitionTime,omitempty"`
}

// Conditions is a list of status conditions.
type Conditions []Condition

// Get returns the condition of type t, if present.
func (cs Conditions) Get(t string) (Condition, bool) {
	for _, c := range cs {
		if c.Type == t {
			return c, true
		}
	}
	return Condition{}, false
}

// Container is a container of a pod template.
type Container struct {
	Name  string `json:"name,omitempty"`
	Image string `json:"image,omitempty"`
}

// TrafficTarget is one entry of a Knative traffic block.
type TrafficTarget struct {
	RevisionName      string `json:"revisionName,omitempty"`
	ConfigurationName string `json:"configurationName,omitempty"`
	LatestRevision    *bool  `json:"latestRevision,omitempty"`
	Percent           *int64 `json:"percent,omitempty"`
	Tag               string `json:"tag,omitempty"`
	URL               string `json:"url,omitempty"`
}

// KService is a Knative Service (serving.knative.dev/v1).
type KService struct {
	Metadata Meta `json:"metadata"`
	Spec     struct {
		Template struct {
			Metadata Meta `json:"metadata"`
			Spec     struct {
				Containers []Container `json:"containers,omitempty"`
			} `json:"spec"`
		} `json:"template"`
		Traffic []TrafficTarget `json:"traffic,omitempty"`
	} `json:"spec"`
	Status RouteStatus `json:"status"`
}

// RouteStatus is the status of a Knative Service or Route.
type RouteStatus struct {
	ObservedGeneration        int64           `json:"observedGeneration,omitempty"`
	LatestCreatedRevisionName string          `json:"latestCreatedRevisionName,omitempty"`
	LatestReadyRevisionName   string          `json:"latestReadyRevisionName,omitempty"`
	URL                       string          `json:"url,omitempty"`
	Traffic                   []TrafficTarget `json:"traffic,omitempty"`
	Conditions                Conditions      `json:"conditions,omitempty"`
}

// Route is a Knative Route (serving.knative.dev/v1).
type Route struct {
	Metadata Meta        `json:"metadata"`
	Status   RouteStatus `json:"status"`
}

// Revision is a Knative Revision (serving.knative.dev/v1).
type Revision struct {
	Metadata Meta `json:"metadata"`
	Spec     struct {
		Containers []Container `json:"containers,omitempty"`
	} `json:"spec"`
	Status struct {
		Conditions        Conditions `json:"conditions,omitempty"`
		ActualReplicas    *int32     `json:"actualReplicas,omitempty"`
		DesiredReplicas   *int32     `json:"desiredReplicas,omitempty"`
		ContainerStatuses []struct {
			Name        string `json:"name,omitempty"`
			ImageDigest string `json:"imageDigest,omitempty"`
		} `json:"containerStatuses,omitempty"`
	} `json:"status"`
}

// PodAutoscaler is a Knative PodAutoscaler
// (autoscaling.internal.knative.dev/v1alpha1), one per Revision.
type PodAutoscaler struct {
	Metadata Meta `json:"metadata"`
	Status   struct {
		DesiredScale *int32     `json:"desiredScale,omitempty"`
		ActualScale  *int32     `json:"actualScale,omitempty"`
		Conditions   Conditions `json:"conditions,omitempty"`
	} `json:"status"`
}

// decode converts an unstructured object into one of the structs above.
func decode(obj *unstructured.Unstructured, into any) error {
	b, err := obj.MarshalJSON()
	if err != nil {
		return fmt.Errorf("encode %s %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
	}
	if err := json.Unmarshal(b, into); err != nil {
		return fmt.Errorf("decode %s %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
	}
	return nil
}

// parseTime parses a Kubernetes RFC 3339 timestamp into UTC; "" is the zero
// time, without error.
func parseTime(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %q is not an RFC 3339 timestamp", field, v)
	}
	return t.UTC(), nil
}

// stamp formats a time for event ids: RFC 3339 in UTC, with the fraction
// only when there is one.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
