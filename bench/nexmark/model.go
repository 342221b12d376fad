package nexmark

import "fmt"

// Person is a new user of the auction site.
type Person struct {
	ID         int64
	Name       string
	Email      string
	CreditCard string
	City       string
	State      string
	DateTimeMs int64
	Extra      string
}

// Auction is an item put up for auction by a seller (a [Person]).
type Auction struct {
	ID          int64
	ItemName    string
	Description string
	InitialBid  int64
	Reserve     int64
	DateTimeMs  int64
	ExpiresMs   int64
	Seller      int64
	Category    int64
	Extra       string
}

// Bid is a bid of a bidder (a [Person]) on an [Auction].
type Bid struct {
	Auction    int64
	Bidder     int64
	Price      int64
	Channel    string
	URL        string
	DateTimeMs int64
	Extra      string
}

// Event is one event of the stream: exactly one of its fields is set.
type Event struct {
	Person  *Person
	Auction *Auction
	Bid     *Bid
}

// String is for tests and diagnostics.
func (e Event) String() string {
	switch {
	case e.Person != nil:
		return fmt.Sprintf("person%+v", *e.Person)
	case e.Auction != nil:
		return fmt.Sprintf("auction%+v", *e.Auction)
	case e.Bid != nil:
		return fmt.Sprintf("bid%+v", *e.Bid)
	}
	return "event{}"
}

// timestamp is the event's time in milliseconds since the Unix epoch.
func (e Event) timestamp() int64 {
	switch {
	case e.Person != nil:
		return e.Person.DateTimeMs
	case e.Auction != nil:
		return e.Auction.DateTimeMs
	case e.Bid != nil:
		return e.Bid.DateTimeMs
	}
	return 0
}

// Query outputs.

// AuctionPrice is Query2's output: a bid's auction and price.
type AuctionPrice struct {
	Auction int64
	Price   int64
}

// NameCityStateID is Query3's output: a seller and one of its auctions.
type NameCityStateID struct {
	Name    string
	City    string
	State   string
	Auction int64
}

// AuctionCount is Query5's output: an auction and its number of bids in
// a window.
type AuctionCount struct {
	Auction int64
	Count   int64
}

// IDNameReserve is Query8's output: a new user and the reserve of an
// auction it opened in the same window.
type IDNameReserve struct {
	ID      int64
	Name    string
	Reserve int64
}

// Hashing: an order-independent digest of a query's output sums a 64-bit
// hash of every element and its window (Digest). The hashes mix the
// fields with FNV-1a over their bytes; they need not be cryptographic,
// only cheap and sensitive to every field.

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

type hasher uint64

func newHasher(tag byte) hasher { return hasher(fnvOffset).byte(tag) }

func (h hasher) byte(b byte) hasher { return (h ^ hasher(b)) * fnvPrime }

func (h hasher) int(v int64) hasher {
	for i := 0; i < 8; i++ {
		h = h.byte(byte(v >> (8 * i)))
	}
	return h
}

func (h hasher) str(s string) hasher {
	h = h.int(int64(len(s)))
	for i := 0; i < len(s); i++ {
		h = h.byte(s[i])
	}
	return h
}

// Hash is a 64-bit hash of every field.
func (p Person) Hash() uint64 {
	return uint64(newHasher('P').int(p.ID).str(p.Name).str(p.Email).str(p.CreditCard).
		str(p.City).str(p.State).int(p.DateTimeMs).str(p.Extra))
}

// Hash is a 64-bit hash of every field.
func (a Auction) Hash() uint64 {
	return uint64(newHasher('A').int(a.ID).str(a.ItemName).str(a.Description).int(a.InitialBid).
		int(a.Reserve).int(a.DateTimeMs).int(a.ExpiresMs).int(a.Seller).int(a.Category).str(a.Extra))
}

// Hash is a 64-bit hash of every field.
func (b Bid) Hash() uint64 {
	return uint64(newHasher('B').int(b.Auction).int(b.Bidder).int(b.Price).str(b.Channel).
		str(b.URL).int(b.DateTimeMs).str(b.Extra))
}

// Hash is the hash of the event's one value.
func (e Event) Hash() uint64 {
	switch {
	case e.Person != nil:
		return e.Person.Hash()
	case e.Auction != nil:
		return e.Auction.Hash()
	case e.Bid != nil:
		return e.Bid.Hash()
	}
	return 0
}

// Hash is a 64-bit hash of every field.
func (a AuctionPrice) Hash() uint64 {
	return uint64(newHasher('2').int(a.Auction).int(a.Price))
}

// Hash is a 64-bit hash of every field.
func (n NameCityStateID) Hash() uint64 {
	return uint64(newHasher('3').str(n.Name).str(n.City).str(n.State).int(n.Auction))
}

// Hash is a 64-bit hash of every field.
func (a AuctionCount) Hash() uint64 {
	return uint64(newHasher('5').int(a.Auction).int(a.Count))
}

// Hash is a 64-bit hash of every field.
func (i IDNameReserve) Hash() uint64 {
	return uint64(newHasher('8').int(i.ID).str(i.Name).int(i.Reserve))
}
