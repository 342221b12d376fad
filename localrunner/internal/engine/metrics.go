package engine

import (
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/metrics"
)

// Metrics aggregates the user metrics of the bundles that succeeded. The
// SDK keeps one metrics store per bundle, labelled with transform IDs; they
// are reported under the transforms' unique names, as portable runners do.
type Metrics struct {
	names         map[string]string
	counters      map[metrics.StepKey]int64
	distributions map[metrics.StepKey]metrics.DistributionValue
	gauges        map[metrics.StepKey]metrics.GaugeValue
}

func newMetrics(names map[string]string) *Metrics {
	return &Metrics{
		names:         names,
		counters:      map[metrics.StepKey]int64{},
		distributions: map[metrics.StepKey]metrics.DistributionValue{},
		gauges:        map[metrics.StepKey]metrics.GaugeValue{},
	}
}

func (m *Metrics) key(l metrics.Labels) metrics.StepKey {
	step := l.Transform()
	if n, ok := m.names[step]; ok {
		step = n
	}
	return metrics.StepKey{Step: step, Name: l.Name(), Namespace: l.Namespace()}
}

// addCounter adds v to a counter the runner keeps itself, on step (a
// unique name).
func (m *Metrics) addCounter(step, namespace, name string, v int64) {
	m.counters[metrics.StepKey{Step: step, Name: name, Namespace: namespace}] += v
}

func (m *Metrics) add(store *metrics.Store) {
	if store == nil {
		return
	}
	_ = metrics.Extractor{
		SumInt64: func(l metrics.Labels, v int64) {
			m.counters[m.key(l)] += v
		},
		DistributionInt64: func(l metrics.Labels, count, sum, lo, hi int64) {
			k := m.key(l)
			d, ok := m.distributions[k]
			if !ok {
				m.distributions[k] = metrics.DistributionValue{Count: count, Sum: sum, Min: lo, Max: hi}
				return
			}
			d.Count += count
			d.Sum += sum
			d.Min = min(d.Min, lo)
			d.Max = max(d.Max, hi)
			m.distributions[k] = d
		},
		GaugeInt64: func(l metrics.Labels, v int64, t time.Time) {
			k := m.key(l)
			if g, ok := m.gauges[k]; !ok || !t.Before(g.Timestamp) {
				m.gauges[k] = metrics.GaugeValue{Value: v, Timestamp: t}
			}
		},
	}.ExtractFrom(store)
}

// Results returns the aggregate as Beam metrics results (attempted and
// committed are the same: only successful bundles count).
func (m *Metrics) Results() metrics.Results {
	return *metrics.NewResults(
		metrics.MergeCounters(m.counters, m.counters),
		metrics.MergeDistributions(m.distributions, m.distributions),
		metrics.MergeGauges(m.gauges, m.gauges),
		nil, nil)
}
