package engine

import (
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/streams-dev/streams/io/kafka"
	"github.com/streams-dev/streams/localrunner/internal/kafkasource"
	"github.com/streams-dev/streams/localrunner/internal/plan"
)

// taskPipeline is a Kafka source, a stateless parse, a stateful count
// (partition-keyed when keyed is set), a shared stateful step keyed
// otherwise, and a sink after it.
func taskPipeline(keyed bool) []*plan.Stage {
	return []*plan.Stage{
		{ID: "src", Kind: plan.KindKafka, Outputs: []string{"a"}, Kafka: &plan.KafkaRead{Config: kafka.ReadConfig{Group: "g"}}},
		{ID: "parse", Kind: plan.KindSDK, Upstream: []string{"a"}, Outputs: []string{"b"}},
		{ID: "count", Kind: plan.KindSDK, Stateful: true, PartitionKeyed: keyed, Upstream: []string{"b"}, Outputs: []string{"c"}},
		{ID: "total", Kind: plan.KindSDK, Stateful: true, Upstream: []string{"c"}, Outputs: []string{"d"}},
		{ID: "sink", Kind: plan.KindSDK, Upstream: []string{"d"}},
	}
}

// Stages between a Kafka source and a partition-keyed stateful stage are
// kept per task; a stateful stage keyed otherwise, and what follows it,
// stay shared. A source without a partition-keyed stage has no tasks.
func TestTaskStages(t *testing.T) {
	got := taskStages(&plan.Plan{Stages: taskPipeline(true), Producers: map[string]string{"a": "src", "b": "parse", "c": "count", "d": "total"}})
	want := map[string]string{"parse": "src", "count": "src"}
	if len(got) != len(want) || got["parse"] != "src" || got["count"] != "src" {
		t.Errorf("taskStages = %v, want %v", got, want)
	}
	got = taskStages(&plan.Plan{Stages: taskPipeline(false), Producers: map[string]string{"a": "src", "b": "parse", "c": "count", "d": "total"}})
	if len(got) != 0 {
		t.Errorf("taskStages without a partition-keyed stage = %v, want none", got)
	}
}

// Each task's stages take their input watermark from their own partition
// only, so a partition far behind the others is not late; a shared stage
// reading them takes the minimum over the live tasks, and a task that is
// gone stops holding it back.
func TestTaskWatermarks(t *testing.T) {
	e := testEngine(taskPipeline(true)...)
	src := e.byID["src"]
	e.onPartitions(src, []kafkasource.PartitionEvent{
		{Topic: "in", Partition: 0, Assigned: true},
		{Topic: "in", Partition: 1, Assigned: true},
	})
	if len(e.taskList) != 2 || len(e.stages) != 3+2*2 {
		t.Fatalf("%d tasks and %d stages running, want 2 and 7", len(e.taskList), len(e.stages))
	}
	e.onPartitions(src, []kafkasource.PartitionEvent{
		{Topic: "in", Partition: 0, Watermark: 5000},
		{Topic: "in", Partition: 1, Watermark: 100},
	})
	e.refreshWatermarks()
	p0, p1 := e.tasks[sourcePartition{"g", "in", 0}], e.tasks[sourcePartition{"g", "in", 1}]
	if in := p0.stages["count"].in; in != 5000 {
		t.Errorf("partition 0's count: input watermark %v, want 5000", in)
	}
	if in := p1.stages["count"].in; in != 100 {
		t.Errorf("partition 1's count: input watermark %v, want 100 (its own time, not partition 0's)", in)
	}
	total := e.byID["total"]
	if total.in != 100 {
		t.Errorf("shared stage: input watermark %v, want 100 (the minimum over tasks)", total.in)
	}
	// An idle partition with nothing waiting stops holding the shared
	// stage back; when every one is idle, the minimum over all of them
	// holds, and the shared stage never goes back.
	e.onPartitions(src, []kafkasource.PartitionEvent{{Topic: "in", Partition: 1, Watermark: 100, Idle: true}})
	e.refreshWatermarks()
	if total.in != 5000 {
		t.Errorf("shared stage with partition 1 idle: input watermark %v, want 5000", total.in)
	}
	e.onPartitions(src, []kafkasource.PartitionEvent{{Topic: "in", Partition: 0, Watermark: 6000, Idle: true}})
	e.refreshWatermarks()
	if total.in != 5000 {
		t.Errorf("shared stage with every partition idle: input watermark %v, want 5000 (never back to 100)", total.in)
	}
	e.onPartitions(src, []kafkasource.PartitionEvent{{Topic: "in", Partition: 1, Gone: true}})
	e.refreshWatermarks()
	if total.in != 6000 {
		t.Errorf("shared stage after partition 1 went: input watermark %v, want 6000", total.in)
	}
	if len(e.taskList) != 1 || len(e.stages) != 3+2 {
		t.Errorf("%d tasks and %d stages running after a partition went, want 1 and 5", len(e.taskList), len(e.stages))
	}
}

// What a task's stage writes goes to the same task's copies of the stages
// reading it, and to the shared ones; never to another task.
func TestTaskDelivery(t *testing.T) {
	e := testEngine(taskPipeline(true)...)
	src := e.byID["src"]
	e.onPartitions(src, []kafkasource.PartitionEvent{
		{Topic: "in", Partition: 0, Assigned: true},
		{Topic: "in", Partition: 1, Assigned: true},
	})
	p0, p1 := e.tasks[sourcePartition{"g", "in", 0}], e.tasks[sourcePartition{"g", "in", 1}]
	b := kvs(t, 10, []string{"k"}, []int64{1})
	e.deliver("b", p1, b.data, b.ends, 10, nil)
	if p1.stages["count"].queued != 1 || p0.stages["count"].queued != 0 {
		t.Errorf("queued at partition 1's count %d, at partition 0's %d; want 1 and 0", p1.stages["count"].queued, p0.stages["count"].queued)
	}
	e.deliver("c", p0, b.data, b.ends, 10, nil)
	if e.byID["total"].queued != 1 {
		t.Errorf("queued at the shared stage %d, want 1", e.byID["total"].queued)
	}
	// A reassigned partition starts over: the old task's queue is gone.
	e.onPartitions(src, []kafkasource.PartitionEvent{{Topic: "in", Partition: 1, Assigned: true}})
	if q := e.tasks[sourcePartition{"g", "in", 1}].stages["count"].queued; q != 0 || !p1.gone {
		t.Errorf("reassigned partition: queued %d, old task gone %v; want 0, true", q, p1.gone)
	}
	if w := e.tasks[sourcePartition{"g", "in", 1}].wm; w != mtime.MinTimestamp {
		t.Errorf("reassigned partition's watermark %v, want none yet", w)
	}
}
