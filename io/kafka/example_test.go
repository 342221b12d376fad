package kafka_test

import (
	"bytes"
	"context"
	"fmt"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/io/kafka"
)

// shout upper-cases a record's value and clears its topic, so that Write
// sends it to its default topic.
func shout(r kafka.Record) kafka.Record {
	r.Topic = ""
	r.Value = bytes.ToUpper(r.Value)
	return r
}

// Beam needs every function a pipeline uses registered before beam.Init
// (which a main calls after defining its flags).
func init() {
	register.Function1x1(shout)
}

// Example reads a topic, transforms each record and writes the results to
// another topic. An in-process kfake broker stands in for a real cluster.
func Example() {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "events", "transformed-events"))
	if err != nil {
		panic(err)
	}
	defer cluster.Close()
	client := kafka.ClientConfig{Brokers: cluster.ListenAddrs()}

	p, s := beam.NewPipelineWithRoot()
	events := kafka.Read(s, kafka.ReadConfig{
		Client:      client,
		Topics:      []string{"events"},
		Group:       "example",
		StartOffset: kafka.StartEarliest,
	})
	kafka.Write(s, kafka.WriteConfig{Client: client, Topic: "transformed-events"}, beam.ParDo(s, shout, events))

	// The read is unbounded: the pipeline runs until it is cancelled
	// through the runner's job service, or here until the program exits.
	ctx := context.Background()
	go prism.Execute(ctx, p)

	cl, err := kgo.NewClient(kgo.SeedBrokers(client.Brokers...),
		kgo.ConsumeTopics("transformed-events"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		panic(err)
	}
	defer cl.Close()
	cl.ProduceSync(ctx, &kgo.Record{Topic: "events", Value: []byte("hello")}, &kgo.Record{Topic: "events", Value: []byte("world")})
	for seen := 0; seen < 2; {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			fmt.Printf("%s\n", r.Value)
			seen++
		})
	}
	// Output:
	// HELLO
	// WORLD
}
