package seed

import (
	"bytes"
	"testing"
)

func TestRecord(t *testing.T) {
	kept := 0
	for i := range 1001 {
		k, v := Record(i)
		if len(v) < ValueSize-10 || len(v) > ValueSize+10 {
			t.Errorf("record %d: value of %d bytes, want about %d", i, len(v), ValueSize)
		}
		e, err := Parse(v)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if e.ID != int64(i) || !bytes.Equal(k, []byte(e.User)) {
			t.Errorf("record %d: parsed %+v with key %q", i, e, k)
		}
		if !Keep(e) {
			continue
		}
		kept++
		out, err := Serialize(e)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := Parse(out); err != nil || back != e {
			t.Errorf("record %d: serialized %s, parsed back %+v, %v", i, out, back, err)
		}
	}
	if kept != Kept(1001) {
		t.Errorf("kept %d of 1001, Kept says %d", kept, Kept(1001))
	}
}
