package conformance

import (
	"time"

	"github.com/streams-dev/streams/dsl"
)

// TasksWindow is the window of the task tests' pipeline.
const TasksWindow = 2 * time.Second

// tasksCase is the pipeline of the task tests (issue 14: time and state
// per source partition): the records of each Kafka record key counted in
// tumbling windows (TasksWindow) of their timestamps, by a Reduce whose
// key follows the partitioning, since it is the record key.
func tasksCase() Case {
	return Case{
		Name: "tasks_key_count",
		Pipeline: func() dsl.Pipeline {
			return dsl.StreamingSource("in", "records").
				Apply("key", dsl.MapMessage(recordKey)).
				Apply("count", dsl.Reduce(dsl.TumblingWindow(TasksWindow), func(k string) string { return k },
					dsl.Count[string](), dsl.KeyFollowsPartitioning[string]())).
				Apply("serialize", dsl.Serializer[dsl.Windowed[string, int]]()).
				Sink("out", dsl.StreamSink("counts"))
		},
	}
}

// shuffleTasksCase is the pipeline of the shuffle tests (issue 15): the
// records of each payload counted in tumbling windows (TasksWindow) of
// their timestamps, by a Reduce keyed by the payload, which the record
// keys (and so the partitions) do not follow: its input goes through the
// shuffle topic.
func shuffleTasksCase() Case {
	return Case{
		Name: "tasks_payload_count",
		Pipeline: func() dsl.Pipeline {
			return dsl.StreamingSource("in", "records").
				Apply("key", dsl.MapMessage(payloadString)).
				Apply("count", dsl.Reduce(dsl.TumblingWindow(TasksWindow), func(k string) string { return k },
					dsl.Count[string]())).
				Apply("serialize", dsl.Serializer[dsl.Windowed[string, int]]()).
				Sink("out", dsl.StreamSink("counts"))
		},
	}
}

// payloadString makes a message's payload a string.
func payloadString(m dsl.Message[[]byte]) (dsl.Message[string], error) {
	return dsl.Message[string]{Payload: string(m.Payload), Key: m.Key, Headers: m.Headers, Timestamp: m.Timestamp}, nil
}

// TasksSpecExactlyOnce is TasksSpec with processing_guarantee
// exactly_once.
func TasksSpecExactlyOnce(addr, in, out, dlq, group, stateDir string) string {
	return crashSpec("tasks_key_count", "in", "out", addr, in, out, group, stateDir, map[string]any{
		"watermark_idle_ms":    3_600_000,
		"dlq":                  map[string]any{"topic": dlq},
		"override_params":      map[string]string{"max.poll.interval.ms": "20000"},
		"processing_guarantee": "exactly_once",
	})
}

// ShuffleTasksSpec is TasksSpec for the shuffle tests' pipeline
// (tasks_payload_count).
func ShuffleTasksSpec(addr, in, out, dlq, group, stateDir string) string {
	return crashSpec("tasks_payload_count", "in", "out", addr, in, out, group, stateDir, map[string]any{
		"watermark_idle_ms": 3_600_000,
		"dlq":               map[string]any{"topic": dlq},
		"override_params":   map[string]string{"max.poll.interval.ms": "20000"},
	})
}

// recordKey makes a message's record key its payload.
func recordKey(m dsl.Message[[]byte]) (dsl.Message[string], error) {
	return dsl.Message[string]{Payload: string(m.Key), Key: m.Key, Headers: m.Headers, Timestamp: m.Timestamp}, nil
}

// TasksSpec is the child spec of the task tests' pipeline (tasks_key_count)
// on the bundled runner: reading in with group, writing out, late records
// to the dead-letter topic dlq, its durable state in stateDir. As in
// CrashWindowSpec only record timestamps move the watermark.
//
// The group's rebalance timeout (max.poll.interval.ms) is 20 s rather
// than the client's 60 s: a member killed while it waited in a rebalance
// stays in the group until then, and the partitions it was given move
// only after, so with 60 s a test run takes over two minutes. The
// session timeout stays the source's 10 s.
func TasksSpec(addr, in, out, dlq, group, stateDir string) string {
	return crashSpec("tasks_key_count", "in", "out", addr, in, out, group, stateDir, map[string]any{
		"watermark_idle_ms": 3_600_000,
		"dlq":               map[string]any{"topic": dlq},
		"override_params":   map[string]string{"max.poll.interval.ms": "20000"},
	})
}
