package plan

import (
	"regexp"
	"slices"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/streams-dev/streams/io/kafka"
)

// KindShuffleWrite stages are runner-side: they write the elements of
// their Upstream PCollections to a GroupByKey's internal topic (Stage.
// Shuffle), from which a KindKafka stage (KafkaRead.Shuffle) reads them
// back for the GroupByKey.
const KindShuffleWrite Kind = KindTestStream + 1

// Shuffle describes a KindShuffleWrite stage.
type Shuffle struct {
	// Topic is the internal topic, also the reading consumer group.
	Topic string
	// Source is the ID of the Kafka stage whose tasks write: the
	// writers are its partitions.
	Source string
	// Reader is the ID of the KindKafka stage reading Topic.
	Reader string
	// Coder is the windowed-value coder of the elements written: KVs,
	// but with BySource.
	Coder *coder.Coder
	// BySource, on a segment's writer (segment.go), writes each element
	// to the partition of its source partition (modulo the topic's
	// partitions) rather than of its key.
	BySource bool
}

var unsafeTopic = regexp.MustCompile(`[^a-zA-Z0-9._-]`)

// ShuffleTopic is the internal topic of a GroupByKey of step step, read by
// consumer group group; it is also the reading group.
func ShuffleTopic(group, step string) string {
	step, _, _ = strings.Cut(step, "/")
	return unsafeTopic.ReplaceAllString(group+"-"+step+"-shuffle", "_")
}

// insertShuffles routes the input of every GroupByKey, and of every
// stateful DoFn of KVs, whose key does not follow its Kafka source's
// partitioning (not PartitionKeyed) through an internal topic keyed by
// the grouping key: a KindShuffleWrite stage takes the stage's place as
// the reader of its input, and a KindKafka stage reading the topic feeds
// the stage, which then follows that topic's partitioning. Only stages
// fed by one Kafka source through stateless SDK stages are shuffled: what
// a GroupByKey or a stateful DoFn wrote is not written the same way when
// read again after a crash, which the readers' duplicate detection needs.
func (pl *planner) insertShuffles(p *Plan) {
	topics := map[string]int{}
	for i := 0; i < len(p.Stages); i++ {
		g := p.Stages[i]
		keyed := g.Kind == KindGroup || g.Kind == KindSDK && g.Stateful && g.StateKey != nil && !g.Splittable
		if !keyed || g.PartitionKeyed {
			continue
		}
		src := p.feedingKafka(g)
		if src == nil {
			continue
		}
		c, err := pl.windowedCoder(g.Input)
		if g.Kind == KindGroup {
			c, err = g.Group.Coder, nil
		}
		if err != nil {
			continue // the stage keeps its state per process
		}
		topic := ShuffleTopic(src.Kafka.Root().Config.Group, g.Names[0])
		if n := topics[topic]; n > 0 {
			topic = topic + "-" + string(rune('0'+n%10))
		}
		topics[topic]++
		p.insertBoundary(i, g, src, c, topic, boundaryNames{g.Names[0], "shuffle", g.Input + "/shuffled"})
		g.PartitionKeyed = true
		i += 2
	}
}

// boundaryNames name the stages of an internal topic's boundary: its
// writer and read are "<name>/<kind>-write" and "<name>/<kind>-read" (IDs
// "<ID of the stage they feed>-<kind>-write", -read), and out is the
// PCollection the read produces.
type boundaryNames struct{ name, kind, out string }

// insertBoundary puts, at index i before stage s, a writer of what s
// reads (fed by the tasks of Kafka stage src) to topic and a read of
// topic feeding s, and returns them. The writer writes by key; the read
// is in src's segment.
func (p *Plan) insertBoundary(i int, s, src *Stage, c *coder.Coder, topic string, n boundaryNames) (w, r *Stage) {
	w = &Stage{ID: s.ID + "-" + n.kind + "-write", Kind: KindShuffleWrite, Names: []string{n.name + "/" + n.kind + "-write"},
		Input: s.Input, Upstream: slices.Clone(s.Upstream)}
	r = &Stage{ID: s.ID + "-" + n.kind + "-read", Kind: KindKafka, Names: []string{n.name + "/" + n.kind + "-read"}, Outputs: []string{n.out}}
	root := src.Kafka.Root()
	rc := root.Config
	read := kafka.ReadConfig{Client: rc.Client, Topics: []string{topic}, Group: topic, StartOffset: kafka.StartEarliest,
		MaxReadTime: rc.MaxReadTime, IdleDelay: rc.IdleDelay, MaxSkew: rc.MaxSkew}
	r.Kafka = &KafkaRead{Config: read, Output: n.out, Coder: c, Shuffle: true, Segment: src.Kafka.Segment, Origin: root}
	w.Shuffle = &Shuffle{Topic: topic, Source: src.ID, Reader: r.ID, Coder: c}
	p.reroute(s, w, r, n.out)
	p.Stages = slices.Insert(p.Stages, i, w, r)
	return w, r
}

// feedingKafka returns the one Kafka stage that every element of stage s
// comes from through SDK stages that are neither stateful nor splittable,
// or nil.
func (p *Plan) feedingKafka(s *Stage) *Stage {
	var src *Stage
	seen := map[string]bool{}
	todo := slices.Clone(s.Upstream)
	for len(todo) > 0 {
		pc := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		u := p.Stage(p.Producers[pc])
		switch {
		case u == nil:
			return nil
		case u.Kind == KindKafka:
			// A shuffle read feeds its GroupByKey only; a segment's read
			// is a source like the pipeline's.
			if src != nil && src != u {
				return nil
			}
			src = u
		case u.Kind != KindSDK || u.Stateful || u.Splittable || len(u.SideInputs) > 0:
			return nil
		case !seen[u.ID]:
			seen[u.ID] = true
			todo = append(todo, u.Upstream...)
		}
	}
	return src
}
