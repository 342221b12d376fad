package nexmark

import "github.com/apache/beam/sdks/v2/go/pkg/beam"

// Query0 passes every event through a DoFn: the cost of the source, a
// ParDo and the sink.
func Query0(s beam.Scope, events beam.PCollection) beam.PCollection {
	return beam.ParDo(s.Scope("Query0"), passThrough, events)
}

func passThrough(e Event) Event { return e }

// Query1 converts each bid's price from dollars to euros (× 0.89, in
// integer cents, as Beam Java).
func Query1(s beam.Scope, events beam.PCollection) beam.PCollection {
	s = s.Scope("Query1")
	return beam.ParDo(s, toEuros, Bids(s, events))
}

func toEuros(b Bid) Bid {
	b.Price = b.Price * 89 / 100
	return b
}

// Query2 selects the bids on every AuctionSkip-th auction, as
// AuctionPrice.
func Query2(s beam.Scope, events beam.PCollection) beam.PCollection {
	s = s.Scope("Query2")
	return beam.ParDo(s, selectBid, Bids(s, events))
}

func selectBid(b Bid, emit func(AuctionPrice)) {
	if b.Auction%AuctionSkip == 0 {
		emit(AuctionPrice{Auction: b.Auction, Price: b.Price})
	}
}
