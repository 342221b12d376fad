package config

import (
	"fmt"
	"math"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/streams-dev/streams/io/kafka/clientconf"
)

// StepKind is what a pipeline step does, as far as its deployment config
// is concerned: it decides which steps_config keys the step accepts. It
// is one of the built-in kinds below or the Kind of a component given to
// [Parse] or [Load] with [WithComponents] ("devnull_sink"). The empty
// StepKind is invalid.
type StepKind string

// The built-in step kinds.
const (
	Source StepKind = "source" // Kafka stream source
	// Sink is the kind of a Kafka sink step. It is a component's (its
	// spec is beamtranslate.Kafka's): a config takes its steps when
	// given that spec, as the runner's are (runner.ConfigOption).
	Sink       StepKind = "sink"
	Map        StepKind = "map"
	Filter     StepKind = "filter"
	FlatMap    StepKind = "flat_map"
	Router     StepKind = "router"
	Broadcast  StepKind = "broadcast"
	Branch     StepKind = "branch"
	Batch      StepKind = "batch"
	Reduce     StepKind = "reduce"
	Parser     StepKind = "parser"
	Serializer StepKind = "serializer"
)

// String returns the kind's name, e.g. "devnull_sink".
func (k StepKind) String() string {
	if k == "" {
		return "StepKind(\"\")"
	}
	return string(k)
}

// mapLike kinds run user functions one message at a time; they chain
// into fused segments, and only they take parallelism.multi_process.
func (k StepKind) mapLike() bool {
	switch k {
	case Map, Filter, FlatMap, Parser, Serializer:
		return true
	}
	return false
}

// Keys returns the steps_config keys a step of this built-in kind
// accepts, sorted; nil for another kind (a component's keys are its
// Spec's Names).
func (k StepKind) Keys() []string {
	var keys []string
	switch k {
	case Source:
		keys = []string{"auto_offset_reset", "bootstrap_servers", "changelog_replication_factor", "codec", "commit_interval_ms", "commit_records",
			"consumer_group", "dlq", "internal_topic_partitions", "override_params", "parallelism", "processing_guarantee", "schema_dir", "strict_offset_reset", "topic",
			"watermark_idle_ms", "watermark_idle_wall_clock", "watermark_max_skew_ms"}
	case Batch:
		keys = []string{"batch_size", "batch_timedelta", "parallelism"}
	case Map, Filter, FlatMap, Parser, Serializer:
		keys = []string{"on_invalid", "parallelism"}
	case Reduce:
		keys = []string{"on_late", "parallelism"}
	case Router:
		keys = []string{"on_invalid"}
	case Broadcast, Branch:
	default:
		return nil
	}
	keys = append(keys, "starts_segment")
	sort.Strings(keys)
	return keys
}

// StepInfo describes one step of the pipeline a config deploys.
type StepInfo struct {
	Name string
	Kind StepKind
}

// Validate checks the config against the pipeline it deploys, given the
// segment the process runs and the pipeline's steps. It returns every
// problem as one *[Error]: those [Parse] found in the file, values out of
// range (in every segment), and, for the chosen segment:
//
//   - a steps_config entry for a step the pipeline does not have;
//   - a key the step's kind does not take (a sink has no
//     auto_offset_reset; see [StepKind.Keys]);
//   - the multi_process form of parallelism on a step that is not
//     map-like.
//
// Steps of the pipeline with no entry are fine: they get defaults.
// Validate does not change c, and gives the same result each time.
func (c *Config) Validate(segmentID int, steps []StepInfo) error {
	ps := slices.Clone(c.problems)
	ps = append(ps, c.checkValues()...)
	ps = append(ps, c.segmentProblems()...)
	if p, ok := c.segmentProblem(segmentID); !ok {
		ps = append(ps, p)
		return errorOf(c.file, ps)
	}
	kinds := make(map[string]StepKind, len(steps))
	var names []string
	for _, st := range steps {
		if _, dup := kinds[st.Name]; dup {
			ps = append(ps, Problem{Msg: fmt.Sprintf("pipeline step %q is listed twice", st.Name)})
			continue
		}
		if c.kindKeys(st.Kind) == nil {
			ps = append(ps, Problem{Msg: fmt.Sprintf("pipeline step %q has invalid kind %v", st.Name, st.Kind)})
		}
		kinds[st.Name] = st.Kind
		names = append(names, st.Name)
	}
	seg := &c.Pipeline.Segments[segmentID]
	base := join(index("pipeline.segments", segmentID), "steps_config")
	for _, name := range stepNames(seg) {
		sc := seg.Steps[name]
		path := join(base, name)
		kind, ok := kinds[name]
		if !ok {
			p := c.problemAt(path, false)
			list := "the pipeline has no steps"
			if len(names) > 0 {
				list = "its steps are: " + strings.Join(names, ", ")
			}
			p.Msg = fmt.Sprintf("no step named %q in the pipeline%s; %s", name, didYouMean(name, names), list)
			ps = append(ps, p)
			continue
		}
		accepted := c.kindKeys(kind)
		if accepted == nil {
			continue
		}
		for _, key := range c.stepKeys() {
			if !sc.IsSet(key) || slices.Contains(accepted, key) {
				continue
			}
			p := c.problemAt(join(path, key), false)
			p.Msg = fmt.Sprintf("%s step %q does not take this key; %s steps accept: %s",
				kind, name, kind, strings.Join(accepted, ", "))
			ps = append(ps, p)
		}
		if kind == Reduce && sc.OnLate == OnLateDLQ && !sourceHasDLQ(seg, kinds) {
			p := c.problemAt(join(path, "on_late"), false)
			p.Msg = "on_late: dlq needs a dead-letter queue: give the source step a dlq entry, or use on_late: drop"
			ps = append(ps, p)
		}
		if !sc.IsSet("parallelism") || !slices.Contains(accepted, "parallelism") {
			continue
		}
		pp := join(path, "parallelism")
		if sc.MultiProcess != nil && !kind.mapLike() {
			p := c.problemAt(pp, false)
			p.Msg = fmt.Sprintf("multi_process applies to map-like steps only; give the %s step an integer parallelism", kind)
			ps = append(ps, p)
		}
	}
	return errorOf(c.file, ps)
}

// sourceHasDLQ reports whether the segment configures a dlq on its source.
func sourceHasDLQ(seg *Segment, kinds map[string]StepKind) bool {
	for name, sc := range seg.Steps {
		if kinds[name] == Source && sc.DLQ != nil {
			return true
		}
	}
	return false
}

// stepNames returns a segment's configured step names: StepNames order
// first, then any other keys of Steps (a config built in Go), sorted.
func stepNames(s *Segment) []string {
	seen := make(map[string]bool, len(s.Steps))
	var out []string
	for _, n := range s.StepNames {
		if _, ok := s.Steps[n]; ok && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	var rest []string
	for n := range s.Steps {
		if !seen[n] {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// checker collects the problems of values that are readable but wrong.
type checker struct {
	c  *Config
	ps []Problem
}

// at records a problem at path's value, unless path's value could not
// be read (its problem is already reported).
func (k *checker) at(path string, err error, format string, args ...any) {
	k.add(path, true, err, format, args...)
}

// atKey is at, located at path's key.
func (k *checker) atKey(path string, err error, format string, args ...any) {
	k.add(path, false, err, format, args...)
}

func (k *checker) add(path string, atValue bool, err error, format string, args ...any) {
	if k.c.bad[path] {
		return
	}
	p := k.c.problemAt(path, atValue)
	p.Msg = fmt.Sprintf(format, args...)
	p.Err = err
	k.ps = append(k.ps, p)
}

// set reports whether path was written in the file.
func (k *checker) set(path string) bool {
	_, ok := k.c.pos[path]
	return ok
}

// checkValues checks every value on its own and against its siblings.
func (c *Config) checkValues() []Problem {
	k := &checker{c: c}
	k.metrics(&c.Metrics)
	k.sentry(&c.Sentry)
	for i := range c.Pipeline.Segments {
		seg := &c.Pipeline.Segments[i]
		sp := index("pipeline.segments", i)
		if pp := join(sp, "parallelism"); (seg.Parallelism != 0 || k.set(pp)) && seg.Parallelism < 1 {
			k.at(pp, nil, "must be at least 1; got %d", seg.Parallelism)
		}
		base := join(sp, "steps_config")
		for _, name := range stepNames(seg) {
			sc := seg.Steps[name]
			k.step(&sc, join(base, name))
		}
	}
	return k.ps
}

func (k *checker) sentry(s *Sentry) {
	if len(s.Set) == 0 {
		return
	}
	if s.DSN == "" && s.Set["dsn"] {
		k.at("sentry_sdk_config.dsn", nil, "must not be empty")
	}
	if s.SampleRate < 0 || s.SampleRate > 1 {
		k.at("sentry_sdk_config.sample_rate", nil, "must be from 0 to 1; got %v", s.SampleRate)
	}
	if s.StepErrorsPerMinute < 0 {
		k.at("sentry_sdk_config.step_errors_per_minute", nil, "must not be negative; got %d", s.StepErrorsPerMinute)
	}
}

func (k *checker) metrics(m *Metrics) {
	set := func(key string) bool { return m.Set[key] || k.set(join("metrics", key)) }
	switch m.Type {
	case "", MetricsDummy:
	case MetricsLog:
		if (m.Period != 0 || set("period_sec")) && m.Period < 100*time.Millisecond {
			k.at("metrics.period_sec", nil, "must be at least 0.1 seconds; got %v", m.Period.Seconds())
		}
	case MetricsDatadog:
		if m.Host == "" {
			if set("host") {
				k.at("metrics.host", nil, "must not be empty")
			} else {
				k.at("metrics.type", nil, "metrics type datadog needs host")
			}
		}
		switch {
		case m.Port == 0 && !set("port"):
			k.at("metrics.type", nil, "metrics type datadog needs port")
		case m.Port < 1 || m.Port > 65535:
			k.at("metrics.port", nil, "must be a port number from 1 to 65535; got %d", m.Port)
		}
		if m.UDPQueueSize < 0 {
			k.at("metrics.udp_queue_size", nil, "must not be negative; got %d", m.UDPQueueSize)
		}
		if (m.FlushInterval != 0 || set("flush_interval_ms")) && m.FlushInterval < time.Millisecond {
			k.at("metrics.flush_interval_ms", nil, "must be at least 1; got %v", float64(m.FlushInterval)/float64(time.Millisecond))
		}
	case MetricsPrometheus:
		if _, port, err := net.SplitHostPort(m.Address); err != nil {
			k.at("metrics.address", nil, "must be host:port, such as \":9090\"; got %q", m.Address)
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			k.at("metrics.address", nil, "port must be a number from 0 to 65535; got %q", port)
		}
		if !strings.HasPrefix(m.Path, "/") {
			k.at("metrics.path", nil, "must start with /; got %q", m.Path)
		}
		if m.WebConfigFile == "" && set("web_config_file") {
			k.at("metrics.web_config_file", nil, "must not be empty")
		}
	default:
		k.at("metrics.type", nil, "unknown metrics type %q; want one of %s", m.Type, strings.Join(metricsTypes, ", "))
	}
}

func (k *checker) step(sc *StepConfig, path string) {
	p := func(key string) string { return join(path, key) }
	if sc.IsSet("bootstrap_servers") {
		k.brokers(sc.BootstrapServers, p("bootstrap_servers"), "leave the key out to use the embedded development broker")
	}
	if sc.IsSet("topic") {
		k.topic(sc.Topic, p("topic"))
	}
	if sc.IsSet("consumer_group") && strings.TrimSpace(sc.ConsumerGroup) == "" {
		k.at(p("consumer_group"), nil, "must not be empty; leave the key out for the default pipeline-<step name>")
	}
	if sc.AutoOffsetReset != "" && !slices.Contains(offsetResets, string(sc.AutoOffsetReset)) {
		k.at(p("auto_offset_reset"), nil, "must be one of %s; got %q", strings.Join(offsetResets, ", "), sc.AutoOffsetReset)
	}
	k.overrides(sc.OverrideParams, p("override_params"))
	if dlq := sc.DLQ; dlq != nil {
		dp := p("dlq")
		if dlq.Topic != "" || k.set(join(dp, "topic")) {
			k.topic(dlq.Topic, join(dp, "topic"))
		}
		if dlq.Topic != "" && dlq.Topic == sc.Topic {
			k.at(join(dp, "topic"), nil, "the dead-letter topic must differ from the source topic %q", sc.Topic)
		}
		if dlq.BootstrapServers != nil || k.set(join(dp, "bootstrap_servers")) {
			k.brokers(dlq.BootstrapServers, join(dp, "bootstrap_servers"), "leave the key out to use the source's brokers")
		}
		k.overrides(dlq.OverrideParams, join(dp, "override_params"))
	}
	if sc.IsSet("parallelism") {
		pp := p("parallelism")
		if mp := sc.MultiProcess; mp != nil {
			mpp := join(pp, "multi_process")
			// A processes key missing from the file is already reported
			// (and its path marked bad).
			positive := func(key string, v int, required bool) {
				if (v != 0 || required || k.set(join(mpp, key))) && v < 1 {
					k.at(join(mpp, key), nil, "must be at least 1; got %d", v)
				}
			}
			positive("processes", mp.Processes, true)
			positive("batch_size", mp.BatchSize, false)
			positive("input_block_size", mp.InputBlockSize, false)
			positive("output_block_size", mp.OutputBlockSize, false)
			positive("max_input_block_size", mp.MaxInputBlockSize, false)
			positive("max_output_block_size", mp.MaxOutputBlockSize, false)
			if mp.BatchTime < 0 {
				k.at(join(mpp, "batch_time"), nil, "must not be negative; got %v", mp.BatchTime.Seconds())
			}
		} else if sc.Parallelism < 1 && !k.c.bad[pp] {
			k.at(pp, nil, "must be at least 1; got %d", sc.Parallelism)
		}
	}
	if sc.IsSet("commit_interval_ms") && sc.CommitInterval <= 0 {
		k.at(p("commit_interval_ms"), nil, "must be positive; got %v", ms(sc.CommitInterval))
	}
	if sc.IsSet("changelog_replication_factor") && (sc.ChangelogReplicationFactor < 1 || sc.ChangelogReplicationFactor > math.MaxInt16) {
		k.at(p("changelog_replication_factor"), nil, "must be between 1 and %d; got %d", math.MaxInt16, sc.ChangelogReplicationFactor)
	}
	if sc.IsSet("internal_topic_partitions") && (sc.InternalTopicPartitions < 1 || sc.InternalTopicPartitions > math.MaxInt32) {
		k.at(p("internal_topic_partitions"), nil, "must be between 1 and %d; got %d", math.MaxInt32, sc.InternalTopicPartitions)
	}
	k.guarantee(sc, path)
	if sc.IsSet("commit_records") && sc.CommitRecords < 1 {
		k.at(p("commit_records"), nil, "must be at least 1; got %d", sc.CommitRecords)
	}
	if sc.IsSet("batch_size") && sc.BatchSize < 1 {
		k.at(p("batch_size"), nil, "must be at least 1; got %d", sc.BatchSize)
	}
	if sc.IsSet("batch_timedelta") && sc.BatchTimedelta <= 0 {
		k.at(p("batch_timedelta"), nil, "must be positive; got %v", sc.BatchTimedelta)
	}
	k.components(sc, p)
}

// guarantee checks exactly-once delivery against the commit interval:
// each commit ends a transaction, which must not time out before it.
func (k *checker) guarantee(sc *StepConfig, path string) {
	if sc.ProcessingGuarantee != ExactlyOnce {
		return
	}
	if sc.IsSet("commit_records") {
		k.at(join(path, "commit_records"), nil, "exactly_once ends a transaction on commit_interval_ms only: each end waits for the pipeline to drain, so a count would cut transactions short under load; remove commit_records")
	}
	timeout, interval := 10*time.Second, time.Second
	if sc.CommitInterval > 0 {
		interval = sc.CommitInterval
	}
	v, ok := sc.OverrideParams["transaction.timeout.ms"]
	if ok {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return // reported by overrides
		}
		timeout = time.Duration(n) * time.Millisecond
	}
	if timeout > interval {
		return
	}
	at := join(join(path, "override_params"), "transaction.timeout.ms")
	if !ok {
		at = join(path, "commit_interval_ms")
	}
	k.at(at, nil, "exactly_once: the transaction timeout (%v) must exceed the commit interval (%v): each commit ends a transaction, which the brokers abort once it is older than the timeout",
		timeout, interval)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// brokers checks a list of seed brokers: host or host:port each.
func (k *checker) brokers(bs []string, path, hint string) {
	if len(bs) == 0 {
		k.at(path, nil, "must name at least one broker; %s", hint)
		return
	}
	for i, b := range bs {
		p := index(path, i)
		if _, ok := k.c.pos[p]; !ok {
			p = path // a comma-separated string has one position
		}
		if msg := checkBroker(b); msg != "" {
			k.at(p, nil, "%s", msg)
		}
	}
}

func checkBroker(b string) string {
	switch {
	case b == "":
		return "empty broker address"
	case strings.ContainsAny(b, " \t\r\n"):
		return fmt.Sprintf("broker address %q contains white space", b)
	case !strings.Contains(b, ":"):
		return "" // the port defaults to 9092
	}
	host, port, err := net.SplitHostPort(b)
	if err != nil {
		return fmt.Sprintf("broker address %q must be host or host:port", b)
	}
	if host == "" {
		return fmt.Sprintf("broker address %q has no host", b)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Sprintf("broker address %q has a bad port: want 1 to 65535", b)
	}
	return ""
}

// topic checks a Kafka topic name.
func (k *checker) topic(t, path string) {
	switch {
	case t == "":
		k.at(path, nil, "must not be empty; leave the key out to use the topic named in the pipeline")
	case len(t) > 249:
		k.at(path, nil, "topic name is %d characters long; kafka allows 249", len(t))
	case t == "." || t == "..":
		k.at(path, nil, "%q is not a valid kafka topic name", t)
	default:
		for _, r := range t {
			if !(r == '.' || r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				k.at(path, nil, "topic %q has character %q; kafka topic names use letters, digits, '.', '_' and '-'", t, r)
				return
			}
		}
	}
}

// overrides checks each client property with clientconf.CheckProperty, which
// owns the list of accepted keys.
func (k *checker) overrides(params map[string]string, path string) {
	keys := make([]string, 0, len(params))
	for key := range params {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		if err := clientconf.CheckProperty(key, params[key]); err != nil {
			p := join(path, key)
			if _, ok := k.c.pos[p]; !ok {
				p = path
			}
			k.atKey(p, err, "%s", strings.TrimPrefix(err.Error(), "clientconf: "))
		}
	}
}
