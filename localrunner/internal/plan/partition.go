package plan

import "github.com/streams-dev/streams/internal/contract"

// PartitionKeyedAnnotation marks a composite whose grouping follows the
// source's partitioning (contract.PartitionKeyedAnnotation says how).
const PartitionKeyedAnnotation = contract.PartitionKeyedAnnotation

// partitionKeyed reports whether transform tid lies in a composite
// annotated with PartitionKeyedAnnotation.
func (pl *planner) partitionKeyed(tid string) bool {
	for id := pl.parent[tid]; id != ""; id = pl.parent[id] {
		if _, ok := pl.ts[id].GetAnnotations()[PartitionKeyedAnnotation]; ok {
			return true
		}
	}
	return false
}
