// Package userstate keeps the user state of stateful DoFns (Value, Bag,
// Combining, Map and Set state, through the SDK's state API) for the local
// runner.
//
// The SDK reads and writes state as bytes, cell by cell: a bag (Value,
// Bag and Combining state) is the concatenation of its encoded elements; a
// multimap (Map and Set state) maps encoded map keys to such bags; an
// ordered list (OrderedList state) holds entries, each a varint sort key
// and an encoded element, read back by sort key. A cell is named by Key:
// transform, state ID, encoded element key and encoded window.
//
// # Bundles
//
// A bundle never writes to a Store: it works in a Txn, which reads through
// to the Store and collects every change of the bundle. Once the bundle
// succeeded, the engine commits the Txn to the Store at once; a failed
// bundle's Txn is dropped.
//
// # Checkpoints
//
// A durable engine writes each stage's Memory into a state.Batch at
// quiescent points (Checkpoint) and loads it back after a restart
// (Restore). From its first checkpoint on (which writes everything), a
// Memory notes the cells each Commit changes; a checkpoint writes those
// whole, or deletes them, and nothing else. Under the stage's prefix, so
// that a transform's cells are one prefix:
//
//	transform | state id | window | key | "b"           -> bag
//	transform | state id | window | key | "m" | map key -> bag under a map key
//	transform | state id | window | key | "l"           -> ordered list
//
// An ordered list is stored as its entries, each a length (uvarint) and
// the entry.
//
// # Expiry
//
// State is per key and window, and a window's state is garbage once the
// watermark passed the window's max timestamp plus the allowed lateness.
// A Memory made by NewExpiring, with the window coder and the allowed
// lateness, drops those cells on Expire(watermark), the next Checkpoint
// deleting them too. It indexes its cells by window: each distinct
// encoded window is decoded once, and the windows wait in a min-heap by
// expiry, so Expire only looks at the windows it drops. The global window
// never expires.
//
// # Ownership
//
// Each stateful stage has its own Memory store. The engine runs bundles of
// a stateful stage on disjoint sets of keys (a key's cells are never in two
// bundles at once) and commits each Txn on its own goroutine after its
// bundle returned: the store's maps are read by bundles while other
// bundles' changes are committed, under a read-write lock. A Txn is used
// by its bundle's goroutine only.
package userstate

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
)

// Key names one state cell.
type Key struct {
	// Transform is the transform's unique name (stable across pipeline
	// changes that renumber IDs), State the state ID (the DoFn field).
	Transform, State string
	// Key and Window are the element key and the window, encoded.
	Key, Window string
}

// Reader reads committed state.
type Reader interface {
	// Bag returns a bag's contents (nil when empty).
	Bag(k Key) []byte
	// Multimap returns the bag under one map key of a multimap.
	Multimap(k Key, mapKey string) []byte
	// MultimapKeys returns the map keys of a multimap holding data, sorted.
	MultimapKeys(k Key) []string
	// OrderedList returns an ordered list's entries, by sort key (entries
	// with the same sort key in the order they were added).
	OrderedList(k Key) []Entry
}

// Entry is one entry of an ordered list.
type Entry struct {
	SortKey int64
	// Data is the entry as the SDK wrote it: varint sort key, element.
	Data []byte
}

// Store is the committed state of a stage.
type Store interface {
	Reader
	// Commit applies every change of t, atomically.
	Commit(t *Txn) error
}

// Memory is a Store in memory. Bundles of one stage read it at once, on
// keys of their own, while the owner commits others' changes: its maps
// are guarded by mu (the cells themselves are never shared by two
// bundles).
type Memory struct {
	mu        sync.RWMutex
	bags      map[Key][]byte
	multimaps map[Key]map[string][]byte
	lists     map[Key][]Entry

	// changed lists the cells committed since the last checkpoint, from
	// the first Checkpoint or Restore on (nil before).
	changed *changes
	// exp indexes the cells by window for Expire (NewExpiring; nil: no
	// window expires).
	exp *expiry
}

// NewMemory returns an empty store.
func NewMemory() *Memory {
	return &Memory{bags: map[Key][]byte{}, multimaps: map[Key]map[string][]byte{}, lists: map[Key][]Entry{}}
}

// OrderedList implements Reader.
func (m *Memory) OrderedList(k Key) []Entry {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.lists[k]
}

// Bag implements Reader.
func (m *Memory) Bag(k Key) []byte {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.bags[k]
}

// Multimap implements Reader.
func (m *Memory) Multimap(k Key, mapKey string) []byte {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.multimaps[k][mapKey]
}

// MultimapKeys implements Reader.
func (m *Memory) MultimapKeys(k Key) []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	mm := m.multimaps[k]
	ks := make([]string, 0, len(mm))
	for mk := range mm {
		ks = append(ks, mk)
	}
	slices.Sort(ks)
	return ks
}

// Commit implements Store.
func (m *Memory) Commit(t *Txn) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.exp.learn(t); err != nil {
		return err
	}
	for k, c := range t.bags {
		m.bags[k] = c.commit(m.bags[k])
		if len(m.bags[k]) == 0 {
			delete(m.bags, k)
		}
		m.changed.bag(k)
		m.exp.track(k, m.holds(k))
	}
	for k, c := range t.multimaps {
		mm := m.multimaps[k]
		if c.cleared {
			mm = nil
			m.changed.clearMultimap(k)
		}
		for mk, bc := range c.keys {
			m.changed.multimapKey(k, mk)
			var v []byte
			if mm != nil {
				v = mm[mk]
			}
			v = bc.commit(v)
			switch {
			case len(v) > 0 && mm == nil:
				mm = map[string][]byte{mk: v}
			case len(v) > 0:
				mm[mk] = v
			case mm != nil:
				delete(mm, mk)
			}
		}
		if len(mm) == 0 {
			delete(m.multimaps, k)
		} else {
			m.multimaps[k] = mm
		}
		m.exp.track(k, m.holds(k))
	}
	for k, c := range t.lists {
		if l := c.apply(m.lists[k]); len(l) > 0 {
			m.lists[k] = l
		} else {
			delete(m.lists, k)
		}
		m.changed.list(k)
		m.exp.track(k, m.holds(k))
	}
	return nil
}

// Size returns the number of cells holding data (bags, and multimap
// entries), for tests and metrics.
func (m *Memory) Size() int {
	n := len(m.bags) + len(m.lists)
	for _, mm := range m.multimaps {
		n += len(mm)
	}
	return n
}

// bagChange is what a bundle did to a bag: cleared it (or not), then
// appended.
type bagChange struct {
	cleared  bool
	appended []byte
}

// apply returns base changed, leaving base as it is (it may be read).
func (c *bagChange) apply(base []byte) []byte {
	if c.cleared {
		base = nil
	}
	if len(c.appended) == 0 {
		return base
	}
	return append(slices.Clip(base), c.appended...)
}

// commit returns base changed, appending in place: nothing reads a
// Store's bytes while a Txn is committed.
func (c *bagChange) commit(base []byte) []byte {
	if c.cleared {
		base = nil
	}
	return append(base, c.appended...)
}

// listChange is what a bundle did to an ordered list: range clears and
// appends, in order.
type listChange struct {
	ops []listOp
}

type listOp struct {
	clear      bool
	start, end int64 // clear [start, end)
	entry      Entry // append
}

// apply returns base changed, sorted by sort key, leaving base as it is.
func (c *listChange) apply(base []Entry) []Entry {
	l := slices.Clone(base)
	for _, op := range c.ops {
		if op.clear {
			l = slices.DeleteFunc(l, func(e Entry) bool { return e.SortKey >= op.start && e.SortKey < op.end })
			continue
		}
		l = append(l, op.entry)
	}
	slices.SortStableFunc(l, func(a, b Entry) int { return cmp.Compare(a.SortKey, b.SortKey) })
	return l
}

type multimapChange struct {
	cleared bool // every map key cleared first
	keys    map[string]*bagChange
}

// Txn is one bundle's view of the state: reads see the Store and the
// bundle's own changes, which it collects until they are committed.
type Txn struct {
	base      Reader
	bags      map[Key]*bagChange
	multimaps map[Key]*multimapChange
	lists     map[Key]*listChange
}

// Begin starts a bundle's Txn over base.
func Begin(base Reader) *Txn {
	return &Txn{base: base, bags: map[Key]*bagChange{}, multimaps: map[Key]*multimapChange{}, lists: map[Key]*listChange{}}
}

// Empty reports whether the bundle changed nothing.
func (t *Txn) Empty() bool { return len(t.bags) == 0 && len(t.multimaps) == 0 && len(t.lists) == 0 }

// OrderedList implements Reader, with the bundle's changes.
func (t *Txn) OrderedList(k Key) []Entry {
	if c := t.lists[k]; c != nil {
		return c.apply(t.base.OrderedList(k))
	}
	return t.base.OrderedList(k)
}

func (t *Txn) list(k Key) *listChange {
	c := t.lists[k]
	if c == nil {
		c = &listChange{}
		t.lists[k] = c
	}
	return c
}

// OrderedListReader returns the entries with a sort key in [start, end),
// back to back, by sort key.
func (t *Txn) OrderedListReader(k Key, start, end int64) io.ReadCloser {
	var b []byte
	for _, e := range t.OrderedList(k) {
		if e.SortKey >= start && e.SortKey < end {
			b = append(b, e.Data...)
		}
	}
	return reader(b)
}

// OrderedListAppender returns a writer adding entries to an ordered list:
// each Write is one entry (varint sort key, element), as the SDK writes
// them.
func (t *Txn) OrderedListAppender(k Key) io.Writer {
	return errWriterFunc(func(p []byte) error {
		// The sort key is the int64's bits as an unsigned varint.
		key, n := binary.Uvarint(p)
		if n <= 0 {
			return errors.New("localrunner: ordered list entry without a sort key")
		}
		t.list(k).ops = append(t.list(k).ops, listOp{entry: Entry{SortKey: int64(key), Data: slices.Clone(p)}})
		return nil
	})
}

// OrderedListClearer returns a writer clearing the entries with a sort key
// in [start, end).
func (t *Txn) OrderedListClearer(k Key, start, end int64) io.Writer {
	return writerFunc(func([]byte) {
		t.list(k).ops = append(t.list(k).ops, listOp{clear: true, start: start, end: end})
	})
}

// Bag implements Reader, with the bundle's changes.
func (t *Txn) Bag(k Key) []byte {
	base := t.base.Bag(k)
	if c := t.bags[k]; c != nil {
		return c.apply(base)
	}
	return base
}

// Multimap implements Reader, with the bundle's changes.
func (t *Txn) Multimap(k Key, mapKey string) []byte {
	c := t.multimaps[k]
	if c == nil {
		return t.base.Multimap(k, mapKey)
	}
	var base []byte
	if !c.cleared {
		base = t.base.Multimap(k, mapKey)
	}
	if bc := c.keys[mapKey]; bc != nil {
		return bc.apply(base)
	}
	return base
}

// MultimapKeys implements Reader, with the bundle's changes.
func (t *Txn) MultimapKeys(k Key) []string {
	c := t.multimaps[k]
	if c == nil {
		return t.base.MultimapKeys(k)
	}
	var ks []string
	if !c.cleared {
		ks = t.base.MultimapKeys(k)
	}
	for mk := range c.keys {
		ks = append(ks, mk)
	}
	slices.Sort(ks)
	ks = slices.Compact(ks)
	return slices.DeleteFunc(ks, func(mk string) bool { return len(t.Multimap(k, mk)) == 0 })
}

// AppendBag appends encoded elements to a bag.
func (t *Txn) AppendBag(k Key, data []byte) {
	c := t.bag(k)
	c.appended = append(c.appended, data...)
}

// ClearBag empties a bag.
func (t *Txn) ClearBag(k Key) {
	c := t.bag(k)
	c.cleared, c.appended = true, nil
}

func (t *Txn) bag(k Key) *bagChange {
	c := t.bags[k]
	if c == nil {
		c = &bagChange{}
		t.bags[k] = c
	}
	return c
}

// AppendMultimap appends encoded values under a map key.
func (t *Txn) AppendMultimap(k Key, mapKey string, data []byte) {
	c := t.multimapKey(k, mapKey)
	c.appended = append(c.appended, data...)
}

// ClearMultimapKey removes a map key.
func (t *Txn) ClearMultimapKey(k Key, mapKey string) {
	c := t.multimapKey(k, mapKey)
	c.cleared, c.appended = true, nil
}

// ClearMultimap removes every map key.
func (t *Txn) ClearMultimap(k Key) {
	t.multimaps[k] = &multimapChange{cleared: true, keys: map[string]*bagChange{}}
}

func (t *Txn) multimapKey(k Key, mapKey string) *bagChange {
	c := t.multimaps[k]
	if c == nil {
		c = &multimapChange{keys: map[string]*bagChange{}}
		t.multimaps[k] = c
	}
	bc := c.keys[mapKey]
	if bc == nil {
		bc = &bagChange{}
		c.keys[mapKey] = bc
	}
	return bc
}

// Reader returns a reader of a snapshot of the bytes.
func reader(b []byte) io.ReadCloser { return io.NopCloser(bytes.NewReader(b)) }

// BagReader, BagAppender and BagClearer (and their multimap kin) serve the
// SDK's StateReader calls: a read is a snapshot; each Write to an appender
// appends; any Write to a clearer clears.

// BagReader returns a bag's contents.
func (t *Txn) BagReader(k Key) io.ReadCloser { return reader(t.Bag(k)) }

// BagAppender returns a writer appending to a bag.
func (t *Txn) BagAppender(k Key) io.Writer {
	return writerFunc(func(p []byte) { t.AppendBag(k, p) })
}

// BagClearer returns a writer clearing a bag.
func (t *Txn) BagClearer(k Key) io.Writer {
	return writerFunc(func([]byte) { t.ClearBag(k) })
}

// MultimapReader returns the values under a map key.
func (t *Txn) MultimapReader(k Key, mapKey string) io.ReadCloser {
	return reader(t.Multimap(k, mapKey))
}

// MultimapAppender returns a writer appending values under a map key.
func (t *Txn) MultimapAppender(k Key, mapKey string) io.Writer {
	return writerFunc(func(p []byte) { t.AppendMultimap(k, mapKey, p) })
}

// MultimapClearer returns a writer removing a map key.
func (t *Txn) MultimapClearer(k Key, mapKey string) io.Writer {
	return writerFunc(func([]byte) { t.ClearMultimapKey(k, mapKey) })
}

// MultimapKeysReader returns the encoded map keys, back to back.
func (t *Txn) MultimapKeysReader(k Key) io.ReadCloser {
	return reader([]byte(strings.Join(t.MultimapKeys(k), "")))
}

// MultimapKeysClearer returns a writer removing every map key.
func (t *Txn) MultimapKeysClearer(k Key) io.Writer {
	return writerFunc(func([]byte) { t.ClearMultimap(k) })
}

type writerFunc func([]byte)

func (f writerFunc) Write(p []byte) (int, error) {
	f(p)
	return len(p), nil
}

type errWriterFunc func([]byte) error

func (f errWriterFunc) Write(p []byte) (int, error) {
	if err := f(p); err != nil {
		return 0, err
	}
	return len(p), nil
}
