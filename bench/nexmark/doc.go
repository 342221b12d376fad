// Package nexmark is the Nexmark benchmark for Beam Go: an online auction
// system's event stream (people, auctions and bids) and queries over it,
// after Beam Java's Nexmark suite (sdks/java/testing/nexmark), written for
// Go.
//
// # Events
//
// [Config] describes the stream and [Config.Event] makes event n of it,
// deterministically from n and the seed, as Beam Java's generator does:
// of every 50 events 1 is a person, 3 are auctions and 46 are bids; ids
// are dense (a person's and an auction's follow from the event number);
// sellers and bidders are recent people, bids name recent auctions, and a
// share of them go to hot auctions, hot sellers and hot bidders; event n
// happens at BaseTime + n/FirstEventRate (a constant rate: Beam Java's
// sine and square rate shapes, out-of-order delays and multiple
// generators are not here). [Source] is the stream as a
// bounded Beam source: a splittable DoFn over the range of event numbers,
// each event stamped with its event time, so any runner can split it.
//
// # Queries
//
//   - [Query0]: pass-through (every event).
//   - [Query1]: currency conversion (each bid's price in euros).
//   - [Query2]: selection (bids on every AuctionSkip-th auction).
//   - [Query3]: local item suggestion (people of OR, ID or CA selling in
//     category 10: a join of people and auctions by seller in the global
//     window, with user state).
//   - [Query5]: hot items (the auctions with the most bids in each sliding
//     window).
//   - [Query7]: highest bid (the bids with the highest price in each fixed
//     window).
//   - [Query8]: new users (people who opened an auction in the window they
//     joined: a windowed CoGroupByKey).
//
// Each query has an in-memory reference over the same events
// ([Reference]), and [Check] is a sink that computes an order-independent
// digest of a query's output, window included, to compare with the
// reference's ([Digest]).
//
// # Registration
//
// Beam Go needs every DoFn, function and coder registered before
// beam.Init; register.go does it, in one place.
package nexmark
