package dsl

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// ParserOption configures Parser and BatchParser: WithJSONSchema,
// WithCodec.
type ParserOption interface{ applyParser(*parserConfig) }

type parserConfig struct {
	codec  Codec
	schema []byte
}

type parserOptionFunc func(*parserConfig)

func (f parserOptionFunc) applyParser(c *parserConfig) { f(c) }

// WithJSONSchema makes the parser validate each payload against a JSON
// Schema (drafts 4 to 2020-12) before decoding it; a payload that does not
// conform is rejected with the validation errors as its cause. The schema
// is compiled when the step is made, and a bad schema is a Build error.
// It applies to the json and msgpack codecs (a msgpack payload is
// validated as the JSON value it holds). The deployment config may give
// the schema instead (the source step's schema_dir).
func WithJSONSchema(schema []byte) ParserOption {
	return parserOptionFunc(func(c *parserConfig) { c.schema = schema })
}

func parserOptions(opts []ParserOption) parserConfig {
	var cfg parserConfig
	for _, o := range opts {
		if o != nil {
			o.applyParser(&cfg)
		}
	}
	return cfg
}

// Parser decodes payloads into T with its codec (WithCodec; default
// JSON, or the source stream's codec in the deployment config). A
// payload that does not decode, does not fit T, or (WithJSONSchema, or
// the stream's schema in the deployment config) breaks the schema is
// rejected, with the cause, and the pipeline goes on.
func Parser[T any](opts ...ParserOption) Step[[]byte, T] {
	cfg := parserOptions(opts)
	d := &decoding{codec: cfg.codec, schema: cfg.schema != nil}
	d.make = func(c Codec, schema []byte) (processFn, error) {
		dec, err := newDecoder[T](c, schema)
		if err != nil {
			return nil, err
		}
		return parseFn(dec), nil
	}
	process, err := d.make(cfg.codec, cfg.schema)
	if err != nil {
		return Step[[]byte, T]{err: err}
	}
	return Step[[]byte, T]{kind: KindParser, process: process, decoding: d}
}

func parseFn[T any](dec decodeFunc[T]) processFn {
	return func(in Any, emit func(Any)) error {
		raw, ok := in.Payload.([]byte)
		if !ok && in.Payload != nil {
			return fmt.Errorf("parser needs []byte payloads, got %T", in.Payload)
		}
		out, err := dec(raw)
		if err != nil {
			return err
		}
		emit(Any{Payload: out, Key: in.Key, Headers: in.Headers, Timestamp: in.Timestamp})
		return nil
	}
}

// decoding is what a Parser or BatchParser decodes with, as its code
// says, and how to make its process function with another codec or
// schema (from the deployment config).
type decoding struct {
	codec  Codec // set in code; 0: not set
	schema bool  // a schema is set in code
	make   func(c Codec, schema []byte) (processFn, error)
}

// Decodes reports whether the step is a Parser or BatchParser, whose
// codec and schema the deployment config may set (WithDecoding).
func (n *Node) Decodes() bool { return n.decoding != nil }

// WithDecoding returns a copy of n, a Parser or BatchParser, that
// decodes with codec c (0: as the code says) and validates each payload
// against the JSON Schema schema (nil: as the code says), as the
// deployment config asks for the source stream. A codec other than one
// the code set, or a schema where the code set one too, is an error: the
// config would otherwise be ignored or silently win.
func (n *Node) WithDecoding(c Codec, schema []byte) (*Node, error) {
	d := n.decoding
	if d == nil {
		return nil, fmt.Errorf("dsl: step %q (%s) is not a parser", n.name, n.kind)
	}
	var problems []string
	if c != 0 && d.codec != 0 && c != d.codec {
		problems = append(problems, fmt.Sprintf("its code sets codec %v, the config %v", d.codec, c))
	}
	if schema != nil && d.schema {
		problems = append(problems, "its code sets a JSON Schema (WithJSONSchema), and so does the config")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("step %s: %s", n.name, strings.Join(problems, "; "))
	}
	if c == 0 {
		c = d.codec
	}
	process, err := d.make(c, schema)
	if err != nil {
		return nil, fmt.Errorf("step %s: %w", n.name, err)
	}
	cp := *n
	cp.process = process
	return &cp, nil
}

var errNoSchema = errors.New("empty schema")

func compileSchema(schema []byte) (*jsonschema.Schema, error) {
	if len(bytes.TrimSpace(schema)) == 0 {
		return nil, errNoSchema
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	const url = "urn:streams:json-schema"
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	return c.Compile(url)
}

// oneLine turns a validation error, one cause per line after a heading,
// into one line of causes: a message header or log line holds it whole.
func oneLine(err error) string {
	lines := strings.Split(strings.TrimSpace(err.Error()), "\n")
	if len(lines) > 1 {
		lines = lines[1:]
	}
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(strings.TrimSpace(l), "- ")
	}
	return strings.Join(lines, "; ")
}
