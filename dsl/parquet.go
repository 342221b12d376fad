package dsl

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
)

// ParquetOption configures ParquetSerializer.
type ParquetOption interface{ applyParquet(*parquetConfig) }

type parquetConfig struct {
	compression string
}

type parquetOptionFunc func(*parquetConfig)

func (f parquetOptionFunc) applyParquet(c *parquetConfig) { f(c) }

// ParquetCompression sets the compression of the Parquet files, by
// Sentry Streams' names: "snappy" (the default), "uncompressed", "gzip",
// "brotli", "zstd" or "lz4" (LZ4_RAW). Another name, "lzo" included, is
// a Build error.
func ParquetCompression(name string) ParquetOption {
	return parquetOptionFunc(func(c *parquetConfig) { c.compression = name })
}

var parquetCodecs = map[string]compress.Codec{
	"snappy": &parquet.Snappy, "uncompressed": &parquet.Uncompressed, "gzip": &parquet.Gzip,
	"brotli": &parquet.Brotli, "zstd": &parquet.Zstd, "lz4": &parquet.Lz4Raw,
}

// ParquetSerializer writes each batch of rows (a Stream[[]T], from
// Batch) as one Parquet file, as Sentry Streams' ParquetSerializer does,
// with the schema taken from the struct T: its exported fields are the
// columns, named and tuned by `parquet:"name,optional,..."` tags as
// github.com/parquet-go/parquet-go reads them. A T that is not a struct,
// or has a field Parquet cannot hold, is a Build error.
//
//	events.Apply("batch", dsl.Batch[Event](1000, time.Minute)).
//		Apply("parquet", dsl.ParquetSerializer[Event]()).
//		Sink("archive", dsl.BlobSink("my-bucket", dsl.BlobObjectName("{date}/{partition}-{offset}.parquet")))
func ParquetSerializer[T any](opts ...ParquetOption) Step[[]T, []byte] {
	cfg := parquetConfig{compression: "snappy"}
	for _, o := range opts {
		if o != nil {
			o.applyParquet(&cfg)
		}
	}
	codec, ok := parquetCodecs[cfg.compression]
	if !ok {
		names := slices.Sorted(func(yield func(string) bool) {
			for n := range parquetCodecs {
				if !yield(n) {
					return
				}
			}
		})
		return Step[[]T, []byte]{err: fmt.Errorf("parquet compression %q is not supported; use one of %s", cfg.compression, strings.Join(names, ", "))}
	}
	schema, err := parquetSchema[T]()
	if err != nil {
		return Step[[]T, []byte]{err: err}
	}
	return Step[[]T, []byte]{kind: KindSerializer, process: func(in Any, emit func(Any)) error {
		m, err := typed[[]T](in)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		w := parquet.NewGenericWriter[T](&buf, schema, parquet.Compression(codec))
		if _, err := w.Write(m.Payload); err != nil {
			return fmt.Errorf("parquet: %w", err)
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("parquet: %w", err)
		}
		emit(erase(retype(m, buf.Bytes())))
		return nil
	}}
}

// parquetSchema is the Parquet schema of struct T. parquet.SchemaOf
// panics on a type it cannot map; that is returned as an error.
func parquetSchema[T any]() (s *parquet.Schema, err error) {
	t := reflect.TypeFor[T]()
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("parquet rows must be structs; got %v", t)
	}
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("parquet schema of %v: %v", t, r)
		}
	}()
	return parquet.SchemaOf(new(T)), nil
}
