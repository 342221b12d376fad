package changelog

import (
	"github.com/twmb/franz-go/pkg/kgo"
)

// Partitioner returns the partitioner of a client that produces to
// changelog topics and to others: a record of one of topics goes to the
// partition in its Partition field (as with kgo.ManualPartitioner), a
// record of any other topic is partitioned by other. A nil other is the
// client's default, kgo.UniformBytesPartitioner(64<<10, true, true, nil).
//
// A client that produces only changelog records can use
// kgo.ManualPartitioner() instead.
func Partitioner(other kgo.Partitioner, topics ...string) kgo.Partitioner {
	if other == nil {
		other = kgo.UniformBytesPartitioner(64<<10, true, true, nil)
	}
	p := &partitioner{other: other, manual: kgo.ManualPartitioner(), topics: make(map[string]bool, len(topics))}
	for _, t := range topics {
		p.topics[t] = true
	}
	return p
}

type partitioner struct {
	other, manual kgo.Partitioner
	topics        map[string]bool
}

func (p *partitioner) ForTopic(topic string) kgo.TopicPartitioner {
	if p.topics[topic] {
		return p.manual.ForTopic(topic)
	}
	return p.other.ForTopic(topic)
}

// probes are the partitions isManual asks for, in an order no round-robin,
// sticky or key-hashing partitioner follows.
var probes = []int32{5, 2, 7, 0, 3, 6}

// isManual reports whether p sends a record of topic to the partition in
// its Partition field, by asking it to partition a few records with the
// same key and different Partition fields. franz-go has no way to ask a
// client what partitioner it has other than by trying it.
func isManual(p kgo.Partitioner, topic string) bool {
	if p == nil {
		return false
	}
	tp := p.ForTopic(topic)
	if _, ok := tp.(kgo.TopicBackupPartitioner); ok {
		return false // it never calls Partition, so it ignores the field
	}
	for _, want := range probes {
		r := &kgo.Record{Topic: topic, Partition: want, Key: []byte("changelog-probe")}
		if !tp.RequiresConsistency(r) || tp.Partition(r, 8) != int(want) {
			return false
		}
	}
	return true
}
