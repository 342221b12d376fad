//go:build !streams_nodevbroker

package devbroker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
)

// Linked says whether [Start] can run a broker: false in a binary built
// with the tag streams_nodevbroker ([NoDevBrokerTag]).
const Linked = true

// cluster is the kfake cluster behind a [Broker].
type cluster struct{ c *kfake.Cluster }

// startCluster starts a one-broker kfake cluster serving on ln.
func startCluster(cfg *config, ln net.Listener, log *slog.Logger) (*cluster, error) {
	kopts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.ListenFn(func(network, address string) (net.Listener, error) {
			if ln == nil { // only if kfake ever adds a broker
				return net.Listen(network, address)
			}
			l := ln
			ln = nil
			return l, nil
		}),
		kfake.ClusterID(ClusterID),
		kfake.DefaultNumPartitions(int(cfg.partitions)),
		kfake.BrokerConfigs(cfg.brokerCfgs),
		kfake.WithLogger(kfakeLogger{log.With("component", "kfake")}),
	}
	if cfg.autoCreate {
		kopts = append(kopts, kfake.AllowAutoTopicCreation())
	}
	if cfg.dataDir != "" {
		kopts = append(kopts, kfake.DataDir(cfg.dataDir))
	}
	c, err := kfake.NewCluster(kopts...)
	if err != nil {
		return nil, fmt.Errorf("devbroker: start kfake: %w", err)
	}
	return &cluster{c}, nil
}

// createTopic creates topic unless it exists, and says whether it did.
func (c *cluster) createTopic(topic string, partitions int32) (bool, error) {
	switch err := c.c.CreateTopic(topic, partitions, nil); {
	case err == nil:
		return true, nil
	case errors.Is(err, kerr.TopicAlreadyExists):
		return false, nil
	default:
		return false, err
	}
}

func (c *cluster) close() { c.c.Close() }

// kfakeLogger sends kfake's messages to slog. kfake's Info level reports
// group membership changes, which are debugging detail for our users.
type kfakeLogger struct{ l *slog.Logger }

func (k kfakeLogger) Logf(level kfake.LogLevel, msg string, args ...any) {
	var lvl slog.Level
	switch level {
	case kfake.LogLevelError:
		lvl = slog.LevelError
	case kfake.LogLevelWarn:
		lvl = slog.LevelWarn
	case kfake.LogLevelInfo:
		lvl = slog.LevelDebug
	default:
		lvl = slog.LevelDebug - 4
	}
	ctx := context.Background()
	if k.l.Enabled(ctx, lvl) {
		k.l.Log(ctx, lvl, fmt.Sprintf(msg, args...))
	}
}
