package store

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the store's Prometheus metrics. Labels are low-cardinality:
// the source kind and the event type, never an id.
type metrics struct {
	ingestedTotal  *prometheus.CounterVec
	duplicateTotal *prometheus.CounterVec
	batchSize      prometheus.Histogram
	commitSeconds  prometheus.Histogram
	commitErrors   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, dialect string) (*metrics, error) {
	labels := prometheus.Labels{"store": dialect}
	m := &metrics{
		ingestedTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shiplog_events_ingested_total",
			Help: "Events stored in the event log, by source kind and event type (re-deliveries excluded).",
		}, []string{"source", "type"}),
		duplicateTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shiplog_events_duplicate_total",
			Help: "Events received again with an already stored (source, id), and so not stored.",
		}, []string{"source"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "shiplog_store_append_batch_events", ConstLabels: labels,
			Help:    "Events per append transaction (group commit).",
			Buckets: prometheus.ExponentialBuckets(1, 4, 8),
		}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "shiplog_store_append_duration_seconds", ConstLabels: labels,
			Help:    "Time to write and commit one append transaction.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		commitErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shiplog_store_append_errors_total", ConstLabels: labels,
			Help: "Append transactions that failed.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.ingestedTotal, m.duplicateTotal, m.batchSize, m.commitSeconds, m.commitErrors} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func (m *metrics) observeCommit(n int, d time.Duration, err error) {
	m.batchSize.Observe(float64(n))
	m.commitSeconds.Observe(d.Seconds())
	if err != nil {
		m.commitErrors.Inc()
	}
}

func (m *metrics) ingested(source, typ string) { m.ingestedTotal.WithLabelValues(source, typ).Inc() }

func (m *metrics) duplicate(source string) { m.duplicateTotal.WithLabelValues(source).Inc() }
