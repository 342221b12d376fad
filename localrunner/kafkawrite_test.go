package localrunner_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streams-dev/streams/beamtranslate"
	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/io/kafka"
	"github.com/streams-dev/streams/localrunner"
	"github.com/streams-dev/streams/localrunner/internal/plan"
)

// copyFn makes the record written for a record read: its value, keyed by
// its partition.
type copyFn struct{}

func (copyFn) ProcessElement(r kafka.Record) kafka.Record {
	return kafka.Record{Key: []byte{byte('0' + r.Partition)}, Value: r.Value}
}

func init() {
	register.DoFn1x1[kafka.Record, kafka.Record](&copyFn{})
}

// copyPipeline reads "in" and writes each record's value to topic with w.
func copyPipeline(cfg kafka.ReadConfig, w kafka.WriteConfig) *beam.Pipeline {
	p, s := beam.NewPipelineWithRoot()
	recs := kafka.Read(s, cfg)
	kafka.Write(s, w, beam.ParDo(s, &copyFn{}, recs))
	return p
}

// TestKafkaWriteNativePlan: the seed pipeline's chain (source records to
// the sink's records) is a stage of its own on the encoded path, and its
// Kafka sink and dead-letter topic are runner-side writes; under
// exactly-once the writes stay DoFns, transactional.
func TestKafkaWriteNativePlan(t *testing.T) {
	g := dsl.StreamingSource("in", "events").
		Apply("parse", dsl.Parser[dslSale]()).
		Apply("keep", dsl.Filter(func(s dslSale) bool { return s.Amount > 0 })).
		Apply("ser", dsl.Serializer[dslSale]()).
		Sink("out", dsl.StreamSink("sales")).MustBuild()
	cc := kafka.ClientConfig{Brokers: []string{"kafka:9092"}}
	for _, eos := range []bool{false, true} {
		b := beamtranslate.Bindings{
			Source: beamtranslate.SourceBinding{Client: cc, Topic: "events", Group: "g", ExactlyOnce: eos, DLQ: &beamtranslate.DLQBinding{Client: cc, Topic: "dlq"}},
			Sinks:  map[string]beamtranslate.SinkBinding{"out": {Client: cc, Topic: "sales"}},
		}
		bp, err := beamtranslate.Translate("native-write-plan", g, b)
		if err != nil {
			t.Fatal(err)
		}
		pp, err := localrunner.Marshal(bp)
		if err != nil {
			t.Fatal(err)
		}
		pl, err := plan.Build(pp, plan.Options{NativeKafka: true, EncodedDoFns: true})
		if err != nil {
			t.Fatal(err)
		}
		var writes []string
		chainEncoded := false
		for _, s := range pl.Stages {
			switch {
			case s.Kind == plan.KindKafkaWrite:
				writes = append(writes, s.KafkaWrite.Config.Topic)
			case s.Kind == plan.KindSDK && strings.Contains(strings.Join(s.Names, " "), "recordSinkFn"):
				chainEncoded = s.Encoded != nil && len(s.Transforms) == 1
			}
		}
		want := "[dlq sales]"
		if eos {
			want = "[]"
		}
		slices.Sort(writes)
		if got := fmt.Sprint(writes); got != want {
			t.Errorf("exactly-once %v: native writes to %v, want %s\n%s", eos, writes, want, pl)
		}
		if !eos && !chainEncoded {
			t.Errorf("the chain making the sink's records is not alone on the encoded path:\n%s", pl)
		}
	}
}

// holdProduces makes the broker hold every produce request until release
// is closed (a request may name its topics by ID only), and counts those
// it held.
func holdProduces(c *kfake.Cluster, release <-chan struct{}) *atomic.Int64 {
	var held atomic.Int64
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		held.Add(1)
		c.SleepControl(func() { <-release })
		return nil, nil, false
	})
	return &held
}

// TestKafkaWriteNativeCommitsAfterAcks holds the broker's acknowledgements
// of the sink's records while the pipeline has processed every record:
// nothing is committed meanwhile, however tight the commit policy; once
// the acknowledgements come, every record is on the sink's topic and the
// group's commits reach the end of the input.
func TestKafkaWriteNativeCommitsAfterAcks(t *testing.T) {
	c, cl, adm := kafkaCluster(t)
	const n = 300
	produce(t, cl, "v", n)
	release := make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	t.Cleanup(open)
	held := holdProduces(c, release)
	var processed atomic.Int64
	hooks := localrunner.Hooks{BundleDone: func(e localrunner.BundleEvent) {
		if strings.Contains(strings.Join(e.Transforms, " "), "copyFn") {
			processed.Add(int64(e.Elements))
		}
	}}
	w := kafka.WriteConfig{Client: kafka.ClientConfig{Brokers: c.ListenAddrs()}, Topic: "out", Label: "sink step out"}
	stop := runUntil(t, copyPipeline(readConfig(c, "gw1"), w), localrunner.WithHooks(hooks),
		localrunner.WithMaxBundleSize(20), localrunner.WithKafkaCommit(10*time.Millisecond, 1))
	waitFor(t, "every record processed, the produces held", 20*time.Second, func() bool {
		return processed.Load() == n && held.Load() > 0
	})
	for range 10 {
		if cm := commits(context.Background(), adm, "gw1"); cm[0] > 0 || cm[1] > 0 {
			t.Fatalf("committed %v before any record written was acknowledged", cm)
		}
		time.Sleep(50 * time.Millisecond)
	}
	open()
	end := ends(t, adm, "in")
	waitFor(t, "the commits after the acknowledgements", time.Minute, func() bool {
		cm := commits(context.Background(), adm, "gw1")
		return cm[0] == end[0] && cm[1] == end[1]
	})
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v, want context.Canceled", err)
	}
	out := ends(t, adm, "out")
	if out[0]+out[1] != n {
		t.Errorf("%d records on the sink's topic, want %d", out[0]+out[1], n)
	}
}

// TestKafkaWriteNativeFailures: a write to a topic that does not exist,
// and one to a cluster that never answers (past message.timeout.ms), fail
// the run with the write's label and the cause, and commit nothing.
func TestKafkaWriteNativeFailures(t *testing.T) {
	c, cl, adm := kafkaCluster(t)
	produce(t, cl, "v", 50)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	for _, tc := range []struct {
		name  string
		write kafka.WriteConfig
		want  []string
	}{
		{"unknown-topic", kafka.WriteConfig{Client: kafka.ClientConfig{Brokers: c.ListenAddrs()}, Topic: "missing", Label: "sink step out"},
			[]string{"sink step out: kafka: produce missing", "UNKNOWN_TOPIC_OR_PARTITION"}},
		{"timeout", kafka.WriteConfig{Client: kafka.ClientConfig{Brokers: []string{closed}, Properties: map[string]string{"message.timeout.ms": "1000"}}, Topic: "out", Label: "sink step out"},
			[]string{"sink step out: kafka: produce out", "records not acknowledged within 1s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			group := "gw-" + tc.name
			r, err := localrunner.New(localrunner.WithKafkaCommit(10*time.Millisecond, 1))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err = r.Run(ctx, copyPipeline(readConfig(c, group), tc.write))
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Fatalf("Run: %v, want an error with %q", err, w)
				}
			}
			if cm := commits(context.Background(), adm, group); cm[0] > 0 || cm[1] > 0 {
				t.Errorf("committed %v past records whose output failed", cm)
			}
		})
	}
}
