package userstate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"

	"github.com/streams-dev/streams/state"
)

// changes are the cells committed since the last checkpoint. Its methods
// do nothing on a nil *changes: a store never checkpointed tracks nothing.
type changes struct {
	bags, lists map[Key]struct{}
	multimaps   map[Key]*multimapChanges
}

// multimapChanges: the map keys changed since the last checkpoint, after
// clearing every one (cleared).
type multimapChanges struct {
	cleared bool
	keys    map[string]struct{}
}

func newChanges() *changes {
	return &changes{bags: map[Key]struct{}{}, lists: map[Key]struct{}{}, multimaps: map[Key]*multimapChanges{}}
}

func (c *changes) bag(k Key) {
	if c != nil {
		c.bags[k] = struct{}{}
	}
}

func (c *changes) list(k Key) {
	if c != nil {
		c.lists[k] = struct{}{}
	}
}

func (c *changes) multimap(k Key) *multimapChanges {
	mc := c.multimaps[k]
	if mc == nil {
		mc = &multimapChanges{keys: map[string]struct{}{}}
		c.multimaps[k] = mc
	}
	return mc
}

// clearMultimap notes that every key of a multimap was removed: the keys
// changed before no longer matter.
func (c *changes) clearMultimap(k Key) {
	if c != nil {
		mc := c.multimap(k)
		mc.cleared = true
		clear(mc.keys)
	}
}

func (c *changes) multimapKey(k Key, mapKey string) {
	if c != nil {
		c.multimap(k).keys[mapKey] = struct{}{}
	}
}

// Kinds of cells, the last field of their keys (see the package
// documentation).
const (
	kindBag      = "b"
	kindMultimap = "m"
	kindList     = "l"
)

func cellKey(prefix state.Key, k Key, kind string) state.Key {
	return prefix.Text(k.Transform).Text(k.State).Text(k.Window).Text(k.Key).Text(kind)
}

// Checkpoint writes under prefix every cell changed by the Txns committed
// since the previous Checkpoint (or Restore): whole cell values (bags,
// multimap entries, ordered lists), deletions for cells emptied or cleared.
//
// The first Checkpoint of a store that was not restored replaces whatever
// prefix held with the whole store. Every call must use the same prefix,
// which holds nothing else.
func (m *Memory) Checkpoint(w *state.Batch, prefix state.Key) error {
	prefix = slices.Clip(prefix) // keys built from it must not share its array
	if m.changed == nil {
		m.changed = newChanges()
		w.DeletePrefix(prefix)
		for k := range m.bags {
			m.changed.bag(k)
		}
		for k, mm := range m.multimaps {
			for mk := range mm {
				m.changed.multimapKey(k, mk)
			}
		}
		for k := range m.lists {
			m.changed.list(k)
		}
	}
	c := m.changed
	for k := range c.bags {
		if v, ok := m.bags[k]; ok {
			w.Set(cellKey(prefix, k, kindBag), v)
		} else {
			w.Delete(cellKey(prefix, k, kindBag))
		}
	}
	for k, mc := range c.multimaps {
		ck := cellKey(prefix, k, kindMultimap)
		if mc.cleared {
			w.DeletePrefix(ck)
		}
		mm := m.multimaps[k]
		for mk := range mc.keys {
			if v, ok := mm[mk]; ok {
				w.Set(ck.Text(mk), v)
			} else if !mc.cleared {
				w.Delete(ck.Text(mk))
			}
		}
	}
	var buf []byte
	for k := range c.lists {
		l, ok := m.lists[k]
		if !ok {
			w.Delete(cellKey(prefix, k, kindList))
			continue
		}
		buf = buf[:0]
		for _, e := range l {
			buf = binary.AppendUvarint(buf, uint64(len(e.Data)))
			buf = append(buf, e.Data...)
		}
		w.Set(cellKey(prefix, k, kindList), buf)
	}
	clear(c.bags)
	clear(c.multimaps)
	clear(c.lists)
	return nil
}

var errCorrupt = errors.New("localrunner: user state restore: malformed checkpoint")

// Restore loads a store written by Checkpoint into an empty Memory.
func (m *Memory) Restore(s *state.Store, prefix state.Key) error {
	if m.changed != nil || m.Size() > 0 {
		return errors.New("localrunner: user state restore into a store in use")
	}
	err := s.Scan(prefix, func(key, v []byte) error {
		r := state.Read(key[len(prefix):])
		k := Key{Transform: r.Text(), State: r.Text(), Window: r.Text(), Key: r.Text()}
		kind := r.Text()
		var mk string
		if kind == kindMultimap {
			mk = r.Text()
		}
		if !r.Done() {
			return fmt.Errorf("%w: key %x", errCorrupt, key)
		}
		switch kind {
		case kindBag:
			m.bags[k] = slices.Clone(v)
		case kindMultimap:
			mm := m.multimaps[k]
			if mm == nil {
				mm = map[string][]byte{}
				m.multimaps[k] = mm
			}
			mm[mk] = slices.Clone(v)
		case kindList:
			l, err := decodeList(v)
			if err != nil {
				return fmt.Errorf("%w: %x: %v", errCorrupt, key, err)
			}
			m.lists[k] = l
		default:
			return fmt.Errorf("%w: cell kind %q", errCorrupt, kind)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if m.exp != nil {
		// Rebuild the window index (Commit builds it as cells come).
		for _, keys := range []iter.Seq[Key]{maps.Keys(m.bags), maps.Keys(m.multimaps), maps.Keys(m.lists)} {
			for k := range keys {
				if _, err := m.exp.window(k.Window); err != nil {
					return fmt.Errorf("%w: %v", errCorrupt, err)
				}
				m.exp.track(k, true)
			}
		}
	}
	m.changed = newChanges()
	return nil
}

// decodeList decodes an ordered list as Checkpoint writes it.
func decodeList(v []byte) ([]Entry, error) {
	var l []Entry
	for len(v) > 0 {
		n, k := binary.Uvarint(v)
		if k <= 0 || uint64(len(v)-k) < n {
			return nil, errors.New("truncated entry")
		}
		data := slices.Clone(v[k : k+int(n)])
		v = v[k+int(n):]
		sortKey, k := binary.Uvarint(data)
		if k <= 0 {
			return nil, errors.New("entry without a sort key")
		}
		l = append(l, Entry{SortKey: int64(sortKey), Data: data})
	}
	return l, nil
}
