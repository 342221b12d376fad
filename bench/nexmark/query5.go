package nexmark

import (
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/stats"
)

// Query5 is hot items: in each sliding window (WindowSize long, every
// WindowPeriod) the auctions with the most bids, with their count. Bids
// are counted per auction and window (a lifted CombinePerKey), then the
// counts of a window combined into its maximum and the auctions that
// reach it.
func Query5(s beam.Scope, events beam.PCollection) beam.PCollection {
	s = s.Scope("Query5")
	auctions := beam.ParDo(s, bidAuction, events)
	windowed := beam.WindowInto(s, window.NewSlidingWindows(WindowPeriod, WindowSize), auctions)
	counts := beam.ParDo(s, toAuctionCount, stats.Count(s, windowed))
	hot := beam.Combine(s, &hotAuctionsFn{}, counts)
	return beam.ParDo(s, emitAuctionCounts, hot)
}

func bidAuction(e Event, emit func(int64)) {
	if e.Bid != nil {
		emit(e.Bid.Auction)
	}
}

func toAuctionCount(auction int64, n int) AuctionCount {
	return AuctionCount{Auction: auction, Count: int64(n)}
}

// hotAuctions is hotAuctionsFn's accumulator: the highest count and the
// auctions that have it.
type hotAuctions struct {
	Count    int64
	Auctions []int64
}

func (h hotAuctions) add(count int64, auctions ...int64) hotAuctions {
	switch {
	case count > h.Count:
		return hotAuctions{Count: count, Auctions: append([]int64(nil), auctions...)}
	case count == h.Count:
		h.Auctions = append(h.Auctions, auctions...)
	}
	return h
}

type hotAuctionsFn struct{}

func (*hotAuctionsFn) CreateAccumulator() hotAuctions { return hotAuctions{} }

func (*hotAuctionsFn) AddInput(h hotAuctions, c AuctionCount) hotAuctions {
	return h.add(c.Count, c.Auction)
}

func (*hotAuctionsFn) MergeAccumulators(a, b hotAuctions) hotAuctions {
	return a.add(b.Count, b.Auctions...)
}

func (*hotAuctionsFn) ExtractOutput(h hotAuctions) []AuctionCount {
	out := make([]AuctionCount, len(h.Auctions))
	for i, a := range h.Auctions {
		out[i] = AuctionCount{Auction: a, Count: h.Count}
	}
	return out
}

func emitAuctionCounts(cs []AuctionCount, emit func(AuctionCount)) {
	for _, c := range cs {
		emit(c)
	}
}
