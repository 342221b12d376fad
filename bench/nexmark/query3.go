package nexmark

import (
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
)

// Query3 is local item suggestion: for each auction of category 10
// whose seller lives in OR, ID or CA, the seller's name, city and state
// and the auction. People and auctions are joined by seller in the global
// window by a stateful DoFn keyed by person id, as Beam Java does: the
// person is kept in state, and auctions that come before their seller
// wait in a bag.
func Query3(s beam.Scope, events beam.PCollection) beam.PCollection {
	s = s.Scope("Query3")
	keyed := beam.ParDo(s, keyQuery3, events)
	return beam.ParDo(s, &joinQuery3Fn{
		Person:   state.MakeValueState[Person]("person"),
		Auctions: state.MakeBagState[Auction]("auctions"),
	}, keyed)
}

// query3Person and query3Auction are Query3's filters.
func query3Person(p *Person) bool {
	return p.State == "OR" || p.State == "ID" || p.State == "CA"
}

func query3Auction(a *Auction) bool { return a.Category == 10 }

// keyQuery3 keys the people and auctions Query3 joins by person id.
func keyQuery3(e Event, emit func(int64, Event)) {
	switch {
	case e.Person != nil && query3Person(e.Person):
		emit(e.Person.ID, Event{Person: e.Person})
	case e.Auction != nil && query3Auction(e.Auction):
		emit(e.Auction.Seller, Event{Auction: e.Auction})
	}
}

type joinQuery3Fn struct {
	Person   state.Value[Person]
	Auctions state.Bag[Auction]
}

func (f *joinQuery3Fn) ProcessElement(sp state.Provider, _ int64, e Event, emit func(NameCityStateID)) error {
	out := func(p *Person, a *Auction) {
		emit(NameCityStateID{Name: p.Name, City: p.City, State: p.State, Auction: a.ID})
	}
	if e.Person != nil {
		if err := f.Person.Write(sp, *e.Person); err != nil {
			return err
		}
		waiting, ok, err := f.Auctions.Read(sp)
		if err != nil || !ok {
			return err
		}
		for i := range waiting {
			out(e.Person, &waiting[i])
		}
		return f.Auctions.Clear(sp)
	}
	p, ok, err := f.Person.Read(sp)
	if err != nil {
		return err
	}
	if ok {
		out(&p, e.Auction)
		return nil
	}
	return f.Auctions.Add(sp, *e.Auction)
}
