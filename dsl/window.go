package dsl

import (
	"fmt"
	"slices"
	"time"
)

// WindowKind says how a Window groups messages in event time.
type WindowKind int

// The window kinds.
const (
	// WindowTumbling windows have a fixed size, do not overlap, and are
	// aligned to the Unix epoch: [0, size), [size, 2*size), ...
	WindowTumbling WindowKind = iota + 1
	// WindowSliding windows have a fixed size and start every period,
	// aligned to the Unix epoch, so a message is in size/period windows.
	WindowSliding
	// WindowSession windows are per key: a session holds messages at
	// most the gap apart, and ends a gap after its last message.
	WindowSession
	// WindowTumblingCount windows are per key and hold a fixed number of
	// messages: a key's first n messages, its next n, and so on.
	WindowTumblingCount
	// WindowSlidingCount windows are per key, hold a fixed number of
	// messages and start every step messages, so a message is in up to
	// n/step windows (rounded up).
	WindowSlidingCount
)

func (k WindowKind) String() string {
	switch k {
	case WindowTumbling:
		return "tumbling"
	case WindowSliding:
		return "sliding"
	case WindowSession:
		return "session"
	case WindowTumblingCount:
		return "tumbling count"
	case WindowSlidingCount:
		return "sliding count"
	}
	return fmt.Sprintf("WindowKind(%d)", int(k))
}

// Window says how Reduce groups messages: in event time (the message
// timestamp, unless WithEventTime says otherwise), made with
// TumblingWindow, SlidingWindow or SessionWindow, or by count, made with
// TumblingCountWindow or SlidingCountWindow (countwindow.go). Times are
// in whole milliseconds, as in Kafka and Beam.
type Window struct {
	kind   WindowKind
	size   time.Duration // tumbling, sliding; the gap of a session
	period time.Duration // sliding; size for tumbling
	count  int           // messages in a count window
	step   int           // messages between count windows' starts; count for tumbling
	err    error
}

// TumblingWindow groups messages into consecutive windows of the given
// size, aligned to the Unix epoch: with a size of a minute, each window
// is a calendar minute. A size that is not a positive whole number of
// milliseconds is a Build error.
func TumblingWindow(size time.Duration) Window {
	return Window{kind: WindowTumbling, size: size, period: size, err: checkMillis("window size", size)}
}

// SlidingWindow groups messages into windows of the given size that
// start every period, aligned to the Unix epoch, so each message is in
// size/period windows (rounded up). Both must be positive whole numbers
// of milliseconds, and period at most size; otherwise Build reports it.
func SlidingWindow(size, period time.Duration) Window {
	w := Window{kind: WindowSliding, size: size, period: period, err: checkMillis("window size", size)}
	if w.err == nil {
		w.err = checkMillis("window period", period)
	}
	if w.err == nil && period > size {
		w.err = fmt.Errorf("window period %v is longer than the window size %v: messages between windows would be lost", period, size)
	}
	return w
}

// SessionWindow groups the messages of each key into sessions: a
// session holds messages at most gap apart and spans from its first
// message to gap after its last. Sessions of different keys are
// independent. A gap that is not a positive whole number of
// milliseconds is a Build error.
func SessionWindow(gap time.Duration) Window {
	return Window{kind: WindowSession, size: gap, err: checkMillis("session gap", gap)}
}

func checkMillis(what string, d time.Duration) error {
	switch {
	case d <= 0:
		return fmt.Errorf("%s must be positive; got %v", what, d)
	case d%time.Millisecond != 0:
		return fmt.Errorf("%s must be a whole number of milliseconds; got %v", what, d)
	}
	return nil
}

// Kind says how the window groups messages (0 for the zero Window).
func (w Window) Kind() WindowKind { return w.kind }

// Size is a tumbling or sliding window's length (0 for sessions and
// count windows).
func (w Window) Size() time.Duration {
	if w.kind == WindowSession {
		return 0
	}
	return w.size
}

// Period is how often a sliding window starts; a tumbling window's is
// its size (0 for sessions and count windows).
func (w Window) Period() time.Duration { return w.period }

// Gap is a session window's gap (0 for other kinds).
func (w Window) Gap() time.Duration {
	if w.kind == WindowSession {
		return w.size
	}
	return 0
}

func (w Window) String() string {
	switch w.kind {
	case WindowTumbling:
		return fmt.Sprintf("tumbling(%v)", w.size)
	case WindowSliding:
		return fmt.Sprintf("sliding(%v every %v)", w.size, w.period)
	case WindowSession:
		return fmt.Sprintf("session(gap %v)", w.size)
	case WindowTumblingCount:
		return fmt.Sprintf("tumbling(%d messages)", w.count)
	case WindowSlidingCount:
		return fmt.Sprintf("sliding(%d messages every %d)", w.count, w.step)
	}
	return "no window"
}

// Bounds are a window's start (inclusive) and end (exclusive).
type Bounds struct {
	Start, End time.Time
}

// Contains reports whether t is in [b.Start, b.End).
func (b Bounds) Contains(t time.Time) bool { return !t.Before(b.Start) && t.Before(b.End) }

func (b Bounds) String() string {
	return fmt.Sprintf("[%s, %s)", b.Start.UTC().Format(time.RFC3339Nano), b.End.UTC().Format(time.RFC3339Nano))
}

// Assign returns the windows a message with event time t belongs to,
// earliest start first; t is truncated to the millisecond. A session
// window's is [t, t+gap), which MergeSessions merges with the key's
// other sessions that it overlaps. Times are in UTC. The zero Window
// and count windows, which time does not decide, assign nothing.
func (w Window) Assign(t time.Time) []Bounds {
	ms := t.UnixMilli()
	size := w.size.Milliseconds()
	switch w.kind {
	case WindowTumbling:
		start := ms - mod(ms, size)
		return []Bounds{bounds(start, start+size)}
	case WindowSliding:
		period := w.period.Milliseconds()
		last := ms - mod(ms, period)
		var out []Bounds
		for start := last; start > ms-size; start -= period {
			out = append(out, bounds(start, start+size))
		}
		slices.Reverse(out)
		return out
	case WindowSession:
		return []Bounds{bounds(ms, ms+size)}
	}
	return nil
}

// mod is the non-negative remainder, so that windows before 1970 are
// aligned like the others.
func mod(a, b int64) int64 {
	r := a % b
	if r < 0 {
		r += b
	}
	return r
}

func bounds(startMs, endMs int64) Bounds {
	return Bounds{Start: time.UnixMilli(startMs).UTC(), End: time.UnixMilli(endMs).UTC()}
}

// MergeSessions merges overlapping windows, as session windows of one
// key merge: the result is sorted by start and no two of its windows
// overlap or touch. Windows that touch (one ends where the next starts)
// merge, as on Beam's prism runner. bs is not modified.
func MergeSessions(bs []Bounds) []Bounds {
	if len(bs) == 0 {
		return nil
	}
	sorted := slices.Clone(bs)
	slices.SortFunc(sorted, func(a, b Bounds) int { return a.Start.Compare(b.Start) })
	out := []Bounds{sorted[0]}
	for _, b := range sorted[1:] {
		last := &out[len(out)-1]
		if !b.Start.After(last.End) {
			if b.End.After(last.End) {
				last.End = b.End
			}
			continue
		}
		out = append(out, b)
	}
	return out
}

// Windowed is the result of Reduce for one key and one window: the key,
// the window's bounds [Start, End), and the accumulator's result. Its
// JSON form is {"key": ..., "start": ..., "end": ..., "value": ...}, with
// times in RFC 3339, UTC.
type Windowed[K, R any] struct {
	Key   K         `json:"key"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Value R         `json:"value"`
}
