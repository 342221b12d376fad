package config

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/streams-dev/streams/component"
)

// ErrEnvVarNotSet is the cause of a problem reporting a ${envvar:NAME}
// reference to a variable that is not set.
var ErrEnvVarNotSet = errors.New("config: environment variable not set")

// Config is a deployment config: where a pipeline's steps read and write
// and how much of each runs. It is plain data; [Parse] and [Load] fill it
// from YAML, and a program may also build or change one in Go. Call
// [Config.Validate] before running it.
type Config struct {
	// Env is the free-form env section, passed along untouched: YAML
	// mappings become map[string]any, lists []any, and scalars string,
	// int, float64, bool or nil.
	Env map[string]any
	// Metrics says where metrics go.
	Metrics Metrics
	// Sentry is sentry_sdk_config: where errors are reported.
	Sentry Sentry
	// Pipeline holds the adapter settings and the segments.
	Pipeline Pipeline
	// Components are the components whose kinds and keys the config
	// takes besides the built-in steps': those given to Parse with
	// [WithComponents]. A config built in Go sets them itself (a runner
	// gives its own to a config that has none).
	Components []component.Spec

	// file names the source in problems.
	file string
	// problems are what Parse found wrong with the file itself; Validate
	// reports them again so that one error lists everything.
	problems []Problem
	// pos locates every path read from the file.
	pos map[string]pos
	// bad holds the paths whose value could not be read; value checks
	// skip them (their problem is already reported).
	bad map[string]bool
}

// MetricsType selects a metrics backend.
type MetricsType string

// The metrics backends.
const (
	MetricsDummy      MetricsType = "dummy"
	MetricsLog        MetricsType = "log"
	MetricsDatadog    MetricsType = "datadog"
	MetricsPrometheus MetricsType = "prometheus"
)

var metricsTypes = []string{string(MetricsDummy), string(MetricsLog), string(MetricsDatadog), string(MetricsPrometheus)}

// Metrics is the metrics section. Which fields apply depends on Type.
type Metrics struct {
	// Type is the backend. Default MetricsDummy (metrics are discarded).
	Type MetricsType
	// Tags are added to every metric (log and datadog).
	Tags map[string]string
	// Period is how often the log backend writes (log: period_sec, at
	// least 100ms). Default 10s.
	Period time.Duration
	// Host and Port locate the DogStatsD agent (datadog, both required).
	Host string
	Port int
	// UDPQueueSize bounds the datadog sender's queue (udp_queue_size, >= 0).
	UDPQueueSize int
	// FlushInterval is how often datadog metrics are sent
	// (flush_interval_ms, at least 1ms).
	FlushInterval time.Duration
	// Address is where the Prometheus handler listens, host:port.
	// Default ":9090".
	Address string
	// Path is the Prometheus handler's URL path. Default "/metrics".
	Path string
	// WebConfigFile is a Prometheus web configuration file (TLS, basic
	// auth; the exporter-toolkit format) for the server at Address
	// (web_config_file). Default none: plain HTTP, no authentication.
	WebConfigFile string
	// Set holds the YAML keys present in the file (e.g. "period_sec").
	Set map[string]bool
}

// Sentry is sentry_sdk_config, Sentry error reporting. Without a DSN
// nothing is reported.
type Sentry struct {
	// DSN is the project's Sentry DSN (dsn, required when the section is
	// present).
	DSN string
	// Environment and Release are the events' environment and release
	// (environment, release; optional).
	Environment, Release string
	// SampleRate is the fraction of step errors (messages sent to the
	// dead-letter topic) reported (sample_rate, 0 to 1). Default 1.
	// Pipeline failures are always reported.
	SampleRate float64
	// StepErrorsPerMinute bounds the step errors reported per minute
	// (step_errors_per_minute, >= 0; 0 reports none). Default 10.
	StepErrorsPerMinute int
	// Set holds the YAML keys present in the file.
	Set map[string]bool
}

// Pipeline is the pipeline section.
type Pipeline struct {
	// AdapterConfig holds per-adapter settings.
	AdapterConfig AdapterConfig
	// Segments are the deployment units; a process runs the one its
	// --segment-id selects.
	Segments []Segment
}

// AdapterConfig is pipeline.adapter_config. Its local and beam entries,
// for the bundled runner and Beam runners, take no keys yet.
type AdapterConfig struct {
	// Arroyo is adapter_config.arroyo, kept for Sentry Streams configs.
	Arroyo ArroyoConfig
}

// ArroyoConfig is pipeline.adapter_config.arroyo.
type ArroyoConfig struct {
	// WriteHealthcheck asks the runner to touch a health file while its
	// main loop turns.
	WriteHealthcheck bool
}

// Segment is one entry of pipeline.segments.
type Segment struct {
	// Parallelism is the legacy segment-wide parallelism (0 when unset),
	// kept for Sentry Streams configs; it has no effect.
	Parallelism int
	// Steps is steps_config: per-step settings keyed by step name.
	Steps map[string]StepConfig
	// StepNames are the keys of Steps in file order.
	StepNames []string
}

// OnInvalid is a step's policy for messages it rejects when no
// dead-letter queue is configured.
type OnInvalid string

// The on_invalid policies.
const (
	OnInvalidStop OnInvalid = "stop"
	OnInvalidSkip OnInvalid = "skip"
)

// OnLate is a reduce step's policy for messages that arrive after their
// window closed (late beyond the allowed lateness).
type OnLate string

// The on_late policies.
const (
	// OnLateDLQ sends them to the source's dead-letter queue, with the
	// cause (the default when the source has one; bundled runner only).
	OnLateDLQ OnLate = "dlq"
	// OnLateDrop counts and drops them (the default without a dlq).
	OnLateDrop OnLate = "drop"
)

// Guarantee is a source's delivery guarantee (processing_guarantee).
type Guarantee string

// The processing_guarantee values.
const (
	// AtLeastOnce commits a message's offset once everything derived from
	// it is written: after a crash or a rebalance, outputs may repeat.
	AtLeastOnce Guarantee = "at_least_once"
	// ExactlyOnce writes the outputs to Kafka sinks and the DLQ, and
	// commits the offsets, in Kafka transactions: a reader with
	// isolation.level=read_committed sees each output exactly once
	// (bundled runner only; stateless pipelines for now).
	ExactlyOnce Guarantee = "exactly_once"
)

// OffsetReset says where a consumer group with no committed offset starts.
type OffsetReset string

// The auto_offset_reset values.
const (
	OffsetEarliest OffsetReset = "earliest"
	OffsetLatest   OffsetReset = "latest"
	// OffsetError fails instead of choosing a position.
	OffsetError OffsetReset = "error"
)

var offsetResets = []string{string(OffsetEarliest), string(OffsetLatest), string(OffsetError)}

// StepConfig is one step's entry in steps_config. Which fields a step
// accepts depends on its kind (see [Config.Validate]); zero means unset.
type StepConfig struct {
	// CommitInterval and CommitRecords are a source's commit policy on the
	// bundled runner: commit the processed offsets when the interval has
	// passed or that many records were processed since the last commit.
	// Zero means the runner's default (1s, 10,000).
	CommitInterval time.Duration
	CommitRecords  int
	// WatermarkMaxSkew and WatermarkIdle tune a source's event-time
	// watermark (see io/kafka ReadConfig.MaxSkew and IdleDelay): how far
	// it trails the newest record timestamp of each partition, and how
	// long a caught-up partition without records holds it back. Zero
	// means the read's default (1s, 100ms).
	WatermarkMaxSkew time.Duration
	WatermarkIdle    time.Duration
	// WatermarkIdleWallClock makes an idle partition's watermark follow
	// the wall clock (io/kafka ReadConfig.IdleWallClock), so windows close
	// without traffic; records produced later with older timestamps are
	// then late.
	WatermarkIdleWallClock bool
	// ChangelogReplicationFactor is the replication factor of the
	// changelog topic the bundled runner creates for the partition tasks
	// of a durable run (0: the broker's default).
	ChangelogReplicationFactor int
	// InternalTopicPartitions is the partition count of the internal
	// topics the bundled runner creates for shuffles and segments (0: as
	// many as the source topic has): the most processes that share a
	// shuffled step or a later segment's work.
	InternalTopicPartitions int

	// OnInvalid says what happens to a message this step rejects (its
	// function returned an error or panicked) when the source has no dlq:
	// OnInvalidStop (the default) fails the pipeline without committing
	// past the message, OnInvalidSkip logs and counts it and goes on. With
	// a dlq the message always goes there.
	OnInvalid OnInvalid
	// OnLate says what a reduce step does with a message that arrives
	// after its window closed: OnLateDLQ (the default when the source has
	// a dlq) or OnLateDrop (the default without). Empty means the default.
	OnLate OnLate

	// StartsSegment is Sentry Streams' mark of a step that starts a new
	// segment; it has no effect yet.
	StartsSegment bool
	// BootstrapServers are the Kafka seed brokers. Empty means the runner
	// starts an embedded development broker.
	BootstrapServers []string
	// Topic overrides the topic named in the pipeline code.
	Topic string
	// ConsumerGroup is the source's group id. Default "pipeline-<step name>".
	ConsumerGroup string
	// AutoOffsetReset says where a new consumer group starts. Default
	// OffsetLatest.
	AutoOffsetReset OffsetReset
	// StrictOffsetReset makes a committed offset that is out of range
	// (its records deleted by retention, or the topic recreated), or a
	// position that falls off the log while reading, an error that stops
	// the pipeline. When false, such an offset is reset by AutoOffsetReset
	// too.
	StrictOffsetReset bool
	// ProcessingGuarantee is the source's delivery guarantee. Default
	// AtLeastOnce.
	ProcessingGuarantee Guarantee
	// Codec is how a source's or a Kafka sink's stream's payloads are
	// written: "json", "msgpack" or "protobuf" (codec). A source's: the
	// pipeline's Parser and BatchParser steps decode with it. A sink's:
	// the Serializer feeding the sink encodes with it. A step whose code
	// sets another codec is a config error. Empty: as the code says
	// (default JSON).
	Codec string
	// SchemaDir is a source's schema directory (schema_dir): the JSON
	// Schema of its stream is the file <stream>.json there, named after
	// the stream the pipeline code reads (not a topic override), compiled
	// at start; the Parser and BatchParser steps validate each payload
	// against it. A relative path is from the working directory. A
	// missing or invalid schema is a config error.
	SchemaDir string
	// OverrideParams are librdkafka-style client properties.
	OverrideParams map[string]string
	// DLQ is where a source sends messages that fail.
	DLQ *DLQConfig
	// Parallelism is how many copies of the step run at once (on the
	// bundled runner: bundles of the stage running it). 0 means unset.
	Parallelism int
	// MultiProcess holds the rest of Sentry Streams'
	// parallelism.multi_process form; its Processes is also Parallelism.
	MultiProcess *MultiProcess
	// BatchSize is the batch size of a Batch step (and of components
	// that take batch_size, which read it from [StepConfig.ValuesOf]).
	BatchSize int
	// BatchTimedelta is a Batch step's time bound (batch_timedelta).
	BatchTimedelta time.Duration
	// Values are the step's values of the keys of the components given
	// to [Parse] (a devnull sink's max_sleep_time_ms, a blob sink's
	// bucket), by key.
	Values component.Values
	// Set holds the YAML keys present in the file (e.g. "topic").
	Set map[string]bool
}

// IsSet reports whether the step's entry sets key (a YAML key such as
// "auto_offset_reset"), either in the file or, for a config built in Go,
// by a non-zero field.
func (s *StepConfig) IsSet(key string) bool {
	if s.Set[key] {
		return true
	}
	switch key {
	case "starts_segment":
		return s.StartsSegment
	case "bootstrap_servers":
		return s.BootstrapServers != nil
	case "topic":
		return s.Topic != ""
	case "consumer_group":
		return s.ConsumerGroup != ""
	case "auto_offset_reset":
		return s.AutoOffsetReset != ""
	case "strict_offset_reset":
		return s.StrictOffsetReset
	case "processing_guarantee":
		return s.ProcessingGuarantee != ""
	case "codec":
		return s.Codec != ""
	case "schema_dir":
		return s.SchemaDir != ""
	case "on_invalid":
		return s.OnInvalid != ""
	case "on_late":
		return s.OnLate != ""
	case "commit_interval_ms":
		return s.CommitInterval != 0
	case "commit_records":
		return s.CommitRecords != 0
	case "watermark_max_skew_ms":
		return s.WatermarkMaxSkew != 0
	case "watermark_idle_ms":
		return s.WatermarkIdle != 0
	case "watermark_idle_wall_clock":
		return s.WatermarkIdleWallClock
	case "changelog_replication_factor":
		return s.ChangelogReplicationFactor != 0
	case "internal_topic_partitions":
		return s.InternalTopicPartitions != 0
	case "override_params":
		return s.OverrideParams != nil
	case "dlq":
		return s.DLQ != nil
	case "parallelism":
		return s.Parallelism != 0 || s.MultiProcess != nil
	case "batch_size":
		return s.BatchSize != 0
	case "batch_timedelta":
		return s.BatchTimedelta != 0
	}
	return s.Values.IsSet(key)
}

// DLQConfig is a source's dlq entry.
type DLQConfig struct {
	// Topic is the dead-letter topic. Empty means the one named in the
	// pipeline code.
	Topic string
	// BootstrapServers default to the source's.
	BootstrapServers []string
	// OverrideParams are librdkafka-style properties for the DLQ producer.
	OverrideParams map[string]string
}

// MultiProcess is Sentry Streams' parallelism.multi_process block. Only
// Processes has a meaning here (it is the step's parallelism); the rest
// is kept so that Sentry configs load unchanged, and has no effect (the
// runner warns about it at start).
type MultiProcess struct {
	Processes          int
	BatchSize          int
	BatchTime          time.Duration
	InputBlockSize     int
	OutputBlockSize    int
	MaxInputBlockSize  int
	MaxOutputBlockSize int
	// Set holds the YAML keys present in the file (e.g. "batch_time").
	Set map[string]bool
}

// Ignored returns the keys of the block that are set and have no effect
// (all but processes), sorted: those present in the file, or, for a
// block built in Go, those with a non-zero field.
func (m *MultiProcess) Ignored() []string {
	if m == nil {
		return nil
	}
	fields := map[string]bool{
		"batch_size":            m.BatchSize != 0,
		"batch_time":            m.BatchTime != 0,
		"input_block_size":      m.InputBlockSize != 0,
		"output_block_size":     m.OutputBlockSize != 0,
		"max_input_block_size":  m.MaxInputBlockSize != 0,
		"max_output_block_size": m.MaxOutputBlockSize != 0,
	}
	var out []string
	for _, key := range multiProcessKeys {
		if key != "processes" && (m.Set[key] || fields[key]) {
			out = append(out, key)
		}
	}
	return out
}

// Load reads the deployment config file at path, substituting
// ${envvar:NAME} references from the process environment. Like [Parse],
// it returns a non-nil *Config together with an *[Error] when the file is
// readable YAML but has problems, so that [Config.Validate] can list them
// with the pipeline's own; a file that cannot be read gives a nil *Config.
// Load reads only a regular file of at most [MaxFileSize] bytes: anything
// else ([ErrNotRegularFile], [ErrFileTooLarge]) gives a nil *Config.
func Load(path string, opts ...Option) (*Config, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	c, err := parse(path, data, os.LookupEnv, opts)
	return c, err
}

// Parse reads a deployment config from YAML. Every ${envvar:NAME} in a
// string value is replaced by lookupEnv(NAME) before values are typed
// (nil lookupEnv means os.LookupEnv).
//
// Parse reports, as one *[Error], everything wrong with the document on
// its own: YAML syntax, duplicate and unknown keys, values of the wrong
// type or out of range, and unset environment variables. It carries on
// past each problem to find the others.
//
// When the document is well-formed YAML, Parse returns a non-nil *Config
// even if it also returns an error: the values it could not read are
// left zero, and [Config.Validate] repeats Parse's problems alongside the
// pipeline's, so a runner can print one list. Such a Config must not be
// run. Parse applies [Config.EnsureDefaults].
func Parse(data []byte, lookupEnv func(string) (string, bool), opts ...Option) (*Config, error) {
	return parse("", data, lookupEnv, opts)
}

func parse(file string, data []byte, lookupEnv func(string) (string, bool), opts []Option) (*Config, error) {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	var o options
	for _, opt := range opts {
		opt.apply(&o)
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	d := newDecoder(lookupEnv)
	d.components = o.components
	c, ok := d.document(data)
	if !ok {
		return nil, errorOf(file, d.problems)
	}
	c.Components = o.components
	c.file = file
	c.problems = d.problems
	c.pos = d.pos
	c.bad = d.bad
	c.EnsureDefaults()
	ps := append(c.problems[:len(c.problems):len(c.problems)], c.checkValues()...)
	return c, errorOf(file, ps)
}

// EnsureDefaults fills in the defaults that do not depend on the
// pipeline: the metrics type and each backend's settings. Step defaults
// depend on the step's kind; see [StepConfig.EnsureDefaults] and
// [Segment.Step]. It returns c.
func (c *Config) EnsureDefaults() *Config {
	if se := &c.Sentry; se.DSN != "" {
		if !se.Set["sample_rate"] && se.SampleRate == 0 {
			se.SampleRate = 1
		}
		if !se.Set["step_errors_per_minute"] && se.StepErrorsPerMinute == 0 {
			se.StepErrorsPerMinute = 10
		}
	}
	m := &c.Metrics
	if m.Type == "" {
		m.Type = MetricsDummy
	}
	switch m.Type {
	case MetricsLog:
		if m.Period == 0 {
			m.Period = 10 * time.Second
		}
	case MetricsPrometheus:
		if m.Address == "" {
			m.Address = ":9090"
		}
		if m.Path == "" {
			m.Path = "/metrics"
		}
	}
	return c
}

// EnsureDefaults fills in the defaults of a step of the given kind named
// name: for a source, consumer_group "pipeline-<name>", auto_offset_reset
// latest, and DLQ bootstrap servers equal to the source's. It returns s.
func (s *StepConfig) EnsureDefaults(name string, kind StepKind) *StepConfig {
	if kind != Source {
		return s
	}
	if s.ConsumerGroup == "" {
		s.ConsumerGroup = "pipeline-" + name
	}
	if s.AutoOffsetReset == "" {
		s.AutoOffsetReset = OffsetLatest
	}
	if s.DLQ != nil && len(s.DLQ.BootstrapServers) == 0 && len(s.BootstrapServers) > 0 {
		dlq := *s.DLQ
		dlq.BootstrapServers = append([]string(nil), s.BootstrapServers...)
		s.DLQ = &dlq
	}
	return s
}

// Step returns the settings of the step named name of the given kind,
// with defaults applied. A step without an entry in steps_config gets the
// defaults alone (for a source: the embedded broker, consumer group
// "pipeline-<name>", offset reset latest).
func (s *Segment) Step(name string, kind StepKind) StepConfig {
	sc := s.Steps[name]
	sc.EnsureDefaults(name, kind)
	return sc
}

// Segment returns the segment with the given index (the runner's
// --segment-id). An index out of range is an *[Error].
func (c *Config) Segment(id int) (*Segment, error) {
	if p, ok := c.segmentProblem(id); !ok {
		return nil, errorOf(c.file, []Problem{p})
	}
	return &c.Pipeline.Segments[id], nil
}

func (c *Config) segmentProblem(id int) (Problem, bool) {
	n := len(c.Pipeline.Segments)
	if id >= 0 && id < n {
		return Problem{}, true
	}
	p := c.problemAt("pipeline.segments", false)
	switch n {
	case 0:
		p.Msg = fmt.Sprintf("segment %d does not exist: the config has no segments", id)
	case 1:
		p.Msg = fmt.Sprintf("segment %d does not exist: the config has 1 segment (id 0)", id)
	default:
		p.Msg = fmt.Sprintf("segment %d does not exist: the config has %d segments (ids 0 to %d)", id, n, n-1)
	}
	return p, false
}

// problemAt returns a Problem located at path's key (atValue false) or
// value (atValue true), with Path set.
func (c *Config) problemAt(path string, atValue bool) Problem {
	p := Problem{Path: path}
	if at, ok := c.pos[path]; ok {
		if atValue {
			p.Line, p.Column = at.valLine, at.valCol
		} else {
			p.Line, p.Column = at.keyLine, at.keyCol
		}
	}
	return p
}
