package observe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/DataDog/datadog-go/v5/statsd"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Datadog defaults, as Sentry Streams' Datadog backend has them.
const (
	DefaultDatadogInterval  = 10 * time.Second
	DefaultDatadogQueueSize = 100_000
)

// DatadogConfig says where and how a Datadog exporter sends.
type DatadogConfig struct {
	// Addr is the DogStatsD agent's host:port (UDP).
	Addr string
	// Interval is how often the registry is read and sent. Default
	// DefaultDatadogInterval.
	Interval time.Duration
	// Tags are added to every metric, beside each series' own labels.
	Tags map[string]string
	// QueueSize bounds the sender's queue of packets; 0 means
	// DefaultDatadogQueueSize.
	QueueSize int
	// Log receives send errors (at most one line per interval); nil
	// discards them.
	Log *slog.Logger
}

// Datadog sends what a Prometheus registry holds to a DogStatsD agent,
// every interval, under the same names and with the labels as tags
// (label:value):
//
//   - a gauge (or untyped metric) is sent as a gauge of its value;
//   - a counter is sent as a count of its increase since the last send
//     (the whole value at the first), so Datadog sums what Prometheus
//     would take a rate of;
//   - a histogram is sent as counts of the increase of <name>_count and
//     of each <name>_bucket (tag le, cumulative as in Prometheus), and as
//     a gauge <name>_avg, the mean of the observations of the interval
//     (sum over count; not sent when there were none). The observations
//     themselves are not kept by the registry, so no distribution is
//     made up from them;
//   - a summary is sent as <name>_count and <name>_avg likewise, and a
//     gauge per quantile (tag quantile).
//
// A count that went down (a series deleted and made again) starts over
// from its value. Send errors are logged and do not stop the
// exporter: the agent may come and go, and UDP loses what it loses.
type Datadog struct {
	g        prometheus.Gatherer
	c        *statsd.Client
	interval time.Duration
	log      *slog.Logger
	prev     map[string]float64 // last value of each count, by name and tags
}

// NewDatadog returns an exporter of g to the agent cfg names.
func NewDatadog(g prometheus.Gatherer, cfg DatadogConfig) (*Datadog, error) {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultDatadogInterval
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultDatadogQueueSize
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	c, err := statsd.New(cfg.Addr,
		statsd.WithTags(tagList(cfg.Tags)),
		statsd.WithSenderQueueSize(cfg.QueueSize),
		// We aggregate over the interval ourselves; the client's own
		// aggregation would only delay and merge what we send.
		statsd.WithoutClientSideAggregation(),
		statsd.WithoutTelemetry(),
		statsd.WithoutOriginDetection(),
	)
	if err != nil {
		return nil, fmt.Errorf("observe: datadog agent %s: %w", cfg.Addr, err)
	}
	return &Datadog{g: g, c: c, interval: cfg.Interval, log: cfg.Log, prev: map[string]float64{}}, nil
}

// Run sends every interval until ctx ends, then sends once more, flushes
// and closes the client.
func (d *Datadog) Run(ctx context.Context) error {
	t := time.NewTicker(d.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			err := d.Send()
			return errors.Join(err, d.c.Flush(), d.c.Close())
		case <-t.C:
			if err := d.Send(); err != nil {
				d.log.Warn("sending metrics to Datadog", "error", err)
			}
		}
	}
}

// Send reads the registry and sends it once.
func (d *Datadog) Send() error {
	mfs, gerr := d.g.Gather()
	var errs []error
	if gerr != nil {
		errs = append(errs, gerr)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if err := d.send(mf.GetName(), mf.GetType(), m); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func (d *Datadog) send(name string, typ dto.MetricType, m *dto.Metric) error {
	tags := labelTags(m)
	switch typ {
	case dto.MetricType_COUNTER:
		return d.count(name, m.GetCounter().GetValue(), tags)
	case dto.MetricType_GAUGE:
		return d.gauge(name, m.GetGauge().GetValue(), tags)
	case dto.MetricType_UNTYPED:
		return d.gauge(name, m.GetUntyped().GetValue(), tags)
	case dto.MetricType_HISTOGRAM:
		h := m.GetHistogram()
		errs := []error{d.mean(name, float64(h.GetSampleCount()), h.GetSampleSum(), tags)}
		for _, b := range h.GetBucket() {
			le := append(tags[:len(tags):len(tags)], "le:"+formatBound(b.GetUpperBound()))
			errs = append(errs, d.count(name+"_bucket", float64(b.GetCumulativeCount()), le))
		}
		return errors.Join(errs...)
	case dto.MetricType_SUMMARY:
		s := m.GetSummary()
		errs := []error{d.mean(name, float64(s.GetSampleCount()), s.GetSampleSum(), tags)}
		for _, q := range s.GetQuantile() {
			qt := append(tags[:len(tags):len(tags)], "quantile:"+formatBound(q.GetQuantile()))
			errs = append(errs, d.gauge(name, q.GetValue(), qt))
		}
		return errors.Join(errs...)
	}
	return nil
}

// mean sends <name>_count's increase and <name>_avg, the mean of the
// observations since the last send.
func (d *Datadog) mean(name string, count, sum float64, tags []string) error {
	kc, ks := key(name+"_avg#count", tags), key(name+"_avg#sum", tags)
	prevCount, prevSum := d.prev[kc], d.prev[ks]
	d.prev[kc], d.prev[ks] = count, sum
	err := d.count(name+"_count", count, tags)
	if count < prevCount { // started over
		prevCount, prevSum = 0, 0
	}
	if n := count - prevCount; n > 0 {
		err = errors.Join(err, d.gauge(name+"_avg", (sum-prevSum)/n, tags))
	}
	return err
}

// count sends the increase of a cumulative value since the last send,
// rounded to a whole number (DogStatsD counts are integers): what the
// rounding leaves out is sent once it adds up, so the sum of what was
// sent stays within a half of the value.
func (d *Datadog) count(name string, v float64, tags []string) error {
	if math.IsNaN(v) {
		return nil
	}
	k := key(name, tags)
	sent, seen := d.prev[k]
	if v < sent-0.5 { // started over
		sent = 0
	}
	n := math.Round(v - sent)
	d.prev[k] = sent + n
	if seen && n == 0 {
		return nil
	}
	return d.c.Count(name, int64(n), tags, 1)
}

// gauge sends a value, unless it is NaN (a summary without observations).
func (d *Datadog) gauge(name string, v float64, tags []string) error {
	if math.IsNaN(v) {
		return nil
	}
	return d.c.Gauge(name, v, tags, 1)
}

func key(name string, tags []string) string {
	return name + "|" + strings.Join(tags, ",")
}

// labelTags are a series' labels as Datadog tags, in label order (the
// registry sorts them).
func labelTags(m *dto.Metric) []string {
	tags := make([]string, 0, len(m.GetLabel()))
	for _, l := range m.GetLabel() {
		tags = append(tags, l.GetName()+":"+l.GetValue())
	}
	return tags
}

func tagList(tags map[string]string) []string {
	out := make([]string, 0, len(tags))
	for k, v := range tags {
		out = append(out, k+":"+v)
	}
	sort.Strings(out)
	return out
}

func formatBound(f float64) string {
	if math.IsInf(f, +1) {
		return "+Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
