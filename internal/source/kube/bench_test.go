package kube_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/shiplog-dev/shiplog/internal/delivery"
	"github.com/shiplog-dev/shiplog/internal/source/kube"
	"github.com/shiplog-dev/shiplog/internal/source/kube/kubetest"
	"github.com/shiplog-dev/shiplog/internal/store"
	"github.com/shiplog-dev/shiplog/internal/store/sqlite"
)

// notifyingStore tells when each event's Append returned (it is then
// committed).
type notifyingStore struct {
	*store.Store
	mu     sync.Mutex
	stored map[string]chan struct{}
}

func (n *notifyingStore) chanLocked(id string) chan struct{} {
	ch := n.stored[id]
	if ch == nil {
		ch = make(chan struct{})
		n.stored[id] = ch
	}
	return ch
}

// wait returns a channel closed once the event id is stored.
func (n *notifyingStore) wait(id string) chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.chanLocked(id)
}

func (n *notifyingStore) Append(ctx context.Context, evs ...delivery.Event) (store.AppendResult, error) {
	res, err := n.Store.Append(ctx, evs...)
	if err == nil {
		n.mu.Lock()
		for _, e := range evs {
			ch := n.chanLocked(e.ID)
			select {
			case <-ch:
			default:
				close(ch)
			}
		}
		n.mu.Unlock()
	}
	return res, err
}

// BenchmarkStatusToStored measures the delay from a status update written
// to the API server (the time before the update request) to the event it
// causes being committed in a SQLite store: an Argo CD Application's health
// flips between Healthy and Degraded, each flip one health.changed event,
// while 20 other Applications and 20 Knative revisions are watched. It
// reports the median and 95th percentile over at least 200 updates.
func BenchmarkStatusToStored(b *testing.B) {
	srv := kubetest.Start(b)
	srv.Apply(b, crdArgo, crdKnative, rbacRole, rbacBind)
	srv.Namespaces(b, "argocd", knNS)
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "shiplog.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	ns := &notifyingStore{Store: st, stored: map[string]chan struct{}{}}
	dyn := srv.Dynamic(b)
	apps := dyn.Resource(gvrApp).Namespace("argocd")
	mkApp := func(name string) {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
			"metadata": map[string]any{"name": name, "namespace": "argocd"},
			"spec":     map[string]any{"destination": map[string]any{"namespace": "shop-prod"}},
			"status":   map[string]any{"health": map[string]any{"status": "Healthy"}, "sync": map[string]any{"status": "Synced"}},
		}}
		if _, err := apps.Create(ctx, u, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	mkApp("bench-prod")
	for i := range 20 {
		mkApp(fmt.Sprintf("other-%02d-prod", i))
		r := &unstructured.Unstructured{Object: revisionObject(fmt.Sprintf("hello-%05d", i+1), image("1.0"))}
		if _, err := dyn.Resource(gvrRevision).Namespace(knNS).Create(ctx, r, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	src, err := kube.New(kube.ClusterConfig{Name: "bench", Kubeconfig: srv.Kubeconfig(b, kubetest.Shiplog)}, ns, nil, time.Now)
	if err != nil {
		b.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- src.Run(rctx) }()
	defer func() {
		cancel()
		<-done
	}()
	waitFor(b, "source ready", time.Minute, src.Ready)

	var lat []time.Duration
	status := []string{"Degraded", "Healthy"}
	at := time.Now().UTC().Truncate(time.Second)
	update := func(i int) {
		at = at.Add(time.Second) // a distinct transition time, so a distinct event
		s := status[i%2]
		id := "argocd/bench/argocd/bench-prod/health/" + s + "/" + at.Format(time.RFC3339)
		stored := ns.wait(id)
		cur, err := apps.Get(ctx, "bench-prod", metav1.GetOptions{})
		if err != nil {
			b.Fatal(err)
		}
		cur.Object["status"] = map[string]any{"health": map[string]any{"status": s, "lastTransitionTime": at.Format(time.RFC3339)},
			"sync": map[string]any{"status": "Synced"}}
		t0 := time.Now()
		if _, err := apps.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
			b.Fatal(err)
		}
		select {
		case <-stored:
			lat = append(lat, time.Since(t0))
		case <-time.After(30 * time.Second):
			b.Fatalf("update %d: event %s not stored after 30 s", i, id)
		}
	}
	i := 0
	for b.Loop() {
		update(i)
		i++
	}
	for ; len(lat) < 200; i++ {
		update(i)
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.95), "p95-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(len(lat)), "updates")
	if err := src.Ready(); err != nil {
		b.Errorf("Ready() after the run = %v", err)
	}
	evs, err := st.Events(ctx, store.EventFilter{Source: kube.SourceKind, Types: []delivery.EventType{delivery.HealthChanged}})
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if strings.Contains(e.ID, "/bench-prod/") {
			n++
		}
	}
	if n != len(lat)+1 { // and the first sight
		b.Errorf("%d health events stored for %d updates, want %d", n, len(lat), len(lat)+1)
	}
}
