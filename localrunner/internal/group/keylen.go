package group

import "github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"

// KeyLength returns a function measuring an encoding of c at the front of
// a byte slice: without decoding for the coders whose length shows in
// their first bytes, with the SDK's decoder otherwise. The function is not
// safe for concurrent use.
func KeyLength(c *coder.Coder) func([]byte) (int, error) {
	return newKeyReader(c).length
}
