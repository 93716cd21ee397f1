package scanqueue

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	enqueuedTotal *prometheus.CounterVec
	finished      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	jobs          *prometheus.GaugeVec
	oldest        prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		enqueuedTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "labelgate_queue_enqueued_total",
			Help: "Job requests by what became of them: inserted, merged into a pending job, or deferred behind a running one.",
		}, []string{"kind", "result"}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "labelgate_queue_job_runs_total",
			Help: "Job runs by outcome: completed, retried, snoozed, dead, interrupted.",
		}, []string{"kind", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "labelgate_queue_job_duration_seconds",
			Help:    "Time handlers spent on a job.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"kind"}),
		jobs: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "labelgate_queue_jobs",
			Help: "Jobs in the queue by state, refreshed periodically.",
		}, []string{"state"}),
		oldest: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "labelgate_queue_oldest_pending_seconds",
			Help: "How long the oldest due job has been waiting.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.enqueuedTotal, m.finished, m.duration, m.jobs, m.oldest} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) enqueued(kind string, inserted, merged, deferred int) {
	m.enqueuedTotal.WithLabelValues(kind, "inserted").Add(float64(inserted))
	m.enqueuedTotal.WithLabelValues(kind, "merged").Add(float64(merged))
	m.enqueuedTotal.WithLabelValues(kind, "deferred").Add(float64(deferred))
}

func (m *metrics) setGauges(st Stats) {
	m.jobs.Reset()
	for state, n := range st.ByState {
		m.jobs.WithLabelValues(state).Set(float64(n))
	}
	m.oldest.Set(st.OldestPendingSeconds)
}
