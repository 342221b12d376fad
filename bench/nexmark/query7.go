package nexmark

import (
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
)

// Query7 is highest bid: in each fixed window of WindowSize the bids with
// the highest price. Beam Java takes the maximum price with a combiner
// and selects the bids that have it with a side input; here one combiner
// keeps the highest price and its bids, so the bids are read once.
func Query7(s beam.Scope, events beam.PCollection) beam.PCollection {
	s = s.Scope("Query7")
	bids := beam.WindowInto(s, window.NewFixedWindows(WindowSize), Bids(s, events))
	highest := beam.Combine(s, &highestBidsFn{}, bids)
	return beam.ParDo(s, emitBids, highest)
}

// highestBids is highestBidsFn's accumulator: the highest price and the
// bids at that price.
type highestBids struct {
	Price int64
	Bids  []Bid
}

func (h highestBids) add(price int64, bids ...Bid) highestBids {
	switch {
	case len(h.Bids) == 0 || price > h.Price:
		return highestBids{Price: price, Bids: append([]Bid(nil), bids...)}
	case price == h.Price:
		h.Bids = append(h.Bids, bids...)
	}
	return h
}

type highestBidsFn struct{}

func (*highestBidsFn) CreateAccumulator() highestBids { return highestBids{} }

func (*highestBidsFn) AddInput(h highestBids, b Bid) highestBids { return h.add(b.Price, b) }

func (*highestBidsFn) MergeAccumulators(a, b highestBids) highestBids {
	if len(b.Bids) == 0 {
		return a
	}
	return a.add(b.Price, b.Bids...)
}

func (*highestBidsFn) ExtractOutput(h highestBids) []Bid { return h.Bids }

func emitBids(bs []Bid, emit func(Bid)) {
	for _, b := range bs {
		emit(b)
	}
}
