package nexmark

import (
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
)

// The in-memory references: each query computed over the events of a
// Config in one pass, without Beam, into the Digest a Check sink of the
// query's output must reach. Windows are those of Beam's WindowFns,
// aligned to the Unix epoch, identified by their last instant (the
// window's MaxTimestamp).

var globalMax = int64(mtime.EndOfGlobalWindowTime)

// fixedMax is the last instant of the fixed window of size ms holding ts.
func fixedMax(ts, size int64) int64 { return ts - mod(ts, size) + size - 1 }

// slidingMaxes are the last instants of the sliding windows (size, every
// period ms) holding ts.
func slidingMaxes(ts, size, period int64) []int64 {
	var out []int64
	for start := ts - mod(ts, period); start > ts-size; start -= period {
		out = append(out, start+size-1)
	}
	return out
}

func mod(a, b int64) int64 { return ((a % b) + b) % b }

func each(c *Config, f func(Event)) {
	for n := range c.Events {
		f(c.Event(n))
	}
}

func reference0(c *Config) Digest {
	var d Digest
	each(c, func(e Event) { d.add(e.Hash(), globalMax) })
	return d
}

func reference1(c *Config) Digest {
	var d Digest
	each(c, func(e Event) {
		if e.Bid != nil {
			d.add(toEuros(*e.Bid).Hash(), globalMax)
		}
	})
	return d
}

func reference2(c *Config) Digest {
	var d Digest
	each(c, func(e Event) {
		if e.Bid != nil && e.Bid.Auction%AuctionSkip == 0 {
			d.add(AuctionPrice{Auction: e.Bid.Auction, Price: e.Bid.Price}.Hash(), globalMax)
		}
	})
	return d
}

func reference3(c *Config) Digest {
	people := map[int64]*Person{}
	var auctions []*Auction
	each(c, func(e Event) {
		switch {
		case e.Person != nil && query3Person(e.Person):
			people[e.Person.ID] = e.Person
		case e.Auction != nil && query3Auction(e.Auction):
			auctions = append(auctions, e.Auction)
		}
	})
	var d Digest
	for _, a := range auctions {
		if p, ok := people[a.Seller]; ok {
			d.add(NameCityStateID{Name: p.Name, City: p.City, State: p.State, Auction: a.ID}.Hash(), globalMax)
		}
	}
	return d
}

func reference5(c *Config) Digest {
	size, period := WindowSize.Milliseconds(), WindowPeriod.Milliseconds()
	counts := map[int64]map[int64]int64{} // window -> auction -> bids
	each(c, func(e Event) {
		if e.Bid == nil {
			return
		}
		for _, w := range slidingMaxes(e.Bid.DateTimeMs, size, period) {
			if counts[w] == nil {
				counts[w] = map[int64]int64{}
			}
			counts[w][e.Bid.Auction]++
		}
	})
	var d Digest
	for w, byAuction := range counts {
		var top int64
		for _, n := range byAuction {
			top = max(top, n)
		}
		for a, n := range byAuction {
			if n == top {
				d.add(AuctionCount{Auction: a, Count: n}.Hash(), w)
			}
		}
	}
	return d
}

func reference7(c *Config) Digest {
	size := WindowSize.Milliseconds()
	top := map[int64]int64{} // window -> highest price
	each(c, func(e Event) {
		if e.Bid != nil {
			w := fixedMax(e.Bid.DateTimeMs, size)
			top[w] = max(top[w], e.Bid.Price)
		}
	})
	var d Digest
	each(c, func(e Event) {
		if e.Bid != nil {
			if w := fixedMax(e.Bid.DateTimeMs, size); e.Bid.Price == top[w] {
				d.add(e.Bid.Hash(), w)
			}
		}
	})
	return d
}

func reference8(c *Config) Digest {
	size := WindowSize.Milliseconds()
	type key struct{ window, person int64 }
	people := map[key]*Person{}
	var auctions []*Auction
	each(c, func(e Event) {
		switch {
		case e.Person != nil:
			people[key{fixedMax(e.Person.DateTimeMs, size), e.Person.ID}] = e.Person
		case e.Auction != nil:
			auctions = append(auctions, e.Auction)
		}
	})
	var d Digest
	for _, a := range auctions {
		w := fixedMax(a.DateTimeMs, size)
		if p, ok := people[key{w, a.Seller}]; ok {
			d.add(IDNameReserve{ID: p.ID, Name: p.Name, Reserve: a.Reserve}.Hash(), w)
		}
	}
	return d
}
