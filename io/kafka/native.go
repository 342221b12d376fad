package kafka

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ReadTransformConfig returns the configuration of a [Read] from the two
// DoFns it expands into, as a runner decodes them from the pipeline proto
// (the receivers of graphx.DecodeMultiEdge's *graph.Fn): list is the DoFn
// that lists the partitions (it follows the Impulse), read the splittable
// DoFn that reads them. ok is false when they are not a Read's DoFns.
//
// It exists for runners that execute the read natively, as package
// localrunner does with a consumer-group member, instead of running the
// splittable DoFn. The returned config has its defaults filled.
func ReadTransformConfig(list, read any) (cfg ReadConfig, ok bool) {
	l, lok := list.(*listFn)
	r, rok := read.(*readFn)
	if !lok || !rok || l == nil || r == nil {
		return ReadConfig{}, false
	}
	return ReadConfig{
		Client:            l.Client,
		Topics:            slices.Clone(l.Topics),
		Group:             l.Group,
		StartOffset:       l.StartOffset,
		StrictOffsetReset: l.StrictOffsetReset,
		ExactlyOnce:       l.ExactlyOnce,
		MaxReadTime:       r.MaxReadTime,
		IdleDelay:         r.IdleDelay,
		MaxSkew:           r.MaxSkew,
		IdleWallClock:     r.IdleWallClock,
	}.withDefaults(), true
}

// RecordFromKgo converts a record fetched with franz-go into the element
// [Read] emits. The byte slices are not copied. For runners that read
// natively (see [ReadTransformConfig]).
func RecordFromKgo(r *kgo.Record) Record { return fromKgo(r) }

// AppendRecordElement appends the element [Read] emits for a record fetched
// with franz-go, as Beam's coder of the Record type writes it inside a
// windowed value: the record coder's bytes, length-prefixed. It is what
// encoding RecordFromKgo(r) with the element coder gives, without the
// reflection and the copies, for runners that read natively.
func AppendRecordElement(b []byte, r *kgo.Record) ([]byte, error) {
	rec := fromKgo(r)
	return AppendElement(b, &rec)
}
