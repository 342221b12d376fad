package config

import (
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// The sections of a config, top to step, each read into its type.

// The keys each mapping of the known structure accepts.
var (
	topKeys          = []string{"env", "metrics", "pipeline", "sentry_sdk_config"}
	sentryKeys       = []string{"dsn", "environment", "release", "sample_rate", "step_errors_per_minute"}
	pipelineKeys     = []string{"adapter_config", "segments"}
	adapterKeys      = []string{"arroyo", "beam", "local"}
	arroyoKeys       = []string{"write_healthcheck"}
	segmentKeys      = []string{"parallelism", "steps_config"}
	dlqKeys          = []string{"bootstrap_servers", "override_params", "topic"}
	parallelismKeys  = []string{"multi_process"}
	multiProcessKeys = []string{
		"batch_size", "batch_time", "input_block_size", "max_input_block_size",
		"max_output_block_size", "output_block_size", "processes",
	}
	timedeltaKeys = []string{"days", "hours", "microseconds", "milliseconds", "minutes", "seconds", "weeks"}
	// stepKeys is every key any built-in step kind accepts; Validate
	// narrows it down by kind. The keys of the components given to Parse
	// come on top (stepKeysWith).
	stepKeys = []string{
		"auto_offset_reset", "batch_size",
		"batch_timedelta", "bootstrap_servers", "changelog_replication_factor", "codec", "commit_interval_ms", "commit_records", "consumer_group", "dlq",
		"internal_topic_partitions", "on_invalid", "on_late", "override_params", "parallelism", "processing_guarantee", "schema_dir", "starts_segment",
		"strict_offset_reset", "topic", "watermark_idle_ms", "watermark_idle_wall_clock", "watermark_max_skew_ms",
	}
	onInvalidPolicies = []string{string(OnInvalidStop), string(OnInvalidSkip)}
	onLatePolicies    = []string{string(OnLateDLQ), string(OnLateDrop)}
	guarantees        = []string{string(AtLeastOnce), string(ExactlyOnce)}
	// codecs are the source stream's codecs (codec), as dsl.ParseCodec reads them.
	codecs      = []string{"json", "msgpack", "protobuf"}
	metricsKeys = map[MetricsType][]string{
		MetricsDummy:      {"type"},
		MetricsLog:        {"period_sec", "tags", "type"},
		MetricsDatadog:    {"flush_interval_ms", "host", "port", "tags", "type", "udp_queue_size"},
		MetricsPrometheus: {"address", "path", "type", "web_config_file"},
	}
	allMetricsKeys = []string{
		"address", "flush_interval_ms", "host", "path", "period_sec", "port",
		"tags", "type", "udp_queue_size", "web_config_file",
	}
	// noAdapterKeys say why adapter_config.local and .beam take no keys.
	noAdapterKeys = map[string]string{
		"local": "adapter_config.local takes no keys yet: the bundled runner is set up by steps_config and the command line (--state-dir, ...)",
		"beam":  "adapter_config.beam takes no keys yet: a Beam runner takes its options on the command line (--runner, --endpoint, ...)",
	}
	// unsupported are Sentry Streams keys we know and do not implement.
	unsupported = map[string]string{
		"additional_settings": "additional_settings is not supported; put client properties in override_params",
		"bucket":              "GCS sinks are not supported",
	}
)

// config reads the root mapping.
func (d *decoder) config(root *yaml.Node) *Config {
	c := &Config{}
	if root != nil && !isNull(root) && resolve(root).Kind != yaml.MappingNode {
		d.problem(root, "", nil, "a config must be a mapping with the keys env, metrics and pipeline; got %s", describe(root))
		return c
	}
	entries, _ := d.fields(root, "", 0, topKeys)
	hasPipeline := false
	for _, e := range entries {
		switch e.key {
		case "env":
			c.Env = d.freeMap(e.val, e.path, 1)
		case "metrics":
			c.Metrics = d.metrics(e.val, e.path)
		case "sentry_sdk_config":
			c.Sentry = d.sentry(e)
		case "pipeline":
			hasPipeline = true
			c.Pipeline = d.pipeline(e)
		}
	}
	if !hasPipeline {
		d.missing(root, "", "pipeline")
	}
	return c
}

func (d *decoder) metrics(n *yaml.Node, path string) Metrics {
	m := Metrics{Set: map[string]bool{}}
	entries, ok := d.mapping(n, path, 1)
	if !ok {
		return m
	}
	// The type decides which keys apply. Without one it is dummy; with a
	// bad one every metrics key is let through, so that one mistake does
	// not cascade into a problem per key.
	typ, accepted := MetricsDummy, metricsKeys[MetricsDummy]
	for _, e := range entries {
		if e.key != "type" {
			continue
		}
		accepted = allMetricsKeys
		s, ok := d.str(e.val, e.path)
		if !ok {
			break
		}
		if keys, known := metricsKeys[MetricsType(s)]; known {
			typ, accepted = MetricsType(s), keys
			m.Type = typ
		} else {
			d.problem(e.val, e.path, nil, "unknown metrics type %q%s; want one of %s",
				s, didYouMean(s, metricsTypes), strings.Join(metricsTypes, ", "))
		}
	}
	for _, e := range entries {
		if !slices.Contains(accepted, e.key) {
			if slices.Contains(allMetricsKeys, e.key) {
				d.problem(e.keyN, e.path, nil, "key does not apply to metrics type %s, which accepts: %s",
					typ, strings.Join(accepted, ", "))
			} else {
				d.unknownKey(e, allMetricsKeys)
			}
			continue
		}
		before := len(d.problems)
		m.Set[e.key] = true
		switch e.key {
		case "tags":
			m.Tags, _ = d.stringMap(e.val, e.path, 2)
		case "period_sec":
			m.Period, _ = d.seconds(e.val, e.path)
		case "host":
			m.Host, _ = d.str(e.val, e.path)
		case "port":
			m.Port, _ = d.integer(e.val, e.path)
		case "udp_queue_size":
			m.UDPQueueSize, _ = d.integer(e.val, e.path)
		case "flush_interval_ms":
			m.FlushInterval, _ = d.millis(e.val, e.path)
		case "address":
			m.Address, _ = d.str(e.val, e.path)
		case "path":
			m.Path, _ = d.str(e.val, e.path)
		case "web_config_file":
			m.WebConfigFile, _ = d.str(e.val, e.path)
		}
		d.mark(e.path, before)
	}
	return m
}

func (d *decoder) sentry(se entry) Sentry {
	s := Sentry{Set: map[string]bool{}}
	entries, ok := d.fields(se.val, se.path, 1, sentryKeys)
	if !ok {
		return s
	}
	for _, e := range entries {
		before := len(d.problems)
		s.Set[e.key] = true
		switch e.key {
		case "dsn":
			s.DSN, _ = d.str(e.val, e.path)
		case "environment":
			s.Environment, _ = d.str(e.val, e.path)
		case "release":
			s.Release, _ = d.str(e.val, e.path)
		case "sample_rate":
			s.SampleRate, _ = d.number(e.val, e.path)
		case "step_errors_per_minute":
			s.StepErrorsPerMinute, _ = d.integer(e.val, e.path)
		}
		d.mark(e.path, before)
	}
	if !s.Set["dsn"] {
		d.missing(se.keyN, se.path, "dsn")
	}
	return s
}

func (d *decoder) pipeline(pe entry) Pipeline {
	var p Pipeline
	entries, ok := d.fields(pe.val, pe.path, 1, pipelineKeys)
	if !ok {
		return p
	}
	hasSegments := false
	for _, e := range entries {
		switch e.key {
		case "adapter_config":
			p.AdapterConfig = d.adapterConfig(e.val, e.path)
		case "segments":
			hasSegments = true
			p.Segments = d.segments(e.val, e.path)
		}
	}
	if !hasSegments {
		d.missing(pe.keyN, pe.path, "segments")
	}
	return p
}

func (d *decoder) adapterConfig(n *yaml.Node, path string) AdapterConfig {
	var a AdapterConfig
	entries, _ := d.fields(n, path, 2, adapterKeys)
	for _, e := range entries {
		switch e.key {
		case "arroyo":
			fs, _ := d.fields(e.val, e.path, 3, arroyoKeys)
			for _, f := range fs {
				a.Arroyo.WriteHealthcheck, _ = d.boolean(f.val, f.path)
			}
		case "local", "beam":
			// Kept for the per-runner settings to come; a key given
			// today would be accepted and ignored.
			fs, _ := d.mapping(e.val, e.path, 3)
			for _, f := range fs {
				d.problem(f.keyN, f.path, nil, "%s", noAdapterKeys[e.key])
			}
		}
	}
	return a
}

func (d *decoder) segments(n *yaml.Node, path string) []Segment {
	n = resolve(n)
	if isNull(n) {
		d.problem(n, path, nil, "must list at least one segment")
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.typeProblem(n, path, "a list of segments")
		return nil
	}
	if len(n.Content) == 0 {
		d.problem(n, path, nil, "must list at least one segment")
		return nil
	}
	if !d.visit(n, path, 2) {
		return nil
	}
	segs := make([]Segment, 0, len(n.Content))
	for i, sn := range n.Content {
		sn = resolve(sn)
		p := index(path, i)
		d.pos[p] = position(sn, sn)
		segs = append(segs, d.segment(sn, p))
	}
	return segs
}

func (d *decoder) segment(n *yaml.Node, path string) Segment {
	var s Segment
	entries, _ := d.fields(n, path, 3, segmentKeys)
	for _, e := range entries {
		before := len(d.problems)
		switch e.key {
		case "parallelism":
			s.Parallelism, _ = d.integer(e.val, e.path)
		case "steps_config":
			steps, _ := d.mapping(e.val, e.path, 4)
			s.Steps = make(map[string]StepConfig, len(steps))
			for _, st := range steps {
				s.StepNames = append(s.StepNames, st.key)
				s.Steps[st.key] = d.step(st.val, st.path)
			}
		}
		d.mark(e.path, before)
	}
	return s
}

func (d *decoder) step(n *yaml.Node, path string) StepConfig {
	sc := StepConfig{Set: map[string]bool{}}
	entries, _ := d.fields(n, path, 5, stepKeysWith(d.components))
	for _, e := range entries {
		before := len(d.problems)
		sc.Set[e.key] = true
		switch e.key {
		case "starts_segment":
			sc.StartsSegment, _ = d.boolean(e.val, e.path)
		case "bootstrap_servers":
			sc.BootstrapServers, _ = d.strings(e.val, e.path, 6)
		case "topic":
			sc.Topic, _ = d.str(e.val, e.path)
		case "consumer_group":
			sc.ConsumerGroup, _ = d.str(e.val, e.path)
		case "auto_offset_reset":
			if s, ok := d.oneOf(e.val, e.path, offsetResets); ok {
				sc.AutoOffsetReset = OffsetReset(s)
			}
		case "strict_offset_reset":
			sc.StrictOffsetReset, _ = d.boolean(e.val, e.path)
		case "processing_guarantee":
			if s, ok := d.oneOf(e.val, e.path, guarantees); ok {
				sc.ProcessingGuarantee = Guarantee(s)
			}
		case "codec":
			sc.Codec, _ = d.oneOf(e.val, e.path, codecs)
		case "schema_dir":
			sc.SchemaDir, _ = d.str(e.val, e.path)
		case "on_invalid":
			if s, ok := d.oneOf(e.val, e.path, onInvalidPolicies); ok {
				sc.OnInvalid = OnInvalid(s)
			}
		case "on_late":
			if s, ok := d.oneOf(e.val, e.path, onLatePolicies); ok {
				sc.OnLate = OnLate(s)
			}
		case "override_params":
			sc.OverrideParams, _ = d.stringMap(e.val, e.path, 6)
		case "dlq":
			sc.DLQ = d.dlq(e.val, e.path)
		case "parallelism":
			sc.Parallelism, sc.MultiProcess = d.parallelism(e.val, e.path)
		case "commit_interval_ms":
			sc.CommitInterval, _ = d.millis(e.val, e.path)
		case "commit_records":
			sc.CommitRecords, _ = d.integer(e.val, e.path)
		case "watermark_max_skew_ms":
			sc.WatermarkMaxSkew, _ = d.millis(e.val, e.path)
		case "watermark_idle_ms":
			sc.WatermarkIdle, _ = d.millis(e.val, e.path)
		case "watermark_idle_wall_clock":
			sc.WatermarkIdleWallClock, _ = d.boolean(e.val, e.path)
		case "changelog_replication_factor":
			sc.ChangelogReplicationFactor, _ = d.integer(e.val, e.path)
		case "internal_topic_partitions":
			sc.InternalTopicPartitions, _ = d.integer(e.val, e.path)
		case "batch_size":
			sc.BatchSize, _ = d.integer(e.val, e.path)
		case "batch_timedelta":
			sc.BatchTimedelta, _ = d.timedelta(e.val, e.path)
		default:
			d.componentValue(&sc, e)
		}
		d.mark(e.path, before)
	}
	return sc
}

func (d *decoder) dlq(n *yaml.Node, path string) *DLQConfig {
	dlq := &DLQConfig{}
	entries, _ := d.fields(n, path, 6, dlqKeys)
	for _, e := range entries {
		before := len(d.problems)
		switch e.key {
		case "topic":
			dlq.Topic, _ = d.str(e.val, e.path)
		case "bootstrap_servers":
			dlq.BootstrapServers, _ = d.strings(e.val, e.path, 7)
		case "override_params":
			dlq.OverrideParams, _ = d.stringMap(e.val, e.path, 7)
		}
		d.mark(e.path, before)
	}
	return dlq
}

// parallelism reads an integer or {multi_process: {...}}.
func (d *decoder) parallelism(n *yaml.Node, path string) (int, *MultiProcess) {
	defer d.mark(path, len(d.problems))
	if n != nil && n.Kind != yaml.MappingNode {
		if n.Kind == yaml.ScalarNode && !d.failed[n] && (d.subst[n] || n.ShortTag() == "!!int") {
			p, _ := d.integer(n, path)
			return p, nil
		}
		d.typeProblem(n, path, "an integer or a mapping {multi_process: {processes: N, ...}}")
		return 0, nil
	}
	entries, ok := d.fields(n, path, 6, parallelismKeys)
	if !ok {
		return 0, nil
	}
	if len(entries) == 0 {
		if n == nil || len(n.Content) == 0 {
			d.problem(n, path, nil, "must be an integer or a mapping {multi_process: {processes: N, ...}}; got an empty mapping")
		}
		return 0, nil
	}
	e := entries[0]
	mp := &MultiProcess{Set: map[string]bool{}}
	fs, _ := d.fields(e.val, e.path, 7, multiProcessKeys)
	hasProcesses := false
	for _, f := range fs {
		mp.Set[f.key] = true
		switch f.key {
		case "processes":
			hasProcesses = true
			mp.Processes, _ = d.integer(f.val, f.path)
		case "batch_size":
			mp.BatchSize, _ = d.integer(f.val, f.path)
		case "batch_time":
			mp.BatchTime, _ = d.seconds(f.val, f.path)
		case "input_block_size":
			mp.InputBlockSize, _ = d.integer(f.val, f.path)
		case "output_block_size":
			mp.OutputBlockSize, _ = d.integer(f.val, f.path)
		case "max_input_block_size":
			mp.MaxInputBlockSize, _ = d.integer(f.val, f.path)
		case "max_output_block_size":
			mp.MaxOutputBlockSize, _ = d.integer(f.val, f.path)
		}
	}
	if !hasProcesses {
		d.missing(e.keyN, e.path, "processes")
	}
	return mp.Processes, mp
}
