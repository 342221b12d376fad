package engine

import (
	"container/heap"
	"time"

	"github.com/streams-dev/streams/localrunner/internal/worker"
)

type parked struct {
	due   time.Time
	stage *stageState
	res   worker.Residual
}

type parkedHeap []*parked

func (h parkedHeap) Len() int { return len(h) }

func (h parkedHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }

func (h parkedHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }

func (h *parkedHeap) Push(x any) { *h = append(*h, x.(*parked)) }

func (h *parkedHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return x
}

func residualBatch(rs worker.Residual) *batch {
	return &batch{data: rs.Element, ends: []int{len(rs.Element)}, hold: rs.Watermark}
}

func (e *engine) unpark(now time.Time) {
	for len(e.parked) > 0 && !e.parked[0].due.After(now) {
		p := heap.Pop(&e.parked).(*parked)
		p.stage.enqueue(residualBatch(p.res))
	}
}
