package nexmark

import (
	"encoding/binary"
	"errors"
)

// Binary coders for the event types. Beam Go's default for a struct is
// its schema (row) coder, which goes through reflection and cannot encode
// Event's nil pointers; these append varints and length-prefixed strings.
// Both runners encode events between stages and in state, so the coder is
// part of what a query costs. Registered in register.go.

var errShort = errors.New("nexmark: truncated encoding")

type enc []byte

func (e enc) int(v int64) enc  { return binary.AppendVarint(e, v) }
func (e enc) str(s string) enc { return append(binary.AppendUvarint(e, uint64(len(s))), s...) }

type dec struct {
	b   []byte
	err error
}

func (d *dec) int() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShort
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) str() string {
	l, n := binary.Uvarint(d.b)
	if n <= 0 || uint64(len(d.b)-n) < l {
		d.err = errShort
		d.b = nil
		return ""
	}
	s := string(d.b[n : n+int(l)])
	d.b = d.b[n+int(l):]
	return s
}

func (e enc) person(p *Person) enc {
	return e.int(p.ID).str(p.Name).str(p.Email).str(p.CreditCard).str(p.City).str(p.State).int(p.DateTimeMs).str(p.Extra)
}

func (d *dec) person() Person {
	return Person{ID: d.int(), Name: d.str(), Email: d.str(), CreditCard: d.str(), City: d.str(), State: d.str(), DateTimeMs: d.int(), Extra: d.str()}
}

func (e enc) auction(a *Auction) enc {
	return e.int(a.ID).str(a.ItemName).str(a.Description).int(a.InitialBid).int(a.Reserve).
		int(a.DateTimeMs).int(a.ExpiresMs).int(a.Seller).int(a.Category).str(a.Extra)
}

func (d *dec) auction() Auction {
	return Auction{ID: d.int(), ItemName: d.str(), Description: d.str(), InitialBid: d.int(), Reserve: d.int(),
		DateTimeMs: d.int(), ExpiresMs: d.int(), Seller: d.int(), Category: d.int(), Extra: d.str()}
}

func (e enc) bid(b *Bid) enc {
	return e.int(b.Auction).int(b.Bidder).int(b.Price).str(b.Channel).str(b.URL).int(b.DateTimeMs).str(b.Extra)
}

func (d *dec) bid() Bid {
	return Bid{Auction: d.int(), Bidder: d.int(), Price: d.int(), Channel: d.str(), URL: d.str(), DateTimeMs: d.int(), Extra: d.str()}
}

func encodePerson(p Person) []byte   { return enc(make([]byte, 0, 256)).person(&p) }
func encodeAuction(a Auction) []byte { return enc(make([]byte, 0, 600)).auction(&a) }
func encodeBid(b Bid) []byte         { return enc(make([]byte, 0, 128)).bid(&b) }

func decodePerson(b []byte) (Person, error) {
	d := dec{b: b}
	p := d.person()
	return p, d.err
}

func decodeAuction(b []byte) (Auction, error) {
	d := dec{b: b}
	a := d.auction()
	return a, d.err
}

func decodeBid(b []byte) (Bid, error) {
	d := dec{b: b}
	v := d.bid()
	return v, d.err
}

// An event is a tag byte, 'P', 'A' or 'B', then its value.
func encodeEvent(e Event) []byte {
	switch {
	case e.Person != nil:
		return enc(append(make([]byte, 0, 256), 'P')).person(e.Person)
	case e.Auction != nil:
		return enc(append(make([]byte, 0, 600), 'A')).auction(e.Auction)
	case e.Bid != nil:
		return enc(append(make([]byte, 0, 128), 'B')).bid(e.Bid)
	}
	return []byte{0}
}

func decodeEvent(b []byte) (Event, error) {
	if len(b) == 0 {
		return Event{}, errShort
	}
	d := dec{b: b[1:]}
	var e Event
	switch b[0] {
	case 'P':
		p := d.person()
		e.Person = &p
	case 'A':
		a := d.auction()
		e.Auction = &a
	case 'B':
		v := d.bid()
		e.Bid = &v
	case 0:
	default:
		return Event{}, errors.New("nexmark: unknown event tag")
	}
	return e, d.err
}
