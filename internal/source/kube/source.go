package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/workqueue"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// ClusterConfig is one cluster to watch.
type ClusterConfig struct {
	// Name names the cluster in events and their ids: letters, digits, '-',
	// '_' and '.', as the configuration key kube.clusters[].name.
	Name string
	// Kubeconfig is the kubeconfig file ("" : $KUBECONFIG, else ~/.kube/config).
	Kubeconfig string
	// Context is the kubeconfig context ("" : its current context).
	Context string
	// InCluster uses the pod's service account instead of a kubeconfig.
	InCluster bool
	// Namespaces limits watching to these namespaces (none: all). Include
	// Argo CD's own namespace, where Applications live.
	Namespaces []string
	// LabelSelector limits watching to the objects it selects, of every kind.
	LabelSelector string
	// ScaleSampleInterval is how often a revision's scale is sampled while
	// it is not zero (0: DefaultScaleSampleInterval).
	ScaleSampleInterval time.Duration
	// TargetPercent is the share of traffic (1–100) a Knative revision must
	// serve for its deployment to be recorded (0: 100).
	TargetPercent int
}

// The kinds the source watches.
type kind int

const (
	kApplication kind = iota
	kService
	kRoute
	kRevision
	kPodAutoscaler
	numKinds
)

var kindInfo = [numKinds]struct {
	gvr  schema.GroupVersionResource
	kind string
}{
	kApplication:   {schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applications"}, "Application"},
	kService:       {schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "services"}, "Service"},
	kRoute:         {schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "routes"}, "Route"},
	kRevision:      {schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "revisions"}, "Revision"},
	kPodAutoscaler: {schema.GroupVersionResource{Group: "autoscaling.internal.knative.dev", Version: "v1alpha1", Resource: "podautoscalers"}, "PodAutoscaler"},
}

func (k kind) String() string {
	g := kindInfo[k].gvr
	return g.Resource + "." + g.Group
}

// objKey names one object in the work queue.
type objKey struct {
	kind      kind
	namespace string
	name      string
}

func (k objKey) String() string { return k.kind.String() + " " + k.namespace + "/" + k.name }

// watchState is how the watch of one kind is doing.
type watchState struct {
	served    bool                                 // the API serves the kind
	informers map[string]cache.SharedIndexInformer // by namespace ("" : all)
	synced    bool
	errs      map[string]error // last list/watch failure, by namespace
}

// Timing of retries; variables so that tests need not wait minutes.
var (
	rediscoverEvery = time.Minute      // how often kinds not served are looked for again
	startRetryMax   = 30 * time.Second // longest wait between start-up attempts
)

const workers = 2

// Source watches Argo CD Applications and Knative Services, Routes,
// Revisions and PodAutoscalers in one cluster through the Kubernetes API
// and records what happens to them as events.
//
// Informers (dynamic client) only put the key of what changed in a
// rate-limited work queue; workers read the object from the informer's
// cache and record the difference between it and what the source recorded
// before (its memory: the fold of the events it appended, rebuilt from the
// store on start). Recording is level-triggered and idempotent: event ids
// are stable, so what is recorded twice is stored once.
type Source struct {
	cfg    ClusterConfig
	st     Appender
	rec    Recaller
	log    *slog.Logger
	clock  func() time.Time
	dyn    dynamic.Interface
	disco  discovery.DiscoveryInterface
	sel    string
	origin Origin
	queue  workqueue.TypedRateLimitingInterface[objKey]
	apps   *AppTracker

	mu        sync.Mutex
	running   bool
	startErr  error // what keeps the source from starting, while it retries
	ready     bool  // caches synced, workers running
	kinds     [numKinds]*watchState
	services  map[objKey]*ServiceState // by service or route key
	revisions map[objKey]*RevisionState
	informing sync.WaitGroup
}

// New returns a source for one cluster that appends to st (and, when st is
// a Recaller, reads back from it on start). It checks the configuration
// and loads the kubeconfig, without contacting the cluster.
func New(cfg ClusterConfig, st Appender, log *slog.Logger, clock func() time.Time) (*Source, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if clock == nil {
		clock = time.Now
	}
	rc, err := restConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kube cluster %q: %w", cfg.Name, err)
	}
	rc = rest.CopyConfig(rc)
	rc.UserAgent = "shiplog"
	rc.QPS, rc.Burst = 20, 40
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kube cluster %q: dynamic client: %w", cfg.Name, err)
	}
	disco, err := discovery.NewDiscoveryClientForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kube cluster %q: discovery client: %w", cfg.Name, err)
	}
	s := &Source{
		cfg: cfg, st: st, log: log.With("source", SourceKind, "cluster", cfg.Name), clock: clock,
		dyn: dyn, disco: disco, sel: cfg.LabelSelector,
		origin: Origin{Source: SourceKind, Cluster: cfg.Name, TargetPercent: cfg.TargetPercent, ScaleSampleInterval: cfg.ScaleSampleInterval},
	}
	s.rec, _ = st.(Recaller)
	return s, nil
}

func (c ClusterConfig) validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("name: missing"))
	} else if strings.ContainsAny(c.Name, "/ \t\n") || len(c.Name) > delivery.MaxNameLen {
		errs = append(errs, fmt.Errorf("name: %q must be at most %d characters without '/' or spaces", c.Name, delivery.MaxNameLen))
	}
	if c.InCluster && (c.Kubeconfig != "" || c.Context != "") {
		errs = append(errs, errors.New("in_cluster: cannot be combined with kubeconfig or context"))
	}
	if _, err := labels.Parse(c.LabelSelector); err != nil {
		errs = append(errs, fmt.Errorf("label_selector: %v", err))
	}
	if c.ScaleSampleInterval < 0 {
		errs = append(errs, fmt.Errorf("scale_sample_interval: %s must not be negative", c.ScaleSampleInterval))
	}
	if c.TargetPercent < 0 || c.TargetPercent > 100 {
		errs = append(errs, fmt.Errorf("target_percent: %d is not within 1–100", c.TargetPercent))
	}
	for i, ns := range c.Namespaces {
		if ns == "" || strings.Contains(ns, "/") {
			errs = append(errs, fmt.Errorf("namespaces[%d]: %q is not a namespace name", i, ns))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("kube cluster %q: %w", c.Name, errors.Join(errs...))
	}
	return nil
}

func restConfig(cfg ClusterConfig) (*rest.Config, error) {
	if cfg.InCluster {
		rc, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("in-cluster config: %w", err)
		}
		return rc, nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if cfg.Kubeconfig != "" {
		rules.ExplicitPath = cfg.Kubeconfig
	}
	rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: cfg.Context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return rc, nil
}

// Ready returns nil once the caches are synced and every watch is healthy,
// else an error naming the problem: not started yet, the API unreachable,
// a cache not synced, a watch failing (with the API's answer, e.g. an RBAC
// refusal), or none of the kinds served. A kind the API does not serve
// (its CRD is not installed) is skipped and logged, and not a problem as
// long as another kind is served.
func (s *Source) Ready() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	prefix := fmt.Sprintf("kube cluster %q", s.cfg.Name)
	switch {
	case !s.running:
		return fmt.Errorf("%s: not running", prefix)
	case s.startErr != nil:
		return fmt.Errorf("%s: %w", prefix, s.startErr)
	case s.kinds[0] == nil:
		return fmt.Errorf("%s: starting", prefix)
	}
	var problems, unsynced []string
	served := 0
	for k, ws := range s.kinds {
		if !ws.served {
			continue
		}
		served++
		if !ws.synced {
			unsynced = append(unsynced, kind(k).String())
		}
		for _, ns := range slices.Sorted(maps.Keys(ws.errs)) {
			where := kind(k).String()
			if ns != "" {
				where += " in " + ns
			}
			problems = append(problems, fmt.Sprintf("watching %s: %v", where, ws.errs[ns]))
		}
	}
	switch {
	case len(problems) > 0:
		return fmt.Errorf("%s: %s", prefix, strings.Join(problems, "; "))
	case served == 0:
		return fmt.Errorf("%s: the API serves none of Argo CD Applications, Knative Services, Routes, Revisions, PodAutoscalers (CRDs not installed?)", prefix)
	case len(unsynced) > 0 || !s.ready:
		return fmt.Errorf("%s: waiting for the caches of %s to sync", prefix, strings.Join(unsynced, ", "))
	}
	return nil
}

// Skipped returns the resources the API does not serve (their CRD is not
// installed), which the source does not watch; it looks for them again
// every minute.
func (s *Source) Skipped() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k, ws := range s.kinds {
		if ws != nil && !ws.served {
			out = append(out, kind(k).String())
		}
	}
	return out
}

// Run watches the cluster until ctx is done. It retries what fails on its
// own (discovery, reading the store back, lists and watches) and returns
// nil when ctx is done, or an error if it is run twice.
func (s *Source) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return fmt.Errorf("kube cluster %q: already running", s.cfg.Name)
	}
	s.running = true
	s.origin.Since = s.clock()
	s.apps = NewAppTracker(s.origin, s.st)
	s.services = map[objKey]*ServiceState{}
	s.revisions = map[objKey]*RevisionState{}
	s.queue = workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[objKey](),
		workqueue.TypedRateLimitingQueueConfig[objKey]{})
	s.mu.Unlock()
	defer func() {
		s.queue.ShutDown()
		s.informing.Wait()
		s.mu.Lock()
		s.running, s.ready = false, false
		s.mu.Unlock()
	}()

	served, err := retry(ctx, s, "discover the API", s.discover)
	if err != nil {
		return nil // ctx done
	}
	if _, err := retry(ctx, s, "read back what was recorded", func(ctx context.Context) (struct{}, error) {
		return struct{}{}, s.recall(ctx)
	}); err != nil {
		return nil
	}
	s.mu.Lock()
	for k := range numKinds {
		s.kinds[k] = &watchState{served: served[k], informers: map[string]cache.SharedIndexInformer{}, errs: map[string]error{}}
	}
	s.mu.Unlock()
	for k := range numKinds {
		if served[k] {
			s.startInformers(ctx, k)
		} else {
			s.log.Warn("kind not served by the API (CRD not installed?): skipped", "resource", k.String())
		}
	}
	for k := range numKinds {
		if served[k] && !s.waitSynced(ctx, k) {
			return nil
		}
	}
	s.enqueueGone()
	s.mu.Lock()
	s.ready = true
	s.mu.Unlock()
	s.log.Info("watching", "since", s.origin.Since)

	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for s.processNext(ctx) {
			}
		})
	}
	wg.Go(func() { s.rediscover(ctx, served) })
	<-ctx.Done()
	s.queue.ShutDown()
	wg.Wait()
	return nil
}

// retry calls f until it succeeds or ctx is done, with a growing pause,
// reporting the failure in Ready meanwhile.
func retry[T any](ctx context.Context, s *Source, what string, f func(context.Context) (T, error)) (T, error) {
	wait := 500 * time.Millisecond
	for {
		v, err := f(ctx)
		s.mu.Lock()
		if err == nil {
			s.startErr = nil
		} else {
			s.startErr = fmt.Errorf("cannot %s: %w", what, err)
		}
		s.mu.Unlock()
		if err == nil {
			return v, nil
		}
		if ctx.Err() != nil {
			return v, ctx.Err()
		}
		s.log.Warn("cannot "+what+"; retrying", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return v, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, startRetryMax)
	}
}

// discover finds which kinds the API serves.
func (s *Source) discover(ctx context.Context) ([numKinds]bool, error) {
	var served [numKinds]bool
	byGV := map[string][]string{}
	for k := range numKinds {
		gv := kindInfo[k].gvr.GroupVersion().String()
		if _, ok := byGV[gv]; ok {
			continue
		}
		list, err := s.disco.ServerResourcesForGroupVersion(gv)
		switch {
		case apierrors.IsNotFound(err):
			byGV[gv] = nil
		case err != nil:
			return served, err
		default:
			for _, r := range list.APIResources {
				byGV[gv] = append(byGV[gv], r.Name)
			}
		}
	}
	for k := range numKinds {
		served[k] = slices.Contains(byGV[kindInfo[k].gvr.GroupVersion().String()], kindInfo[k].gvr.Resource)
	}
	return served, ctx.Err()
}

// rediscover looks again, now and then, for the kinds not served at start
// (a CRD installed later) and starts watching them.
func (s *Source) rediscover(ctx context.Context, served [numKinds]bool) {
	t := time.NewTicker(rediscoverEvery)
	defer t.Stop()
	for {
		if !slices.Contains(served[:], false) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now, err := s.discover(ctx)
		if err != nil {
			continue
		}
		for k := range numKinds {
			if served[k] || !now[k] {
				continue
			}
			served[k] = true
			s.log.Info("kind now served: watching it", "resource", k.String())
			s.mu.Lock()
			s.kinds[k].served = true
			s.mu.Unlock()
			s.startInformers(ctx, k)
			go s.waitSynced(ctx, k)
		}
	}
}

func (s *Source) namespaces() []string {
	if len(s.cfg.Namespaces) == 0 {
		return []string{metav1.NamespaceAll}
	}
	return s.cfg.Namespaces
}

func (s *Source) watched(ns string) bool {
	return len(s.cfg.Namespaces) == 0 || slices.Contains(s.cfg.Namespaces, ns)
}

// noteWatch records the outcome of a list or watch call of kind k in ns.
func (s *Source) noteWatch(k kind, ns string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ws := s.kinds[k]
	prev := ws.errs[ns]
	switch {
	case err == nil:
		delete(ws.errs, ns)
		if prev != nil {
			s.log.Info("watch restored", "resource", k.String(), "namespace", ns)
		}
	case errors.Is(err, context.Canceled):
	default:
		ws.errs[ns] = err
		if prev == nil {
			s.log.Warn("watch failing; retrying", "resource", k.String(), "namespace", ns, "err", err)
		}
	}
}

func (s *Source) startInformers(ctx context.Context, k kind) {
	res := s.dyn.Resource(kindInfo[k].gvr)
	for _, ns := range s.namespaces() {
		ri := res.Namespace(ns)
		tweak := func(o *metav1.ListOptions) { o.LabelSelector = s.sel }
		lw := &cache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				tweak(&o)
				l, err := ri.List(ctx, o)
				s.noteWatch(k, ns, err)
				return l, err
			},
			WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				tweak(&o)
				w, err := ri.Watch(ctx, o)
				s.noteWatch(k, ns, err)
				return w, err
			},
		}
		inf := cache.NewSharedIndexInformerWithOptions(lw, &unstructured.Unstructured{},
			cache.SharedIndexInformerOptions{ObjectDescription: kindInfo[k].gvr.String()})
		_ = inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
			if errors.Is(err, io.EOF) || apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
				s.log.Debug("watch ended; resuming", "resource", k.String(), "namespace", ns, "err", err)
				return // the reflector relists or resumes at once
			}
			s.noteWatch(k, ns, err)
		})
		enqueue := func(obj any) {
			key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
			if err != nil {
				return
			}
			ns, name, err := cache.SplitMetaNamespaceKey(key)
			if err != nil {
				return
			}
			s.queue.Add(objKey{kind: k, namespace: ns, name: name})
		}
		_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    enqueue,
			UpdateFunc: func(_, obj any) { enqueue(obj) },
			DeleteFunc: enqueue,
		})
		s.mu.Lock()
		s.kinds[k].informers[ns] = inf
		s.mu.Unlock()
		s.informing.Go(func() { inf.RunWithContext(ctx) })
	}
}

func (s *Source) waitSynced(ctx context.Context, k kind) bool {
	s.mu.Lock()
	var synced []cache.InformerSynced
	for _, inf := range s.kinds[k].informers {
		synced = append(synced, inf.HasSynced)
	}
	s.mu.Unlock()
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return false
	}
	s.mu.Lock()
	s.kinds[k].synced = true
	s.mu.Unlock()
	return true
}

// get returns the cached object of key k, or nil when there is none.
func (s *Source) get(k kind, namespace, name string) *unstructured.Unstructured {
	s.mu.Lock()
	ws := s.kinds[k]
	var inf cache.SharedIndexInformer
	if ws != nil && ws.served {
		inf = ws.informers[namespace]
		if inf == nil {
			inf = ws.informers[metav1.NamespaceAll]
		}
	}
	s.mu.Unlock()
	if inf == nil {
		return nil
	}
	obj, ok, err := inf.GetIndexer().GetByKey(namespace + "/" + name)
	if err != nil || !ok {
		return nil
	}
	u, _ := obj.(*unstructured.Unstructured)
	return u
}

func (s *Source) served(k kind) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.kinds[k] != nil && s.kinds[k].served
}

// recall rebuilds the source's memory from the store.
func (s *Source) recall(ctx context.Context) error {
	if s.rec == nil {
		return nil
	}
	return recall(ctx, s.rec, s.origin, s.clock(), true, func(e delivery.Event) {
		if s.apps.apply(e) {
			return
		}
		ref, ok := refOf(e.ID, s.origin.Cluster)
		if !ok || ref.family != "knative" {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		switch ref.kind {
		case "service", "route":
			k := objKey{kind: kService, namespace: ref.namespace, name: ref.name}
			if ref.kind == "route" {
				k.kind = kRoute
			}
			st := s.services[k]
			if st == nil {
				st = &ServiceState{}
				s.services[k] = st
			}
			st.Apply(e)
		case "revision":
			k := objKey{kind: kRevision, namespace: ref.namespace, name: ref.name}
			st := s.revisions[k]
			if st == nil {
				st = &RevisionState{}
				s.revisions[k] = st
			}
			st.Apply(e)
		}
	})
}

// enqueueGone queues the objects recorded before whose removal matters
// (a live deployment, a revision not deleted) and that the caches no
// longer hold: they were deleted while shiplog was not watching. Memory of
// other vanished objects is dropped.
func (s *Source) enqueueGone() {
	gone := func(k objKey) bool {
		return s.served(k.kind) && s.watched(k.namespace) && s.get(k.kind, k.namespace, k.name) == nil
	}
	for ref, live := range s.apps.Known() {
		ns, name, _ := strings.Cut(ref, "/")
		k := objKey{kind: kApplication, namespace: ns, name: name}
		if !gone(k) {
			continue
		}
		if live {
			s.queue.Add(k)
		} else {
			s.apps.Forget(ns, name)
		}
	}
	s.mu.Lock()
	var svcs, revs []objKey
	for k := range s.services {
		svcs = append(svcs, k)
	}
	for k := range s.revisions {
		revs = append(revs, k)
	}
	s.mu.Unlock()
	for _, k := range svcs {
		if !gone(k) {
			continue
		}
		s.mu.Lock()
		st := s.services[k]
		matters := st.Live.Revision != "" && !st.Removed
		if !matters {
			delete(s.services, k)
		}
		s.mu.Unlock()
		if matters {
			s.queue.Add(k)
		}
	}
	for _, k := range revs {
		if !gone(k) {
			continue
		}
		s.mu.Lock()
		st := s.revisions[k]
		matters := !st.Created.IsZero() && !st.Deleted
		if !matters {
			delete(s.revisions, k)
		}
		s.mu.Unlock()
		if matters {
			s.queue.Add(k)
		}
	}
}

func (s *Source) processNext(ctx context.Context) bool {
	k, quit := s.queue.Get()
	if quit {
		return false
	}
	defer s.queue.Done(k)
	after, err := s.process(ctx, k)
	switch {
	case err == nil:
		s.queue.Forget(k)
		if after > 0 {
			s.queue.AddAfter(k, after)
		}
	case errors.Is(err, ErrMalformed):
		s.log.Error("cannot record object", "object", k.String(), "err", err)
		s.queue.Forget(k)
	case ctx.Err() != nil:
	default:
		s.log.Warn("cannot record object; retrying", "object", k.String(), "err", err)
		s.queue.AddRateLimited(k)
	}
	return true
}

// process records the difference between one object and what was
// recorded about it. It returns when to look at it again (periodic scale
// samples), if ever.
func (s *Source) process(ctx context.Context, k objKey) (time.Duration, error) {
	obj := s.get(k.kind, k.namespace, k.name)
	now := s.clock()
	switch k.kind {
	case kApplication:
		if obj == nil {
			return 0, s.apps.Remove(ctx, k.namespace, k.name, now)
		}
		var app Application
		if err := decode(obj, &app); err != nil {
			return 0, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		return 0, s.apps.Observe(ctx, &app, now)
	case kService, kRoute:
		return 0, s.processTraffic(ctx, k, obj, now)
	case kRevision:
		return s.processRevision(ctx, k, obj, now)
	case kPodAutoscaler:
		return s.processAutoscaler(ctx, k, obj, now)
	}
	return 0, nil
}

func (s *Source) serviceState(k objKey) *ServiceState {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.services[k]
	if st == nil {
		st = &ServiceState{}
		s.services[k] = st
	}
	return st
}

func (s *Source) processTraffic(ctx context.Context, k objKey, obj *unstructured.Unstructured, now time.Time) error {
	st := s.serviceState(k)
	var evs []delivery.Event
	var err error
	switch {
	case obj == nil:
		kind := "service"
		if k.kind == kRoute {
			kind = "route"
		}
		evs = RemoveService(s.origin, st, kind, k.namespace, k.name, now)
	case k.kind == kService:
		var svc KService
		if err := decode(obj, &svc); err != nil {
			return fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		evs, err = ConvertService(s.origin, &svc, st, s.artifact, now)
	default:
		var r Route
		if err := decode(obj, &r); err != nil {
			return fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		evs, err = ConvertRoute(s.origin, &r, st, s.artifact, now)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if err := appendAll(ctx, s.st, evs); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range evs {
		st.Apply(e)
	}
	if obj == nil {
		delete(s.services, k)
	}
	return nil
}

// artifact names what a revision runs, from the Revision cache.
func (s *Source) artifact(namespace, revision string) string {
	obj := s.get(kRevision, namespace, revision)
	if obj == nil {
		return ""
	}
	var r Revision
	if err := decode(obj, &r); err != nil {
		return ""
	}
	_, _, ref := r.Image()
	return ref
}

// revisionNames names a revision's events, with its Service's labels.
func (s *Source) revisionNames(m Meta) Names {
	var svcLabels map[string]string
	if svc := m.Labels[labelService]; svc != "" {
		if obj := s.get(kService, m.Namespace, svc); obj != nil {
			svcLabels = obj.GetLabels()
		}
	}
	return RevisionNames(m, svcLabels)
}

// revisionState returns a copy of the revision's state, to convert against
// without holding the lock.
func (s *Source) revisionState(k objKey) RevisionState {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.revisions[k]; st != nil {
		return *st
	}
	return RevisionState{}
}

// applyRevision folds appended events into the revision's state and
// returns when its next periodic scale sample is due.
func (s *Source) applyRevision(k objKey, evs []delivery.Event, gone bool, now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gone {
		delete(s.revisions, k)
		return 0
	}
	st := s.revisions[k]
	if st == nil {
		st = &RevisionState{}
		s.revisions[k] = st
	}
	for _, e := range evs {
		st.Apply(e)
	}
	return st.Scale.Due(s.origin, now)
}

func (s *Source) processRevision(ctx context.Context, k objKey, obj *unstructured.Unstructured, now time.Time) (time.Duration, error) {
	st := s.revisionState(k)
	if obj == nil {
		evs := RemoveRevision(s.origin, &st, k.namespace, k.name, now)
		if err := appendAll(ctx, s.st, evs); err != nil {
			return 0, err
		}
		s.applyRevision(k, evs, true, now)
		return 0, nil
	}
	var r Revision
	if err := decode(obj, &r); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	names := s.revisionNames(r.Metadata)
	evs, err := ConvertRevision(s.origin, &r, &st, names, now)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	scaling := !s.served(kPodAutoscaler)
	if scaling {
		sc, err := ConvertScale(s.origin, k.namespace, k.name, names, r.Status.ActualReplicas, r.Status.DesiredReplicas,
			r.Metadata.ResourceVersion, &st.Scale, now)
		if err != nil {
			return 0, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		evs = append(evs, sc...)
	}
	if err := appendAll(ctx, s.st, evs); err != nil {
		return 0, err
	}
	due := s.applyRevision(k, evs, false, now)
	if !scaling {
		return 0, nil
	}
	return due, nil
}

func (s *Source) processAutoscaler(ctx context.Context, k objKey, obj *unstructured.Unstructured, now time.Time) (time.Duration, error) {
	if obj == nil {
		return 0, nil // the Revision's deletion is what is recorded
	}
	var pa PodAutoscaler
	if err := decode(obj, &pa); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	rk := objKey{kind: kRevision, namespace: k.namespace, name: pa.revision()}
	names := RevisionNames(pa.Metadata, nil)
	if robj := s.get(kRevision, rk.namespace, rk.name); robj != nil {
		var r Revision
		if err := decode(robj, &r); err == nil {
			names = s.revisionNames(r.Metadata)
		}
	}
	st := s.revisionState(rk)
	evs, err := ConvertScale(s.origin, k.namespace, rk.name, names, pa.Status.ActualScale, pa.Status.DesiredScale,
		pa.Metadata.ResourceVersion, &st.Scale, now)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if err := appendAll(ctx, s.st, evs); err != nil {
		return 0, err
	}
	return s.applyRevision(rk, evs, false, now), nil
}
