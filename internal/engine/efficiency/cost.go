package efficiency

import (
	"cmp"
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

func cost(in Input, f Filter, since, until time.Time, s Settings) Cost {
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

	samples := map[revKey][]delivery.ScaleRecord{}
	observedFrom := map[string]time.Time{} // cluster → first sample
	for _, r := range in.Scale {
		k := revKey{r.Cluster, r.Namespace, r.Revision}
		samples[k] = append(samples[k], r)
		if t, ok := observedFrom[r.Cluster]; !ok || r.Time.Before(t) {
			observedFrom[r.Cluster] = r.Time
		}
	}
	for _, list := range samples {
		slices.SortStableFunc(list, func(a, b delivery.ScaleRecord) int { return a.Time.Compare(b.Time) })
	}
	meta := map[revKey]delivery.RevisionRecord{}
	for _, r := range in.Revisions {
		meta[revKey{r.Cluster, r.Namespace, r.Name}] = r
	}
	routable, known := routableIntervals(in.Traffic)

	keys := map[revKey]bool{}
	for k := range samples {
		keys[k] = true
	}
	for k := range routable {
		if _, ok := observedFrom[k.cluster]; ok {
			keys[k] = true
		}
	}
	for k := range keys {
		rc := RevisionCost{Cluster: k.cluster, Namespace: k.ns, Revision: k.name}
		m, hasMeta := meta[k]
		if hasMeta {
			rc.Service, rc.App, rc.Env = m.Service, m.App, m.Env
		}
		if list := samples[k]; len(list) > 0 {
			rc.Service, rc.App, rc.Env = cmp.Or(rc.Service, list[0].Service), cmp.Or(rc.App, list[0].App), cmp.Or(rc.Env, list[0].Env)
		}
		if !f.keep(rc.App, rc.Env, s.Teams) {
			continue
		}
		from, to := since, until
		if t := observedFrom[k.cluster]; t.After(from) {
			from = t
		}
		if hasMeta && !m.DeletedAt.IsZero() && m.DeletedAt.Before(to) {
			to = m.DeletedAt
		}
		if !from.Before(to) {
			continue
		}
		rc.From, rc.To = from, to
		rc.TrafficKnown = known[svcKey{k.cluster, k.ns, rc.Service}] || len(routable[k]) > 0
		integrate(&rc, samples[k], routable[k], s.BaselineMinReplicas)
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
		c.Revisions = append(c.Revisions, rc)
	}
	slices.SortFunc(c.Revisions, func(a, b RevisionCost) int {
		return cmp.Or(cmp.Compare(b.SavedReplicaSeconds, a.SavedReplicaSeconds), cmp.Compare(b.ReplicaSeconds, a.ReplicaSeconds),
			cmp.Compare(a.Cluster, b.Cluster), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Revision, b.Revision))
	})
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
