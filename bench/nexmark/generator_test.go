package nexmark

import (
	"testing"
)

func TestGeneratorMixAndIDs(t *testing.T) {
	c := Config{Events: 10_000, Seed: 1}
	c.EnsureDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	var people, auctions, bids int64
	lastPerson, lastAuction := int64(FirstPersonID-1), int64(FirstAuctionID-1)
	for n := range c.Events {
		e := c.Event(n)
		if e != c.Event(n) && e.String() != c.Event(n).String() {
			t.Fatalf("event %d is not deterministic", n)
		}
		switch {
		case e.Person != nil:
			people++
			if e.Person.ID != lastPerson+1 {
				t.Fatalf("event %d: person id %d after %d", n, e.Person.ID, lastPerson)
			}
			lastPerson = e.Person.ID
		case e.Auction != nil:
			auctions++
			a := e.Auction
			if a.ID != lastAuction+1 {
				t.Fatalf("event %d: auction id %d after %d", n, a.ID, lastAuction)
			}
			lastAuction = a.ID
			if a.Seller < FirstPersonID || a.Seller > lastPerson+PersonIDLead {
				t.Fatalf("event %d: seller %d, latest person %d", n, a.Seller, lastPerson)
			}
			if a.Reserve < a.InitialBid || a.ExpiresMs <= a.DateTimeMs {
				t.Fatalf("event %d: bad auction %+v", n, a)
			}
			if a.Category < FirstCategoryID || a.Category >= FirstCategoryID+NumCategories {
				t.Fatalf("event %d: category %d", n, a.Category)
			}
		case e.Bid != nil:
			bids++
			b := e.Bid
			if b.Auction < FirstAuctionID || b.Auction > lastAuction+AuctionIDLead {
				t.Fatalf("event %d: bid on auction %d, latest %d", n, b.Auction, lastAuction)
			}
			if b.Price < 100 || b.Price > 100_000_000 {
				t.Fatalf("event %d: price %d", n, b.Price)
			}
		default:
			t.Fatalf("event %d is empty", n)
		}
		if got, want := e.timestamp(), c.Timestamp(n); got != want {
			t.Fatalf("event %d at %d, want %d", n, got, want)
		}
	}
	if people != 200 || auctions != 600 || bids != 9200 {
		t.Errorf("people, auctions, bids = %d, %d, %d; want 200, 600, 9200", people, auctions, bids)
	}
	// 10,000 events at 10,000/s last a second.
	if d := c.Timestamp(c.Events) - c.Timestamp(0); d != 1000 {
		t.Errorf("10,000 events span %d ms, want 1000", d)
	}
}

func TestGeneratorHotAuctions(t *testing.T) {
	c := Config{Events: 100_000, Seed: 7}
	c.EnsureDefaults()
	perAuction := map[int64]int{}
	var bids int
	for n := range c.Events {
		if b := c.Event(n).Bid; b != nil {
			perAuction[b.Auction]++
			bids++
		}
	}
	// With HotAuctionRatio 2, about half the bids go to hot auctions
	// (base-0 ids multiple of 100).
	var hot int
	for a, k := range perAuction {
		if (a-FirstAuctionID)%HotAuctionRatio == 0 {
			hot += k
		}
	}
	if f := float64(hot) / float64(bids); f < 0.45 || f > 0.6 {
		t.Errorf("hot auctions got %.2f of the bids, want about 0.5", f)
	}
}

func TestConfigValidate(t *testing.T) {
	var c Config
	if err := c.Validate(); err == nil {
		t.Fatal("the zero config validated")
	}
}

// BenchmarkEvent is the generator alone, the floor under every query.
func BenchmarkEvent(b *testing.B) {
	c := Config{Events: 1 << 62, Seed: 1}
	c.EnsureDefaults()
	var n int64
	for b.Loop() {
		_ = c.Event(n)
		n++
	}
}
