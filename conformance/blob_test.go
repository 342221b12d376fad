package conformance

import (
	"bytes"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

func parquetOf(t *testing.T, rows ...metric) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := parquet.Write(&b, rows); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// A blob expectation finds each kind of difference: a partial object,
// an object too big, a name off the pattern, items lost or repeated,
// and objects grouped otherwise than expected.
func TestBlobWantFindsDifferences(t *testing.T) {
	lines := BlobWant{Decode: Lines, Name: `out/\d+\.txt`, Items: []string{"a", "b", "c"}, MaxItems: 2}
	if d := lines.check(map[string][]byte{"out/1.txt": []byte("a\nb\n"), "out/2.txt": []byte("c\n")}); d != nil {
		t.Errorf("matching objects: %q", d)
	}
	for what, c := range map[string]struct {
		objs map[string][]byte
		want string
	}{
		"partial":  {map[string][]byte{"out/1.txt": []byte("a\nb\n"), "out/2.txt": []byte("c")}, "not ending in a newline"},
		"too big":  {map[string][]byte{"out/1.txt": []byte("a\nb\nc\n")}, "3 items, want at most 2"},
		"name":     {map[string][]byte{"out/1.txt": []byte("a\nb\n"), "x/2.txt": []byte("c\n")}, "does not match"},
		"repeated": {map[string][]byte{"out/1.txt": []byte("a\nb\n"), "out/2.txt": []byte("c\na\n")}, `unexpected: ["a"]`},
		"lost":     {map[string][]byte{"out/1.txt": []byte("a\nb\n")}, `items missing: ["c"]`},
	} {
		if d := strings.Join(lines.check(c.objs), "\n"); !strings.Contains(d, c.want) {
			t.Errorf("%s: %q, want %q", what, d, c.want)
		}
	}

	rows := BlobWant{Decode: ParquetRows[metric](), Name: `w/.*`, Objects: []BlobObject{
		{Name: `w/a-.*`, Items: []string{`{"name":"a","value":1}`, `{"name":"a","value":2}`}},
		{Name: `w/b-.*`, Items: []string{`{"name":"b","value":3}`}},
	}}
	a1, a2, b3 := metric{"a", 1}, metric{"a", 2}, metric{"b", 3}
	if d := rows.check(map[string][]byte{"w/a-1": parquetOf(t, a2, a1), "w/b-1": parquetOf(t, b3)}); d != nil {
		t.Errorf("matching Parquet objects: %q", d)
	}
	split := rows.check(map[string][]byte{"w/a-1": parquetOf(t, a1), "w/a-2": parquetOf(t, a2), "w/b-1": parquetOf(t, b3)})
	if d := strings.Join(split, "\n"); !strings.Contains(d, "missing object w/a-.*") || !strings.Contains(d, "unexpected object w/a-1") {
		t.Errorf("a window split in two objects: %q", d)
	}
	if d := strings.Join(rows.check(map[string][]byte{"w/a-1": []byte("PAR1 cut")}), "\n"); !strings.Contains(d, "object w/a-1:") {
		t.Errorf("a cut Parquet file: %q", d)
	}
}
