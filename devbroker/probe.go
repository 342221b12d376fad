package devbroker

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// probeTimeout bounds a [Probe] whose context has no earlier deadline.
const probeTimeout = 2 * time.Second

// Probe reports whether a Kafka broker answers at addr (host:port): it
// connects, makes the ApiVersions handshake and a broker-only Metadata
// request, giving up after 2 seconds or when ctx ends, whichever is first.
// Something that listens at addr but does not speak Kafka gives false.
//
// The runner calls it to reuse a broker already started by `streams broker`
// rather than start its own.
func Probe(ctx context.Context, addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addr),
		kgo.DialTimeout(probeTimeout),
		kgo.RequestTimeoutOverhead(probeTimeout),
		kgo.ClientID("streams-devbroker-probe"),
	)
	if err != nil {
		return false
	}
	defer cl.Close()
	return cl.Ping(ctx) == nil
}
