package runner

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/config"
	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/io/kafka"
	"github.com/streams-dev/streams/localrunner"
	"github.com/streams-dev/streams/observe"
)

// HealthcheckFile is the file write_healthcheck touches, as in Sentry
// Streams.
const HealthcheckFile = "/tmp/health.txt"

// brokerCheckInterval is how often readiness checks the source's brokers.
const brokerCheckInterval = 5 * time.Second

// observation is what a run sets up for operators: metrics, health, the
// HTTP server, the periodic log, the health file.
type observation struct {
	p      *observe.Pipeline
	log    *slog.Logger
	sentry *observe.Sentry // nil without sentry_sdk_config
	stop   []func()
}

// startObservation sets up observation of the run of g as the config asks.
func startObservation(ctx context.Context, g *dsl.Graph, opts Options, dep *deployment, log *slog.Logger) (*observation, error) {
	o := &observation{p: observe.New(opts.Name, opts.Adapter, g), log: log}
	o.p.SetTopics(deployedTopics(dep))
	m := opts.Config.Metrics
	// Flushed last, when the observation closes.
	if err := o.startSentry(opts); err != nil {
		return nil, err
	}
	if (m.Type != config.MetricsDummy && m.Type != "") || o.sentry != nil {
		// The steps count and time messages only when someone reads the
		// figures or their errors: with type dummy and no Sentry they
		// cost nothing.
		o.stop = append(o.stop, observe.Register(opts.PipelineID, o.p))
	}
	switch m.Type {
	case config.MetricsPrometheus:
		addr := m.Address
		if opts.HTTPAddr != "" {
			addr = opts.HTTPAddr
		}
		if err := o.serve(addr, m.Path, m.WebConfigFile, opts.OnHTTP); err != nil {
			o.close()
			return nil, err
		}
	case config.MetricsLog:
		o.logLoop(m.Period, m.Tags)
	case config.MetricsDatadog:
		if err := o.datadog(m); err != nil {
			o.close()
			return nil, err
		}
	}
	if opts.Config.Pipeline.AdapterConfig.Arroyo.WriteHealthcheck {
		file := opts.HealthcheckFile
		if file == "" {
			file = HealthcheckFile
		}
		done := make(chan struct{})
		go o.p.Health.TouchLoop(file, done)
		o.stop = append(o.stop, func() { close(done) })
		log.Info("touching a health file about once a second while the pipeline is alive (write_healthcheck)", "file", file)
	}
	o.brokerLoop(ctx, dep.bindings.Source.Client)
	return o, nil
}

// deployedTopics are the topics the deployment gives the steps, for the
// page: the config's, which may differ from the code's stream names.
func deployedTopics(dep *deployment) observe.Topics {
	t := observe.Topics{Steps: map[string]string{dep.sourceStep: dep.bindings.Source.Topic}}
	for name, sb := range dep.bindings.Sinks {
		t.Steps[name] = sb.Topic
	}
	if dep.bindings.Source.DLQ != nil {
		t.DLQ = dep.bindings.Source.DLQ.Topic
	}
	return t
}

// serve starts the HTTP server: metrics, health, the page; with a web
// config file, with the TLS and basic auth it sets.
func (o *observation) serve(addr, path, webConfig string, onHTTP func(string)) error {
	if webConfig != "" {
		if err := web.Validate(webConfig); err != nil {
			return fmt.Errorf("runner: metrics.web_config_file %s: %w", webConfig, err)
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("runner: metrics server: %w (set metrics.address in the deployment config)", err)
	}
	srv := &http.Server{Handler: o.p.Handler(path), ReadHeaderTimeout: 10 * time.Second}
	hctx, stopHistory := context.WithCancel(context.Background())
	historyDone := make(chan struct{})
	go func() {
		defer close(historyDone)
		o.p.RecordHistory(hctx, observe.HistoryInterval) // for the page's charts
	}()
	o.stop = append(o.stop, func() { stopHistory(); <-historyDone })
	if webConfig == "" {
		go func() { _ = srv.Serve(ln) }()
	} else {
		flags := &web.FlagConfig{WebConfigFile: &webConfig}
		go func() { _ = web.Serve(ln, srv, flags, o.log) }()
	}
	o.stop = append(o.stop, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})
	a := ln.Addr().String()
	if webConfig != "" {
		o.log.Info("serving metrics, health and the pipeline page with the TLS and authentication of the web config file",
			"address", a, "web_config_file", webConfig, "metrics", path, "healthz", "/healthz", "readyz", "/readyz", "page", "/")
	} else {
		o.log.Info("serving metrics, health and the pipeline page",
			"metrics", "http://"+a+path, "healthz", "http://"+a+"/healthz", "readyz", "http://"+a+"/readyz", "page", "http://"+a+"/")
	}
	if onHTTP != nil {
		onHTTP(a)
	}
	return nil
}

// datadog sends the metrics to a DogStatsD agent until the run ends,
// then once more.
func (o *observation) datadog(m config.Metrics) error {
	addr := net.JoinHostPort(m.Host, strconv.Itoa(m.Port))
	d, err := observe.NewDatadog(o.p.Registry(), observe.DatadogConfig{
		Addr: addr, Interval: m.FlushInterval, Tags: m.Tags, QueueSize: m.UDPQueueSize, Log: o.log,
	})
	if err != nil {
		return fmt.Errorf("runner: metrics: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := d.Run(ctx); err != nil {
			o.log.Warn("last send of metrics to Datadog", "error", err)
		}
	}()
	o.stop = append(o.stop, func() { cancel(); <-done })
	every := m.FlushInterval
	if every == 0 {
		every = observe.DefaultDatadogInterval
	}
	o.log.Info("sending metrics to Datadog (DogStatsD over UDP)", "agent", addr, "every", every)
	return nil
}

// logLoop writes the figures every period, a line per step and per
// source partition (metrics type log).
func (o *observation) logLoop(period time.Duration, tags map[string]string) {
	done := make(chan struct{})
	o.stop = append(o.stop, func() { close(done) })
	var tagAttrs []any
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		tagAttrs = append(tagAttrs, k, tags[k])
	}
	log := o.log.With(tagAttrs...)
	go func() {
		t := time.NewTicker(period)
		defer t.Stop()
		prev := o.p.Stats()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			cur := o.p.Stats()
			secs := cur.Time.Sub(prev.Time).Seconds()
			names := make([]string, 0, len(cur.Steps))
			for n := range cur.Steps {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				c, p := cur.Steps[n], prev.Steps[n]
				log.Info("step metrics", "step", n,
					"in", c.In, "out", c.Out, "errors", c.Errors, "dlq", c.DLQ, "skipped", c.Skipped,
					"in_per_sec", round2((c.In-p.In)/secs), "out_per_sec", round2((c.Out-p.Out)/secs),
					"mean_ms", round2(c.MeanSeconds*1000))
			}
			for _, ps := range cur.Partitions {
				log.Info("source metrics", "group", ps.Group, "topic", ps.Topic, "partition", ps.Partition,
					"lag", ps.Lag, "committed_offset", ps.Committed, "watermark_lag_sec", round2(ps.WatermarkLagSeconds))
			}
			prev = cur
		}
	}()
}

func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }

// brokerLoop checks the source's brokers for readiness until ctx ends.
func (o *observation) brokerLoop(ctx context.Context, cc kafka.ClientConfig) {
	opts, err := cc.Options()
	var cl *kgo.Client
	if err == nil {
		cl, err = kgo.NewClient(opts...)
	}
	if err != nil {
		o.p.Health.Broker(err)
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	o.stop = append(o.stop, func() { cancel(); <-done; cl.Close() })
	go func() {
		defer close(done)
		var was error // the previous check's result
		checked := false
		for {
			pctx, pcancel := context.WithTimeout(ctx, brokerCheckInterval)
			err := cl.Ping(pctx)
			pcancel()
			if ctx.Err() != nil {
				return
			}
			o.p.Health.Broker(err)
			switch {
			case err != nil && was == nil:
				o.log.Warn("Kafka broker unreachable: not ready", "brokers", cc.Brokers, "error", err)
			case err == nil && was != nil && checked:
				o.log.Info("Kafka broker reachable again", "brokers", cc.Brokers)
			}
			was, checked = err, true
			select {
			case <-ctx.Done():
				return
			case <-time.After(brokerCheckInterval):
			}
		}
	}()
}

// hooks are the bundled runner's hooks feeding the metrics and health.
func (o *observation) hooks() localrunner.Hooks {
	p := o.p
	return localrunner.Hooks{
		BundleDone: func(e localrunner.BundleEvent) {
			p.Bundle(e.Stage, e.Elements, e.Elapsed, e.Err)
			if e.Dropped > 0 && len(e.Transforms) > 0 {
				// A Reduce's GroupByKey is named <step>/CombinePerKey/...
				step, _, _ := strings.Cut(e.Transforms[0], "/")
				p.Late(step, e.Dropped)
			}
		},
		KafkaReport: func(r localrunner.KafkaReport) {
			s := observe.SourceState{Group: r.Group, InflightRecords: r.InflightRecords, InflightBytes: r.InflightBytes}
			for _, pr := range r.Partitions {
				s.Partitions = append(s.Partitions, observe.PartitionState{
					Topic: pr.Topic, Partition: pr.Partition, HighWatermark: pr.HighWatermark,
					Committed: pr.Committed, Start: pr.Start, Watermark: pr.Watermark,
				})
			}
			p.Source(s, time.Now())
			p.Health.SourceTurned(r.Group, r.InflightRecords, len(r.Partitions))
		},
		KafkaCommitted: func(e localrunner.KafkaCommitEvent) {
			p.Committed(e.Group, e.Elapsed, e.Err)
		},
		Checkpointed: func(e localrunner.CheckpointEvent) {
			p.Checkpointed(e.Since, e.Wait, e.Write, e.Bytes, e.DiskBytes, e.Err)
		},
	}
}

func (o *observation) close() {
	for i := len(o.stop) - 1; i >= 0; i-- {
		o.stop[i]()
	}
	o.stop = nil
}
