package dsl

import "fmt"

// TumblingCountWindow groups the messages of each key into consecutive
// windows of n messages: a key's first n messages, its next n, and so
// on, in the order the step receives them. It is Sentry Streams'
// TumblingWindow(window_size=n). A window closes when it holds n
// messages; a window not yet full waits, in the step's durable state,
// for the key's next messages (there is no time bound: a Batch gives one).
// An n that is not positive is a Build error.
//
// The result of a count window is a Windowed (or WindowValue) whose
// Start is the earliest event time of its messages and End the latest
// plus one millisecond, so that [Start, End) holds every message's event
// time and the output's timestamp, End minus one millisecond, is the
// newest of them. Count windows do not wait for the watermark and drop
// no message as late. Nor do they hold it back: a window that waited for
// its last messages longer than the source's watermark skew comes out
// behind the watermark, and an event-time window after it (a Reduce with
// a time window) may find it late.
func TumblingCountWindow(n int) Window {
	w := Window{kind: WindowTumblingCount, count: n, step: n}
	if n <= 0 {
		w.err = fmt.Errorf("count window size must be positive; got %d", n)
	}
	return w
}

// SlidingCountWindow groups the messages of each key into windows of n
// messages that start every step messages: windows hold a key's messages
// 1..n, step+1..step+n, 2*step+1..2*step+n, and so on, so each message
// is in up to n/step windows (rounded up), and the first messages in
// fewer. A window closes when it holds n messages, as with
// TumblingCountWindow; SlidingCountWindow(n, n) is TumblingCountWindow(n).
// Both must be positive and step at most n (messages between windows
// would be lost); otherwise Build reports it. (Sentry Streams refuses
// count-based sliding windows.)
func SlidingCountWindow(n, step int) Window {
	w := Window{kind: WindowSlidingCount, count: n, step: step}
	switch {
	case n <= 0:
		w.err = fmt.Errorf("count window size must be positive; got %d", n)
	case step <= 0:
		w.err = fmt.Errorf("count window step must be positive; got %d", step)
	case step > n:
		w.err = fmt.Errorf("count window step %d is more than the window size %d: messages between windows would be lost", step, n)
	}
	return w
}

// IsCount reports whether the window is a count window, which groups a
// key's messages by number rather than by event time.
func (w Window) IsCount() bool {
	return w.kind == WindowTumblingCount || w.kind == WindowSlidingCount
}

// Count is the number of messages of a count window (0 for time
// windows).
func (w Window) Count() int { return w.count }

// Step is how many messages of a key separate the starts of two count
// windows: the count, for a tumbling count window (0 for time windows).
func (w Window) Step() int { return w.step }

// OpensCountWindow reports whether a key's message number i, counted
// from 0 in the order the step receives them, starts a count window.
func (w Window) OpensCountWindow(i int64) bool {
	return w.IsCount() && w.step > 0 && i%int64(w.step) == 0
}

// CountBounds returns the Bounds of a count window whose messages' event
// times span from first to newest (each truncated to the millisecond):
// [first, newest + 1ms).
func CountBounds(first, newest int64) Bounds {
	return bounds(first, newest+1)
}
