package changelog

import (
	"github.com/twmb/franz-go/pkg/kgo"
)

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
