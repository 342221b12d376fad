package kafkasource

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The purge of an internal topic (Config.PurgeInterval), as Kafka
// Streams purges its repartition topics: the records of an assigned
// partition below its committed position are deleted. No reader needs
// them again: a partition is read from the group's committed offset or
// from a saved position ahead of it (resume), never from before.
// Otherwise the topic would keep every record the pipeline ever shuffled
// for as long as the broker's retention says.

// purge deletes, once PurgeInterval passed since the last purge, the
// records below the committed position of each partition this member
// reads, where that moved since. It runs on the poll goroutine after a
// commit; a failure is logged and tried again at the next interval.
func (s *Source) purge(ctx context.Context, cl *kgo.Client) {
	if s.cfg.PurgeInterval <= 0 || s.purgeDenied || time.Since(s.lastPurge) < s.cfg.PurgeInterval {
		return
	}
	s.lastPurge = time.Now()
	to := kadm.Offsets{}
	s.mu.Lock()
	for tp, p := range s.parts {
		if p.revoked || p.committed <= p.purged {
			continue
		}
		to.Add(kadm.Offset{Topic: tp.topic, Partition: tp.partition, At: p.committed, LeaderEpoch: -1})
	}
	s.mu.Unlock()
	if len(to) == 0 {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := kadm.NewClient(cl).DeleteRecords(cctx, to)
	if err != nil {
		s.log.Warn("localrunner: purging an internal topic failed", "error", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	res.Each(func(r kadm.DeleteRecordsResponse) {
		if errors.Is(r.Err, kerr.TopicAuthorizationFailed) {
			if !s.purgeDenied {
				s.purgeDenied = true
				s.log.Warn("localrunner: not allowed to delete records of an internal topic: it is not purged, and keeps what it reads for the broker's retention; grant the DELETE operation on it (or turn the purge off)", "topic", r.Topic, "error", r.Err)
			}
			return
		}
		if r.Err != nil {
			s.log.Warn("localrunner: purging an internal topic failed", "topic", r.Topic, "partition", r.Partition, "error", r.Err)
			return
		}
		if p := s.parts[topicPartition{r.Topic, r.Partition}]; p != nil {
			p.purged = max(p.purged, r.LowWatermark)
		}
	})
}
