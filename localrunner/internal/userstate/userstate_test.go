package userstate

import (
	"encoding/binary"
	"io"
	"math"
	"slices"
	"testing"
)

func read(t *testing.T, r io.ReadCloser) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestBagsReadTheirWritesAndCommit(t *testing.T) {
	m := NewMemory()
	k := Key{Transform: "t", State: "s", Key: "k", Window: "w"}
	tx := Begin(m)
	tx.BagAppender(k).Write([]byte("a"))
	tx.BagAppender(k).Write([]byte("b"))
	if got := read(t, tx.BagReader(k)); got != "ab" {
		t.Errorf("in the bundle: %q, want ab", got)
	}
	if got := m.Bag(k); len(got) != 0 {
		t.Errorf("committed before Commit: %q", got)
	}
	if err := m.Commit(tx); err != nil {
		t.Fatal(err)
	}
	tx = Begin(m)
	tx.BagClearer(k).Write(nil)
	tx.BagAppender(k).Write([]byte("c"))
	if got := read(t, tx.BagReader(k)); got != "c" {
		t.Errorf("cleared then appended: %q, want c", got)
	}
	if got := string(m.Bag(k)); got != "ab" {
		t.Errorf("store during the second bundle: %q, want ab", got)
	}
	other := Key{Transform: "t", State: "s", Key: "k2", Window: "w"}
	tx.BagAppender(other).Write([]byte("x"))
	tx.BagClearer(other).Write(nil)
	if err := m.Commit(tx); err != nil {
		t.Fatal(err)
	}
	if got := string(m.Bag(k)); got != "c" {
		t.Errorf("after the second commit: %q, want c", got)
	}
	if m.Size() != 1 {
		t.Errorf("%d cells, want 1 (a cleared bag is gone)", m.Size())
	}
}

func TestMultimaps(t *testing.T) {
	m := NewMemory()
	k := Key{Transform: "t", State: "m", Key: "k", Window: "w"}
	tx := Begin(m)
	tx.MultimapAppender(k, "b").Write([]byte("2"))
	tx.MultimapAppender(k, "a").Write([]byte("1"))
	if err := m.Commit(tx); err != nil {
		t.Fatal(err)
	}
	tx = Begin(m)
	if got := tx.MultimapKeys(k); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("keys %q, want [a b]", got)
	}
	tx.MultimapClearer(k, "a").Write(nil)
	tx.MultimapAppender(k, "c").Write([]byte("3"))
	if got := tx.MultimapKeys(k); !slices.Equal(got, []string{"b", "c"}) {
		t.Errorf("keys in the bundle %q, want [b c]", got)
	}
	if got := read(t, tx.MultimapKeysReader(k)); got != "bc" {
		t.Errorf("keys reader %q, want bc", got)
	}
	tx.MultimapKeysClearer(k).Write(nil)
	tx.MultimapAppender(k, "d").Write([]byte("4"))
	if got := tx.MultimapKeys(k); !slices.Equal(got, []string{"d"}) {
		t.Errorf("keys after clearing all %q, want [d]", got)
	}
	if got := read(t, tx.MultimapReader(k, "b")); got != "" {
		t.Errorf("b after clearing all: %q", got)
	}
	if err := m.Commit(tx); err != nil {
		t.Fatal(err)
	}
	if got := m.MultimapKeys(k); !slices.Equal(got, []string{"d"}) || string(m.Multimap(k, "d")) != "4" {
		t.Errorf("committed keys %q, want [d] = 4", got)
	}
}

func entry(key int64, v string) []byte {
	return append(binary.AppendUvarint(nil, uint64(key)), v...)
}

func TestOrderedLists(t *testing.T) {
	m := NewMemory()
	k := Key{Transform: "t", State: "l", Key: "k", Window: "w"}
	tx := Begin(m)
	for _, e := range []struct {
		key int64
		v   string
	}{{5, "e"}, {-3, "a"}, {5, "f"}, {1, "c"}} {
		if _, err := tx.OrderedListAppender(k).Write(entry(e.key, e.v)); err != nil {
			t.Fatal(err)
		}
	}
	want := string(entry(-3, "a")) + string(entry(1, "c")) + string(entry(5, "e")) + string(entry(5, "f"))
	if got := read(t, tx.OrderedListReader(k, math.MinInt64, math.MaxInt64)); got != want {
		t.Errorf("all entries %q, want %q", got, want)
	}
	if err := m.Commit(tx); err != nil {
		t.Fatal(err)
	}
	tx = Begin(m)
	tx.OrderedListClearer(k, 0, 5).Write(nil)
	if got, want := read(t, tx.OrderedListReader(k, -10, 10)), string(entry(-3, "a"))+string(entry(5, "e"))+string(entry(5, "f")); got != want {
		t.Errorf("after clearing [0, 5): %q, want %q", got, want)
	}
	if got, want := read(t, tx.OrderedListReader(k, 5, 6)), string(entry(5, "e"))+string(entry(5, "f")); got != want {
		t.Errorf("range [5, 6): %q, want %q", got, want)
	}
	if len(m.OrderedList(k)) != 4 {
		t.Errorf("the store changed before the commit")
	}
}
