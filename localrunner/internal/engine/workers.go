package engine

// Bundles, grouping tasks and finalizations run on goroutines the engine
// keeps for the run. A new goroutine's stack starts small and is copied
// each time it doubles, up to the depth of the SDK's executor and the
// user's code: at a few thousand bundles a second (small fetches at a
// steady rate) that copying was a tenth of the runner's CPU. A worker
// that finished its task waits for the next with its stack grown.

// workers runs tasks on kept goroutines, starting one when none waits.
// Owner only.
type workers struct {
	tasks   chan func()
	stopped bool
}

func newWorkers() *workers { return &workers{tasks: make(chan func())} }

// run runs f on a waiting worker, or on a new one (which, once the
// workers stopped, ends with f).
func (w *workers) run(f func()) {
	if w.stopped {
		go f()
		return
	}
	select {
	case w.tasks <- f:
	default:
		go w.work(f)
	}
}

func (w *workers) work(f func()) {
	for ; f != nil; f = <-w.tasks {
		f()
		f = nil // a waiting worker keeps nothing of its last task
	}
}

// stop ends the waiting workers, and each busy one after its task.
func (w *workers) stop() {
	w.stopped = true
	close(w.tasks)
}
