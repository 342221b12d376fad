package observe

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/streams-dev/streams/dsl"
)

// Metric names. The README's metrics table lists them; keep the two in
// step. Every metric also has the label pipeline.
const (
	MetricStepIn        = "streams_step_messages_in_total"
	MetricStepOut       = "streams_step_messages_out_total"
	MetricStepErrors    = "streams_step_errors_total"
	MetricStepDLQ       = "streams_step_dlq_messages_total"
	MetricStepSkipped   = "streams_step_skipped_messages_total"
	MetricStepLate      = "streams_step_late_messages_total"
	MetricStepSeconds   = "streams_step_processing_seconds"
	MetricSinkProduced  = "streams_sink_produced_total"
	MetricSinkErrors    = "streams_sink_produce_errors_total"
	MetricSinkLatency   = "streams_sink_produce_latency_seconds"
	MetricSourceLag     = "streams_source_lag_records"
	MetricSourceOffset  = "streams_source_committed_offset"
	MetricSourceHigh    = "streams_source_high_watermark_offset"
	MetricSourceWMLag   = "streams_source_watermark_lag_seconds"
	MetricSourceParts   = "streams_source_assigned_partitions"
	MetricSourceInRecs  = "streams_source_inflight_records"
	MetricSourceInBytes = "streams_source_inflight_bytes"
	MetricCommitSeconds = "streams_commit_duration_seconds"
	MetricCommitFailed  = "streams_commit_failures_total"
	MetricBundleSize    = "streams_bundle_elements"
	MetricBundleSeconds = "streams_bundle_duration_seconds"
	MetricBundleFailed  = "streams_bundle_failures_total"
	MetricUp            = "streams_pipeline_up"
	MetricStateSeconds  = "streams_state_checkpoint_seconds"
	MetricStateWait     = "streams_state_checkpoint_wait_seconds"
	MetricStateInterval = "streams_state_checkpoint_interval_seconds"
	MetricStateBytes    = "streams_state_checkpoint_bytes"
	MetricStateFailed   = "streams_state_checkpoint_failures_total"
	MetricStateDisk     = "streams_state_disk_bytes"
)

// TimingSample is how often a step's processing time is measured: one
// message in TimingSample. Reading the clock around every call of every
// step costs more than the smallest steps themselves; a sample keeps the
// histogram's shape and its mean (rate of _sum over rate of _count) true.
const TimingSample = 8

// Pipeline is the metrics and health of one pipeline running in this
// process, on a Prometheus registry of its own. The zero value is not
// usable; a nil *Pipeline is, and records nothing.
type Pipeline struct {
	name    string
	adapter string
	graph   *dsl.Graph
	reg     *prometheus.Registry
	started time.Time

	// Health is the pipeline's liveness and readiness.
	Health *Health

	steps map[string]*Step
	sinks map[string]*Sink

	stepDLQ, stepSkipped, stepLate    *prometheus.CounterVec
	sinkProduced, sinkErrors          *prometheus.CounterVec
	sinkLatency                       *prometheus.HistogramVec
	srcLag, srcOffset, srcHigh, srcWM *prometheus.GaugeVec
	srcParts, srcInRecs, srcInBytes   *prometheus.GaugeVec
	commitSeconds                     *prometheus.HistogramVec
	commitFailed                      *prometheus.CounterVec
	bundleSize, bundleSeconds         *prometheus.HistogramVec
	bundleFailed                      *prometheus.CounterVec
	stepIn, stepOut, stepErrors       *prometheus.CounterVec
	stepSeconds                       *prometheus.HistogramVec
	stateSeconds, stateWait           *prometheus.HistogramVec
	stateInterval                     *prometheus.HistogramVec
	stateBytes                        *prometheus.HistogramVec
	stateFailed                       *prometheus.CounterVec
	stateDisk                         prometheus.Gauge
	up                                prometheus.Gauge
	mu                                sync.Mutex            // guards sinks, partitions, onRejected, fatal and topics
	partitions                        map[partitionKey]bool // labelled series, to delete on revoke
	onRejected                        func(Rejection)
	fatal                             *Rejection
	topics                            Topics
	history                           atomic.Pointer[history] // set by RecordHistory
}

type partitionKey struct {
	group, topic string
	partition    int32
}

// New returns the metrics of pipeline g, named name, run by adapter
// ("local" or "beam"). Every step's series exist from the start, at zero.
func New(name, adapter string, g *dsl.Graph) *Pipeline {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := factory{reg: prometheus.WrapRegistererWith(prometheus.Labels{"pipeline": name}, reg)}
	p := &Pipeline{
		name: name, adapter: adapter, graph: g, reg: reg, started: time.Now(),
		Health:     NewHealth(adapter == "local"),
		steps:      map[string]*Step{},
		sinks:      map[string]*Sink{},
		partitions: map[partitionKey]bool{},

		stepIn:      f.counter(MetricStepIn, "Messages that entered the step.", "step"),
		stepOut:     f.counter(MetricStepOut, "Messages the step emitted (to the next step, a sink topic or the void).", "step"),
		stepErrors:  f.counter(MetricStepErrors, "Messages the step's function rejected (returned an error or panicked).", "step"),
		stepDLQ:     f.counter(MetricStepDLQ, "Messages rejected by the step and sent to the dead-letter topic.", "step"),
		stepSkipped: f.counter(MetricStepSkipped, "Messages rejected by the step and dropped (on_invalid: skip).", "step"),
		stepLate:    f.counter(MetricStepLate, "Messages a reduce step received after their window closed, once per window (sent to the dead-letter topic under on_late: dlq, else dropped; bundled runner).", "step"),
		stepSeconds: f.histogram(MetricStepSeconds, "Time the step's own function takes per message, sampled one message in 8 (the time of the steps after it is not included).",
			prometheus.ExponentialBuckets(1e-6, 4, 12), "step"),

		sinkProduced: f.counter(MetricSinkProduced, "Records the sink's producer had acknowledged by Kafka.", "step", "topic"),
		sinkErrors:   f.counter(MetricSinkErrors, "Records the sink's producer failed to deliver.", "step", "topic"),
		sinkLatency: f.histogram(MetricSinkLatency, "Time from handing a record to the producer to its acknowledgement.",
			prometheus.ExponentialBuckets(1e-4, 4, 10), "step", "topic"),

		srcLag:     f.gauge(MetricSourceLag, "Records in the partition after the group's committed offset (high watermark minus committed offset).", "group", "topic", "partition"),
		srcOffset:  f.gauge(MetricSourceOffset, "The group's committed offset of the partition (the next record to process): read when the partition is assigned to this process, then set after each of its commits, the final one at shutdown included.", "group", "topic", "partition"),
		srcHigh:    f.gauge(MetricSourceHigh, "The partition's high watermark: the offset the next produced record will get.", "group", "topic", "partition"),
		srcWM:      f.gauge(MetricSourceWMLag, "Wall clock minus the partition's event-time watermark.", "group", "topic", "partition"),
		srcParts:   f.gauge(MetricSourceParts, "Partitions the group assigned to this process.", "group"),
		srcInRecs:  f.gauge(MetricSourceInRecs, "Records read and not yet processed by every step (backpressure stops reading at its bound).", "group"),
		srcInBytes: f.gauge(MetricSourceInBytes, "Bytes of the records read and not yet processed by every step.", "group"),
		commitSeconds: f.histogram(MetricCommitSeconds, "Time an offset commit to the group coordinator takes.",
			prometheus.ExponentialBuckets(1e-3, 2.5, 10), "group"),
		commitFailed: f.counter(MetricCommitFailed, "Offset commits that failed (they are retried on the next commit).", "group"),

		bundleSize: f.histogram(MetricBundleSize, "Elements per bundle of a fused stage of the bundled runner.",
			prometheus.ExponentialBuckets(1, 4, 8), "stage"),
		bundleSeconds: f.histogram(MetricBundleSeconds, "Time a bundle of a fused stage takes.",
			prometheus.ExponentialBuckets(1e-4, 4, 10), "stage"),
		bundleFailed: f.counter(MetricBundleFailed, "Bundles that failed.", "stage"),
		up:           f.plainGauge(MetricUp, "1 while the pipeline runs, 0 once it stops."),
		stateSeconds: f.histogram(MetricStateSeconds, "Time a checkpoint of the durable state takes to write and sync.",
			prometheus.ExponentialBuckets(1e-4, 4, 10)),
		stateWait: f.histogram(MetricStateWait, "Time the run takes to go quiet (no new records, no bundle in flight) before a checkpoint.",
			prometheus.ExponentialBuckets(1e-4, 4, 10)),
		stateInterval: f.histogram(MetricStateInterval, "Time between the end of a checkpoint and the start of the next (the configured interval when the run keeps up; longer while bundles in flight delay it).",
			prometheus.ExponentialBuckets(0.25, 2, 8)),
		stateBytes: f.histogram(MetricStateBytes, "Size of a checkpoint's batch.",
			prometheus.ExponentialBuckets(256, 4, 10)),
		stateFailed: f.counter(MetricStateFailed, "Checkpoints that failed (the pipeline then stops)."),
		stateDisk:   f.plainGauge(MetricStateDisk, "Space the durable state takes on disk."),
	}
	if g != nil {
		for _, n := range g.Nodes() {
			name := n.Name()
			s := &Step{
				in:      p.stepIn.WithLabelValues(name),
				out:     p.stepOut.WithLabelValues(name),
				errors:  p.stepErrors.WithLabelValues(name),
				seconds: p.stepSeconds.WithLabelValues(name),
			}
			p.stepDLQ.WithLabelValues(name)
			p.stepSkipped.WithLabelValues(name)
			if n.Kind() == dsl.KindReduce {
				p.stepLate.WithLabelValues(name)
			}
			p.steps[name] = s
		}
	}
	return p
}

// factory makes collectors and registers them.
type factory struct{ reg prometheus.Registerer }

func (f factory) counter(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) gauge(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(g)
	return g
}

func (f factory) plainGauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	f.reg.MustRegister(g)
	return g
}

func (f factory) histogram(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	f.reg.MustRegister(h)
	return h
}

// Name is the pipeline's name (the pipeline label).
func (p *Pipeline) Name() string { return p.name }

// Registry is the registry holding the pipeline's metrics, and the Go
// runtime's and the process's.
func (p *Pipeline) Registry() *prometheus.Registry { return p.reg }

// Running marks the pipeline as running (true) or stopped.
func (p *Pipeline) Running(on bool) {
	if p == nil {
		return
	}
	if on {
		p.up.Set(1)
	} else {
		p.up.Set(0)
	}
}

// Step returns the metrics of the named step; nil (which records nothing)
// when p is nil or has no such step.
func (p *Pipeline) Step(name string) *Step {
	if p == nil {
		return nil
	}
	return p.steps[name]
}

// Step is the metrics of one step. Its methods are safe for concurrent
// use; a nil *Step records nothing.
type Step struct {
	in, out, errors prometheus.Counter
	seconds         prometheus.Observer
}

// Add adds to the step's message counts.
func (s *Step) Add(in, out, errors uint64) {
	if s == nil {
		return
	}
	if in > 0 {
		s.in.Add(float64(in))
	}
	if out > 0 {
		s.out.Add(float64(out))
	}
	if errors > 0 {
		s.errors.Add(float64(errors))
	}
}

// Observe records one (sampled) processing time.
func (s *Step) Observe(d time.Duration) {
	if s == nil {
		return
	}
	s.seconds.Observe(d.Seconds())
}

// DeadLettered counts n messages of step sent to the dead-letter topic.
func (p *Pipeline) DeadLettered(step string, n int) {
	if p == nil {
		return
	}
	p.stepDLQ.WithLabelValues(step).Add(float64(n))
}

// Late counts n messages that reached step, a reduce step, after their
// window closed (once per window they were late for).
func (p *Pipeline) Late(step string, n int) {
	if p == nil {
		return
	}
	p.stepLate.WithLabelValues(step).Add(float64(n))
}

// Skipped counts n messages of step dropped under on_invalid: skip.
func (p *Pipeline) Skipped(step string, n int) {
	if p == nil {
		return
	}
	p.stepSkipped.WithLabelValues(step).Add(float64(n))
}

// Sink is the producer metrics of one sink step and topic.
type Sink struct {
	produced, errors prometheus.Counter
	latency          prometheus.Observer
}

// Sink returns the metrics of sink step writing to topic.
func (p *Pipeline) Sink(step, topic string) *Sink {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	k := step + "\x00" + topic
	if s, ok := p.sinks[k]; ok {
		return s
	}
	s := &Sink{
		produced: p.sinkProduced.WithLabelValues(step, topic),
		errors:   p.sinkErrors.WithLabelValues(step, topic),
		latency:  p.sinkLatency.WithLabelValues(step, topic),
	}
	p.sinks[k] = s
	return s
}

// Produced records one record's delivery: its latency, or its failure.
func (s *Sink) Produced(latency time.Duration, err error) {
	if s == nil {
		return
	}
	if err != nil {
		s.errors.Inc()
		return
	}
	s.produced.Inc()
	s.latency.Observe(latency.Seconds())
}

// PartitionState is what a Kafka source knows of one assigned partition.
type PartitionState struct {
	Topic     string
	Partition int32
	// HighWatermark is the partition's end offset as of the last fetch
	// that returned records; -1 before one.
	HighWatermark int64
	// Committed is the group's committed offset; -1 before the first
	// commit, then Start is used for lag.
	Committed int64
	// Start is the offset of the first record fetched; -1 before one.
	Start int64
	// Watermark is the partition's event-time watermark; zero before one.
	Watermark time.Time
}

// SourceState is a Kafka source's report.
type SourceState struct {
	Group           string
	Partitions      []PartitionState
	InflightRecords int
	InflightBytes   int64
}

// Source records a Kafka source's state. Series of partitions no longer
// in the report are removed.
func (p *Pipeline) Source(s SourceState, now time.Time) {
	if p == nil {
		return
	}
	p.srcParts.WithLabelValues(s.Group).Set(float64(len(s.Partitions)))
	p.srcInRecs.WithLabelValues(s.Group).Set(float64(s.InflightRecords))
	p.srcInBytes.WithLabelValues(s.Group).Set(float64(s.InflightBytes))
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := map[partitionKey]bool{}
	for _, ps := range s.Partitions {
		k := partitionKey{s.Group, ps.Topic, ps.Partition}
		seen[k] = true
		p.partitions[k] = true
		lv := []string{s.Group, ps.Topic, strconv.Itoa(int(ps.Partition))}
		if ps.Committed >= 0 {
			p.srcOffset.WithLabelValues(lv...).Set(float64(ps.Committed))
		}
		if ps.HighWatermark >= 0 {
			p.srcHigh.WithLabelValues(lv...).Set(float64(ps.HighWatermark))
			from := ps.Committed
			if from < 0 {
				from = ps.Start
			}
			if from >= 0 {
				p.srcLag.WithLabelValues(lv...).Set(float64(max(0, ps.HighWatermark-from)))
			}
		}
		if !ps.Watermark.IsZero() {
			p.srcWM.WithLabelValues(lv...).Set(max(0, now.Sub(ps.Watermark).Seconds()))
		}
	}
	for k := range p.partitions {
		if k.group != s.Group || seen[k] {
			continue
		}
		lv := []string{k.group, k.topic, strconv.Itoa(int(k.partition))}
		for _, v := range []*prometheus.GaugeVec{p.srcLag, p.srcOffset, p.srcHigh, p.srcWM} {
			v.DeleteLabelValues(lv...)
		}
		delete(p.partitions, k)
	}
}

// Committed records an offset commit of a source's group.
func (p *Pipeline) Committed(group string, d time.Duration, err error) {
	if p == nil {
		return
	}
	if err != nil {
		p.commitFailed.WithLabelValues(group).Inc()
		return
	}
	p.commitSeconds.WithLabelValues(group).Observe(d.Seconds())
	p.Health.Progress()
}

// Checkpointed records a checkpoint of the bundled runner's durable
// state: the time since the previous one, how long the run took to go
// quiet and to write it, its size, and the state's size on disk
// afterwards.
func (p *Pipeline) Checkpointed(since, wait, write time.Duration, size int, disk uint64, err error) {
	if p == nil {
		return
	}
	if err != nil {
		p.stateFailed.WithLabelValues().Inc()
		return
	}
	p.stateInterval.WithLabelValues().Observe(since.Seconds())
	p.stateWait.WithLabelValues().Observe(wait.Seconds())
	p.stateSeconds.WithLabelValues().Observe(write.Seconds())
	p.stateBytes.WithLabelValues().Observe(float64(size))
	p.stateDisk.Set(float64(disk))
}

// Bundle records a finished bundle of a stage of the bundled runner.
func (p *Pipeline) Bundle(stage string, elements int, d time.Duration, err error) {
	if p == nil {
		return
	}
	if err != nil {
		p.bundleFailed.WithLabelValues(stage).Inc()
		return
	}
	p.bundleSize.WithLabelValues(stage).Observe(float64(elements))
	p.bundleSeconds.WithLabelValues(stage).Observe(d.Seconds())
	if elements > 0 {
		p.Health.Progress()
	}
}

var (
	registryMu sync.RWMutex
	registry   = map[string]*Pipeline{}
)

// Register makes p the metrics of the pipeline with the given id (a
// beamtranslate pipeline ID) in this process, for the DoFns that run its
// steps. It returns a function that removes it.
func Register(id string, p *Pipeline) (unregister func()) {
	registryMu.Lock()
	defer registryMu.Unlock()
	registry[id] = p
	return func() {
		registryMu.Lock()
		defer registryMu.Unlock()
		if registry[id] == p {
			delete(registry, id)
		}
	}
}

// Lookup returns the metrics registered for the pipeline id, or nil.
func Lookup(id string) *Pipeline {
	registryMu.RLock()
	defer registryMu.RUnlock()
	return registry[id]
}
