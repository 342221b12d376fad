package plan

import (
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	"google.golang.org/protobuf/proto"

	"github.com/streams-dev/streams/internal/contract"
)

// LateDataAnnotation marks a composite that receives the elements a
// GroupByKey drops instead of its input (contract.LateDataAnnotation says
// how).
const LateDataAnnotation = contract.LateDataAnnotation

// lateReader records the transform of a LateDataAnnotation composite that
// reads from outside it.
func (pl *planner) lateReader(id string) {
	in, _ := pl.boundary(id)
	if len(in) != 1 {
		return
	}
	var walk func(string)
	walk = func(tid string) {
		t := pl.ts[tid]
		if len(t.GetSubtransforms()) > 0 {
			for _, sub := range t.GetSubtransforms() {
				walk(sub)
			}
			return
		}
		for local, p := range t.GetInputs() {
			if p == in[0] && t.GetSpec().GetUrn() == URNParDo {
				pl.late[p] = link{tid, local}
			}
		}
	}
	walk(id)
}

// droppedOutput gives the GroupByKey gbk, reading in, its dropped-elements
// output when a late-data reader reads in: a PCollection like in, written
// by the GroupByKey, which the reader reads instead. It returns the
// output's ID, or "".
func (pl *planner) droppedOutput(gbk, in string) string {
	r, ok := pl.late[in]
	if !ok {
		return ""
	}
	delete(pl.late, in) // one GroupByKey feeds it
	pc := proto.Clone(pl.comps.GetPcollections()[in]).(*pipepb.PCollection)
	id := "lr:" + gbk + ":dropped"
	pc.UniqueName = pl.names[gbk] + "/dropped"
	pl.comps.Pcollections[id] = pc
	pl.ts[r.transform].Inputs[r.local] = id
	t := pl.ts[gbk]
	if t.Outputs == nil {
		t.Outputs = map[string]string{}
	}
	t.Outputs["dropped"] = id
	return id
}
