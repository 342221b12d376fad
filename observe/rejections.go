package observe

// Rejection is one message a step rejected: sent to the dead-letter
// topic, or (Fatal) stopping the pipeline under on_invalid: stop.
type Rejection struct {
	Step      string
	Topic     string
	Partition int32
	Offset    int64
	// Error is the step's error text.
	Error string
	Fatal bool
}

// OnRejected sets f to be called with every rejection the steps report
// (from the goroutines running them: f must be safe for concurrent use).
// Set it before the pipeline runs; nil turns it off.
func (p *Pipeline) OnRejected(f func(Rejection)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.onRejected = f
}

// Rejected reports a rejection. The last fatal one is kept for
// [Pipeline.FatalRejection].
func (p *Pipeline) Rejected(r Rejection) {
	if p == nil {
		return
	}
	p.mu.Lock()
	f := p.onRejected
	if r.Fatal {
		p.fatal = &r
	}
	p.mu.Unlock()
	if f != nil {
		f(r)
	}
}

// FatalRejection returns the last rejection that stopped the pipeline.
func (p *Pipeline) FatalRejection() (Rejection, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fatal == nil {
		return Rejection{}, false
	}
	return *p.fatal, true
}
