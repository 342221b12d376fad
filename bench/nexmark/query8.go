package nexmark

import (
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
)

// Query8 is new users: the people who opened an auction in the fixed
// window (WindowSize) they joined in, with the auction's reserve; people
// by id and auctions by seller, joined per window with a CoGroupByKey.
func Query8(s beam.Scope, events beam.PCollection) beam.PCollection {
	s = s.Scope("Query8")
	fixed := window.NewFixedWindows(WindowSize)
	people := beam.WindowInto(s, fixed, beam.ParDo(s, personByID, events))
	auctions := beam.WindowInto(s, fixed, beam.ParDo(s, auctionBySeller, events))
	joined := beam.CoGroupByKey(s, people, auctions)
	return beam.ParDo(s, joinQuery8, joined)
}

func personByID(e Event, emit func(int64, Person)) {
	if e.Person != nil {
		emit(e.Person.ID, *e.Person)
	}
}

func auctionBySeller(e Event, emit func(int64, Auction)) {
	if e.Auction != nil {
		emit(e.Auction.Seller, *e.Auction)
	}
}

func joinQuery8(_ int64, people func(*Person) bool, auctions func(*Auction) bool, emit func(IDNameReserve)) {
	var p Person
	var ps []Person
	for people(&p) {
		ps = append(ps, p)
	}
	if len(ps) == 0 {
		return
	}
	var a Auction
	for auctions(&a) {
		for _, p := range ps {
			emit(IDNameReserve{ID: p.ID, Name: p.Name, Reserve: a.Reserve})
		}
	}
}
