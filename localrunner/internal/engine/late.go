package engine

import (
	"bytes"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/typex"

	"github.com/streams-dev/streams/localrunner/internal/userstate"
)

// lateFilter drops, from the batches queued for a stateful stage, the
// elements of windows that had expired when they arrived, by the rule
// that collects a window's state (userstate.Expiry: the window's end plus
// the allowed lateness was before the stage's input watermark; the global
// window never expires). A late element would otherwise start a collected
// window's state again from nothing; Beam's runners drop
// late data before a stateful DoFn the same way. An element in several
// windows keeps those that have not expired. A stage of several lanes
// judges each element as it spreads them (enqueueLanes, judge); one of a
// single lane, the whole batch (drop).
type lateFilter struct {
	dec      exec.WindowDecoder
	enc      exec.WindowEncoder
	lateness int64 // ms
	r        bytes.Reader
	buf      bytes.Buffer
}

// drop removes b's late elements, or the late windows of an element in
// several, and returns how many windows it dropped (as many as elements,
// unless elements are in several windows). A batch with none is left as
// it is.
func (f *lateFilter) drop(b *batch) int {
	if b.arrival <= mtime.MinTimestamp || b.remaining() == 0 {
		return 0
	}
	start := 0
	if b.next > 0 {
		start = b.ends[b.next-1]
	}
	late := false
	for i, from := b.next, start; i < len(b.ends) && !late; i++ {
		_, expired, _ := f.filter(b.data[from:b.ends[i]], b.arrival)
		late = expired > 0
		from = b.ends[i]
	}
	if !late {
		return 0
	}
	dropped := 0
	data := make([]byte, 0, len(b.data)-start)
	ends := make([]int, 0, b.remaining())
	for i, from := b.next, start; i < len(b.ends); i++ {
		elm := b.data[from:b.ends[i]]
		from = b.ends[i]
		kept, expired, ok := f.filter(elm, b.arrival)
		dropped += expired
		switch {
		case !ok:
			continue
		case kept != nil:
			data = append(data, kept...)
		default:
			data = append(data, elm...)
		}
		ends = append(ends, len(data))
	}
	b.data, b.ends, b.next = data, ends, 0
	return dropped
}

// filter decodes the header of one encoded windowed value and judges it.
// Elements the runner cannot decode are kept: the SDK reports them.
func (f *lateFilter) filter(elm []byte, arrival mtime.Time) (kept []byte, expired int, ok bool) {
	f.r.Reset(elm)
	ws, ts, pane, err := exec.DecodeWindowedValueHeader(f.dec, &f.r)
	if err != nil {
		return nil, 0, true
	}
	return f.judge(ws, ts, pane, elm[len(elm)-f.r.Len():], arrival)
}

// judge judges the windowed value with windows ws, event time ts, pane
// and encoded body that arrived at input watermark arrival: how many of
// its windows had expired, and ok false when all had. When some but not
// all had, kept is the value in the others, valid until the next call;
// otherwise kept is nil.
func (f *lateFilter) judge(ws []typex.Window, ts mtime.Time, pane typex.PaneInfo, body []byte, arrival mtime.Time) (kept []byte, expired int, ok bool) {
	for _, w := range ws {
		if f.expired(w, arrival) {
			expired++
		}
	}
	switch expired {
	case 0:
		return nil, 0, true
	case len(ws):
		return nil, expired, false
	}
	live := make([]typex.Window, 0, len(ws)-expired)
	for _, w := range ws {
		if !f.expired(w, arrival) {
			live = append(live, w)
		}
	}
	f.buf.Reset()
	if err := exec.EncodeWindowedValueHeader(f.enc, live, ts, pane, &f.buf); err != nil {
		return nil, 0, true
	}
	f.buf.Write(body)
	return f.buf.Bytes(), expired, true
}

// expired reports whether window w had expired when the input watermark
// was wm.
func (f *lateFilter) expired(w typex.Window, wm mtime.Time) bool {
	return userstate.Expiry(w.MaxTimestamp(), f.lateness) < wm
}

// lateLogEvery is how often, at most, a stage logs its late drops.
const lateLogEvery = 10 * time.Second

// lateLog rate-limits a stage's log lines about late drops: dropped
// counts the drops since the last line, at when that was.
type lateLog struct {
	at      time.Time
	dropped int
}

// droppedLate counts n late elements (or element windows) that stage s
// dropped, on its first transform, and logs them at info, at most once
// every lateLogEvery per stage (with the drops since the last line).
func (e *engine) droppedLate(s *stageState, n int) {
	e.metrics.addCounter(s.spec.Names[0], "localrunner", "droppedDueToLateness", int64(n))
	l := &s.lateLog
	l.dropped += n
	if now := time.Now(); now.Sub(l.at) >= lateLogEvery {
		e.log.Info("localrunner: late elements dropped: their windows had closed when they arrived", "stage", s.spec.ID, "transform", s.spec.Names[0], "dropped", l.dropped, "input_watermark", s.in, "since", l.at)
		l.at, l.dropped = now, 0
	}
}
