package kafka

import "github.com/streams-dev/streams/io/kafka/clientconf"

// ClientConfig says how to reach a Kafka cluster: seed brokers and
// librdkafka-style properties (security.protocol, sasl.*, ssl.*, ...),
// each mapped onto a franz-go option. See package clientconf for the
// accepted keys.
type ClientConfig = clientconf.Config

// CheckProperty reports whether key is an accepted client property and
// value a valid value for it.
func CheckProperty(key, value string) error { return clientconf.CheckProperty(key, value) }

// Properties lists the accepted client property keys, each with a line
// of documentation.
func Properties() [][2]string { return clientconf.Properties() }
