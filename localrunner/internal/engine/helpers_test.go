package engine

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/typex"
	"github.com/streams-dev/streams/localrunner/internal/plan"
)

// testEngine returns an engine over the given stages, in topological
// order, wired by their Outputs and Upstream as Run wires a plan, with the
// partition tasks taskStages finds (none yet running).
func testEngine(specs ...*plan.Stage) *engine {
	p := &plan.Plan{Stages: specs, Producers: map[string]string{}, Consumers: map[string][]string{}}
	for _, sp := range specs {
		for _, o := range sp.Outputs {
			p.Producers[o] = sp.ID
		}
		for _, u := range sp.Upstream {
			p.Consumers[u] = append(p.Consumers[u], sp.ID)
		}
	}
	e := &engine{
		cfg: Config{Plan: p, MaxBundleSize: 100, Parallelism: 2}, log: slog.New(slog.DiscardHandler),
		byID: map[string]*stageState{}, producers: map[string]*stageState{},
		taskOf: taskStages(p), tasking: map[string]bool{}, tasks: map[sourcePartition]*task{},
		bundleStage: map[string]*stageState{}, positions: map[*stageState]map[sourcePartition]int64{},
		logs: map[*stageState]*taskLog{}, tails: map[sourcePartition][][]byte{},
	}
	for _, src := range e.taskOf {
		e.tasking[src] = true
	}
	for _, sp := range specs {
		st := newStageState(sp, 100)
		e.specs = append(e.specs, st)
		if _, ok := e.taskOf[sp.ID]; ok {
			continue
		}
		e.byID[sp.ID] = st
		for _, o := range sp.Outputs {
			e.producers[o] = st
		}
	}
	e.rebuildStages()
	return e
}

// kvs encodes KV<string, int64> elements in the global window at event
// time ts, as a stage writes them to another stage.
func kvs(t *testing.T, ts mtime.Time, keys []string, vals []int64) *batch {
	t.Helper()
	enc := exec.MakeElementEncoder(coder.NewW(kvCoder(), coder.NewGlobalWindow()))
	b := &batch{hold: ts}
	var buf bytes.Buffer
	for i, k := range keys {
		fv := &exec.FullValue{Elm: k, Elm2: vals[i], Timestamp: ts, Windows: window.SingleGlobalWindow, Pane: typex.NoFiringPane()}
		if err := enc.Encode(fv, &buf); err != nil {
			t.Fatal(err)
		}
		b.ends = append(b.ends, buf.Len())
	}
	b.data = buf.Bytes()
	return b
}

func kvCoder() *coder.Coder {
	return coder.NewKV([]*coder.Coder{coder.NewString(), coder.NewVarInt()})
}

// decodeKVs returns the elements of b not yet taken.
func decodeKVs(t *testing.T, b *batch) (keys []string, vals []int64) {
	t.Helper()
	dec := exec.MakeElementDecoder(coder.NewW(kvCoder(), coder.NewGlobalWindow()))
	r := bytes.NewReader(b.data)
	for range b.ends {
		fv, err := dec.Decode(r)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, fv.Elm.(string))
		vals = append(vals, fv.Elm2.(int64))
	}
	return keys, vals
}
