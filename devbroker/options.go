package devbroker

import (
	"log/slog"
	"maps"
)

// DefaultAddr is where [Start] listens unless [ListenAddr] says otherwise:
// the port every Kafka tool tries first, on the loopback interface.
const DefaultAddr = "127.0.0.1:9092"

// DefaultPartitions is the partition count of the topics the broker creates,
// explicitly or automatically, unless [Partitions] says otherwise.
const DefaultPartitions int32 = 4

// Opt configures [Start]. Options are applied in order; a later option of the
// same kind overrides an earlier one, except [Topics] and [BrokerConfigs],
// which accumulate.
type Opt interface {
	apply(*config)
}

type opt func(*config)

func (o opt) apply(c *config) { o(c) }

type config struct {
	addr       string
	dataDir    string
	topics     []string
	partitions int32
	autoCreate bool
	logger     *slog.Logger
	brokerCfgs map[string]string
}

// groupConfigs make consumer groups settle in about a second and forget a
// killed member in seconds rather than Kafka's 45: what a developer restarting
// a pipeline wants, not what production wants.
var groupConfigs = map[string]string{
	// KIP-848 groups: members heartbeat every 500 ms (Kafka: 5 s), so a
	// new member gets partitions about a second after it joins.
	"group.consumer.heartbeat.interval.ms": "500",
	// KIP-848 groups: a member silent for 10 s is removed (Kafka: 45 s).
	"group.consumer.session.timeout.ms": "10000",
	// Classic groups: clients may ask for sessions as short as 1 s
	// (Kafka: 6 s), which tests use to make rebalances quick.
	"group.min.session.timeout.ms": "1000",
	// Share groups: same heartbeat as consumer groups.
	"group.share.heartbeat.interval.ms": "500",
}

func defaultConfig() config {
	return config{
		addr:       DefaultAddr,
		partitions: DefaultPartitions,
		autoCreate: true,
		brokerCfgs: maps.Clone(groupConfigs),
	}
}

// ListenAddr sets the host:port to listen on, overriding [DefaultAddr]. Port
// 0 picks a free port; [Broker.Addr] reports which. The host must be empty,
// "localhost" or a loopback address, because kfake advertises the address it
// listens on and a dev broker has no business on other interfaces; empty and
// "localhost" mean 127.0.0.1.
func ListenAddr(addr string) Opt {
	return opt(func(c *config) { c.addr = addr })
}

// DataDir persists the broker's topics, records, committed group offsets and
// producer state to dir, created if missing, overriding the default of keeping
// everything in memory until [Broker.Close]. A broker started again on the
// same dir finds its data again.
//
// Only one broker may use a dir at a time; [Start] fails with
// [ErrDataDirInUse] otherwise (on platforms without flock this is not
// checked).
//
// Persistence is asynchronous, as in Kafka: a kill -9 may lose the last
// records, and, because of a kfake bug, loses topics that were created
// automatically rather than through [Topics] or [Broker.CreateTopics]. A clean
// [Broker.Close] saves everything.
func DataDir(dir string) Opt {
	return opt(func(c *config) { c.dataDir = dir })
}

// Topics creates the named topics at start with the configured [Partitions],
// if they do not exist yet. Repeated options accumulate. Pipelines' topics
// belong here even when [AutoCreateTopics] is on: explicitly created topics
// survive a kill -9 of a broker with a [DataDir], auto-created ones do not.
func Topics(names ...string) Opt {
	return opt(func(c *config) { c.topics = append(c.topics, names...) })
}

// Partitions sets how many partitions the topics the broker creates get,
// explicitly or automatically, overriding [DefaultPartitions]. It must be at
// least 1. Topics that exist already keep their count.
func Partitions(n int32) Opt {
	return opt(func(c *config) { c.partitions = n })
}

// AutoCreateTopics sets whether a client that asks for an unknown topic in a
// Metadata request (v4 and later, with auto-creation requested, as kcat and
// librdkafka producers do) gets it created, overriding the default of true.
// franz-go clients only ask when given kgo.AllowAutoTopicCreation.
func AutoCreateTopics(enabled bool) Opt {
	return opt(func(c *config) { c.autoCreate = enabled })
}

// Logger sets where the broker logs, overriding the default of discarding
// logs. The broker logs its start and stop at Info; kfake's own messages go
// out with component=kfake: its errors and warnings at Error and Warn, its
// informational messages (group membership changes) at Debug.
func Logger(l *slog.Logger) Opt {
	return opt(func(c *config) { c.logger = l })
}

// BrokerConfigs sets broker-level Kafka configs, such as "log.retention.ms"
// or "message.max.bytes", on top of the group settings the dev broker uses
// by default (heartbeat 500 ms, consumer session 10 s, minimum classic
// session 1 s). Repeated options accumulate; an empty value resets a config
// to kfake's default. They take precedence over configs saved in a
// [DataDir].
func BrokerConfigs(configs map[string]string) Opt {
	return opt(func(c *config) { maps.Copy(c.brokerCfgs, configs) })
}
