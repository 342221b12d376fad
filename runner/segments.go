package runner

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"github.com/streams-dev/streams/config"
	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/localrunner"
)

// segmentView is the steps_config a process of segment id works from:
// its segment's, and the other segments' for the steps it does not
// configure. A process runs its segment's steps only, but it needs the
// source's settings (in the first segment) whatever its segment: its
// internal topics are named after the source's consumer group and live
// on its cluster, and its rejected messages go to the source's dlq; and
// the pipeline it translates is the whole one, every sink bound to its
// configured topic.
func segmentView(c *config.Config, id int) (*config.Segment, error) {
	seg, err := c.Segment(id)
	if err != nil || len(c.Pipeline.Segments) == 1 {
		return seg, err
	}
	view := *seg
	view.Steps = maps.Clone(seg.Steps)
	if view.Steps == nil {
		view.Steps = map[string]config.StepConfig{}
	}
	view.StepNames = slices.Clone(seg.StepNames)
	for k, other := range c.Pipeline.Segments {
		if k == id {
			continue
		}
		for _, name := range slices.Sorted(maps.Keys(other.Steps)) {
			if _, ok := view.Steps[name]; !ok {
				view.Steps[name] = other.Steps[name]
				view.StepNames = append(view.StepNames, name)
			}
		}
	}
	return &view, nil
}

// stepSegments assigns each step of g to its segment: a segment's head
// (heads[k-1] starts segment k) and the steps after it up to the next
// head are in segment k; the source's are in segment 0. A head that is
// not a step of g, and a step that two segments would both hold (a
// join of branches), are errors.
func stepSegments(g *dsl.Graph, heads []string) (map[string]int, error) {
	seg := map[string]int{}
	var errs []error
	for i, h := range heads {
		if g.Node(h) == nil {
			errs = append(errs, fmt.Errorf("pipeline.segments[%d]: step %q starts the segment but the pipeline has no such step", i+1, h))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	var walk func(n *dsl.Node, k int)
	walk = func(n *dsl.Node, k int) {
		if i := slices.Index(heads, n.Name()); i >= 0 {
			k = i + 1
		}
		if prev, ok := seg[n.Name()]; ok {
			if prev != k {
				errs = append(errs, fmt.Errorf("step %q would be in segments %d and %d", n.Name(), prev, k))
			}
			return
		}
		seg[n.Name()] = k
		for _, o := range n.Outputs() {
			walk(g.Node(o), k)
		}
	}
	walk(g.Source(), 0)
	for i, h := range heads {
		if _, ok := seg[h]; !ok {
			errs = append(errs, fmt.Errorf("pipeline.segments[%d]: step %q is not reached from the source", i+1, h))
		}
	}
	return seg, errors.Join(errs...)
}

// checkSegments checks that each segment's steps_config configures steps
// of that segment only (the source's settings, in the first, apply to
// all).
func checkSegments(g *dsl.Graph, c *config.Config) error {
	heads := c.SegmentHeads()
	if len(heads) == 0 {
		return nil
	}
	seg, err := stepSegments(g, heads)
	if err != nil {
		return err
	}
	var errs []error
	for k, s := range c.Pipeline.Segments {
		for _, name := range slices.Sorted(maps.Keys(s.Steps)) {
			if at, ok := seg[name]; ok && at != k {
				errs = append(errs, fmt.Errorf("pipeline.segments[%d].steps_config.%s: step %q is in segment %d (segments start at %v)", k, name, name, at, heads))
			}
		}
	}
	return errors.Join(errs...)
}

// segmentOptions returns what running segment id of a config with
// segments takes: the translation's heads and the bundled runner's
// segment. With --adapter beam a pipeline runs whole as one job (its
// runner distributes it): a later segment is refused, and the segments
// are warned about.
func segmentOptions(c *config.Config, opts Options, log *slog.Logger) (heads []string, local []localrunner.Option, err error) {
	heads = c.SegmentHeads()
	if len(heads) == 0 {
		return nil, nil, nil
	}
	if opts.Adapter != AdapterLocal {
		if opts.SegmentID > 0 {
			return nil, nil, fmt.Errorf("runner: --segment-id %d: segments are deployed apart on the bundled runner (--adapter local) only; with --adapter beam the pipeline runs whole, as segment 0", opts.SegmentID)
		}
		log.Warn("the config's segments run as one job with --adapter beam: its runner distributes the whole pipeline; starts_segment in later segments has no effect", "segments", len(heads)+1)
		return nil, nil, nil
	}
	return heads, []localrunner.Option{localrunner.WithSegment(opts.SegmentID)}, nil
}
