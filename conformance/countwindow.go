package conformance

import (
	"fmt"
	"time"

	"github.com/streams-dev/streams/dsl"
)

// countWindowed is the JSON of a count window's Reduce result, and its
// record's timestamp: the window spans its messages' event times, first
// to newest plus 1ms, and is timestamped at the newest.
func countWindowed(key string, first, newest time.Duration, value string) Record {
	return Record{
		Key: key,
		Value: fmt.Sprintf(`{"key":%q,"start":%q,"end":%q,"value":%s}`, key,
			at(first).Format(time.RFC3339Nano), at(newest+time.Millisecond).Format(time.RFC3339Nano), value),
		Timestamp: at(newest),
	}
}

// countValue is countWindowed for a ReduceAll: no key.
func countValue(first, newest time.Duration, value string) Record {
	return Record{
		Value: fmt.Sprintf(`{"start":%q,"end":%q,"value":%s}`,
			at(first).Format(time.RFC3339Nano), at(newest+time.Millisecond).Format(time.RFC3339Nano), value),
		Timestamp: at(newest),
	}
}

// tumblingCountWindowCase counts visits per user two at a time (Sentry
// Streams' TumblingWindow(window_size=2)), over two partitions, the key
// following the partitioning. Each user's third visit waits alone for a
// fourth: no result. A record far behind in time (b at 1s, after b at
// 4s) is counted, not late: count windows ignore the watermark.
func tumblingCountWindowCase() Case {
	return Case{
		Name:       "reduce_tumbling_count_window",
		Partitions: 2,
		Pipeline: func() dsl.Pipeline {
			return dsl.StreamingSource("in", "visits").
				Apply("parse", dsl.Parser[visit]()).
				Apply("pairs", dsl.Reduce(dsl.TumblingCountWindow(2), userOf, dsl.Count[visit](),
					dsl.KeyFollowsPartitioning[visit]())).
				Apply("serialize", dsl.Serializer[dsl.Windowed[string, int]]()).
				Sink("out", dsl.StreamSink("visit-pairs"))
		},
		DLQ: true,
		Input: []Record{
			visitRecord("a", "/", 0),
			visitRecord("b", "/", 4*time.Second),
			visitRecord("a", "/x", 3*time.Second),
			{Key: "a", Value: `not json`, Timestamp: at(5 * time.Second)},
			visitRecord("b", "/x", time.Second),
			visitRecord("a", "/y", 9999*time.Millisecond),
			visitRecord("a", "/", 12*time.Second),
			visitRecord("c", "/", 25*time.Second),
			visitRecord("a", "/z", 30*time.Second),
		},
		Want: map[string][]Record{
			"visit-pairs": {
				countWindowed("a", 0, 3*time.Second, "2"),
				countWindowed("b", time.Second, 4*time.Second, "2"),
				countWindowed("a", 9999*time.Millisecond, 12*time.Second, "2"),
			},
			DLQ: {{Key: "a", Value: `not json`, Headers: map[string]string{"streams.dlq.step": "parse"}}},
		},
	}
}

// tumblingCountWindowEOSCase is tumblingCountWindowCase under
// processing_guarantee exactly_once: the windows live in the partition
// tasks, whose state commits in the source's transactions.
func tumblingCountWindowEOSCase() Case {
	c := tumblingCountWindowCase()
	c.Name = "reduce_tumbling_count_window_exactly_once"
	c.Steps = map[string]map[string]any{"in": {"processing_guarantee": "exactly_once"}}
	c.Skip = map[string]string{
		"prism":          "exactly_once needs the bundled runner: Beam runners commit no Kafka transactions",
		"local-portable": "exactly_once needs the native Kafka source, which commits in transactions; the portable read refuses it",
	}
	return c
}

// slidingCountWindowCase sums each shop's last three sales every two
// sales (a key's sales 1-3, 3-5, 5-7), keyed by a payload field; then
// a ReduceAll sums those sums two at a time. Shop x's seventh sale and
// y's two only wait.
func slidingCountWindowCase() Case {
	rec := func(shop string, amount int, t time.Duration) Record {
		return Record{Key: shop, Value: fmt.Sprintf(`{"shop":%q,"amount":%d}`, shop, amount), Timestamp: at(t)}
	}
	return Case{
		Name:       "reduce_sliding_count_window",
		Partitions: 1,
		Pipeline: func() dsl.Pipeline {
			type sum = dsl.Windowed[string, int]
			return dsl.StreamingSource("in", "sales").
				Apply("parse", dsl.Parser[sale]()).
				Apply("last3", dsl.Reduce(dsl.SlidingCountWindow(3, 2), func(s sale) string { return s.Shop },
					dsl.Sum(func(s sale) int { return s.Amount }))).
				Broadcast("fan-out",
					dsl.Branch[sum]("each").
						Apply("serialize", dsl.Serializer[sum]()).
						Sink("out", dsl.StreamSink("sale-sums")),
					dsl.Branch[sum]("both").
						Apply("pairs", dsl.ReduceAll(dsl.TumblingCountWindow(2), dsl.Sum(func(w sum) int { return w.Value }))).
						Apply("serialize-all", dsl.Serializer[dsl.WindowValue[int]]()).
						Sink("out-all", dsl.StreamSink("sale-sum-pairs")),
				)
		},
		Input: []Record{
			rec("x", 1, 1*time.Second),
			rec("x", 2, 2*time.Second),
			rec("y", 100, 3*time.Second),
			rec("x", 4, 4*time.Second),
			rec("x", 8, 5*time.Second),
			rec("x", 16, 6*time.Second),
			rec("y", 200, 7*time.Second),
			rec("x", 32, 8*time.Second),
			rec("x", 64, 9*time.Second),
		},
		Want: map[string][]Record{
			"sale-sums": {
				countWindowed("x", 1*time.Second, 4*time.Second, "7"),
				countWindowed("x", 4*time.Second, 6*time.Second, "28"),
				countWindowed("x", 6*time.Second, 9*time.Second, "112"),
			},
			// The first two sums; the third waits for a fourth.
			"sale-sum-pairs": {countValue(4*time.Second, 6*time.Second, "35")},
		},
	}
}

// tally is a record of the count-window crash test: the n-th record of
// the input, for user.
type tally struct {
	User string `json:"user"`
	N    int    `json:"n"`
}

// CrashCountWindowSize is the number of records in a window of the
// count-window crash test's pipeline.
const CrashCountWindowSize = 7

// crashCountWindowCase sums the n of each user's records
// CrashCountWindowSize at a time (TumblingCountWindow), the user being
// the record key, so the windows live in the partition tasks. A record
// lost from a window, or counted twice, changes the sums of that user's
// windows and their starts.
func crashCountWindowCase() Case {
	return Case{Name: "crash_count_window", Pipeline: func() dsl.Pipeline {
		return dsl.StreamingSource("in", "tallies").
			Apply("parse", dsl.Parser[tally]()).
			Apply("sum", dsl.Reduce(dsl.TumblingCountWindow(CrashCountWindowSize),
				func(t tally) string { return t.User },
				dsl.Sum(func(t tally) int { return t.N }),
				dsl.KeyFollowsPartitioning[tally]())).
			Apply("serialize", dsl.Serializer[dsl.Windowed[string, int]]()).
			Sink("out", dsl.StreamSink("sums"))
	}}
}

// CrashCountWindowSpec is the child spec of the count-window crash
// test's pipeline (crash_count_window: JSON {"user": ..., "n": ...}
// records, keyed by user, their n summed per user CrashCountWindowSize
// records at a time) on the bundled runner, with its durable state in
// stateDir.
func CrashCountWindowSpec(addr, in, out, group, stateDir string) string {
	return crashSpec("crash_count_window", "in", "out", addr, in, out, group, stateDir, nil)
}
