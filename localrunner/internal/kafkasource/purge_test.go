package kafkasource

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A purge deletes each partition's records below its committed
// position, once per interval; a principal that may not delete records
// gets one warning and no more attempts.
func TestPurge(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "in"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	for i := range 20 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "in", Partition: int32(i % 2), Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	s, p0, p1 := wmSource(t, false)
	s.cfg.PurgeInterval = time.Hour
	p0.committed, p1.committed = 7, -1 // partition 1: nothing committed
	s.purge(ctx, cl)
	starts, err := kadm.NewClient(cl).ListStartOffsets(ctx, "in")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := starts.Lookup("in", 0); o.Offset != 7 {
		t.Errorf("partition 0 starts at %d after the purge, want its committed 7", o.Offset)
	}
	if o, _ := starts.Lookup("in", 1); o.Offset != 0 {
		t.Errorf("partition 1, with nothing committed, starts at %d, want 0", o.Offset)
	}
	p0.committed = 9
	s.purge(ctx, cl) // within the interval: nothing
	if starts, _ = kadm.NewClient(cl).ListStartOffsets(ctx, "in"); starts["in"][0].Offset != 7 {
		t.Errorf("a second purge within the interval moved partition 0 to %d", starts["in"][0].Offset)
	}

	var asked atomic.Int32
	c.ControlKey(int16(kmsg.DeleteRecords), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		asked.Add(1)
		r := req.(*kmsg.DeleteRecordsRequest)
		resp := r.ResponseKind().(*kmsg.DeleteRecordsResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewDeleteRecordsResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewDeleteRecordsResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	for range 2 {
		s.lastPurge = time.Time{} // the interval passed
		s.purge(ctx, cl)
	}
	if n := asked.Load(); n != 1 || !s.purgeDenied {
		t.Errorf("denied: %d requests (want 1, then no more), denied=%v", n, s.purgeDenied)
	}
}
