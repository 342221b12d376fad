package runner

import (
	"fmt"
	"time"

	"github.com/streams-dev/streams/observe"
)

// sentryFlushTimeout is how long a run waits at exit for its events to
// reach Sentry.
const sentryFlushTimeout = 5 * time.Second

// startSentry sets up error reporting to Sentry when the config has
// sentry_sdk_config: step errors (messages sent to the dead-letter topic)
// sampled and rate-limited, and, through failed, the pipeline's failure.
// The events are flushed when the observation closes.
func (o *observation) startSentry(opts Options) error {
	sc := opts.Config.Sentry
	if sc.DSN == "" {
		return nil
	}
	s, err := observe.NewSentry(observe.SentryConfig{
		DSN: sc.DSN, Environment: sc.Environment, Release: sc.Release, Pipeline: opts.Name,
		SampleRate: sc.SampleRate, PerMinute: sc.StepErrorsPerMinute,
	})
	if err != nil {
		return fmt.Errorf("runner: sentry_sdk_config: %w", err)
	}
	o.sentry = s
	o.p.OnRejected(func(r observe.Rejection) {
		if !r.Fatal { // a fatal one fails the pipeline, reported as such
			s.StepError(r)
		}
	})
	o.stop = append(o.stop, func() {
		if !s.Flush(sentryFlushTimeout) {
			o.log.Warn("not every error event reached Sentry before exit", "waited", sentryFlushTimeout)
		}
	})
	o.log.Info("reporting errors to Sentry", "environment", sc.Environment,
		"step_error_sample_rate", sc.SampleRate, "step_errors_per_minute", sc.StepErrorsPerMinute)
	return nil
}

// failed reports the pipeline's failure to Sentry, with the message that
// stopped it when a step's rejection did.
func (o *observation) failed(err error) {
	if o.sentry == nil {
		return
	}
	var rp *observe.Rejection
	if r, ok := o.p.FatalRejection(); ok {
		rp = &r
	}
	o.sentry.PipelineFailed(err, rp)
}

// failedAt says where the pipeline failed, for the health endpoints: the
// step and position of the message that stopped it, never the error's
// text (which may quote the message); "" when no step's rejection did.
func (o *observation) failedAt() string {
	r, ok := o.p.FatalRejection()
	if !ok {
		return ""
	}
	return fmt.Sprintf("step %s, message %s/%d offset %d", r.Step, r.Topic, r.Partition, r.Offset)
}
