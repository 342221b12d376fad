// Package runner runs a DSL pipeline with a deployment config: the glue
// between the pipeline definition (dsl), the deployment config (config)
// and an execution engine (Beam runners through beamtranslate; the
// bundled local runner).
//
// # From a program
//
// A pipeline program hands its pipeline to Main, which provides the
// command line of Sentry Streams' runner:
//
//	func main() { runner.Main(pipeline) }
//
//	go run ./examples/simple_map_filter -n simple --config deployment_config/simple_map_filter.yaml --adapter local
//
// Flags, as Sentry Streams' runner spells them, short or long: -n/--name
// NAME, -c/--config FILE, -a/--adapter local|beam (local, the default:
// the bundled runner, package localrunner), -s/--segment-id N (or the
// SEGMENT_ID environment variable), -l/--log-level LEVEL; and ours
// (--log-format, --state-dir, the --dev-* flags, ...). -h lists the
// runner's flags by group. Beam's own flags (--runner, --endpoint,
// --environment_type, ...) are accepted beside them and passed through to
// Beam with --adapter beam; --help-beam lists them. The Beam runner is
// prism unless --runner says otherwise.
//
// # Kafka
//
// When the config gives a source no bootstrap_servers, the pipeline uses
// a development broker at 127.0.0.1:9092 (--dev-broker ADDR or
// $STREAMS_DEV_BROKER): the one `streams broker` runs if it is up,
// otherwise one embedded in the process, there or, when another Kafka or
// another program holds that address, on a free port. A Kafka that is
// not a development broker (its cluster id is not devbroker.ClusterID) is
// never used. Either way it is logged loudly, with the address; a
// production deployment always names its brokers.
// On the development broker the runner creates the pipeline's topics
// (source, sinks, dead-letter queue) explicitly, with the broker's
// partition count (devbroker.DefaultPartitions, 4), rather than rely on
// auto-creation, which franz-go producers do not ask for and which kfake
// does not keep across a kill -9.
//
// Before reading anything, the runner checks that every sink and
// dead-letter topic exists (an error naming the step otherwise) and sets
// each producer's limit to its topic's max.message.bytes, unless the
// step's override_params set message.max.bytes or batch.size.
//
// Before that, it warns once about each config key set that has no
// effect in this run: a Sentry Streams key kept for compatibility, or,
// with --adapter beam, a key only the bundled runner reads (see the
// config package doc, Keys without effect). Each step's parallelism,
// but the source's, goes to the bundled runner as the step's
// (localrunner.WithStepParallelism); the source's bounds every bundle.
//
// # Exit codes
//
// 0 after a clean stop (SIGINT or SIGTERM), 1 when the pipeline fails, 2
// for a usage, pipeline definition or config error.
package runner

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"

	"github.com/streams-dev/streams/beamtranslate"
	"github.com/streams-dev/streams/config"
	"github.com/streams-dev/streams/devbroker"
	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/io/kafka"
	"github.com/streams-dev/streams/localrunner"
)

// Adapters.
const (
	AdapterBeam  = "beam"
	AdapterLocal = "local"
)

// DevBrokerAddr is where the runner looks for the development broker, and
// starts one if none answers, unless --dev-broker or $STREAMS_DEV_BROKER
// (Options.DevBrokerAddr) says otherwise.
const DevBrokerAddr = "127.0.0.1:9092"

// Options configure Run.
type Options struct {
	// Name is the pipeline's name, used in logs and metrics. Default
	// "streams".
	Name string
	// Config is the loaded deployment config. Nil means an empty one: every
	// step with its defaults and the development broker.
	Config *config.Config
	// SegmentID selects the config's segment.
	SegmentID int
	// Adapter is AdapterLocal (default), the bundled runner (package
	// localrunner), or AdapterBeam, a Beam runner named by BeamRunner.
	Adapter string
	// BeamRunner names the Beam runner for AdapterBeam; default "prism".
	BeamRunner string
	// PipelineID keys the pipeline's step functions in this process (see
	// beamtranslate.Register); default beamtranslate.DefaultID. Programs
	// running several pipelines in one process give each its own.
	PipelineID string
	// Logger receives the runner's logs; default slog.Default().
	Logger *slog.Logger
	// DevBrokerAddr overrides where the development broker is when the
	// config names no brokers; default DevBrokerAddr. A development broker
	// (`streams broker`) that answers there is used; another Kafka is not
	// (an embedded broker starts on a free port instead). Tests use
	// "127.0.0.1:0".
	DevBrokerAddr string

	// Local are options of the bundled runner (AdapterLocal), after the
	// runner's own (its logger).
	Local []localrunner.Option

	// StateDir is where the bundled runner keeps the durable state of a
	// pipeline with Batch or Reduce steps (windows, batches, timers and
	// the Kafka positions they belong to; see localrunner.WithStateDir).
	// Default: <temp dir>/streams-state/<Name>/<consumer group>/segment-<SegmentID>,
	// or, on the development broker (no bootstrap_servers), a temporary
	// directory removed at the end of the run.
	// "none" keeps that state in memory: a restart then reads again from
	// the committed offsets. Pipelines without such steps keep no state.
	StateDir string
	// DiscardCorruptState starts the bundled runner from empty state, after
	// a warning, when the state directory's write-ahead log is corrupt;
	// the source then reads again from the group's committed offsets.
	// Default false: the run refuses to start, naming the corrupt file.
	// Without a state directory it has no effect, and a warning says so.
	DiscardCorruptState bool
	// Detach, with AdapterBeam and a job server (Beam's --endpoint),
	// submits the job and returns, leaving it running (--detach).
	Detach bool

	// Dev, when set, adds development conveniences around the run.
	Dev *DevOptions

	// OnStop, when set, is called once a clean stop begins (the context is
	// cancelled, or Dev decided the run is done): what the engine logs
	// after that is the noise of stopping.
	OnStop func()

	// HTTPAddr overrides where the metrics server listens (metrics.address
	// of a prometheus metrics config). Tests use "127.0.0.1:0".
	HTTPAddr string
	// OnHTTP, when set, is called with the metrics server's address once
	// it listens.
	OnHTTP func(addr string)
	// HealthcheckFile overrides the file write_healthcheck touches;
	// default HealthcheckFile.
	HealthcheckFile string
}

// DevOptions are development conveniences: feed input, show output, stop
// when the input is processed. `make run` uses them.
type DevOptions struct {
	// Input lines are produced, one record each, to the source topic once
	// the pipeline runs.
	Input [][]byte
	// Output, when not nil, receives a line for each record that arrives on
	// a sink topic or the dead-letter topic after the run starts.
	Output io.Writer
	// ExitWhenDone stops the run once the consumer group has committed
	// every record of the source topic, the sinks have been quiet for a
	// moment and, on the bundled runner, no processing-time timer due
	// before Timeout (a Batch's batch_timedelta) is left to flush a batch
	// or a window. What is still held in state then (a batch waiting to
	// fill, a window the watermark has not closed) is named in a warning.
	ExitWhenDone bool
	// Timeout bounds a run with ExitWhenDone; default one minute.
	Timeout time.Duration
}

// ConfigError is returned by Run for a deployment config that does not fit
// the pipeline; it wraps the config package's *config.Error.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// Run runs the pipeline g until ctx is cancelled (a clean stop, nil error)
// or the pipeline fails.
func Run(ctx context.Context, g *dsl.Graph, opts Options) error {
	opts = opts.withDefaults()
	log := opts.Logger.With("pipeline", opts.Name)
	switch opts.Adapter {
	case AdapterBeam:
	case AdapterLocal:
		opts.BeamRunner = "local"
	default:
		return &ConfigError{Err: fmt.Errorf("runner: unknown adapter %q: want %s or %s", opts.Adapter, AdapterBeam, AdapterLocal)}
	}
	if err := withComponents(opts.Config).Validate(opts.SegmentID, StepInfos(g)); err != nil {
		return &ConfigError{Err: err}
	}
	seg, err := segmentView(opts.Config, opts.SegmentID)
	if err != nil {
		return &ConfigError{Err: err}
	}
	if err := checkSegments(g, opts.Config); err != nil {
		return &ConfigError{Err: err}
	}
	dep, err := resolve(g, seg)
	if err != nil {
		return &ConfigError{Err: err}
	}
	if guarantee(seg.Step(g.Source().Name(), config.Source)) == config.ExactlyOnce {
		if err := exactlyOnce(g, dep, opts.Adapter); err != nil {
			return &ConfigError{Err: err}
		}
	}
	if err := remoteSafe(opts, dep); err != nil {
		return &ConfigError{Err: err}
	}
	if err := detachable(opts); err != nil {
		return &ConfigError{Err: err}
	}
	heads, segLocal, err := segmentOptions(opts.Config, opts, log)
	if err != nil {
		return &ConfigError{Err: err}
	}
	dep.bindings.Segments = heads
	dep.local = append(dep.local, segLocal...)
	for _, w := range startupWarnings(g, opts.Config, seg, opts.Adapter) {
		log.Warn(w.Msg, w.attrs()...)
	}

	if dep.needsDevBroker {
		stop, err := startDevBroker(ctx, opts, log, dep)
		if err != nil {
			return err
		}
		defer stop()
	}
	if err := checkOutputs(ctx, dep, log); err != nil {
		return err
	}

	if !beam.Initialized() {
		return errors.New("runner: beam.Init has not been called: a program calls it after defining its pipelines (runner.Main does)")
	}
	if opts.Adapter == AdapterLocal {
		// Only the bundled runner hands a GroupByKey's dropped elements
		// to the pipeline.
		dep.bindings.LateToDLQ = dep.lateToDLQ
	}
	p, err := beamtranslate.Translate(opts.PipelineID, g, dep.bindings)
	if err != nil {
		return err
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	obs, err := startObservation(runCtx, g, opts, dep, log)
	if err != nil {
		return &ConfigError{Err: err}
	}
	defer obs.close()
	stopMsg := stopMessage(opts, dep.bindings.Source.Group)
	defer context.AfterFunc(runCtx, func() {
		obs.p.Health.Stopping()
		log.Info(stopMsg)
		if opts.OnStop != nil {
			opts.OnStop()
		}
	})()
	var dev *devSession
	if opts.Dev != nil {
		if len(opts.Dev.Input) > 0 && dep.bindings.Source.StartOffset == string(config.OffsetLatest) {
			log.Warn("dev input is produced as the pipeline starts, but the source reads from the latest offset (auto_offset_reset: latest): records produced before it starts are skipped; set auto_offset_reset: earliest")
		}
		dev, err = startDev(runCtx, opts.Dev, dep, log)
		if err != nil {
			return err
		}
		dev.keepsState = opts.Adapter == AdapterLocal && stateDir(g, opts, dep.bindings.Source.Group) != "" &&
			(opts.StateDir != "" || !dep.needsDevBroker)
		defer dev.close()
		go dev.run(runCtx, cancel)
	}

	obs.p.Health.Started()
	obs.p.Running(true)
	defer obs.p.Running(false)
	log.Info("starting pipeline", "adapter", opts.Adapter, "runner", opts.BeamRunner,
		"source_topic", dep.bindings.Source.Topic, "group", dep.bindings.Source.Group,
		"brokers", strings.Join(dep.bindings.Source.Client.Brokers, ","))
	if opts.Adapter == AdapterLocal {
		var lr *localrunner.Runner
		hooks := obs.hooks()
		lopts := append([]localrunner.Option{localrunner.WithLogger(log)}, dep.local...)
		if dev != nil {
			hooks.Held = dev.onHeld
			report := hooks.KafkaReport
			hooks.KafkaReport = func(r localrunner.KafkaReport) {
				if report != nil {
					report(r)
				}
				dev.onKafkaReport(r)
			}
			if dev.opts.ExitWhenDone {
				lopts = append(lopts, localrunner.WithEndOfInput(dev.inputEnded))
			}
		}
		lopts = append(lopts, localrunner.WithHooks(hooks))
		dir := stateDir(g, opts, dep.bindings.Source.Group)
		if dir != "" && opts.StateDir == "" && dep.needsDevBroker {
			// The development broker's topics do not outlive it: neither
			// should state that points into them.
			if dir, err = os.MkdirTemp("", "streams-state-"); err != nil {
				return err
			}
			defer os.RemoveAll(dir)
		}
		if dir != "" {
			log.Info("durable state", "dir", dir)
			lopts = append(lopts, localrunner.WithStateDir(dir, 0), localrunner.WithDiscardCorruptState(opts.DiscardCorruptState))
		} else if opts.DiscardCorruptState {
			log.Warn("--discard-corrupt-state has no effect: this run keeps no durable state (no Reduce or Batch step, or --state-dir none)")
		}
		if lr, err = localrunner.New(append(lopts, opts.Local...)...); err != nil {
			return &ConfigError{Err: err}
		}
		_, err = lr.Run(runCtx, p)
	} else {
		if opts.DiscardCorruptState {
			log.Warn("--discard-corrupt-state has no effect with --adapter beam: the Beam runner keeps its own state")
		}
		if err = addExperiments(beamtranslate.Experiments(g, Components()...)); err != nil {
			return &ConfigError{Err: err}
		}
		err = runBeam(runCtx, opts, dep.bindings.Source.Group, log, p)
	}
	if dev != nil && dev.failed() != nil {
		return dev.failed()
	}
	if runCtx.Err() != nil {
		// A cancelled context is how a streaming pipeline stops.
		log.Info("pipeline stopped")
		return nil
	}
	if err != nil {
		obs.p.Health.Failed(obs.failedAt())
		if errors.Is(err, localrunner.ErrStateCorrupt) {
			err = fmt.Errorf("runner: pipeline %s failed: %w (or start with --discard-corrupt-state, which does that after a warning)", opts.Name, err)
		} else {
			err = fmt.Errorf("runner: pipeline %s failed: %w", opts.Name, err)
		}
		obs.failed(err)
		return err
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.Name == "" {
		o.Name = "streams"
	}
	if o.Config == nil {
		o.Config = &config.Config{Pipeline: config.Pipeline{Segments: []config.Segment{{}}}}
	}

	if o.Adapter == "" {
		o.Adapter = AdapterLocal
	}
	if o.BeamRunner == "" {
		o.BeamRunner = "prism"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.DevBrokerAddr == "" {
		o.DevBrokerAddr = DevBrokerAddr
	}
	if o.PipelineID == "" {
		o.PipelineID = beamtranslate.DefaultID
	}
	return o
}

// StepInfos describes g's steps for config validation.
func StepInfos(g *dsl.Graph) []config.StepInfo {
	var out []config.StepInfo
	for _, n := range g.Nodes() {
		out = append(out, config.StepInfo{Name: n.Name(), Kind: configKind(n)})
	}
	return out
}

func configKind(n *dsl.Node) config.StepKind {
	switch n.Kind() {
	case dsl.KindSource:
		return config.Source
	case dsl.KindSink:
		if c, ok := componentOf(n); ok {
			return config.StepKind(c.Spec.Kind)
		}
		return "" // no component implements it: an invalid kind
	case dsl.KindMap:
		return config.Map
	case dsl.KindFilter:
		return config.Filter
	case dsl.KindFlatMap:
		return config.FlatMap
	case dsl.KindParser:
		return config.Parser
	case dsl.KindSerializer:
		return config.Serializer
	case dsl.KindRouter:
		return config.Router
	case dsl.KindBroadcast:
		return config.Broadcast
	case dsl.KindBranch:
		return config.Branch
	case dsl.KindBatch:
		return config.Batch
	case dsl.KindReduce:
		return config.Reduce
	}
	return ""
}

// deployment is the pipeline's bindings and what the runner must provide
// for them.
type deployment struct {
	bindings beamtranslate.Bindings
	// needsDevBroker is set when the source names no brokers; the client
	// configs that use the development broker have no Brokers until it is
	// up.
	needsDevBroker bool
	topics         []string // every topic the pipeline uses
	sourceStep     string   // the source step's name
	// local are the bundled runner's options the config asks for.
	local []localrunner.Option
	// steps is the parallelism of each step but the source that has one
	// (localrunner.WithStepParallelism).
	steps map[string]int
	// lateToDLQ are the reduce steps whose late messages go to the
	// dead-letter queue, on the bundled runner (Bindings.LateToDLQ).
	lateToDLQ []string
}

func resolve(g *dsl.Graph, seg *config.Segment) (*deployment, error) {
	src := g.Source()
	sc := seg.Step(src.Name(), config.Source)
	d := &deployment{sourceStep: src.Name()}
	topic := src.StreamName()
	if sc.Topic != "" {
		topic = sc.Topic
	}
	client := kafka.ClientConfig{Brokers: sc.BootstrapServers, Properties: sc.OverrideParams}
	d.needsDevBroker = len(client.Brokers) == 0
	d.bindings.Source = beamtranslate.SourceBinding{
		Client:            client,
		Topic:             topic,
		Group:             sc.ConsumerGroup,
		StartOffset:       string(sc.AutoOffsetReset),
		StrictOffsetReset: sc.StrictOffsetReset,
		MaxSkew:           sc.WatermarkMaxSkew,
		IdleDelay:         sc.WatermarkIdle,
		IdleWallClock:     sc.WatermarkIdleWallClock,
	}
	d.topics = append(d.topics, topic)
	if sc.CommitInterval > 0 || sc.CommitRecords > 0 {
		interval, records := sc.CommitInterval, sc.CommitRecords
		if interval == 0 {
			interval = time.Second
		}
		if records == 0 {
			records = 10_000
		}
		d.local = append(d.local, localrunner.WithKafkaCommit(interval, records))
	}
	if sc.Parallelism > 0 {
		// The source's parallelism bounds every bundle in flight, as it
		// did before other steps took one.
		d.local = append(d.local, localrunner.WithParallelism(sc.Parallelism))
	}
	for _, n := range g.Nodes() {
		if n.Name() == src.Name() {
			continue
		}
		if p := seg.Step(n.Name(), configKind(n)).Parallelism; p > 0 {
			if d.steps == nil {
				d.steps = map[string]int{}
			}
			d.steps[n.Name()] = p
		}
	}
	if d.steps != nil {
		d.local = append(d.local, localrunner.WithStepParallelism(d.steps))
	}
	if sc.InternalTopicPartitions > 0 {
		d.local = append(d.local, localrunner.WithShufflePartitions(int32(sc.InternalTopicPartitions)))
	}
	if sc.ChangelogReplicationFactor > 0 {
		d.local = append(d.local, localrunner.WithChangelogReplication(int16(sc.ChangelogReplicationFactor)))
	}
	if sc.DLQ != nil {
		dlq := &beamtranslate.DLQBinding{
			Client: kafka.ClientConfig{Brokers: sc.DLQ.BootstrapServers, Properties: sc.DLQ.OverrideParams},
			Topic:  sc.DLQ.Topic,
		}
		if dlq.Topic == "" {
			dlq.Topic = topic + "-dlq"
		}
		if dlq.Topic == topic {
			return nil, fmt.Errorf("runner: source step %s: the dead-letter topic must differ from the source topic %q", src.Name(), topic)
		}
		dlq.Client = d.bindings.Source.Inherit(dlq.Client) // the dead-letter topic lives beside the source
		d.bindings.Source.DLQ = dlq
		d.topics = append(d.topics, dlq.Topic)
	}
	for _, n := range g.Nodes() {
		if seg.Step(n.Name(), configKind(n)).OnInvalid == config.OnInvalidSkip {
			d.bindings.SkipInvalid = append(d.bindings.SkipInvalid, n.Name())
		}
		// Late messages go to the dead-letter queue when there is one,
		// unless the step says drop (on_late: dlq without one is a
		// config problem, found by Validate).
		if n.Kind() == dsl.KindReduce && sc.DLQ != nil && seg.Step(n.Name(), config.Reduce).OnLate != config.OnLateDrop {
			d.lateToDLQ = append(d.lateToDLQ, n.Name())
		}
	}
	for _, n := range g.Nodes() {
		if n.Kind() != dsl.KindBatch {
			continue
		}
		// batch_size and batch_timedelta replace the code's bounds.
		bc := seg.Step(n.Name(), config.Batch)
		if bc.BatchSize > 0 || bc.BatchTimedelta > 0 {
			if d.bindings.Batches == nil {
				d.bindings.Batches = map[string]beamtranslate.BatchBinding{}
			}
			d.bindings.Batches[n.Name()] = beamtranslate.BatchBinding{Size: bc.BatchSize, MaxWait: bc.BatchTimedelta}
		}
	}
	decoders, err := decoderBindings(g, sc)
	if err != nil {
		return nil, err
	}
	d.bindings.Decoders = decoders
	values, err := componentValues(g, seg)
	if err != nil {
		return nil, err
	}
	d.bindings.Components, d.bindings.Values = Components(), values
	if err := d.kafkaSinks(g); err != nil {
		return nil, err
	}
	return d, nil
}

// kafkaSinks binds g's Kafka sink steps (beamtranslate.KafkaBinding,
// which checks each against the source) and the Serializers that feed
// them (beamtranslate.EncoderBindings: the sinks' codecs), from the
// steps' values.
func (d *deployment) kafkaSinks(g *dsl.Graph) error {
	d.bindings.Sinks = map[string]beamtranslate.SinkBinding{}
	for _, n := range g.Sinks() {
		if n.SinkKind() != beamtranslate.Kafka.Kind {
			continue
		}
		sb, err := beamtranslate.KafkaBinding(n, d.bindings.Values[n.Name()], d.bindings.Source)
		if err != nil {
			return fmt.Errorf("runner: %w", err)
		}
		d.bindings.Sinks[n.Name()] = sb
		d.topics = append(d.topics, sb.Topic)
	}
	encoders, err := beamtranslate.EncoderBindings(g, d.bindings.Values)
	if err != nil {
		return fmt.Errorf("runner: %w", err)
	}
	d.bindings.Encoders = encoders
	return nil
}

// fillBrokers gives every client config without brokers the address addr.
func (d *deployment) fillBrokers(addr string) {
	fill := func(c *kafka.ClientConfig) {
		if len(c.Brokers) == 0 {
			c.Brokers = []string{addr}
		}
	}
	fill(&d.bindings.Source.Client)
	if d.bindings.Source.DLQ != nil {
		fill(&d.bindings.Source.DLQ.Client)
	}
	for name, sb := range d.bindings.Sinks {
		fill(&sb.Client)
		d.bindings.Sinks[name] = sb
	}
}

// startDevBroker points the deployment at the development broker: the one
// already answering at opts.DevBrokerAddr, or a new embedded one (on a
// free port when something else holds that address).
func startDevBroker(ctx context.Context, opts Options, log *slog.Logger, d *deployment) (stop func(), err error) {
	addr, reuse := devBrokerAddr(ctx, opts.DevBrokerAddr, log)
	if reuse {
		log.Warn("NO KAFKA CONFIGURED: the source step has no bootstrap_servers; using the development broker already running at " + addr)
		d.fillBrokers(addr)
		return func() {}, ensureTopics(ctx, d.bindings.Source.Client, d.topics)
	}
	start := func(addr string) (*devbroker.Broker, error) {
		return devbroker.Start(devbroker.ListenAddr(addr), devbroker.Topics(d.topics...), devbroker.Logger(log.With("component", "devbroker")))
	}
	b, err := start(addr)
	if free, ok := freePort(addr); ok && errors.Is(err, devbroker.ErrAddrInUse) {
		log.Warn("the development broker address is taken by a program that does not answer as a Kafka broker; embedding one on a free port instead", "addr", addr)
		b, err = start(free)
	}
	if err != nil {
		return nil, fmt.Errorf("runner: no bootstrap_servers configured and the embedded development broker could not start: %w", err)
	}
	log.Warn("NO KAFKA CONFIGURED: the source step has no bootstrap_servers; started an EMBEDDED development Kafka broker at " +
		b.Addr() + " (data in memory, gone on exit). Set bootstrap_servers in the deployment config to use a real cluster.")
	d.fillBrokers(b.Addr())
	return func() { _ = b.Close() }, nil
}

// devBrokerAddr decides where the development broker is: at addr, reused
// when a development broker of ours answers there (devbroker.ClusterID),
// and otherwise to be embedded there, or on a free port of the same host
// when another Kafka answers at addr: a developer's own Kafka must not
// receive the pipeline's topics and test input.
func devBrokerAddr(ctx context.Context, addr string, log *slog.Logger) (string, bool) {
	free, ok := freePort(addr)
	if !ok {
		return addr, false // port 0 (tests) or not host:port (Start says so)
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	id, up := devbroker.Identify(pctx, addr)
	cancel()
	switch {
	case !up:
		return addr, false
	case id == devbroker.ClusterID:
		return addr, true
	}
	log.Warn("a Kafka broker that is not a streams development broker answers at the development broker address: not using it; embedding one on a free port instead",
		"addr", addr, "cluster_id", id)
	return free, false
}

// freePort returns addr with port 0 (a free port) and whether addr is a
// host:port with another port.
func freePort(addr string) (string, bool) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "0" {
		return "", false
	}
	return net.JoinHostPort(host, "0"), true
}

// addExperiments adds exps to Beam's --experiments flag, which the Beam
// runners read when a pipeline is run (see beamtranslate.Experiments).
func addExperiments(exps []string) error {
	if len(exps) == 0 {
		return nil
	}
	have := jobopts.GetExperiments()
	for _, e := range exps {
		if !slices.Contains(have, e) {
			have = append(have, e)
		}
	}
	if err := flag.Set("experiments", strings.Join(have, ",")); err != nil {
		return fmt.Errorf("runner: setting Beam's --experiments: %w", err)
	}
	return nil
}

// stateDir returns the state directory of a run on the bundled runner, ""
// for none: the pipeline keeps no state, or opts.StateDir is "none". The
// default is per pipeline name, consumer group and segment: state belongs
// to the positions of one group.
func stateDir(g *dsl.Graph, opts Options, group string) string {
	stateful := false
	for _, n := range g.Nodes() {
		stateful = stateful || n.Kind() == dsl.KindBatch || n.Kind() == dsl.KindReduce
	}
	switch {
	case !stateful || opts.StateDir == "none":
		return ""
	case opts.StateDir != "":
		return opts.StateDir
	}
	safe := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r == '/' || r == os.PathSeparator || r < ' ' {
				return '_'
			}
			return r
		}, s)
	}
	return filepath.Join(os.TempDir(), "streams-state", safe(opts.Name), safe(group), fmt.Sprintf("segment-%d", opts.SegmentID))
}
