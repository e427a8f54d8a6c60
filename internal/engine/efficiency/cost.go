package efficiency

import (
	"cmp"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/shiplog-dev/shiplog/internal/delivery"
)

// Cost is the Knative infrastructure cost of the window and what
// scale-to-zero saved against an always-on baseline.
//
// A revision's replica count is a step function: the actual count of its
// latest scale sample, 0 before its first sample in the input and after the
// revision was deleted. Replica-seconds integrate it over the window, from
// the first scale sample of the revision's cluster on (before it nothing
// was observed). The baseline is the same revision run always-on: while
// the revision is routable (it serves a share of its service's traffic
// above 0 %), at least BaselineMinReplicas replicas; otherwise its actual
// count. Saved replica-seconds = baseline − actual ≥ 0: the time a routable
// revision spent below the minimum, times the missing replicas.
type Cost struct {
	Currency            string   `json:"currency"`
	CostPerReplicaHour  *float64 `json:"cost_per_replica_hour"` // null: not configured
	BaselineMinReplicas int      `json:"baseline_min_replicas"`

	ReplicaSeconds         float64 `json:"replica_seconds"`
	BaselineReplicaSeconds float64 `json:"baseline_replica_seconds"`
	SavedReplicaSeconds    float64 `json:"saved_replica_seconds"`

	Cost         *float64 `json:"cost"` // replica-hours × cost per replica-hour; null when no price is configured
	BaselineCost *float64 `json:"baseline_cost"`
	Saving       *float64 `json:"saving"`      // baseline cost − cost
	SavingRate   *float64 `json:"saving_rate"` // saved ÷ baseline replica-seconds; null when the baseline is 0

	// RevisionsWithoutTraffic counts revisions whose service's traffic
	// split was never recorded: their baseline is their actual count (no
	// saving is claimed).
	RevisionsWithoutTraffic int            `json:"revisions_without_traffic"`
	Revisions               []RevisionCost `json:"revisions,omitempty"`
}

// RevisionCost is one revision's share of Cost.
type RevisionCost struct {
	Cluster                string    `json:"cluster,omitempty"`
	Namespace              string    `json:"namespace,omitempty"`
	Revision               string    `json:"revision"`
	Service                string    `json:"service,omitempty"`
	App                    string    `json:"app,omitempty"`
	Env                    string    `json:"environment,omitempty"`
	From                   time.Time `json:"from"` // the span counted
	To                     time.Time `json:"to"`
	Samples                int       `json:"samples"` // scale samples in the span
	TrafficKnown           bool      `json:"traffic_known"`
	RoutableSeconds        float64   `json:"routable_seconds"`
	ReplicaSeconds         float64   `json:"replica_seconds"`
	BaselineReplicaSeconds float64   `json:"baseline_replica_seconds"`
	SavedReplicaSeconds    float64   `json:"saved_replica_seconds"`
	Cost                   *float64  `json:"cost"`
	Saving                 *float64  `json:"saving"`
}

type revKey struct{ cluster, ns, name string }

type svcKey struct{ cluster, ns, service string }

type interval struct{ from, to time.Time } // to zero: open

// Routes are when the revisions of one namespace (cluster and namespace)
// were routable, from its services' traffic splits: a caller that keeps
// the model in memory prepares them once per namespace (PrepareRoutes).
type Routes struct {
	Cluster, Namespace string
	byRev              map[string][]interval // by revision name
	known              map[string]bool       // services whose split was recorded
	// revs are the revisions ever routable, by the end of their last
	// interval (open ones last), then name.
	revs []route
}

type route struct {
	name     string
	meta     *delivery.RevisionRecord // nil when only traffic names it
	routable []interval
	end      int64 // Unix nanoseconds; open: max
}

// PrepareRoutes prepares the routes of one namespace's traffic records;
// record returns the revision record of a revision name (nil: none).
func PrepareRoutes(cluster, namespace string, traffic []delivery.TrafficRecord, record func(name string) *delivery.RevisionRecord) *Routes {
	routable, known := routableIntervals(traffic)
	r := &Routes{Cluster: cluster, Namespace: namespace, byRev: make(map[string][]interval, len(routable)), known: map[string]bool{},
		revs: make([]route, 0, len(routable))}
	for k, iv := range routable {
		r.byRev[k.name] = iv
		end := int64(math.MaxInt64)
		if last := iv[len(iv)-1]; !last.to.IsZero() {
			end = last.to.UnixNano()
		}
		r.revs = append(r.revs, route{name: k.name, meta: record(k.name), routable: iv, end: end})
	}
	slices.SortFunc(r.revs, func(a, b route) int { return cmp.Or(cmp.Compare(a.end, b.end), cmp.Compare(a.name, b.name)) })
	for k := range known {
		r.known[k.service] = true
	}
	return r
}

func (r *Routes) of(name string) []interval {
	if r == nil {
		return nil
	}
	return r.byRev[name]
}

func (r *Routes) knows(service string) bool { return r != nil && r.known[service] }

// CostInput is what the cost reads besides the scale samples.
type CostInput struct {
	// Namespaces are the routes of the namespaces the revisions of the
	// apps and environments counted run in (of every namespace when the
	// filter keeps every app and environment: revisions only traffic names
	// count then), in a fixed order.
	Namespaces []*Routes
	// RevisionOf finds the record of a sample's revision (nil: none).
	RevisionOf func(s *delivery.ScaleRecord) *delivery.RevisionRecord
	// Routes returns the routes of a namespace (nil: none).
	Routes func(cluster, namespace string) *Routes
	// OwnRevisions says that RevisionOf only finds revisions of the
	// sample's own app and environment (nil for a sample that names
	// none), as the engine's partitions do: a sampled revision then counts
	// under its sample's app and environment, so those the filter does not
	// keep are skipped before any lookup.
	OwnRevisions bool
}

// costInput is the CostInput of Compute's rows.
func costInput(in Input) CostInput {
	meta := make(map[revKey]*delivery.RevisionRecord, len(in.Revisions))
	for i := range in.Revisions {
		r := &in.Revisions[i]
		meta[revKey{r.Cluster, r.Namespace, r.Name}] = r
	}
	byNS := map[[2]string][]delivery.TrafficRecord{}
	for _, t := range in.Traffic {
		byNS[[2]string{t.Cluster, t.Namespace}] = append(byNS[[2]string{t.Cluster, t.Namespace}], t)
	}
	routes := map[[2]string]*Routes{}
	var all []*Routes
	for k, list := range byNS {
		r := PrepareRoutes(k[0], k[1], list, func(name string) *delivery.RevisionRecord { return meta[revKey{k[0], k[1], name}] })
		routes[k] = r
		all = append(all, r)
	}
	slices.SortFunc(all, func(a, b *Routes) int {
		return cmp.Or(cmp.Compare(a.Cluster, b.Cluster), cmp.Compare(a.Namespace, b.Namespace))
	})
	return CostInput{
		Namespaces: all,
		RevisionOf: func(s *delivery.ScaleRecord) *delivery.RevisionRecord {
			return meta[revKey{s.Cluster, s.Namespace, s.Revision}]
		},
		Routes: func(cluster, ns string) *Routes { return routes[[2]string{cluster, ns}] },
	}
}

func compareRevKeys(a, b revKey) int {
	return cmp.Or(cmp.Compare(a.cluster, b.cluster), cmp.Compare(a.ns, b.ns), cmp.Compare(a.name, b.name))
}

// costOf computes the cost of [since, until) from in and the window's
// scale samples (all of them: the first of each cluster bounds what is
// counted).
func costOf(in CostInput, scale []delivery.ScaleRecord, f Filter, since, until time.Time, s Settings, lists bool) Cost {
	c := Cost{Currency: s.Currency, BaselineMinReplicas: s.BaselineMinReplicas}
	price := func(rs float64) *float64 {
		if s.CostPerReplicaHour <= 0 {
			return nil
		}
		v := rs / 3600 * s.CostPerReplicaHour
		return &v
	}
	if s.CostPerReplicaHour > 0 {
		c.CostPerReplicaHour = &s.CostPerReplicaHour
	}

	// The samples by revision (in key order), then time: a copy grouped
	// through positions, each revision's samples a run of it.
	observedFrom := map[string]time.Time{} // cluster → first sample
	bySample := make([]int32, len(scale))
	for i := range scale {
		bySample[i] = int32(i)
		r := &scale[i]
		if t, ok := observedFrom[r.Cluster]; !ok || r.Time.Before(t) {
			observedFrom[r.Cluster] = r.Time
		}
	}
	keyOf := func(r *delivery.ScaleRecord) revKey { return revKey{r.Cluster, r.Namespace, r.Revision} }
	slices.SortStableFunc(bySample, func(i, j int32) int {
		a, b := &scale[i], &scale[j]
		return cmp.Or(compareRevKeys(keyOf(a), keyOf(b)), a.Time.Compare(b.Time))
	})
	grouped := make([]delivery.ScaleRecord, len(scale))
	for i, j := range bySample {
		grouped[i] = scale[j]
	}
	// The revisions counted: those sampled, and those of an observed
	// cluster routable in the window (others count nothing). They are
	// counted in a fixed order, as sums of floating-point numbers depend on
	// it: the sampled ones by key, then the others in the order given.
	type item struct {
		key      revKey
		meta     *delivery.RevisionRecord
		routes   *Routes
		routable []interval
		samples  []delivery.ScaleRecord
	}
	items := make([]item, 0, len(grouped))
	sampled := map[revKey]bool{}
	for i := 0; i < len(grouped); {
		k := keyOf(&grouped[i])
		j := i + 1
		for j < len(grouped) && keyOf(&grouped[j]) == k {
			j++
		}
		list := grouped[i:j:j]
		i = j
		sampled[k] = true
		if in.OwnRevisions && !f.keep(list[0].App, list[0].Env, s.Teams) {
			continue
		}
		rt := in.Routes(k.cluster, k.ns)
		items = append(items, item{key: k, meta: in.RevisionOf(&list[0]), routes: rt, routable: rt.of(k.name), samples: list})
	}
	for _, rt := range in.Namespaces {
		if _, ok := observedFrom[rt.Cluster]; !ok {
			continue
		}
		// Those routable after since: the revisions whose routes end later.
		first := 0
		if !since.IsZero() {
			first, _ = slices.BinarySearchFunc(rt.revs, since.UnixNano()+1, func(r route, t int64) int { return cmp.Compare(r.end, t) })
		}
		for i := first; i < len(rt.revs); i++ {
			r := &rt.revs[i]
			if !r.routable[0].from.Before(until) {
				continue
			}
			k := revKey{rt.Cluster, rt.Namespace, r.name}
			if sampled[k] {
				continue
			}
			items = append(items, item{key: k, meta: r.meta, routes: rt, routable: r.routable})
		}
	}
	c.Revisions = make([]RevisionCost, 0, len(items))
	for _, it := range items {
		k, m := it.key, it.meta
		rc := RevisionCost{Cluster: k.cluster, Namespace: k.ns, Revision: k.name}
		if m != nil {
			rc.Service, rc.App, rc.Env = m.Service, m.App, m.Env
		}
		if list := it.samples; len(list) > 0 {
			rc.Service, rc.App, rc.Env = cmp.Or(rc.Service, list[0].Service), cmp.Or(rc.App, list[0].App), cmp.Or(rc.Env, list[0].Env)
		}
		if !f.keep(rc.App, rc.Env, s.Teams) {
			continue
		}
		from, to := since, until
		if t := observedFrom[k.cluster]; t.After(from) {
			from = t
		}
		if m != nil && !m.DeletedAt.IsZero() && m.DeletedAt.Before(to) {
			to = m.DeletedAt
		}
		if !from.Before(to) {
			continue
		}
		rc.From, rc.To = from, to
		rc.TrafficKnown = it.routes.knows(rc.Service) || len(it.routable) > 0
		integrate(&rc, it.samples, it.routable, s.BaselineMinReplicas)
		if rc.ReplicaSeconds == 0 && rc.BaselineReplicaSeconds == 0 {
			continue
		}
		if !rc.TrafficKnown {
			c.RevisionsWithoutTraffic++
		}
		rc.Cost, rc.Saving = price(rc.ReplicaSeconds), price(rc.SavedReplicaSeconds)
		c.ReplicaSeconds += rc.ReplicaSeconds
		c.BaselineReplicaSeconds += rc.BaselineReplicaSeconds
		c.SavedReplicaSeconds += rc.SavedReplicaSeconds
		if lists {
			c.Revisions = append(c.Revisions, rc)
		}
	}
	// Sorted through positions: a RevisionCost is large to move.
	order := make([]int32, len(c.Revisions))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(i, j int32) int {
		a, b := &c.Revisions[i], &c.Revisions[j]
		return cmp.Or(cmp.Compare(b.SavedReplicaSeconds, a.SavedReplicaSeconds), cmp.Compare(b.ReplicaSeconds, a.ReplicaSeconds),
			cmp.Compare(a.Cluster, b.Cluster), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Revision, b.Revision))
	})
	sorted := make([]RevisionCost, len(order))
	for i, j := range order {
		sorted[i] = c.Revisions[j]
	}
	c.Revisions = sorted
	if len(c.Revisions) == 0 {
		c.Revisions = nil
	}
	c.Cost, c.BaselineCost, c.Saving = price(c.ReplicaSeconds), price(c.BaselineReplicaSeconds), price(c.SavedReplicaSeconds)
	if c.BaselineReplicaSeconds > 0 {
		r := c.SavedReplicaSeconds / c.BaselineReplicaSeconds
		c.SavingRate = &r
	}
	return c
}

// routableIntervals returns, per revision, when it served a share of its
// service's traffic above 0 %, and which services' splits were recorded.
// Traffic records with the same service and time form one split, in force
// until the service's next split.
func routableIntervals(traffic []delivery.TrafficRecord) (map[revKey][]interval, map[svcKey]bool) {
	bySvc := map[svcKey][]delivery.TrafficRecord{}
	for _, t := range traffic {
		k := svcKey{t.Cluster, t.Namespace, t.Service}
		bySvc[k] = append(bySvc[k], t)
	}
	out := map[revKey][]interval{}
	known := map[svcKey]bool{}
	for k, list := range bySvc {
		known[k] = true
		slices.SortStableFunc(list, func(a, b delivery.TrafficRecord) int { return a.Time.Compare(b.Time) })
		open := map[string]time.Time{} // revision → routable since
		for i := 0; i < len(list); {
			t := list[i].Time
			serving := map[string]bool{}
			for ; i < len(list) && list[i].Time.Equal(t); i++ {
				if list[i].Percent > 0 {
					serving[list[i].Revision] = true
				}
			}
			for rev, since := range open {
				if !serving[rev] {
					rk := revKey{k.cluster, k.ns, rev}
					out[rk] = append(out[rk], interval{since, t})
					delete(open, rev)
				}
			}
			for rev := range serving {
				if _, ok := open[rev]; !ok {
					open[rev] = t
				}
			}
		}
		for rev, since := range open {
			rk := revKey{k.cluster, k.ns, rev}
			out[rk] = append(out[rk], interval{since, time.Time{}})
		}
	}
	for _, list := range out {
		slices.SortFunc(list, func(a, b interval) int { return a.from.Compare(b.from) })
	}
	return out, known
}

// integrate fills rc's replica-seconds over [rc.From, rc.To): actual from
// the step function of samples, baseline max(actual, minReplicas) while
// routable.
func integrate(rc *RevisionCost, samples []delivery.ScaleRecord, routable []interval, minReplicas int) {
	if len(samples) == 0 {
		// At zero replicas throughout: the baseline runs the minimum while
		// routable. The intervals are disjoint and in time order, each one
		// a segment of the cut below: the same sums, in the same order.
		for _, iv := range routable {
			from, to := iv.from, rc.To
			if rc.From.After(from) {
				from = rc.From
			}
			if !iv.to.IsZero() && iv.to.Before(to) {
				to = iv.to
			}
			if !from.Before(to) {
				continue
			}
			dur := to.Sub(from).Seconds()
			rc.RoutableSeconds += dur
			rc.BaselineReplicaSeconds += float64(minReplicas) * dur
		}
		rc.SavedReplicaSeconds = rc.BaselineReplicaSeconds
		return
	}
	cuts := []time.Time{rc.From, rc.To}
	for _, s := range samples {
		if s.Time.After(rc.From) && s.Time.Before(rc.To) {
			cuts = append(cuts, s.Time)
		}
		if !s.Time.Before(rc.From) && s.Time.Before(rc.To) {
			rc.Samples++
		}
	}
	for _, iv := range routable {
		for _, t := range []time.Time{iv.from, iv.to} {
			if t.After(rc.From) && t.Before(rc.To) {
				cuts = append(cuts, t)
			}
		}
	}
	slices.SortFunc(cuts, time.Time.Compare)
	cuts = slices.CompactFunc(cuts, time.Time.Equal)
	for i := 0; i+1 < len(cuts); i++ {
		at, dur := cuts[i], cuts[i+1].Sub(cuts[i]).Seconds()
		actual := 0
		// The latest sample at or before at.
		if j := sort.Search(len(samples), func(j int) bool { return samples[j].Time.After(at) }); j > 0 {
			actual = samples[j-1].Actual
		}
		base := actual
		if isRoutable(routable, at) {
			rc.RoutableSeconds += dur
			base = max(actual, minReplicas)
		}
		rc.ReplicaSeconds += float64(actual) * dur
		rc.BaselineReplicaSeconds += float64(base) * dur
	}
	rc.SavedReplicaSeconds = rc.BaselineReplicaSeconds - rc.ReplicaSeconds
}

func isRoutable(list []interval, t time.Time) bool {
	for _, iv := range list {
		if !t.Before(iv.from) && (iv.to.IsZero() || t.Before(iv.to)) {
			return true
		}
	}
	return false
}
