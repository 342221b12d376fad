// Package clientconf turns librdkafka-style client properties (the keys
// users know from librdkafka, kcat and Sentry Streams' override_params:
// security.protocol, sasl.*, ssl.*, client.id, ...) into franz-go client
// options. It does not depend on Beam, so config validation can use it
// cheaply.
package clientconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Config says how to reach a Kafka cluster. It is plain data, so it
// can travel inside a Beam DoFn (DoFn fields are JSON-serialised into the
// pipeline) and be rebuilt on any worker.
type Config struct {
	// Brokers are the seed brokers, host:port (port 9092 when omitted).
	Brokers []string `json:"brokers"`
	// Properties are librdkafka-style client properties, the keys users
	// already know from librdkafka, kcat and Sentry Streams'
	// override_params: security.protocol, sasl.mechanism, sasl.username,
	// sasl.password, ssl.ca.location, client.id and so on. Each key is
	// mapped onto a franz-go option; an unknown key is an error, never
	// silently ignored. [Properties] lists the accepted keys.
	Properties map[string]string `json:"properties,omitempty"`
}

// property is one accepted librdkafka-style key: how to check its value
// and how it changes the client.
type property struct {
	doc   string
	apply func(v string, b *clientBuild) error
}

// clientBuild collects what the properties ask for before it is turned
// into kgo options, because some keys only mean something together
// (security.protocol with sasl.* and ssl.*).
type clientBuild struct {
	opts        []kgo.Opt
	protocol    string // PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL
	mechanism   string
	user, pass  string
	userSet     bool
	passSet     bool
	caFile      string
	certFile    string
	keyFile     string
	verifyPeer  bool
	hostnameChk bool
	acks        string // "all", "1" or "0"; "" when not set
	idempotence bool   // enable.idempotence=true was asked for
}

// msOption parses a number of milliseconds. Like librdkafka's, our
// millisecond properties are 32-bit: the larger ones Kafka carries on the
// wire as int32 milliseconds, and a bound keeps the conversion to a
// time.Duration from overflowing.
func msOption[O kgo.Opt](f func(time.Duration) O) func(string, *clientBuild) error {
	return func(v string, b *clientBuild) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > math.MaxInt32 {
			return fmt.Errorf("want a number of milliseconds between 0 and %d, got %q", math.MaxInt32, v)
		}
		b.opts = append(b.opts, f(time.Duration(n)*time.Millisecond))
		return nil
	}
}

// intOption parses an integer in [lo, hi]; hi is the largest value the
// franz-go option's type holds, so the conversion never wraps around.
func intOption[O kgo.Opt](lo, hi int64, f func(int64) O) func(string, *clientBuild) error {
	return func(v string, b *clientBuild) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("want an integer between %d and %d, got %q", lo, hi, v)
		}
		b.opts = append(b.opts, f(n))
		return nil
	}
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "1", "yes", "on":
		return true, nil
	case "false", "0", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("want true or false, got %q", v)
}

var properties = map[string]property{
	"security.protocol": {"PLAINTEXT (default), SSL, SASL_PLAINTEXT or SASL_SSL", func(v string, b *clientBuild) error {
		p := strings.ToUpper(v)
		if !slices.Contains([]string{"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}, p) {
			return fmt.Errorf("want PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL, got %q", v)
		}
		b.protocol = p
		return nil
	}},
	"sasl.mechanism":  {"PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", setMechanism},
	"sasl.mechanisms": {"alias of sasl.mechanism", setMechanism},
	"sasl.username": {"SASL user name", func(v string, b *clientBuild) error {
		b.user, b.userSet = v, true
		return nil
	}},
	"sasl.password": {"SASL password", func(v string, b *clientBuild) error {
		b.pass, b.passSet = v, true
		return nil
	}},
	"ssl.ca.location": {"PEM file of the CA certificates that sign the brokers' certificates", func(v string, b *clientBuild) error {
		b.caFile = v
		return nil
	}},
	"ssl.certificate.location": {"PEM client certificate (mutual TLS)", func(v string, b *clientBuild) error {
		b.certFile = v
		return nil
	}},
	"ssl.key.location": {"PEM client private key (mutual TLS)", func(v string, b *clientBuild) error {
		b.keyFile = v
		return nil
	}},
	"enable.ssl.certificate.verification": {"true (default) or false", func(v string, b *clientBuild) error {
		on, err := parseBool(v)
		b.verifyPeer = on
		return err
	}},
	"ssl.endpoint.identification.algorithm": {"https (default: check the broker host name) or none", func(v string, b *clientBuild) error {
		switch strings.ToLower(v) {
		case "https":
			b.hostnameChk = true
		case "none", "":
			b.hostnameChk = false
		default:
			return fmt.Errorf("want https or none, got %q", v)
		}
		return nil
	}},
	"client.id": {"client id sent to the brokers", func(v string, b *clientBuild) error {
		b.opts = append(b.opts, kgo.ClientID(v))
		return nil
	}},
	"request.timeout.ms":                 {"extra time allowed for a request beyond its own timeout", msOption(kgo.RequestTimeoutOverhead)},
	"socket.connection.setup.timeout.ms": {"dial timeout", msOption(kgo.DialTimeout)},
	"connections.max.idle.ms":            {"close idle connections after this long", msOption(kgo.ConnIdleTimeout)},
	"metadata.max.age.ms":                {"refresh metadata at least this often", msOption(kgo.MetadataMaxAge)},
	"retry.backoff.ms": {"backoff between retries", msOption(func(d time.Duration) kgo.Opt {
		return kgo.RetryBackoffFn(func(int) time.Duration { return d })
	})},
	"session.timeout.ms":    {"consumer group session timeout", msOption(kgo.SessionTimeout)},
	"heartbeat.interval.ms": {"consumer group heartbeat interval", msOption(kgo.HeartbeatInterval)},
	"max.poll.interval.ms":  {"consumer group rebalance timeout", msOption(kgo.RebalanceTimeout)},
	"fetch.wait.max.ms":     {"longest time the broker waits to fill a fetch", msOption(kgo.FetchMaxWait)},
	"fetch.max.bytes":       {"maximum bytes of one fetch response", intOption(1, math.MaxInt32, func(n int64) kgo.Opt { return kgo.FetchMaxBytes(int32(n)) })},
	"fetch.min.bytes":       {"minimum bytes the broker waits for", intOption(1, math.MaxInt32, func(n int64) kgo.Opt { return kgo.FetchMinBytes(int32(n)) })},
	"max.partition.fetch.bytes": {"maximum bytes per partition in a fetch", intOption(1, math.MaxInt32, func(n int64) kgo.Opt {
		return kgo.FetchMaxPartitionBytes(int32(n))
	})},
	"group.instance.id": {"static group membership id", func(v string, b *clientBuild) error {
		b.opts = append(b.opts, kgo.InstanceID(v))
		return nil
	}},
	"isolation.level": {"read_uncommitted (default) or read_committed", func(v string, b *clientBuild) error {
		switch v {
		case "read_committed":
			b.opts = append(b.opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
		case "read_uncommitted":
			b.opts = append(b.opts, kgo.FetchIsolationLevel(kgo.ReadUncommitted()))
		default:
			return fmt.Errorf("want read_committed or read_uncommitted, got %q", v)
		}
		return nil
	}},
	"linger.ms":                    {"producer linger", msOption(kgo.ProducerLinger)},
	"queue.buffering.max.ms":       {"alias of linger.ms", msOption(kgo.ProducerLinger)},
	"message.timeout.ms":           {"give up on a record after this long", msOption(kgo.RecordDeliveryTimeout)},
	"delivery.timeout.ms":          {"alias of message.timeout.ms", msOption(kgo.RecordDeliveryTimeout)},
	"queue.buffering.max.messages": {"records buffered by the producer", intOption(1, math.MaxInt32, func(n int64) kgo.Opt { return kgo.MaxBufferedRecords(int(n)) })},
	"batch.size":                   {"maximum bytes of one produce batch, hence of one record; on a pipeline's sink or dlq it replaces the topic's max.message.bytes", intOption(1, math.MaxInt32, func(n int64) kgo.Opt { return kgo.ProducerBatchMaxBytes(int32(n)) })},
	"message.max.bytes":            {"alias of batch.size for the producer", intOption(1, math.MaxInt32, func(n int64) kgo.Opt { return kgo.ProducerBatchMaxBytes(int32(n)) })},
	"transaction.timeout.ms":       {"exactly-once: how long a transaction may stay open before the brokers abort it (default 10000; more than commit_interval_ms)", msOption(kgo.TransactionTimeout)},
	"retries":                      {"produce retries per record", intOption(0, math.MaxInt32, func(n int64) kgo.Opt { return kgo.RecordRetries(int(n)) })},
	"message.send.max.retries":     {"alias of retries", intOption(0, math.MaxInt32, func(n int64) kgo.Opt { return kgo.RecordRetries(int(n)) })},
	"compression.type":             {"none, gzip, snappy (default), lz4 or zstd", setCompression},
	"compression.codec":            {"alias of compression.type", setCompression},
	"acks": {"all (default), 1 or 0; 1 and 0 turn idempotence off", func(v string, b *clientBuild) error {
		switch strings.ToLower(v) {
		case "all", "-1":
			b.acks = "all"
		case "1":
			b.acks = "1"
			b.opts = append(b.opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
		case "0":
			b.acks = "0"
			b.opts = append(b.opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
		default:
			return fmt.Errorf("want all, 1 or 0, got %q", v)
		}
		return nil
	}},
	"enable.idempotence": {"true (default, needs acks=all) or false", func(v string, b *clientBuild) error {
		on, err := parseBool(v)
		if err == nil && !on {
			b.opts = append(b.opts, kgo.DisableIdempotentWrite())
		}
		b.idempotence = on
		return err
	}},
}

func setCompression(v string, b *clientBuild) error {
	c, ok := map[string]kgo.CompressionCodec{
		"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
		"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
	}[strings.ToLower(v)]
	if !ok {
		return fmt.Errorf("want none, gzip, snappy, lz4 or zstd, got %q", v)
	}
	b.opts = append(b.opts, kgo.ProducerBatchCompression(c))
	return nil
}

func setMechanism(v string, b *clientBuild) error {
	m := strings.ToUpper(v)
	if !slices.Contains([]string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}, m) {
		return fmt.Errorf("want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, got %q", v)
	}
	b.mechanism = m
	return nil
}

// Properties lists the accepted librdkafka-style keys with a line of
// documentation each, sorted by key.
func Properties() [][2]string {
	out := make([][2]string, 0, len(properties))
	for k, p := range properties {
		out = append(out, [2]string{k, p.doc})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// CheckProperty reports whether key is an accepted property and value a
// valid value for it, franz-go's limits included (linger.ms at most a
// minute, batch.size at least 512, ...). It sees one key at a time, so it
// does not judge combinations (heartbeat.interval.ms against
// session.timeout.ms, acks against enable.idempotence) nor read the files
// ssl.* keys name; Options does both.
func CheckProperty(key, value string) error {
	var b clientBuild
	return b.apply(key, value)
}

// apply looks key up, applies value to b, and asks franz-go whether it
// accepts the options this key produced, so a value kgo.NewClient would
// refuse is refused here, with the key's name.
func (b *clientBuild) apply(key, value string) error {
	p, ok := properties[key]
	if !ok {
		return fmt.Errorf("clientconf: unknown client property %q%s", key, suggest(key))
	}
	n := len(b.opts)
	if err := p.apply(value, b); err != nil {
		return fmt.Errorf("clientconf: property %s: %w", key, err)
	}
	// franz-go has one rule between two of our keys: the heartbeat
	// interval may not exceed the session timeout. Judging one key, give
	// the other its loosest value; Options judges the pair.
	check := append([]kgo.Opt{kgo.HeartbeatInterval(0), kgo.SessionTimeout(math.MaxInt32 * time.Millisecond)}, b.opts[n:]...)
	if err := kgo.ValidateOpts(check...); err != nil {
		return fmt.Errorf("clientconf: property %s: %w", key, err)
	}
	return nil
}

func suggest(key string) string {
	best, bestD := "", 4
	for k := range properties {
		if d := editDistance(key, k); d < bestD || (d == bestD && k < best) {
			best, bestD = k, d
		}
	}
	if best == "" {
		return " (see clientconf.Properties for the accepted keys)"
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Options turns the config into franz-go client options: seed brokers,
// then every property, then TLS and SASL. It returns every problem found,
// joined, including those franz-go itself would report from
// kgo.NewClient.
func (c Config) Options() ([]kgo.Opt, error) {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("clientconf: no brokers configured"))
	}
	for _, addr := range c.Brokers {
		if strings.TrimSpace(addr) == "" {
			errs = append(errs, errors.New("clientconf: brokers: empty address"))
		} else if err := kgo.ValidateOpts(kgo.SeedBrokers(addr)); err != nil {
			errs = append(errs, fmt.Errorf("clientconf: brokers: %w", err))
		}
	}
	b := clientBuild{protocol: "PLAINTEXT", verifyPeer: true, hostnameChk: true}
	keys := make([]string, 0, len(c.Properties))
	for k := range c.Properties {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := b.apply(k, c.Properties[k]); err != nil {
			errs = append(errs, err)
		}
	}
	if b.idempotence && b.acks != "" && b.acks != "all" {
		// librdkafka refuses this too; silently dropping idempotence
		// would drop the guarantee that was asked for.
		errs = append(errs, fmt.Errorf("clientconf: enable.idempotence=true needs acks=all, not %s", b.acks))
	}
	opts := append([]kgo.Opt{kgo.SeedBrokers(c.Brokers...)}, b.opts...)

	useTLS := b.protocol == "SSL" || b.protocol == "SASL_SSL"
	useSASL := b.protocol == "SASL_PLAINTEXT" || b.protocol == "SASL_SSL"
	if useTLS {
		cfg, err := b.tlsConfig()
		if err != nil {
			errs = append(errs, err)
		} else {
			opts = append(opts, kgo.DialTLSConfig(cfg))
		}
	} else if b.caFile != "" || b.certFile != "" || b.keyFile != "" {
		errs = append(errs, fmt.Errorf("clientconf: ssl.* properties need security.protocol SSL or SASL_SSL, not %s", b.protocol))
	}
	if useSASL {
		m, err := b.saslMechanism()
		if err != nil {
			errs = append(errs, err)
		} else {
			opts = append(opts, kgo.SASL(m))
		}
	} else if b.mechanism != "" || b.userSet || b.passSet {
		errs = append(errs, fmt.Errorf("clientconf: sasl.* properties need security.protocol SASL_PLAINTEXT or SASL_SSL, not %s", b.protocol))
	}
	if len(errs) == 0 {
		// Each property passed on its own; this catches the
		// combinations franz-go refuses.
		if err := kgo.ValidateOpts(opts...); err != nil {
			errs = append(errs, fmt.Errorf("clientconf: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return opts, nil
}

func (b *clientBuild) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if b.caFile != "" {
		pem, err := os.ReadFile(b.caFile)
		if err != nil {
			return nil, fmt.Errorf("clientconf: ssl.ca.location: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("clientconf: ssl.ca.location: no PEM certificates in %s", b.caFile)
		}
		cfg.RootCAs = pool
	}
	if (b.certFile == "") != (b.keyFile == "") {
		return nil, errors.New("clientconf: ssl.certificate.location and ssl.key.location go together")
	}
	if b.certFile != "" {
		cert, err := tls.LoadX509KeyPair(b.certFile, b.keyFile)
		if err != nil {
			return nil, fmt.Errorf("clientconf: client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if !b.verifyPeer {
		cfg.InsecureSkipVerify = true
	} else if !b.hostnameChk {
		// Verify the chain but not the host name, as librdkafka does with
		// ssl.endpoint.identification.algorithm=none.
		cfg.InsecureSkipVerify = true
		roots := cfg.RootCAs
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("clientconf: broker sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			return err
		}
	}
	return cfg, nil
}

func (b *clientBuild) saslMechanism() (sasl.Mechanism, error) {
	if b.mechanism == "" {
		b.mechanism = "PLAIN" // librdkafka's default
	}
	if !b.userSet || !b.passSet {
		return nil, fmt.Errorf("clientconf: sasl.mechanism %s needs sasl.username and sasl.password", b.mechanism)
	}
	switch b.mechanism {
	case "PLAIN":
		return plain.Auth{User: b.user, Pass: b.pass}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: b.user, Pass: b.pass}.AsSha256Mechanism(), nil
	default:
		return scram.Auth{User: b.user, Pass: b.pass}.AsSha512Mechanism(), nil
	}
}
