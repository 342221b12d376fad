package state

import (
	"bytes"
	"cmp"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// tuple is a (string, int64, bytes) key, the shape the runner's keys have.
type tuple struct {
	s string
	n int64
	b []byte
}

func (t tuple) key() Key { return NewKey(NSGroup).Text(t.s).Int64(t.n).Bytes(t.b) }

func compareTuples(a, b tuple) int {
	if c := cmp.Compare(a.s, b.s); c != 0 {
		return c
	}
	if c := cmp.Compare(a.n, b.n); c != 0 {
		return c
	}
	return bytes.Compare(a.b, b.b)
}

// randBytes favours the bytes the escaping is about: 0x00, 0x01, 0xFF.
func randBytes(r *rand.Rand) []byte {
	b := make([]byte, r.IntN(5))
	for i := range b {
		switch r.IntN(4) {
		case 0:
			b[i] = 0
		case 1:
			b[i] = 1
		case 2:
			b[i] = 0xFF
		default:
			b[i] = byte(r.IntN(256))
		}
	}
	return b
}

// Keys sort as their tuples do, and read back to them.
func TestKeyOrderAndRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ints := []int64{math.MinInt64, -1 << 40, -2, -1, 0, 1, 2, 1 << 40, math.MaxInt64}
	var ts []tuple
	for range 3000 {
		ts = append(ts, tuple{s: string(randBytes(r)), n: ints[r.IntN(len(ints))], b: randBytes(r)})
	}
	byTuple := slices.Clone(ts)
	slices.SortStableFunc(byTuple, compareTuples)
	byKey := slices.Clone(ts)
	slices.SortStableFunc(byKey, func(a, b tuple) int { return bytes.Compare(a.key(), b.key()) })
	for i := range byTuple {
		if compareTuples(byTuple[i], byKey[i]) != 0 {
			t.Fatalf("position %d: by tuple %+v, by key %+v", i, byTuple[i], byKey[i])
		}
	}
	for _, tu := range ts {
		rd := Read(tu.key())
		if ns := rd.Namespace(); ns != NSGroup {
			t.Fatalf("namespace %v", ns)
		}
		s, n, b := rd.Text(), rd.Int64(), rd.Bytes()
		if !rd.Done() || s != tu.s || n != tu.n || !bytes.Equal(b, tu.b) {
			t.Fatalf("%+v read back as %q %d %q (err %v)", tu, s, n, b, rd.Err())
		}
	}
}

// A key built from a prefix of a tuple is a byte prefix of the longer
// tuples' keys, and PrefixEnd bounds them.
func TestKeyPrefixes(t *testing.T) {
	stage := NewKey(NSGroup).Text("stage-1")
	inside := []Key{stage.Int64(math.MinInt64), stage.Int64(5).Bytes([]byte{0xFF, 0xFF}), stage.Int64(math.MaxInt64).Bytes(nil)}
	outside := []Key{NewKey(NSGroup).Text("stage-1\x00"), NewKey(NSGroup).Text("stage-10"), NewKey(NSGroup).Text("stage-2"), NewKey(NSHold).Text("stage-1")}
	end := stage.PrefixEnd()
	for _, k := range inside {
		if !bytes.HasPrefix(k, stage) || bytes.Compare(k, end) >= 0 {
			t.Errorf("%q is not inside [%q, %q)", k, stage, end)
		}
	}
	for _, k := range outside {
		if bytes.HasPrefix(k, stage) || (bytes.Compare(k, stage) >= 0 && bytes.Compare(k, end) < 0) {
			t.Errorf("%q is inside the prefix %q", k, stage)
		}
	}
	if got := (Key{0xFF, 0xFF}).PrefixEnd(); got != nil {
		t.Errorf("PrefixEnd of all 0xFF: %q, want nil", got)
	}
	if got := (Key{1, 0xFF}).PrefixEnd(); !bytes.Equal(got, []byte{2}) {
		t.Errorf("PrefixEnd of 01FF: %x, want 02", got)
	}
}

func TestKeyMalformed(t *testing.T) {
	for _, k := range [][]byte{{}, {'g'}, {'g', 'a'}, {'g', 'a', 0}, {'g', 'a', 0, 2}} {
		rd := Read(k)
		rd.Namespace()
		rd.Bytes()
		if !errors.Is(rd.Err(), ErrMalformedKey) {
			t.Errorf("%x: error %v, want ErrMalformedKey", k, rd.Err())
		}
	}
	rd := Read(NewKey(NSTimer).Int64(3)[:5])
	rd.Namespace()
	rd.Int64()
	if !errors.Is(rd.Err(), ErrMalformedKey) {
		t.Errorf("short integer: error %v", rd.Err())
	}
}

func FuzzKeyBytes(f *testing.F) {
	f.Add([]byte{0, 1, 0xFF}, []byte{0})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		ka, kb := NewKey(NSUser).Bytes(a).Bytes(b), NewKey(NSUser).Bytes(b).Bytes(a)
		want := cmp.Or(bytes.Compare(a, b), bytes.Compare(b, a))
		if got := bytes.Compare(ka, kb); got != want {
			t.Fatalf("(%x,%x) vs (%x,%x): keys compare %d, tuples %d", a, b, b, a, got, want)
		}
		rd := Read(ka)
		rd.Namespace()
		if x, y := rd.Bytes(), rd.Bytes(); !rd.Done() || !bytes.Equal(x, a) || !bytes.Equal(y, b) {
			t.Fatalf("read back %x %x, want %x %x", x, y, a, b)
		}
	})
}
