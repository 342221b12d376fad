package worker

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec"
	"github.com/streams-dev/streams/localrunner/internal/plan"
)

// Chunk is a run of encoded windowed values, element i ending at Ends[i].
type Chunk struct {
	Data []byte
	Ends []int
}

type sideKey struct{ transform, local string }

// sideData is one side input, indexed by encoded window (and, for the
// multimap access pattern, by encoded key): the element (or value)
// encodings back to back, as the SDK reads them from the state API.
type sideData struct {
	iterable map[string][]byte
	multimap map[string]map[string][]byte
}

// SideInputs serves a stage's complete side inputs to its bundles. It is
// built once, when every side input is complete, and only read afterwards,
// by any number of bundles at once.
type SideInputs struct {
	noState
	data map[sideKey]*sideData
}

// NewSideInputs indexes the side inputs of a stage; chunks returns the
// elements written to a source PCollection.
func NewSideInputs(specs []*plan.SideInput, chunks func(source string) []Chunk) (*SideInputs, error) {
	si := &SideInputs{data: map[sideKey]*sideData{}}
	for _, spec := range specs {
		d, err := indexSide(spec, chunks)
		if err != nil {
			return nil, fmt.Errorf("localrunner: side input %s of %s: %w", spec.Local, spec.Transform, err)
		}
		si.data[sideKey{spec.Transform, spec.Local}] = d
	}
	return si, nil
}

func indexSide(spec *plan.SideInput, chunks func(string) []Chunk) (*sideData, error) {
	wd := exec.MakeWindowDecoder(spec.Coder.Window)
	we := exec.MakeWindowEncoder(spec.Coder.Window)
	d := &sideData{iterable: map[string][]byte{}, multimap: map[string]map[string][]byte{}}
	var kd exec.ElementDecoder
	if spec.Multimap {
		ec := coder.SkipW(spec.Coder)
		if !coder.IsKV(ec) {
			return nil, fmt.Errorf("multimap side input of non-KV elements %v", ec)
		}
		kd = exec.MakeElementDecoder(ec.Components[0])
	}
	var r bytes.Reader
	for _, src := range spec.Sources {
		for _, c := range chunks(src) {
			start := 0
			for _, end := range c.Ends {
				elm := c.Data[start:end]
				start = end
				r.Reset(elm)
				ws, _, _, err := exec.DecodeWindowedValueHeader(wd, &r)
				if err != nil {
					return nil, err
				}
				body := elm[len(elm)-r.Len():]
				var key, val []byte
				if kd != nil {
					if _, err := kd.Decode(&r); err != nil {
						return nil, fmt.Errorf("decoding a key: %w", err)
					}
					key, val = body[:len(body)-r.Len()], body[len(body)-r.Len():]
				}
				for _, w := range ws {
					wb, err := exec.EncodeWindow(we, w)
					if err != nil {
						return nil, err
					}
					if kd == nil {
						d.iterable[string(wb)] = append(d.iterable[string(wb)], body...)
						continue
					}
					m := d.multimap[string(wb)]
					if m == nil {
						m = map[string][]byte{}
						d.multimap[string(wb)] = m
					}
					m[string(key)] = append(m[string(key)], val...)
				}
			}
		}
	}
	return d, nil
}

func (s *SideInputs) side(id exec.StreamID, local string) (*sideData, error) {
	d, ok := s.data[sideKey{id.PtransformID, local}]
	if !ok {
		return nil, fmt.Errorf("localrunner: no side input %s for %s", local, id.PtransformID)
	}
	return d, nil
}

// OpenIterableSideInput implements exec.StateReader.
func (s *SideInputs) OpenIterableSideInput(_ context.Context, id exec.StreamID, local string, w []byte) (io.ReadCloser, error) {
	d, err := s.side(id, local)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(d.iterable[string(w)])), nil
}

// OpenMultiMapSideInput implements exec.StateReader.
func (s *SideInputs) OpenMultiMapSideInput(_ context.Context, id exec.StreamID, local string, key, w []byte) (io.ReadCloser, error) {
	d, err := s.side(id, local)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(d.multimap[string(w)][string(key)])), nil
}

// GetSideInputCache implements exec.StateReader: there is nothing to cache
// in process, the data is already decoded to its final form.
func (s *SideInputs) GetSideInputCache() exec.SideCache { return noCache{} }

type noCache struct{}

func (noCache) QueryCache(context.Context, string, string, []byte, []byte) exec.ReStream { return nil }
func (noCache) SetCache(_ context.Context, _, _ string, _, _ []byte, r exec.ReStream) exec.ReStream {
	return r
}
