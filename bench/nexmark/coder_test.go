package nexmark

import "testing"

func TestCoderRoundTrip(t *testing.T) {
	c := Config{Events: 100, Seed: 3}
	c.EnsureDefaults()
	for n := range c.Events {
		e := c.Event(n)
		got, err := decodeEvent(encodeEvent(e))
		if err != nil {
			t.Fatalf("event %d: %v", n, err)
		}
		if got.String() != e.String() {
			t.Fatalf("event %d: got %v, want %v", n, got, e)
		}
		if _, err := decodeEvent(encodeEvent(e)[:5]); err == nil {
			t.Fatalf("event %d: a truncated encoding decoded", n)
		}
	}
	b := Bid{Auction: 1, Bidder: 2, Price: 3, Channel: "c", URL: "u", DateTimeMs: 4, Extra: "x"}
	if got, err := decodeBid(encodeBid(b)); err != nil || got != b {
		t.Fatalf("bid: got %v, %v", got, err)
	}
}
