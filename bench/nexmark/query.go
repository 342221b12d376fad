package nexmark

import (
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
)

// Query parameters, Beam Java's NexmarkConfiguration defaults.
const (
	// AuctionSkip: Query2 keeps bids on auctions whose id is a multiple.
	AuctionSkip = 123
	// WindowSize is the length of the windows of Query5, Query7 and
	// Query8; WindowPeriod the period of Query5's sliding windows.
	WindowSize   = 10 * time.Second
	WindowPeriod = 5 * time.Second
)

// Query is one Nexmark query: its pipeline and its reference.
type Query struct {
	// Name is "q0", "q1", ...
	Name string
	// What the query computes, in a few words.
	What string
	// Build adds the query to s over events, a PCollection<Event> from
	// Source, and returns its output, whose elements have a Hash method
	// (Check).
	Build func(s beam.Scope, events beam.PCollection) beam.PCollection
	// Reference is the digest of the query's output over the events of c,
	// computed in memory.
	Reference func(c *Config) Digest
}

// Queries are the queries this package has, by number.
var Queries = []Query{
	{Name: "q0", What: "pass-through", Build: Query0, Reference: reference0},
	{Name: "q1", What: "currency conversion", Build: Query1, Reference: reference1},
	{Name: "q2", What: "selection", Build: Query2, Reference: reference2},
	{Name: "q3", What: "local item suggestion (join, user state)", Build: Query3, Reference: reference3},
	{Name: "q5", What: "hot items (sliding windows)", Build: Query5, Reference: reference5},
	{Name: "q7", What: "highest bid (fixed windows)", Build: Query7, Reference: reference7},
	{Name: "q8", What: "new users (windowed join)", Build: Query8, Reference: reference8},
}

// Lookup returns the query named name ("q5").
func Lookup(name string) (Query, bool) {
	for _, q := range Queries {
		if q.Name == name {
			return q, true
		}
	}
	return Query{}, false
}

// Bids is the PCollection<Bid> of the bids among events.
func Bids(s beam.Scope, events beam.PCollection) beam.PCollection {
	return beam.ParDo(s.Scope("Bids"), bidsOf, events)
}

func bidsOf(e Event, emit func(Bid)) {
	if e.Bid != nil {
		emit(*e.Bid)
	}
}
