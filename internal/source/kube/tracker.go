package kube

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/store"
)

// Appender stores events durably and idempotently on (Source, ID).
// *store.Store is one.
type Appender interface {
	Append(ctx context.Context, events ...delivery.Event) (store.AppendResult, error)
}

// Recaller reads recorded events back. When the Appender given to a source
// also implements it, as *store.Store does, the source rebuilds what it
// recorded before a restart from the store; without it, it relies on event
// ids alone and may record again transitions it cannot tell apart.
type Recaller interface {
	Events(ctx context.Context, f store.EventFilter) ([]delivery.Event, error)
}

// ErrMalformed marks an object that cannot be converted (a field of the
// wrong form): retrying does not help until the object changes.
var ErrMalformed = errors.New("malformed object")

// recalledTypes are the events whose fold is a source's memory, in the
// order they are read back: sync.finished first, so that a deployment finds
// the revision of its operation.
var recalledTypes = [][]delivery.EventType{
	{delivery.SyncFinished},
	{
		delivery.HealthChanged, delivery.SyncStatusChanged, delivery.TrafficChanged,
		delivery.RevisionCreated, delivery.RevisionReady, delivery.RevisionFailed, delivery.RevisionDeleted,
		delivery.ServiceDeployed, delivery.ServiceUpgraded, delivery.ServiceRolledBack, delivery.ServiceRemoved,
	},
}

// recall reads back the events o recorded for its cluster, in log order,
// and gives each to apply; scale samples only from the last two sampling
// intervals (older ones only matter while sampling anyway).
func recall(ctx context.Context, r Recaller, o Origin, now time.Time, withScale bool, apply func(delivery.Event)) error {
	filters := make([]store.EventFilter, 0, 3)
	for _, types := range recalledTypes {
		filters = append(filters, store.EventFilter{Source: o.Source, Types: types})
	}
	if withScale {
		filters = append(filters, store.EventFilter{Source: o.Source, Types: []delivery.EventType{delivery.ScaleSampled}, Since: now.Add(-2 * o.interval())})
	}
	for _, f := range filters {
		evs, err := r.Events(ctx, f)
		if err != nil {
			return fmt.Errorf("read back recorded events: %w", err)
		}
		for _, e := range evs {
			if e.Cluster == o.Cluster {
				apply(e)
			}
		}
	}
	return nil
}

// objectRef is what an event id says about its object.
type objectRef struct {
	family    string // "argocd" or "knative"
	namespace string
	kind      string // knative: "service", "route" or "revision"; argocd: ""
	name      string
}

// refOf parses the object out of an event id made by this package:
// "argocd/<cluster>/<ns>/<name>/…" or "knative/<cluster>/<ns>/<kind>/<name>/…".
func refOf(id, cluster string) (objectRef, bool) {
	family, rest, ok := strings.Cut(id, "/")
	if !ok {
		return objectRef{}, false
	}
	rest, ok = strings.CutPrefix(rest, cluster+"/")
	if !ok {
		return objectRef{}, false
	}
	parts := strings.SplitN(rest, "/", 4)
	switch {
	case family == "argocd" && len(parts) >= 2:
		return objectRef{family: family, namespace: parts[0], name: parts[1]}, true
	case family == "knative" && len(parts) >= 3:
		return objectRef{family: family, namespace: parts[0], kind: parts[1], name: parts[2]}, true
	}
	return objectRef{}, false
}

// AppTracker records Argo CD Applications for one cluster (or Argo CD
// server): for each state observed it appends the events ConvertApplication
// gives against what it recorded, then folds them into its memory. The
// Kubernetes source and the Argo CD REST source both use it. Observations of
// different Applications may run concurrently; those of one Application
// must not.
type AppTracker struct {
	o  Origin
	st Appender

	mu   sync.Mutex
	apps map[string]*AppState // by "namespace/name"
}

// NewAppTracker returns a tracker that appends o's events to st.
func NewAppTracker(o Origin, st Appender) *AppTracker {
	return &AppTracker{o: o, st: st, apps: map[string]*AppState{}}
}

func (t *AppTracker) state(namespace, name string) *AppState {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := namespace + "/" + name
	s := t.apps[k]
	if s == nil {
		s = &AppState{}
		t.apps[k] = s
	}
	return s
}

// apply folds a recorded event into the state of the Application its id
// names; it reports whether the event was an Argo CD one.
func (t *AppTracker) apply(e delivery.Event) bool {
	ref, ok := refOf(e.ID, t.o.Cluster)
	if !ok || ref.family != "argocd" {
		return false
	}
	t.state(ref.namespace, ref.name).Apply(e)
	return true
}

// Recall rebuilds the tracker's memory from the events recorded before.
func (t *AppTracker) Recall(ctx context.Context, r Recaller, now time.Time) error {
	return recall(ctx, r, t.o, now, false, func(e delivery.Event) { t.apply(e) })
}

// Observe records what app shows that is not recorded yet. An error
// wrapping ErrMalformed is not worth retrying; others (the store's) are.
func (t *AppTracker) Observe(ctx context.Context, app *Application, now time.Time) error {
	st := t.state(app.Metadata.Namespace, app.Metadata.Name)
	evs, err := ConvertApplication(t.o, app, st, now)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if err := appendAll(ctx, t.st, evs); err != nil {
		return err
	}
	for _, e := range evs {
		st.Apply(e)
	}
	st.Prune(app)
	return nil
}

// Remove records that an Application no longer exists and forgets it.
func (t *AppTracker) Remove(ctx context.Context, namespace, name string, now time.Time) error {
	st := t.state(namespace, name)
	evs := RemoveApplication(t.o, st, namespace, name, now)
	if err := appendAll(ctx, t.st, evs); err != nil {
		return err
	}
	t.mu.Lock()
	delete(t.apps, namespace+"/"+name)
	t.mu.Unlock()
	return nil
}

// Known returns the "namespace/name" of every Application in memory, and
// whether a deployment of it is recorded live (its removal matters).
func (t *AppTracker) Known() map[string]bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]bool, len(t.apps))
	for k, s := range t.apps {
		out[k] = s.Live.Op != "" && !s.Removed
	}
	return out
}

// Forget drops the memory of an Application that is gone and has nothing
// live to remove.
func (t *AppTracker) Forget(namespace, name string) {
	t.mu.Lock()
	delete(t.apps, namespace+"/"+name)
	t.mu.Unlock()
}

func appendAll(ctx context.Context, st Appender, evs []delivery.Event) error {
	if len(evs) == 0 {
		return nil
	}
	if _, err := st.Append(ctx, evs...); err != nil {
		return fmt.Errorf("append %d events: %w", len(evs), err)
	}
	return nil
}
