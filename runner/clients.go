package runner

import (
	"maps"
	"slices"

	"github.com/streams-dev/streams/io/kafka"
)

// sameCluster reports whether a producer's client config points at the
// source's cluster: it names no brokers (it then uses the source's), or
// the same ones.
func sameCluster(own, src kafka.ClientConfig) bool {
	return len(own.Brokers) == 0 || slices.Equal(own.Brokers, src.Brokers)
}

// inheritClient returns the client config of a sink or a dead-letter
// queue. On the source's cluster it starts from the source's properties
// (credentials, TLS, client.id...) and the step's own override_params
// replace them key by key; on another cluster only the step's own apply.
func inheritClient(own, src kafka.ClientConfig) kafka.ClientConfig {
	if !sameCluster(own, src) {
		return own
	}
	props := maps.Clone(src.Properties)
	if props == nil && own.Properties != nil {
		props = map[string]string{}
	}
	maps.Copy(props, own.Properties)
	return kafka.ClientConfig{Brokers: src.Brokers, Properties: props}
}
