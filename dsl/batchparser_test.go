package dsl_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/streams-dev/streams/dsl"
)

func TestBatchParser(t *testing.T) {
	schema := []byte(`{"required":["type"]}`)
	g := dsl.StreamingSource("src", "in").
		Apply("batch", dsl.Batch[[]byte](3, time.Second)).
		Apply("parse", dsl.BatchParser[codecEvent](dsl.WithJSONSchema(schema))).
		Sink("out", dsl.DevNullSink[[]codecEvent]()).MustBuild()
	n := g.Node("parse")
	if n.Kind() != dsl.KindParser || n.InType() != reflect.TypeFor[[][]byte]() || n.OutType() != reflect.TypeFor[[]codecEvent]() {
		t.Fatalf("node %v %v %v", n.Kind(), n.InType(), n.OutType())
	}
	in := [][]byte{[]byte(`{"type":"a"}`), []byte(`nope`), []byte(`{"type":"b","value":2}`), []byte(`{"value":1}`)}
	out, err := run(t, n, dsl.Any{Payload: in, Key: []byte("k")})
	want := []codecEvent{{Type: "a"}, {Type: "b", Value: 2}}
	if len(out) != 1 || !reflect.DeepEqual(out[0].Payload, want) || string(out[0].Key) != "k" {
		t.Errorf("out %v", out)
	}
	var items *dsl.ItemsError
	if !errors.As(err, &items) || len(items.Items) != 2 {
		t.Fatalf("err %v", err)
	}
	if it := items.Items[0]; it.Index != 1 || string(it.Value) != "nope" || !strings.Contains(it.Error(), "item 1: invalid json") {
		t.Errorf("item 0: %+v %v", it, it.Error())
	}
	if it := items.Items[1]; it.Index != 3 || !strings.Contains(it.Error(), "item 3: schema validation") {
		t.Errorf("item 1: %+v", it)
	}
	var inv *dsl.InvalidError
	if !errors.As(err, &inv) || inv.Step != "parse" {
		t.Errorf("not an InvalidError of the step: %v", err)
	}
}

func TestBatchParserAllInvalid(t *testing.T) {
	g := dsl.StreamingSource("src", "in").
		Apply("batch", dsl.Batch[[]byte](3, time.Second)).
		Apply("parse", dsl.BatchParser[codecEvent]()).
		Sink("out", dsl.DevNullSink[[]codecEvent]()).MustBuild()
	out, err := run(t, g.Node("parse"), dsl.Any{Payload: [][]byte{[]byte("x")}})
	if len(out) != 0 || err == nil {
		t.Errorf("got %v %v", out, err)
	}
	out, err = run(t, g.Node("parse"), dsl.Any{Payload: [][]byte{[]byte(`{"type":"a"}`)}})
	if len(out) != 1 || err != nil {
		t.Errorf("got %v %v", out, err)
	}
	m, err := g.Node("parse").WithDecoding(dsl.Msgpack, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, m, dsl.Any{Payload: [][]byte{[]byte(`{"type":"a"}`)}}); err == nil || !strings.Contains(err.Error(), "invalid msgpack") {
		t.Errorf("rebound to msgpack: %v", err)
	}
}
