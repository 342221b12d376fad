package beamtranslate

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/streams-dev/streams/observe"
)

// counted counts the messages a single-step DoFn (a source's or a sink's)
// handles, and adds them to the step's metrics at the end of each bundle.
type counted struct {
	step stepMetrics
	n    uint64
}

func (c *counted) setup(pipeline, step string) {
	c.step = newStepMetrics(observe.Lookup(pipeline), step)
}

func (c *counted) flush(ctx context.Context) {
	c.step.add(ctx, c.n, c.n, 0)
	c.n = 0
}

// observerName is the name under which a sink's produce observer is
// registered with package io/kafka.
func observerName(pipeline, step string) string {
	return "streams/" + pipeline + "/" + step
}

// sinkObserver forwards a sink's deliveries to the pipeline's metrics.
type sinkObserver struct {
	pipeline, step string
	cached         *atomic.Pointer[topicSink]
}

type topicSink struct {
	topic string
	sink  *observe.Sink
}

func newSinkObserver(pipeline, step string) sinkObserver {
	return sinkObserver{pipeline: pipeline, step: step, cached: &atomic.Pointer[topicSink]{}}
}

func (o sinkObserver) Produced(topic string, latency time.Duration, err error) {
	c := o.cached.Load()
	if c == nil || c.topic != topic {
		c = &topicSink{topic: topic, sink: observe.Lookup(o.pipeline).Sink(o.step, topic)}
		o.cached.Store(c)
	}
	c.sink.Produced(latency, err)
}
