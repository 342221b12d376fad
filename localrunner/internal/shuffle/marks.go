package shuffle

import (
	"encoding/binary"
	"errors"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
)

// Header keys of shuffle records.
const (
	HeaderSeq  = "streams.shuffle.seq"
	HeaderMark = "streams.shuffle.mark"
)

// Partition is the partition of the internal topic, of n, that an element
// with encoded key key goes to. It must be the same in every process.
func Partition(key []byte, n int32) int32 {
	h := fnv.New64a()
	h.Write(key)
	return int32(h.Sum64() % uint64(n))
}

// Upstream names an upstream task: its source topic and partition.
type Upstream struct {
	Topic     string
	Partition int32
}

func (u Upstream) compare(o Upstream) int {
	if c := strings.Compare(u.Topic, o.Topic); c != 0 {
		return c
	}
	return int(u.Partition - o.Partition)
}

func appendUpstream(b []byte, u Upstream) []byte {
	b = binary.AppendUvarint(b, uint64(len(u.Topic)))
	b = append(b, u.Topic...)
	return binary.AppendUvarint(b, uint64(uint32(u.Partition)))
}

var errBad = errors.New("shuffle: bad encoding")

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err, r.b = errBad, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) upstream() Upstream {
	n := r.uvarint()
	if uint64(len(r.b)) < n {
		r.err, r.b = errBad, nil
		return Upstream{}
	}
	t := string(r.b[:n])
	r.b = r.b[n:]
	return Upstream{Topic: t, Partition: int32(uint32(r.uvarint()))}
}

// Seq is what a data record's HeaderSeq says.
type Seq struct {
	From Upstream
	// Gen is the writer's generation: a writer that starts without saved
	// state takes a new one, so its numbers start again.
	Gen uint64
	N   uint64
}

// AppendSeq appends the encoding of s to b.
func AppendSeq(b []byte, s Seq) []byte {
	b = appendUpstream(b, s.From)
	b = binary.AppendUvarint(b, s.Gen)
	return binary.AppendUvarint(b, s.N)
}

// DecodeSeq decodes a HeaderSeq value.
func DecodeSeq(b []byte) (Seq, error) {
	r := reader{b: b}
	s := Seq{From: r.upstream(), Gen: r.uvarint(), N: r.uvarint()}
	return s, r.err
}

// Mark is what a control record's HeaderMark says: upstream task From,
// one of Total, has passed Watermark (and is idle or not).
type Mark struct {
	From      Upstream
	Total     int
	Watermark mtime.Time
	Idle      bool
}

// AppendMark appends the encoding of m to b.
func AppendMark(b []byte, m Mark) []byte {
	b = appendUpstream(b, m.From)
	b = binary.AppendUvarint(b, uint64(m.Total))
	b = binary.AppendVarint(b, int64(m.Watermark))
	idle := byte(0)
	if m.Idle {
		idle = 1
	}
	return append(b, idle)
}

// DecodeMark decodes a HeaderMark value.
func DecodeMark(b []byte) (Mark, error) {
	r := reader{b: b}
	m := Mark{From: r.upstream(), Total: int(r.uvarint())}
	wm, n := binary.Varint(r.b)
	if n <= 0 || len(r.b) != n+1 {
		return m, errBad
	}
	m.Watermark, m.Idle = mtime.Time(wm), r.b[n] == 1
	return m, r.err
}

// upstreamState is what a reader keeps of one upstream task.
type upstreamState struct {
	gen, n uint64 // last data record taken
	seen   bool   // a data record was taken
	wm     mtime.Time
	idle   bool
	spoke  bool // a mark was taken
}

// Marks is what the reader of one partition of an internal topic keeps:
// per upstream task, the last data record taken and the last mark.
type Marks struct {
	ups   map[Upstream]*upstreamState
	total int
}

// NewMarks returns empty marks.
func NewMarks() *Marks { return &Marks{ups: map[Upstream]*upstreamState{}} }

func (m *Marks) up(u Upstream) *upstreamState {
	s := m.ups[u]
	if s == nil {
		s = &upstreamState{wm: mtime.MinTimestamp}
		m.ups[u] = s
	}
	return s
}

// Take reports whether a data record is new: not one its writer wrote
// before (a writer restored from a checkpoint writes the records after it
// again, with the same numbers). A record of another generation than the
// last is new: its writer started without saved state.
func (m *Marks) Take(s Seq) bool {
	u := m.up(s.From)
	if u.seen && u.gen == s.Gen && s.N <= u.n {
		return false
	}
	u.gen, u.n, u.seen = s.Gen, s.N, true
	return true
}

// Mark takes a control record. Watermarks never move back.
func (m *Marks) Mark(k Mark) {
	u := m.up(k.From)
	u.wm, u.idle, u.spoke = max(u.wm, k.Watermark), k.Idle, true
	m.total = max(m.total, k.Total)
}

// Watermark is the partition's watermark: the minimum over the upstream
// tasks that are not idle, or over all of them when every one is; the
// minimum timestamp until every upstream task (Total) has sent a mark.
func (m *Marks) Watermark() mtime.Time {
	spoke := 0
	busy, all := mtime.MaxTimestamp, mtime.MaxTimestamp
	nBusy := 0
	for _, u := range m.ups {
		if !u.spoke {
			continue
		}
		spoke++
		all = min(all, u.wm)
		if !u.idle {
			nBusy, busy = nBusy+1, min(busy, u.wm)
		}
	}
	if m.total == 0 || spoke < m.total {
		return mtime.MinTimestamp
	}
	if nBusy == 0 {
		return all
	}
	return busy
}

// Encode returns the marks' encoding, for a checkpoint.
func (m *Marks) Encode() []byte {
	keys := make([]Upstream, 0, len(m.ups))
	for u := range m.ups {
		keys = append(keys, u)
	}
	slices.SortFunc(keys, Upstream.compare)
	b := binary.AppendUvarint(nil, uint64(m.total))
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		u := m.ups[k]
		b = appendUpstream(b, k)
		flags := uint64(0)
		if u.seen {
			flags |= 1
		}
		if u.spoke {
			flags |= 2
		}
		if u.idle {
			flags |= 4
		}
		b = binary.AppendUvarint(b, flags)
		b = binary.AppendUvarint(b, u.gen)
		b = binary.AppendUvarint(b, u.n)
		b = binary.AppendVarint(b, int64(u.wm))
	}
	return b
}

// DecodeMarks decodes what Encode returned.
func DecodeMarks(b []byte) (*Marks, error) {
	m := NewMarks()
	r := reader{b: b}
	m.total = int(r.uvarint())
	n := r.uvarint()
	for i := uint64(0); i < n && r.err == nil; i++ {
		k := r.upstream()
		flags := r.uvarint()
		u := m.up(k)
		u.seen, u.spoke, u.idle = flags&1 != 0, flags&2 != 0, flags&4 != 0
		u.gen, u.n = r.uvarint(), r.uvarint()
		wm, w := binary.Varint(r.b)
		if w <= 0 {
			return nil, errBad
		}
		r.b = r.b[w:]
		u.wm = mtime.Time(wm)
	}
	if r.err != nil || len(r.b) != 0 {
		return nil, errBad
	}
	return m, nil
}
