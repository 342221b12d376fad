package devbroker

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ClusterID is the cluster ID every development broker reports in its
// Metadata and DescribeCluster responses. [Identify] reads it to tell a
// broker of ours from another Kafka (a real cluster's ID is a random
// base64 UUID; a plain kfake's is "kfake").
const ClusterID = "streams-dev"

// probeTimeout bounds a [Probe] whose context has no earlier deadline.
const probeTimeout = 2 * time.Second

// Probe reports whether a Kafka broker answers at addr (host:port): it
// connects, makes the ApiVersions handshake and a broker-only Metadata
// request, giving up after 2 seconds or when ctx ends, whichever is first.
// Something that listens at addr but does not speak Kafka gives false.
// Any Kafka broker gives true; [Identify] tells whether it is ours.
func Probe(ctx context.Context, addr string) bool {
	_, ok := Identify(ctx, addr)
	return ok
}

// Identify returns the cluster ID of the Kafka broker that answers at addr
// (host:port), and whether one answered, within the bounds of [Probe]. A
// development broker answers with [ClusterID].
//
// The runner calls it to reuse a broker already started by `streams broker`
// rather than start its own, and never to reuse another Kafka: a developer's
// local cluster on the same port must not receive a pipeline's test input.
func Identify(ctx context.Context, addr string) (clusterID string, ok bool) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addr),
		kgo.DialTimeout(probeTimeout),
		kgo.RequestTimeoutOverhead(probeTimeout),
		kgo.ClientID("streams-devbroker-probe"),
	)
	if err != nil {
		return "", false
	}
	defer cl.Close()
	m, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		return "", false
	}
	return m.Cluster, true
}
