package plan

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/streams-dev/streams/internal/contract"
)

// SegmentAnnotation marks the composite of a step that starts a segment
// (contract.SegmentAnnotation says how).
const SegmentAnnotation = contract.SegmentAnnotation

// Segments
//
// A pipeline's segments are its separately deployable parts: segment 0
// starts at the source, and segment k > 0 at a step whose composite is
// annotated with SegmentAnnotation k. What flows into such a step goes
// through an internal topic, <group>-<step>-segment: a KindShuffleWrite
// stage (Shuffle.BySource) writes it there, each element to the
// partition of the source partition it comes from (so order per
// partition holds), and a shuffle read (KafkaRead.Segment k) reads it back
// for the step, with the shuffle's numbering, marks and tasks. Given a
// segment to run (Options.Segment), the plan keeps that segment's stages
// only: the writers to the next segment's topic, the read of its own.

// segmentRoots marks the leaf transforms that start a segment (their
// main input comes from outside their segment's composite) as forced
// stage roots, and returns each one's segment.
func (pl *planner) segmentRoots() map[string]int {
	producer := map[string]string{}
	for id, t := range pl.ts {
		if len(t.GetSubtransforms()) > 0 {
			continue
		}
		for _, p := range t.GetOutputs() {
			producer[p] = id
		}
	}
	roots := map[string]int{}
	for _, tid := range pl.leaves {
		comp, k := pl.segmentComposite(tid)
		if k == 0 || pl.runnerSide[tid] {
			continue
		}
		if pl.within(producer[pl.mainInput(tid)], comp) {
			continue
		}
		roots[tid] = k
		pl.forced[tid] = true
	}
	return roots
}

// segmentComposite returns the composite annotated with SegmentAnnotation
// that holds tid, and its segment; 0 when there is none.
func (pl *planner) segmentComposite(tid string) (string, int) {
	for id := pl.parent[tid]; id != ""; id = pl.parent[id] {
		if v, ok := pl.ts[id].GetAnnotations()[SegmentAnnotation]; ok {
			k, err := strconv.Atoi(string(v))
			if err != nil || k < 1 {
				return "", 0
			}
			return id, k
		}
	}
	return "", 0
}

// within reports whether transform tid lies in composite comp.
func (pl *planner) within(tid, comp string) bool {
	for id := pl.parent[tid]; id != ""; id = pl.parent[id] {
		if id == comp {
			return true
		}
	}
	return false
}

// insertSegments puts a segment boundary before each stage whose root
// starts a segment (roots), and refuses a segment whose input does not
// come from one Kafka source through stateless SDK stages: only such
// writers number their records the same way when they write them again.
func (pl *planner) insertSegments(p *Plan, roots map[string]int) {
	for i := 0; i < len(p.Stages); i++ {
		s := p.Stages[i]
		if len(s.Transforms) == 0 || s.Kind != KindSDK {
			continue
		}
		k, ok := roots[s.Transforms[0]]
		if !ok {
			continue
		}
		src := p.feedingKafka(s)
		if src == nil {
			pl.refuse(s.Transforms[0], fmt.Sprintf("segment %d starts where its input does not come from the Kafka source through stateless steps (after a Reduce or a Batch): start it at the step after the source or after a map-like step", k))
			continue
		}
		c, err := pl.windowedCoder(s.Input)
		if err != nil {
			pl.errs = append(pl.errs, fmt.Errorf("localrunner: segment %d: the coder of its input: %w", k, err))
			continue
		}
		head, _, _ := strings.Cut(s.Names[0], "/")
		head, _, _ = strings.Cut(head, "+")
		topic := unsafeTopic.ReplaceAllString(src.Kafka.Root().Config.Group+"-"+head+"-segment", "_")
		w, r := p.insertBoundary(i, s, src, c, topic, boundaryNames{head, "segment", s.Input + "/segment"})
		r.Kafka.Segment, r.Kafka.StartsSegment = k, true
		w.Shuffle.BySource = true
		i += 2
	}
}

// reroute makes stage s read out, which stage r produces, and writer w
// read what s read.
func (p *Plan) reroute(s, w, r *Stage, out string) {
	for _, pc := range s.Upstream {
		for j, c := range p.Consumers[pc] {
			if c == s.ID {
				p.Consumers[pc][j] = w.ID
			}
		}
	}
	p.Producers[out] = r.ID
	p.Consumers[out] = []string{s.ID}
	s.Upstream = []string{out}
}

// keepSegment drops every stage but those of segment k: a stage is in the
// segments of the stages producing its input (a stage reading from
// several, such as the one writing rejected messages to the dead-letter
// topic, is in each of theirs), a segment's read starts its segment, the
// other sources start segment 0.
func (p *Plan) keepSegment(k int) error {
	in := map[string]map[int]bool{}
	most := 0
	for _, s := range p.Stages {
		segs := map[int]bool{}
		switch {
		case s.Kind == KindKafka && s.Kafka.Shuffle:
			segs[s.Kafka.Segment] = true
		case len(s.Upstream) == 0:
			segs[0] = true
		}
		for _, pc := range s.Upstream {
			for seg := range in[p.Producers[pc]] {
				segs[seg] = true
			}
		}
		in[s.ID] = segs
		for seg := range segs {
			most = max(most, seg)
		}
	}
	if k > most {
		return fmt.Errorf("localrunner: segment %d: the pipeline has segments 0 to %d", k, most)
	}
	kept := func(id string) bool { return in[id][k] }
	p.Stages = slices.DeleteFunc(p.Stages, func(s *Stage) bool { return !kept(s.ID) })
	for pc, cs := range p.Consumers {
		p.Consumers[pc] = slices.DeleteFunc(cs, func(c string) bool { return !kept(c) })
		if len(p.Consumers[pc]) == 0 {
			delete(p.Consumers, pc)
		}
	}
	for pc, prod := range p.Producers {
		if !kept(prod) {
			delete(p.Producers, pc)
		}
	}
	for _, s := range p.Stages {
		// What a stage kept in several segments reads from another
		// segment's stages is not produced here.
		s.Upstream = slices.DeleteFunc(s.Upstream, func(pc string) bool { _, ok := p.Producers[pc]; return !ok })
	}
	return nil
}
