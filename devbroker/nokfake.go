//go:build streams_nodevbroker

package devbroker

import (
	"log/slog"
	"net"
)

// Linked says whether [Start] can run a broker: false in a binary built
// with the tag streams_nodevbroker ([NoDevBrokerTag]), which this is.
const Linked = false

// cluster stands for kfake's in a binary without it. Start returns
// ErrLeftOut before it would make one, so no Broker holds one.
type cluster struct{}

func startCluster(*config, net.Listener, *slog.Logger) (*cluster, error) { return nil, ErrLeftOut }

func (*cluster) createTopic(string, int32) (bool, error) { return false, ErrLeftOut }

func (*cluster) close() {}
