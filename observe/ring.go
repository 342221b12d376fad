package observe

// ring keeps the last len(buf) values pushed to it, in fixed memory:
// a push past its size overwrites the oldest value.
type ring[T any] struct {
	buf  []T
	next int // where the next push goes
	n    int // values held, at most len(buf)
}

// newRing returns a ring that holds size values (at least one).
func newRing[T any](size int) *ring[T] {
	return &ring[T]{buf: make([]T, max(1, size))}
}

// push adds v, dropping the oldest value when the ring is full.
func (r *ring[T]) push(v T) {
	r.buf[r.next] = v
	r.next = (r.next + 1) % len(r.buf)
	r.n = min(r.n+1, len(r.buf))
}

// len is the number of values held.
func (r *ring[T]) len() int { return r.n }

// values returns the values held, oldest first, in a new slice.
func (r *ring[T]) values() []T {
	out := make([]T, 0, r.n)
	start := (r.next - r.n + len(r.buf)) % len(r.buf)
	for i := range r.n {
		out = append(out, r.buf[(start+i)%len(r.buf)])
	}
	return out
}
