package observe

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/getsentry/sentry-go"
)

// SentryConfig says where and how much a Sentry reporter reports.
type SentryConfig struct {
	// DSN is the Sentry project's DSN.
	DSN string
	// Environment and Release are set on every event (optional).
	Environment, Release string
	// Pipeline is the pipeline's name, the tag pipeline of every event.
	Pipeline string
	// SampleRate is the fraction of step errors reported, 0 to 1.
	SampleRate float64
	// PerMinute bounds the step errors reported per minute, after
	// sampling; 0 reports none.
	PerMinute int
}

// Sentry reports a pipeline's errors to Sentry, on a client and hub of
// its own (the SDK's global hub is left alone): pipeline failures
// always, step errors (rejected messages) sampled and rate-limited, so
// that a flood of bad messages costs a few events a minute. Events carry
// the tags pipeline, step, topic, partition and offset, and are grouped
// by step and kind. Its methods are safe for concurrent use.
type Sentry struct {
	hub      *sentry.Hub
	pipeline string
	sample   float64
	limit    int

	mu     sync.Mutex // guards window and n
	window time.Time  // start of the current minute
	n      int        // step errors reported in it
}

// NewSentry returns a reporter to the project cfg.DSN names.
func NewSentry(cfg SentryConfig) (*Sentry, error) {
	c, err := sentry.NewClient(sentry.ClientOptions{
		Dsn: cfg.DSN, Environment: cfg.Environment, Release: cfg.Release,
	})
	if err != nil {
		return nil, fmt.Errorf("observe: sentry: %w", err)
	}
	return &Sentry{
		hub: sentry.NewHub(c, sentry.NewScope()), pipeline: cfg.Pipeline,
		sample: cfg.SampleRate, limit: cfg.PerMinute,
	}, nil
}

// StepError reports a rejected message, if the sample and the rate limit
// let it through; it reports whether it did.
func (s *Sentry) StepError(r Rejection) bool {
	if !s.allow(time.Now()) {
		return false
	}
	s.capture("StepError", r.Error, &r)
	return true
}

// allow applies the sample rate, then the per-minute limit.
func (s *Sentry) allow(now time.Time) bool {
	if s.sample < 1 && rand.Float64() >= s.sample {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.window) >= time.Minute {
		s.window, s.n = now, 0
	}
	if s.n >= s.limit {
		return false
	}
	s.n++
	return true
}

// PipelineFailed reports the pipeline's failure with err; r, when not
// nil, is the rejected message that stopped it.
func (s *Sentry) PipelineFailed(err error, r *Rejection) {
	s.capture("PipelineFailure", err.Error(), r)
}

func (s *Sentry) capture(kind, text string, r *Rejection) {
	e := sentry.NewEvent()
	e.Level = sentry.LevelError
	e.Message = text
	e.Exception = []sentry.Exception{{Type: kind, Value: text}}
	e.Tags = map[string]string{"pipeline": s.pipeline}
	e.Fingerprint = []string{kind, s.pipeline}
	if r != nil {
		e.Tags["step"] = r.Step
		e.Tags["topic"] = r.Topic
		e.Tags["partition"] = strconv.Itoa(int(r.Partition))
		e.Tags["offset"] = strconv.FormatInt(r.Offset, 10)
		e.Fingerprint = append(e.Fingerprint, r.Step)
	}
	s.hub.CaptureEvent(e)
}

// Flush waits up to timeout for the events to be sent; it reports
// whether they all were.
func (s *Sentry) Flush(timeout time.Duration) bool {
	return s.hub.Flush(timeout)
}
