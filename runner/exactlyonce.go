package runner

import (
	"fmt"

	"github.com/streams-dev/streams/config"
	"github.com/streams-dev/streams/dsl"
)

// exactlyOnce checks a deployment whose source asks for exactly-once
// delivery (processing_guarantee: exactly_once) and marks its bindings:
// the bundled runner then commits the outputs to every Kafka sink and
// the DLQ with the source's offsets in Kafka transactions. Every problem
// is an error: a pipeline never runs at least once under an exactly-once
// name.
func exactlyOnce(g *dsl.Graph, d *deployment, adapter string) error {
	src := g.Source().Name()
	if adapter != AdapterLocal {
		return fmt.Errorf("runner: source step %s: processing_guarantee exactly_once needs the bundled runner (--adapter local): Beam runners commit no Kafka transactions", src)
	}
	for _, n := range g.Nodes() {
		// A Reduce keeps its windows in the partition tasks' state, whose
		// changelog commits in the transactions (the bundled runner
		// refuses one keyed otherwise than the partitioning).
		if n.Kind() == dsl.KindBatch {
			return fmt.Errorf("runner: source step %s: processing_guarantee exactly_once is not supported yet with Batch steps, and %s is one; use at_least_once", src, n.Name())
		}
	}
	home := d.bindings.Source
	if dlq := home.DLQ; dlq != nil && !home.SameCluster(dlq.Client) {
		return fmt.Errorf("runner: source step %s: processing_guarantee exactly_once needs the dead-letter queue on the source's cluster (a transaction is one cluster's); dlq.bootstrap_servers names another", src)
	}
	for name, sb := range d.bindings.Sinks {
		if !home.SameCluster(sb.Client) {
			return fmt.Errorf("runner: sink step %s: processing_guarantee exactly_once needs every Kafka sink on the source's cluster (a transaction is one cluster's); its bootstrap_servers name another", name)
		}
	}
	d.bindings.Source.ExactlyOnce = true
	return nil
}

// guarantee is the source step's processing_guarantee.
func guarantee(sc config.StepConfig) config.Guarantee {
	if sc.ProcessingGuarantee == "" {
		return config.AtLeastOnce
	}
	return sc.ProcessingGuarantee
}
