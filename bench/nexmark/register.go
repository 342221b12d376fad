package nexmark

import (
	"reflect"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
)

// Beam Go finds DoFns, functions and coders by name in process-wide
// registries that must be filled before beam.Init, in every process that
// runs the pipeline's workers; so, as Beam asks, an init function does it
// here, the one place this package registers anything.
func init() {
	beam.RegisterCoder(reflect.TypeFor[Event](), encodeEvent, decodeEvent)
	beam.RegisterCoder(reflect.TypeFor[Person](), encodePerson, decodePerson)
	beam.RegisterCoder(reflect.TypeFor[Auction](), encodeAuction, decodeAuction)
	beam.RegisterCoder(reflect.TypeFor[Bid](), encodeBid, decodeBid)
	// Without these the SDK calls the coders through reflect.Value.Call,
	// a fifth of q7's CPU.
	register.Function1x1(encodeEvent)
	register.Function1x2(decodeEvent)
	register.Function1x1(encodePerson)
	register.Function1x2(decodePerson)
	register.Function1x1(encodeAuction)
	register.Function1x2(decodeAuction)
	register.Function1x1(encodeBid)
	register.Function1x2(decodeBid)

	register.DoFn3x0[*sdf.LockRTracker, []byte, func(beam.EventTime, Event)](&generateFn{})
	register.Emitter2[beam.EventTime, Event]()

	register.DoFn2x1[beam.Window, beam.X, error](&checkFn{})

	register.Function2x0(bidsOf)
	register.Emitter1[Bid]()
	register.Function1x1(passThrough)
	register.Function1x1(toEuros)
	register.Function2x0(selectBid)
	register.Emitter1[AuctionPrice]()

	register.Function2x0(keyQuery3)
	register.Emitter2[int64, Event]()
	register.DoFn4x1[state.Provider, int64, Event, func(NameCityStateID), error](&joinQuery3Fn{})
	register.Emitter1[NameCityStateID]()

	register.Function2x0(bidAuction)
	register.Emitter1[int64]()
	register.Function2x1(toAuctionCount)
	register.Combiner3[hotAuctions, AuctionCount, []AuctionCount](&hotAuctionsFn{})
	register.Function2x0(emitAuctionCounts)
	register.Emitter1[AuctionCount]()

	register.Combiner3[highestBids, Bid, []Bid](&highestBidsFn{})
	register.Function2x0(emitBids)

	register.Function2x0(personByID)
	register.Emitter2[int64, Person]()
	register.Function2x0(auctionBySeller)
	register.Emitter2[int64, Auction]()
	register.Function4x0(joinQuery8)
	register.Iter1[Person]()
	register.Iter1[Auction]()
	register.Emitter1[IDNameReserve]()
}
