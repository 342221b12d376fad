package config

import (
	"fmt"
	"strings"
)

// Segments
//
// pipeline.segments lists the pipeline's separately deployable parts, as
// in Sentry Streams: a process runs one (--segment-id N). Segment 0
// starts at the source. Each later segment, pipeline.segments[k] with
// k > 0, starts at the one step of its steps_config that sets
// starts_segment: true (its head): on the bundled runner, what flows into
// that step goes through an internal topic, <group>-<step>-segment, and
// the segment's processes read it as a consumer group of their own. So
// each segment is scaled by running more processes of it. In segment 0,
// starts_segment: true starts a new chain of fused steps within the
// process.

// SegmentHeads returns the step that starts each segment after the first,
// in order: SegmentHeads()[k-1] starts pipeline.segments[k]. A segment
// after the first without exactly one step setting starts_segment is a
// problem of segmentProblems.
func (c *Config) SegmentHeads() []string {
	var heads []string
	for k := 1; k < len(c.Pipeline.Segments); k++ {
		if hs := segmentStarts(&c.Pipeline.Segments[k]); len(hs) == 1 {
			heads = append(heads, hs[0])
		}
	}
	return heads
}

// segmentStarts lists the steps of a segment that set starts_segment.
func segmentStarts(s *Segment) []string {
	var out []string
	for _, n := range stepNames(s) {
		if s.Steps[n].StartsSegment {
			out = append(out, n)
		}
	}
	return out
}

// segmentProblems returns the problems of the segments after the first:
// each must name the step it starts with starts_segment: true, one step,
// which no other segment starts.
func (c *Config) segmentProblems() []Problem {
	var ps []Problem
	started := map[string]int{}
	for k := 1; k < len(c.Pipeline.Segments); k++ {
		seg := &c.Pipeline.Segments[k]
		path := index("pipeline.segments", k)
		hs := segmentStarts(seg)
		switch {
		case len(hs) == 0:
			p := c.problemAt(path, false)
			p.Msg = fmt.Sprintf("segment %d names no step that starts it: a segment after the first starts at the step of its steps_config that sets starts_segment: true", k)
			ps = append(ps, p)
		case len(hs) > 1:
			p := c.problemAt(join(join(path, "steps_config"), hs[1]), false)
			p.Msg = fmt.Sprintf("segment %d starts at one step; %s set starts_segment: true", k, strings.Join(hs, " and "))
			ps = append(ps, p)
		default:
			if prev, dup := started[hs[0]]; dup {
				p := c.problemAt(join(join(path, "steps_config"), hs[0]), false)
				p.Msg = fmt.Sprintf("step %q already starts segment %d", hs[0], prev)
				ps = append(ps, p)
			}
			started[hs[0]] = k
		}
	}
	return ps
}
