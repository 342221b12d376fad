package nexmark

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// The generator's fixed parameters, Beam Java's defaults.
const (
	FirstPersonID   = 1000 // the id of the first person
	FirstAuctionID  = 1000 // the id of the first auction
	FirstCategoryID = 10   // the first of NumCategories categories

	NumCategories = 5
	// PersonIDLead and AuctionIDLead: sellers, bidders and auctions are
	// drawn from the active ones and up to this many not yet created, as
	// in Beam Java (a bid may name an auction that does not exist yet).
	PersonIDLead  = 10
	AuctionIDLead = 10
	// HotAuctionRatio, HotSellerRatio, HotBidderRatio: the hot auction
	// (seller, bidder) is the latest one whose base-0 id is a multiple of
	// this.
	HotAuctionRatio = 100
	HotSellerRatio  = 100
	HotBidderRatio  = 100

	// Average sizes in bytes the Extra fields pad events up to.
	avgPersonBytes  = 200
	avgAuctionBytes = 500
	avgBidBytes     = 100
)

// BaseTime is the event time of event 0: 2026-01-01T00:00:00Z, a window
// boundary. Beam Java starts at the wall clock; a fixed start makes runs
// comparable.
var BaseTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Config describes the event stream, as Beam Java's GeneratorConfig and
// the NexmarkConfiguration fields it reads. The zero value of a field
// means its default (EnsureDefaults).
type Config struct {
	// Events is the number of events; required.
	Events int64
	// Seed makes the stream; streams of the same Config are equal.
	Seed int64
	// FirstEventRate is the events per second of event time; default
	// 10,000 (event n happens n/FirstEventRate seconds after BaseTime).
	FirstEventRate int64
	// PersonProportion, AuctionProportion, BidProportion: the mix of
	// events; default 1:3:46.
	PersonProportion, AuctionProportion, BidProportion int64
	// NumActivePeople is how many of the latest people sell and bid;
	// default 1,000.
	NumActivePeople int64
	// NumInFlightAuctions is how many of the latest auctions get bids;
	// default 100.
	NumInFlightAuctions int64
	// HotAuctionRatio: one bid in HotAuctionRatio goes to any in-flight
	// auction, the others to the hot one; default 2. HotSellersRatio and
	// HotBiddersRatio likewise for sellers and bidders; default 4.
	HotAuctionRatio, HotSellersRatio, HotBiddersRatio int64
}

// EnsureDefaults sets every zero field but Events and Seed to its default.
func (c *Config) EnsureDefaults() {
	def := func(f *int64, v int64) {
		if *f == 0 {
			*f = v
		}
	}
	def(&c.FirstEventRate, 10_000)
	if c.PersonProportion == 0 && c.AuctionProportion == 0 && c.BidProportion == 0 {
		c.PersonProportion, c.AuctionProportion, c.BidProportion = 1, 3, 46
	}
	def(&c.NumActivePeople, 1_000)
	def(&c.NumInFlightAuctions, 100)
	def(&c.HotAuctionRatio, 2)
	def(&c.HotSellersRatio, 4)
	def(&c.HotBiddersRatio, 4)
}

// Validate returns every problem of the config at once.
func (c *Config) Validate() error {
	var errs []error
	pos := func(name string, v int64) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("nexmark: %s must be positive, got %d", name, v))
		}
	}
	pos("Events", c.Events)
	pos("FirstEventRate", c.FirstEventRate)
	pos("PersonProportion", c.PersonProportion)
	pos("AuctionProportion", c.AuctionProportion)
	pos("BidProportion", c.BidProportion)
	pos("NumActivePeople", c.NumActivePeople)
	pos("NumInFlightAuctions", c.NumInFlightAuctions)
	pos("HotAuctionRatio", c.HotAuctionRatio)
	pos("HotSellersRatio", c.HotSellersRatio)
	pos("HotBiddersRatio", c.HotBiddersRatio)
	return errors.Join(errs...)
}

func (c *Config) total() int64 { return c.PersonProportion + c.AuctionProportion + c.BidProportion }

// Timestamp is the event time of event n, in milliseconds since the Unix
// epoch.
func (c *Config) Timestamp(n int64) int64 {
	return BaseTime.UnixMilli() + n*1000/c.FirstEventRate
}

// lastPerson is the base-0 id of the latest person at event n.
func (c *Config) lastPerson(n int64) int64 {
	epoch, offset := n/c.total(), n%c.total()
	if offset >= c.PersonProportion {
		offset = c.PersonProportion - 1
	}
	return epoch*c.PersonProportion + offset
}

// lastAuction is the base-0 id of the latest auction at event n (-1 before
// the first).
func (c *Config) lastAuction(n int64) int64 {
	epoch, offset := n/c.total(), n%c.total()
	switch {
	case offset < c.PersonProportion:
		epoch--
		offset = c.AuctionProportion - 1
	case offset >= c.PersonProportion+c.AuctionProportion:
		offset = c.AuctionProportion - 1
	default:
		offset -= c.PersonProportion
	}
	return epoch*c.AuctionProportion + offset
}

// nextPerson draws a base-0 person id among the active ones and a few
// not yet created.
func (c *Config) nextPerson(n int64, r *rng) int64 {
	people := c.lastPerson(n) + 1
	active := min(people, c.NumActivePeople)
	return people - active + r.int63n(active+PersonIDLead)
}

// nextAuction draws a base-0 auction id among the in-flight ones and a
// few not yet created.
func (c *Config) nextAuction(n int64, r *rng) int64 {
	last := c.lastAuction(n)
	lo := max(last-c.NumInFlightAuctions, 0)
	return lo + r.int63n(last-lo+1+AuctionIDLead)
}

// Event makes event n (0 <= n < Events) of the stream.
func (c *Config) Event(n int64) Event {
	r := newRNG(c.Seed, n)
	ts := c.Timestamp(n)
	switch rem := n % c.total(); {
	case rem < c.PersonProportion:
		return Event{Person: c.person(n, ts, &r)}
	case rem < c.PersonProportion+c.AuctionProportion:
		return Event{Auction: c.auction(n, ts, &r)}
	default:
		return Event{Bid: c.bid(n, ts, &r)}
	}
}

var (
	usStates   = []string{"AZ", "CA", "ID", "OR", "WA", "WY"}
	usCities   = []string{"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"}
	firstNames = []string{"Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"}
	lastNames  = []string{"Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"}
	channels   = []string{"Google", "Facebook", "Baidu", "Apple"}
)

func (c *Config) person(n, ts int64, r *rng) *Person {
	p := &Person{
		ID:         c.lastPerson(n) + FirstPersonID,
		Name:       firstNames[r.intn(len(firstNames))] + " " + lastNames[r.intn(len(lastNames))],
		Email:      r.str(7) + "@" + r.str(5) + ".com",
		CreditCard: r.digits(4) + " " + r.digits(4) + " " + r.digits(4) + " " + r.digits(4),
		City:       usCities[r.intn(len(usCities))],
		State:      usStates[r.intn(len(usStates))],
		DateTimeMs: ts,
	}
	size := 8 + len(p.Name) + len(p.Email) + len(p.CreditCard) + len(p.City) + len(p.State)
	p.Extra = r.extra(size, avgPersonBytes)
	return p
}

func (c *Config) auction(n, ts int64, r *rng) *Auction {
	id := c.lastAuction(n) + FirstAuctionID
	var seller int64
	if r.int63n(c.HotSellersRatio) > 0 {
		// The latest hot seller.
		seller = c.lastPerson(n) / HotSellerRatio * HotSellerRatio
	} else {
		seller = c.nextPerson(n, r)
	}
	initial := r.price()
	a := &Auction{
		ID:          id,
		ItemName:    r.str(20),
		Description: r.str(100),
		InitialBid:  initial,
		Reserve:     initial + r.price(),
		DateTimeMs:  ts,
		ExpiresMs:   ts + c.auctionLength(n, ts, r),
		Seller:      seller + FirstPersonID,
		Category:    FirstCategoryID + r.int63n(NumCategories),
	}
	size := 8 + len(a.ItemName) + len(a.Description) + 8 + 8 + 8 + 8 + 8
	a.Extra = r.extra(size, avgAuctionBytes)
	return a
}

// auctionLength draws how long an auction opened at event n lasts: up to
// twice the event time it takes for NumInFlightAuctions auctions to open,
// so that about that many are open at once.
func (c *Config) auctionLength(n, ts int64, r *rng) int64 {
	events := c.NumInFlightAuctions * c.total() / c.AuctionProportion
	horizon := c.Timestamp(n+events) - ts
	return 1 + r.int63n(max(horizon*2, 1))
}

func (c *Config) bid(n, ts int64, r *rng) *Bid {
	var auction, bidder int64
	if r.int63n(c.HotAuctionRatio) > 0 {
		auction = c.lastAuction(n) / HotAuctionRatio * HotAuctionRatio
	} else {
		auction = c.nextAuction(n, r)
	}
	if r.int63n(c.HotBiddersRatio) > 0 {
		// Hot bidders are one past hot sellers, as in Beam Java.
		bidder = c.lastPerson(n)/HotBidderRatio*HotBidderRatio + 1
	} else {
		bidder = c.nextPerson(n, r)
	}
	b := &Bid{
		Auction:    max(auction, 0) + FirstAuctionID,
		Bidder:     bidder + FirstPersonID,
		Price:      r.price(),
		Channel:    channels[r.intn(len(channels))],
		DateTimeMs: ts,
	}
	b.URL = "https://www.nexmark.com/" + r.str(5) + "/item.htm?query=1&channel_id=" + strconv.Itoa(r.intn(1000))
	size := 8 + 8 + 8 + len(b.Channel) + len(b.URL) + 8
	b.Extra = r.extra(size, avgBidBytes)
	return b
}

// rng is a splitmix64 generator: one per event, seeded from the seed and
// the event number, so that any event can be made on its own.
type rng struct{ s uint64 }

func newRNG(seed, n int64) rng {
	r := rng{s: uint64(seed)*0x9e3779b97f4a7c15 ^ uint64(n)}
	r.next()
	return r
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// int63n is uniform in [0, n) (n > 0; the modulo bias is negligible for
// the small n used here).
func (r *rng) int63n(n int64) int64 { return int64(r.next()>>1) % n }

func (r *rng) intn(n int) int { return int(r.int63n(int64(n))) }

func (r *rng) float64() float64 { return float64(r.next()>>11) / (1 << 53) }

// price is Beam Java's nextPrice: 100 * 10^(6u), in cents, u uniform in
// [0, 1).
func (r *rng) price() int64 { return int64(math.Round(math.Pow(10, r.float64()*6) * 100)) }

// str is a string of n lowercase letters.
func (r *rng) str(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + r.intn(26))
	}
	return string(b)
}

// digits is a string of n decimal digits.
func (r *rng) digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + r.intn(10))
	}
	return string(b)
}

// extra is Beam Java's nextExtra: padding that brings an event of size
// bytes to avg bytes on average (within ±20%).
func (r *rng) extra(size, avg int) string {
	if size > avg {
		return ""
	}
	want := avg - size
	delta := int(math.Round(float64(want) * 0.2))
	return r.str(want - delta + r.intn(2*delta+1))
}
