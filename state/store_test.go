package state

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streams-dev/streams/internal/childtest"
)

func TestMain(m *testing.M) {
	flag.Parse()
	if spec, ok := childtest.Spec(); ok {
		os.Exit(runChild(spec))
	}
	os.Exit(m.Run())
}

func open(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// scan returns the keys and values under prefix, as strings.
func scan(t *testing.T, s *Store, prefix Key) map[string]string {
	t.Helper()
	out := map[string]string{}
	if err := s.Scan(prefix, func(k, v []byte) error {
		out[string(k)] = string(v)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// A batch is invisible until it commits, then all of it is there, also
// after the store is closed and opened again.
func TestBatchCommitAndReopen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	b := s.NewBatch()
	k1 := NewKey(NSUser).Text("stage").Text("count").Bytes([]byte("k1"))
	k2 := NewKey(NSUser).Text("stage").Text("count").Bytes([]byte("k2"))
	b.Set(k1, []byte("1"))
	b.Set(k2, []byte("2"))
	if _, ok, _ := s.Get(k1); ok {
		t.Fatal("a write is visible before its batch commits")
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if !b.Empty() {
		t.Error("the batch is not empty after Commit")
	}
	b.Set(k1, []byte("never"))
	b.Close() // discarded
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, dir)
	defer s.Close()
	got := scan(t, s, NewKey(NSUser).Text("stage"))
	if len(got) != 2 || got[string(k1)] != "1" || got[string(k2)] != "2" {
		t.Fatalf("after reopen: %q", got)
	}
	st := s.Stats()
	if st.DiskBytes == 0 {
		t.Errorf("stats: %+v", st)
	}
}

// A batch made with room for its writes commits them as any other.
func TestBatchSized(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	for _, size := range []int{-1, 0, 64, 1 << 20} {
		b := s.NewBatchSized(size)
		k := NewKey(NSUser).Text("sized").Int64(int64(size))
		b.Set(k, bytes.Repeat([]byte("v"), 1000))
		if err := b.Commit(); err != nil {
			t.Fatal(err)
		}
		b.Close()
		if v, ok, err := s.Get(k); err != nil || !ok || len(v) != 1000 {
			t.Errorf("size %d: read back %d bytes, %v, %v", size, len(v), ok, err)
		}
	}
}

// Expired windows go with one range deletion: keys sort by window end.
func TestDeleteRangeByWindowEnd(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	stage := NewKey(NSGroup).Text("stage-3")
	b := s.NewBatch()
	for end := int64(0); end < 10; end++ {
		for _, key := range []string{"a", "b"} {
			b.Set(stage.Int64(end*1000).Bytes([]byte("w")).Bytes([]byte(key)), []byte(strconv.FormatInt(end, 10)))
		}
	}
	other := NewKey(NSGroup).Text("stage-4").Int64(0)
	b.Set(other, []byte("x"))
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	// The watermark passed 5000: every window that ended before it goes.
	b.DeleteRange(stage, stage.Int64(5000))
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	got := scan(t, s, stage)
	if len(got) != 10 {
		t.Fatalf("%d keys left, want 10 (ends 5000..9000, two keys each)", len(got))
	}
	for k, v := range got {
		rd := Read([]byte(k))
		rd.Namespace()
		rd.Text()
		if end := rd.Int64(); end < 5000 || v != strconv.FormatInt(end/1000, 10) {
			t.Errorf("left: end %d = %q", end, v)
		}
	}
	if len(scan(t, s, NewKey(NSGroup).Text("stage-4"))) != 1 {
		t.Error("another stage's state was deleted")
	}
	b.DeletePrefix(NewKey(NSGroup))
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := scan(t, s, NewKey(NSGroup)); len(got) != 0 {
		t.Errorf("DeletePrefix left %d keys", len(got))
	}
	if _, ok, _ := s.Get(metaVersionKey); !ok {
		t.Error("DeletePrefix of a namespace deleted another one's keys")
	}
}

// A directory written with another format version is refused, with what
// to do about it.
func TestFormatVersionMismatch(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	b := s.NewBatch()
	b.Set(metaVersionKey, versionValue(FormatVersion-1)) // an older runner's
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(dir, Options{})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("format version %d, this runner writes %d", FormatVersion-1, FormatVersion)) || !strings.Contains(err.Error(), "replay from the committed offsets") {
		t.Fatalf("Open: %v", err)
	}
}

// crashBatchKeys is how many keys each batch of the crash child writes.
const crashBatchKeys = 50

// runChild is the crash test's writer: it commits batches numbered from
// where the store left off, each setting crashBatchKeys keys to the
// batch's number, and prints "committed N" after each Commit returns,
// until it is killed.
func runChild(spec string) int {
	if dir, ok := strings.CutPrefix(spec, "hold:"); ok {
		return runHolder(dir)
	}
	dir, ok := strings.CutPrefix(spec, "crash-writer:")
	if !ok {
		fmt.Fprintln(os.Stderr, "unknown child spec", spec)
		return 2
	}
	s, err := Open(dir, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	next := uint64(0)
	if v, ok, _ := s.Get(NewKey(NSSource).Text("next")); ok {
		next, _ = strconv.ParseUint(string(v), 10, 64)
	}
	value := bytes.Repeat([]byte("v"), 200)
	b := s.NewBatch()
	for n := next; ; n++ {
		for i := range crashBatchKeys {
			b.Set(NewKey(NSUser).Uint64(n).Uint64(uint64(i)), append(strconv.AppendUint(nil, n, 10), value...))
		}
		b.Set(NewKey(NSSource).Text("next"), strconv.AppendUint(nil, n+1, 10))
		if err := b.Commit(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Printf("committed %d\n", n)
	}
}

// TestCrashKeepsCommittedBatchesWhole kills a writer with SIGKILL at random
// moments, several times, and checks after each kill that every batch whose
// Commit returned is on disk, and that no batch is there in part.
func TestCrashKeepsCommittedBatchesWhole(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	committedRE := regexp.MustCompile(`committed (\d+)\n`)
	kills := 0
	for kills < 5 {
		child := childtest.Start(t, "crash-writer:"+dir)
		time.Sleep(time.Duration(100+r.IntN(400)) * time.Millisecond)
		child.Stop(t) // SIGKILL
		kills++
		acked := int64(-1)
		for _, m := range committedRE.FindAllStringSubmatch(child.Stdout(), -1) {
			acked, _ = strconv.ParseInt(m[1], 10, 64)
		}
		s := open(t, dir)
		counts := map[uint64]int{}
		if err := s.Scan(NewKey(NSUser), func(k, v []byte) error {
			rd := Read(k)
			rd.Namespace()
			n := rd.Uint64()
			rd.Uint64()
			if !rd.Done() || !bytes.HasPrefix(v, strconv.AppendUint(nil, n, 10)) {
				return fmt.Errorf("bad entry %x = %.20q", k, v)
			}
			counts[n]++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		v, _, _ := s.Get(NewKey(NSSource).Text("next"))
		next, _ := strconv.ParseInt(string(v), 10, 64)
		s.Close()
		for n, c := range counts {
			if c != crashBatchKeys {
				t.Fatalf("kill %d: batch %d has %d of its %d keys", kills, n, c, crashBatchKeys)
			}
		}
		if int64(len(counts)) != next {
			t.Fatalf("kill %d: %d batches on disk, the last one says %d", kills, len(counts), next)
		}
		if next-1 < acked {
			t.Fatalf("kill %d: batch %d was committed (Commit returned) but is not on disk (%d batches)", kills, acked, next)
		}
		t.Logf("kill %d: %d batches on disk, the writer had seen %d commits return", kills, next, acked+1)
	}
}

// BenchmarkCommit measures one bundle's batch: 100 keys of 100 bytes,
// durable (fsync) and not.
func BenchmarkCommit(b *testing.B) {
	for _, sync := range []bool{true, false} {
		b.Run(fmt.Sprintf("sync=%v", sync), func(b *testing.B) {
			s, err := Open(b.TempDir(), Options{NoSync: !sync})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			value := bytes.Repeat([]byte("x"), 100)
			batch := s.NewBatch()
			b.SetBytes(100 * 100)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				for k := range 100 {
					batch.Set(NewKey(NSUser).Text("stage").Uint64(uint64(i)).Uint64(uint64(k)), value)
				}
				if err := batch.Commit(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Record reports every write of a batch, in order, a prefix deletion as
// the range it deletes.
func TestBatchRecord(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	b := s.NewBatch()
	defer b.Close()
	var got []string
	b.Record(func(c Change) {
		switch {
		case c.End != nil:
			got = append(got, fmt.Sprintf("deleterange %q %q", c.Key, c.End))
		case c.Delete:
			got = append(got, fmt.Sprintf("delete %q", c.Key))
		default:
			got = append(got, fmt.Sprintf("set %q=%q", c.Key, c.Value))
		}
	})
	b.Set([]byte("a"), []byte("1"))
	b.Delete([]byte("b"))
	b.DeletePrefix([]byte("c"))
	want := []string{`set "a"="1"`, `delete "b"`, `deleterange "c" "d"`}
	if !slices.Equal(got, want) {
		t.Errorf("recorded %q, want %q", got, want)
	}
}
