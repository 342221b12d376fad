// Package devbroker runs a Kafka broker for development: franz-go's kfake, a
// real Kafka-protocol broker in process, configured the way a developer
// wants it.
//
// # Uses
//
// `streams broker` runs one in the foreground so that kcat, scripts and
// pipelines can share it. When a pipeline's config names no bootstrap
// servers, the pipeline runner uses the development broker that answers at
// its address (127.0.0.1:9092 unless set otherwise), recognised by
// [Identify] from its cluster ID, [ClusterID]; otherwise it embeds one, on
// a free port if another Kafka or another program holds that address.
//
// # Defaults
//
// A broker listens on [DefaultAddr] (127.0.0.1:9092), keeps its data in
// memory, creates missing topics when a client asks for them with
// [DefaultPartitions] partitions, and lets consumer groups settle in about a
// second. Options change each of these; see [Opt].
//
// # Limits
//
// kfake is one broker with no replication, serving every request on a single
// goroutine, so it is a development and test tool, not a performance
// reference for Kafka. It listens on loopback only.
package devbroker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

var (
	// ErrClosed is returned by [Broker.CreateTopics] after [Broker.Close].
	ErrClosed = errors.New("devbroker: closed")

	// ErrAddrInUse matches (with errors.Is) the [ListenError] returned when
	// something else already listens on the address.
	ErrAddrInUse = errors.New("devbroker: address already in use")

	// ErrDataDirInUse is returned by [Start] when another broker, in this
	// process or another, uses the same [DataDir].
	ErrDataDirInUse = errors.New("devbroker: data dir in use by another broker")

	// ErrLeftOut is returned by [Start] in a binary built with the tag
	// streams_nodevbroker, which leaves kfake out (see [Linked]).
	ErrLeftOut = errors.New("devbroker: not in this binary (built with -tags " + NoDevBrokerTag + "): configure bootstrap_servers, or start `streams broker` from a default build")
)

// NoDevBrokerTag is the build tag that leaves the broker (franz-go's
// kfake, about 2 MB of a pipeline binary) out of a binary, for worker
// images and production builds that always name their brokers. [Probe]
// and [Identify] still work: a pipeline built so can use a development
// broker that another program runs.
const NoDevBrokerTag = "streams_nodevbroker"

// ListenError is returned by [Start] when it cannot listen on Addr. It
// matches [ErrAddrInUse] when the port is taken.
type ListenError struct {
	Addr string // the address asked for, such as "127.0.0.1:9092"
	Err  error  // the error from net.Listen
}

func (e *ListenError) Error() string {
	if e.addrInUse() {
		return "devbroker: listen on " + e.Addr + ": address already in use"
	}
	return "devbroker: listen on " + e.Addr + ": " + e.Err.Error()
}

func (e *ListenError) Unwrap() error { return e.Err }

// Is reports whether target is [ErrAddrInUse] and the port was taken.
func (e *ListenError) Is(target error) bool {
	return target == ErrAddrInUse && e.addrInUse()
}

func (e *ListenError) addrInUse() bool { return errors.Is(e.Err, syscall.EADDRINUSE) }

// Broker is a running development broker. Its methods are safe for
// concurrent use.
type Broker struct {
	cluster    *cluster
	addr       string
	dataDir    string
	partitions int32
	log        *slog.Logger
	lock       *dirLock // nil without a data dir

	// mu guards closed. CreateTopics holds it shared while it talks to the
	// cluster, because a kfake admin call made after the cluster closed
	// would block forever; Close holds it exclusively.
	mu     sync.RWMutex
	closed bool
}

// Start starts a broker and creates the [Topics] asked for. It returns once
// the broker accepts connections. Errors: a [ListenError] (matching
// [ErrAddrInUse] when the port is taken), [ErrDataDirInUse], or every invalid
// option at once.
func Start(opts ...Opt) (*Broker, error) {
	if !Linked {
		return nil, ErrLeftOut
	}
	cfg := defaultConfig()
	for _, o := range opts {
		o.apply(&cfg)
	}
	listenAddr, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	log := cfg.logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	var lock *dirLock
	if cfg.dataDir != "" {
		if err := os.MkdirAll(cfg.dataDir, 0o755); err != nil {
			return nil, fmt.Errorf("devbroker: data dir: %w", err)
		}
		if lock, err = lockDataDir(cfg.dataDir); err != nil {
			return nil, err
		}
	}

	// We listen ourselves, before kfake, so that a taken port is reported
	// as such and not mixed up with kfake's other start-up errors.
	ln, err := net.Listen("tcp", listenAddr)
	if err != nil {
		lock.release()
		return nil, &ListenError{Addr: listenAddr, Err: err}
	}
	listener := ln
	cluster, err := startCluster(&cfg, ln, log)
	if err != nil {
		listener.Close() // kfake closes it too when it got it; twice is harmless
		lock.release()
		return nil, err
	}

	b := &Broker{
		cluster:    cluster,
		addr:       listener.Addr().String(),
		dataDir:    cfg.dataDir,
		partitions: cfg.partitions,
		log:        log,
		lock:       lock,
	}
	if err := b.CreateTopics(context.Background(), cfg.topics...); err != nil {
		b.Close()
		return nil, err
	}
	log.Info("dev broker started", "addr", b.addr, "data_dir", cfg.dataDir,
		"topics", cfg.topics, "partitions", cfg.partitions, "auto_create_topics", cfg.autoCreate)
	return b, nil
}

// validate returns the address to listen on, or every problem with cfg.
func (cfg *config) validate() (string, error) {
	var errs []error
	addr, err := loopbackAddr(cfg.addr)
	if err != nil {
		errs = append(errs, err)
	}
	if cfg.partitions < 1 {
		errs = append(errs, fmt.Errorf("devbroker: partitions must be at least 1, got %d", cfg.partitions))
	}
	for _, t := range cfg.topics {
		if err := checkTopic(t); err != nil {
			errs = append(errs, err)
		}
	}
	return addr, errors.Join(errs...)
}

// checkTopic applies Kafka's topic name rules, which kfake does not check:
// 1 to 249 characters among ASCII letters, digits, '.', '_' and '-', and
// neither "." nor "..".
func checkTopic(name string) error {
	bad := name == "" || len(name) > 249 || name == "." || name == ".."
	for _, r := range name {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '.' || r == '_' || r == '-') {
			bad = true
		}
	}
	if bad {
		return fmt.Errorf("devbroker: invalid topic name %q: Kafka allows 1 to 249 ASCII letters, digits, '.', '_' and '-'", name)
	}
	return nil
}

// loopbackAddr checks that addr is host:port with a loopback host and
// returns it with an empty or "localhost" host replaced by 127.0.0.1.
func loopbackAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("devbroker: listen address %q: %w", addr, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "", fmt.Errorf("devbroker: listen address %q: bad port %q", addr, port)
	}
	switch {
	case host == "" || strings.EqualFold(host, "localhost"):
		host = "127.0.0.1"
	case net.ParseIP(host) == nil || !net.ParseIP(host).IsLoopback():
		return "", fmt.Errorf("devbroker: listen address %q: host must be localhost or a loopback address", addr)
	}
	return net.JoinHostPort(host, port), nil
}

// Addr returns the host:port the broker listens on and advertises, such as
// "127.0.0.1:9092"; clients use it as their bootstrap server.
func (b *Broker) Addr() string { return b.addr }

// CreateTopics creates the topics that do not exist yet, with the broker's
// [Partitions]. Topics that exist already are left as they are, whatever
// their partition count. It returns every failure at once, or [ErrClosed]
// after Close.
func (b *Broker) CreateTopics(ctx context.Context, topics ...string) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return ErrClosed
	}
	var errs []error
	for _, t := range topics {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("devbroker: create topics: %w", err))
			break
		}
		if err := checkTopic(t); err != nil {
			errs = append(errs, err)
			continue
		}
		switch created, err := b.cluster.createTopic(t, b.partitions); {
		case err != nil:
			errs = append(errs, fmt.Errorf("devbroker: create topic %q: %w", t, err))
		case created:
			b.log.Debug("topic created", "topic", t, "partitions", b.partitions)
		}
	}
	return errors.Join(errs...)
}

// Close stops the broker: it stops listening, drops client connections and,
// with a [DataDir], saves its state and releases the dir. Later calls do
// nothing and return nil. kfake logs, rather than returns, a failure to save.
func (b *Broker) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	b.cluster.close()
	err := b.lock.release()
	b.log.Info("dev broker stopped", "addr", b.addr, "data_dir", b.dataDir)
	return err
}
