package config

import (
	"strings"
	"testing"
)

// A source's codec and schema_dir decode into its step config; a codec
// that is not one of json, msgpack, protobuf is a problem, and so is
// either key on a step that is not a source.
func TestCodecAndSchemaDirKeys(t *testing.T) {
	c, err := Parse([]byte(`pipeline:
  segments:
    - steps_config:
        myinput:
          codec: msgpack
          schema_dir: schemas
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(0, []StepInfo{{"myinput", Source}}); err != nil {
		t.Fatal(err)
	}
	sc := c.Pipeline.Segments[0].Step("myinput", Source)
	if sc.Codec != "msgpack" || sc.SchemaDir != "schemas" || !sc.IsSet("codec") || !sc.IsSet("schema_dir") {
		t.Errorf("step config %+v", sc)
	}
	if built := (StepConfig{Codec: "json", SchemaDir: "x"}); !built.IsSet("codec") || !built.IsSet("schema_dir") {
		t.Error("IsSet misses codec or schema_dir of a config built in Go")
	}

	c, _ = Parse([]byte(`pipeline:
  segments:
    - steps_config:
        myinput: {codec: avro}
        parse: {codec: json, schema_dir: s}
`), nil)
	err = c.Validate(0, []StepInfo{{"myinput", Source}, {"parse", Parser}})
	for _, want := range []string{
		"myinput.codec: must be one of json, msgpack, protobuf",
		`parse.codec: parser step "parse" does not take this key`,
		`parse.schema_dir: parser step "parse" does not take this key`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}
