package runner

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"dinmo/catalog"
)

// Metrics are the runner's Prometheus series, served on /metrics by Serve. They live in their
// own registry (not the global one), so several runners in one process (tests) do not collide.
// Labels are workspace and activation names.
type Metrics struct {
	registry *prometheus.Registry

	runs        *prometheus.CounterVec
	evaluated   *prometheus.CounterVec
	added       *prometheus.CounterVec
	changed     *prometheus.CounterVec
	removed     *prometheus.CounterVec
	sent        *prometheus.CounterVec
	rejected    *prometheus.CounterVec
	warnings    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	lastSuccess *prometheus.GaugeVec
	taskRuns    *prometheus.CounterVec
	taskSeconds *prometheus.HistogramVec
	taskSuccess *prometheus.GaugeVec
}

// NewMetrics creates the runner's series in a fresh registry, with the Go runtime and process
// collectors.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	labels := []string{"workspace", "activation"}
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	m := &Metrics{
		registry: reg,
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dinmo_runs_total", Help: "Finished activation runs, by final status.",
		}, []string{"workspace", "activation", "status"}),
		evaluated: counter("dinmo_rows_evaluated_total", "Rows of the segment (or model) query evaluated by runs."),
		added:     counter("dinmo_records_added_total", "Keys that entered the segment since the committed snapshot."),
		changed:   counter("dinmo_records_changed_total", "Keys whose mapped values changed since the committed snapshot."),
		removed:   counter("dinmo_records_removed_total", "Keys that left the segment since the committed snapshot."),
		sent:      counter("dinmo_records_sent_total", "Records sent to the destination (in batches it answered)."),
		rejected:  counter("dinmo_records_rejected_total", "Records the destination rejected permanently."),
		warnings:  counter("dinmo_run_warnings_total", "Warnings recorded on runs (rejected share above the threshold, skipped rows, guards passed by approval, unsent records)."),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dinmo_run_duration_seconds",
			Help:    "Duration of activation runs, from lease to release.",
			Buckets: prometheus.ExponentialBuckets(0.1, 2, 16), // 0.1 s .. ~55 min
		}, labels),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dinmo_activation_last_success_timestamp_seconds",
			Help: "Unix time of the end of the activation's last successful run.",
		}, labels),
		taskRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dinmo_task_runs_total", Help: "Finished runs of tasks (model_refresh, source_stats), by final status.",
		}, []string{"workspace", "task", "object", "status"}),
		taskSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dinmo_task_duration_seconds",
			Help:    "Duration of task runs (model table refreshes, source stats).",
			Buckets: prometheus.ExponentialBuckets(0.1, 2, 16),
		}, []string{"workspace", "task", "object"}),
		taskSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dinmo_task_last_success_timestamp_seconds",
			Help: "Unix time of the end of the task's last successful run (for a model table: its freshness).",
		}, []string{"workspace", "task", "object"}),
	}
	reg.MustRegister(m.runs, m.evaluated, m.added, m.changed, m.removed, m.sent, m.rejected,
		m.warnings, m.duration, m.lastSuccess, m.taskRuns, m.taskSeconds, m.taskSuccess,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry returns the registry holding the series (for an HTTP handler).
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// observe records a finished run.
func (m *Metrics) observe(workspace, activation string, res *Result, elapsed time.Duration) {
	if m == nil || res == nil {
		return
	}
	run := res.Run
	m.runs.WithLabelValues(workspace, activation, run.Status).Inc()
	m.evaluated.WithLabelValues(workspace, activation).Add(float64(run.RowsEvaluated))
	m.added.WithLabelValues(workspace, activation).Add(float64(run.Added))
	m.changed.WithLabelValues(workspace, activation).Add(float64(run.Changed))
	m.removed.WithLabelValues(workspace, activation).Add(float64(run.Removed))
	m.sent.WithLabelValues(workspace, activation).Add(float64(res.Sent))
	m.rejected.WithLabelValues(workspace, activation).Add(float64(run.Rejected))
	m.warnings.WithLabelValues(workspace, activation).Add(float64(len(run.Warnings)))
	m.duration.WithLabelValues(workspace, activation).Observe(elapsed.Seconds())
	if run.FinishedAt != nil && (run.Status == catalog.RunSucceeded || run.Status == catalog.RunWarning) {
		m.lastSuccess.WithLabelValues(workspace, activation).Set(float64(run.FinishedAt.Unix()))
	}
}

// observeTask records a finished task run of a workspace (by name).
func (m *Metrics) observeTask(workspace string, run *catalog.TaskRun, elapsed time.Duration) {
	if m == nil || run == nil {
		return
	}
	m.taskRuns.WithLabelValues(workspace, run.Kind, run.ObjectName, run.Status).Inc()
	m.taskSeconds.WithLabelValues(workspace, run.Kind, run.ObjectName).Observe(elapsed.Seconds())
	if run.Status == catalog.RunSucceeded && run.FinishedAt != nil {
		m.taskSuccess.WithLabelValues(workspace, run.Kind, run.ObjectName).Set(float64(run.FinishedAt.Unix()))
	}
}
