package devbroker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// start starts a broker on a free port and closes it when the test ends.
func start(t *testing.T, opts ...Opt) *Broker {
	t.Helper()
	b, err := Start(append([]Opt{ListenAddr("127.0.0.1:0")}, opts...)...)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// client returns a franz-go client of b that is closed when the test ends.
func client(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func produce(t *testing.T, cl *kgo.Client, topic string, values ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var rs []*kgo.Record
	for i, v := range values {
		rs = append(rs, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", i), Value: []byte(v)})
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}

// consume polls cl until it has n records and returns their values sorted.
func consume(t *testing.T, cl *kgo.Client, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var got []string
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records before timing out: %q", len(got), n, got)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s[%d]: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	slices.Sort(got)
	return got
}

func values(prefix string, n int) []string {
	var vs []string
	for i := range n {
		vs = append(vs, fmt.Sprintf("%s-%02d", prefix, i))
	}
	return vs
}

// partitions returns topic's partition count, or -1 if it does not exist.
func partitions(t *testing.T, addr, topic string) int {
	t.Helper()
	adm := kadm.NewClient(client(t, addr))
	ds, err := adm.ListTopics(t.Context(), topic)
	if err != nil {
		t.Fatalf("ListTopics: %v", err)
	}
	if !ds.Has(topic) || ds[topic].Err != nil {
		return -1
	}
	return len(ds[topic].Partitions)
}

// TestProduceConsume: a franz-go client produces to a topic created at start
// and reads back every record; the topic has DefaultPartitions partitions and
// the broker listens where Addr says.
func TestProduceConsume(t *testing.T) {
	b := start(t, Topics("events"))
	host, port, err := net.SplitHostPort(b.Addr())
	if err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("Addr() = %q, want 127.0.0.1 and the chosen port", b.Addr())
	}
	if got := partitions(t, b.Addr(), "events"); got != int(DefaultPartitions) {
		t.Fatalf("events has %d partitions, want %d", got, DefaultPartitions)
	}
	want := values("v", 20)
	produce(t, client(t, b.Addr()), "events", want...)
	cl := client(t, b.Addr(), kgo.ConsumeTopics("events"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if got := consume(t, cl, len(want)); !slices.Equal(got, want) {
		t.Fatalf("consumed %q, want %q", got, want)
	}
}

// TestAutoCreateTopics: by default a client asking for auto-creation gets a
// new topic with the configured partitions; with AutoCreateTopics(false) the
// produce fails and no topic appears.
func TestAutoCreateTopics(t *testing.T) {
	t.Run("on", func(t *testing.T) {
		b := start(t, Partitions(3))
		produce(t, client(t, b.Addr(), kgo.AllowAutoTopicCreation()), "fresh", "x")
		if got := partitions(t, b.Addr(), "fresh"); got != 3 {
			t.Fatalf("auto-created topic has %d partitions, want 3", got)
		}
	})
	t.Run("off", func(t *testing.T) {
		b := start(t, AutoCreateTopics(false))
		cl := client(t, b.Addr(), kgo.AllowAutoTopicCreation(), kgo.RecordDeliveryTimeout(time.Second))
		err := cl.ProduceSync(t.Context(), &kgo.Record{Topic: "fresh", Value: []byte("x")}).FirstErr()
		if err == nil {
			t.Fatal("produce to a missing topic succeeded with auto-creation off")
		}
		if got := partitions(t, b.Addr(), "fresh"); got != -1 {
			t.Fatalf("topic exists with %d partitions, want no topic", got)
		}
	})
}

// TestCreateTopics: creating topics that exist (from Topics or an earlier
// call) is not an error and changes nothing, an invalid name is reported
// with the name, and after Close the answer is ErrClosed.
func TestCreateTopics(t *testing.T) {
	b := start(t, Topics("a"), Partitions(2))
	ctx := t.Context()
	for range 2 {
		if err := b.CreateTopics(ctx, "a", "b"); err != nil {
			t.Fatalf("CreateTopics: %v", err)
		}
	}
	for _, topic := range []string{"a", "b"} {
		if got := partitions(t, b.Addr(), topic); got != 2 {
			t.Fatalf("%s has %d partitions, want 2", topic, got)
		}
	}
	err := b.CreateTopics(ctx, "c", "bad name!")
	if err == nil || !strings.Contains(err.Error(), `"bad name!"`) {
		t.Fatalf("CreateTopics with an invalid name: err = %v, want one naming the topic", err)
	}
	if got := partitions(t, b.Addr(), "c"); got != 2 {
		t.Fatalf("the valid topic beside an invalid one has %d partitions, want 2", got)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := b.CreateTopics(ctx, "d"); !errors.Is(err, ErrClosed) {
		t.Fatalf("CreateTopics after Close: err = %v, want ErrClosed", err)
	}
}

// TestStartAddrInUse: a taken port gives a ListenError that names the
// address and matches ErrAddrInUse, whether a broker or anything else holds
// it.
func TestStartAddrInUse(t *testing.T) {
	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	b := start(t)
	for _, addr := range []string{other.Addr().String(), b.Addr()} {
		_, err := Start(ListenAddr(addr))
		var le *ListenError
		if !errors.Is(err, ErrAddrInUse) || !errors.As(err, &le) || le.Addr != addr {
			t.Fatalf("Start on taken %s: err = %#v, want a ListenError matching ErrAddrInUse", addr, err)
		}
		if want := "devbroker: listen on " + addr + ": address already in use"; err.Error() != want {
			t.Fatalf("error = %q, want %q", err, want)
		}
	}
}

// TestStartInvalidOptions: every invalid option is reported at once, and
// "localhost" means 127.0.0.1.
func TestStartInvalidOptions(t *testing.T) {
	_, err := Start(ListenAddr("10.1.2.3:9092"), Partitions(0), Topics("ok", ""))
	if err == nil {
		t.Fatal("Start with invalid options succeeded")
	}
	for _, want := range []string{"loopback", "partitions must be at least 1", `invalid topic name ""`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	b := start(t, ListenAddr("localhost:0"))
	if !strings.HasPrefix(b.Addr(), "127.0.0.1:") {
		t.Fatalf("Addr() = %q with localhost, want 127.0.0.1:port", b.Addr())
	}
}

// TestProbe: true for a broker, false once it is closed, for a port nobody
// listens on, for a listener that hangs up, and for one that never answers,
// the last within the context's deadline.
func TestProbe(t *testing.T) {
	ctx := t.Context()
	b := start(t)
	if !Probe(ctx, b.Addr()) {
		t.Fatalf("Probe(%s) = false for a running broker", b.Addr())
	}
	b.Close()
	if Probe(ctx, b.Addr()) {
		t.Fatalf("Probe(%s) = true after Close", b.Addr())
	}

	hangUp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hangUp.Close()
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := hangUp.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	go func() {
		var held []net.Conn
		for {
			c, err := silent.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	if Probe(ctx, hangUp.Addr().String()) {
		t.Fatal("Probe = true for a listener that hangs up")
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	began := time.Now()
	if Probe(short, silent.Addr().String()) {
		t.Fatal("Probe = true for a listener that never answers")
	}
	if took := time.Since(began); took > 1500*time.Millisecond {
		t.Fatalf("Probe of a silent listener took %v with a 300ms deadline", took)
	}
}

// TestDataDirPersistence: records, an auto-created topic and a consumer
// group's committed offsets survive Close and a restart on another port; a
// second broker cannot use the same data dir meanwhile.
func TestDataDirPersistence(t *testing.T) {
	dir := t.TempDir()
	b, err := Start(ListenAddr("127.0.0.1:0"), DataDir(dir), Topics("events"))
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	if _, err := Start(ListenAddr("127.0.0.1:0"), DataDir(dir)); !errors.Is(err, ErrDataDirInUse) {
		t.Fatalf("second Start on the same data dir: err = %v, want ErrDataDirInUse", err)
	}
	want := values("v", 10)
	produce(t, client(t, b.Addr(), kgo.AllowAutoTopicCreation()), "events", want...)
	produce(t, client(t, b.Addr(), kgo.AllowAutoTopicCreation()), "auto", "a")

	// A KIP-848 group consumes everything and commits.
	began := time.Now()
	cl := client(t, b.Addr(), kgo.ConsumerGroup("g"), kgo.ConsumeTopics("events"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(), kgo.ServerSideBalancer())
	if got := consume(t, cl, len(want)); !slices.Equal(got, want) {
		t.Fatalf("group consumed %q, want %q", got, want)
	}
	t.Logf("group consumed everything %v after joining", time.Since(began))
	if err := cl.CommitUncommittedOffsets(t.Context()); err != nil {
		t.Fatalf("commit: %v", err)
	}
	cl.Close()
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	b2 := start(t, DataDir(dir), Topics("events")) // on another free port
	if got := partitions(t, b2.Addr(), "auto"); got != int(DefaultPartitions) {
		t.Fatalf("after restart the auto-created topic has %d partitions, want %d", got, DefaultPartitions)
	}
	reader := client(t, b2.Addr(), kgo.ConsumeTopics("events"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if got := consume(t, reader, len(want)); !slices.Equal(got, want) {
		t.Fatalf("after restart consumed %q, want %q", got, want)
	}
	offs, err := kadm.NewClient(client(t, b2.Addr())).FetchOffsets(t.Context(), "g")
	if err != nil {
		t.Fatalf("FetchOffsets: %v", err)
	}
	var committed int64
	offs.Each(func(o kadm.OffsetResponse) { committed += o.At })
	if committed != int64(len(want)) {
		t.Fatalf("after restart group g has committed offsets summing to %d, want %d", committed, len(want))
	}
}

// TestIdentify: a development broker answers with ClusterID, a kfake
// started otherwise (another Kafka) with its own ID, and nothing answers
// once the broker is closed.
func TestIdentify(t *testing.T) {
	ctx := t.Context()
	b := start(t)
	if id, ok := Identify(ctx, b.Addr()); !ok || id != ClusterID {
		t.Errorf("Identify(dev broker) = %q, %v; want %q, true", id, ok, ClusterID)
	}
	other, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if id, ok := Identify(ctx, other.ListenAddrs()[0]); !ok || id == ClusterID {
		t.Errorf("Identify(another kafka) = %q, %v; want another cluster id, true", id, ok)
	}
	b.Close()
	if id, ok := Identify(ctx, b.Addr()); ok {
		t.Errorf("Identify(closed) = %q, true; want false", id)
	}
}
