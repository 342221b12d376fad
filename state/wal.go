package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"
	"strings"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/record"
	"github.com/cockroachdb/pebble/vfs"
)

// ErrCorrupt is matched by Open's error when the directory's write-ahead
// log is damaged where committed state follows the damage.
var ErrCorrupt = errors.New("state: corrupt write-ahead log")

// On opening, Pebble replays each write-ahead log (WAL) up to its first
// damaged record and drops the rest without a word: a torn last write
// after a crash looks like that, and was never acknowledged. Damage in the
// middle of a log (a flipped byte, a bad sector) looks the same to it, and
// then every commit after the damage, acknowledged and with Kafka offsets
// committed on the strength of it, is lost: the run would resume from
// older state and newer offsets. checkWALs tells the two apart before
// Pebble opens: a damaged record followed by an intact chunk of the same
// log is corruption, a damaged record followed by nothing of its log a
// torn tail.
//
// The tail of a torn write cannot be told from damage to the last record;
// losing it loses only the last commit. Damage in a log Pebble no longer
// replays (flushed, kept for reuse) is reported as well: the directory's
// disk is damaged.

// Chunk layout of Pebble's WALs (package record, recyclable format):
// checksum (4 bytes), length (2), type (1), log number (4), payload.
const (
	walBlockSize   = 32 << 10
	walHeaderSize  = 11
	walTypeFull    = 5
	walTypeFirst   = 6
	walChecksumKey = 0xa282ead8
)

var walCRC = crc32.MakeTable(crc32.Castagnoli)

// checkWALs returns an error matching ErrCorrupt for the first WAL of dir
// with committed records after a damaged one.
func checkWALs(fs vfs.FS, dir string) error {
	names, err := fs.List(dir)
	if err != nil {
		return fmt.Errorf("state: listing %s: %w", dir, err)
	}
	for _, name := range names {
		num, ok := walNumber(name)
		if !ok {
			continue
		}
		if err := checkWAL(fs, dir, name, num); err != nil {
			return err
		}
	}
	return nil
}

// walNumber parses a WAL's file name, NNNNNN.log.
func walNumber(name string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, ".log")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	return n, err == nil
}

func checkWAL(fs vfs.FS, dir, name string, num uint64) error {
	path := fs.PathJoin(dir, name)
	f, err := fs.Open(path)
	if err != nil {
		return fmt.Errorf("state: reading %s: %w", path, err)
	}
	data, err := io.ReadAll(f)
	_ = f.Close()
	if err != nil {
		return fmt.Errorf("state: reading %s: %w", path, err)
	}
	r := record.NewReader(bytes.NewReader(data), pebble.FileNum(num))
	for {
		off := r.Offset()
		rec, err := r.Next()
		if err == nil {
			_, err = io.Copy(io.Discard, rec)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err == nil {
			continue
		}
		if !intactChunkAfter(data, off+1, uint32(num)) {
			return nil // a torn tail
		}
		return fmt.Errorf("%w: %s: record at offset %d is damaged (%w) and committed records follow it; Pebble would drop them and the state after them silently. Delete the directory to start with empty state and replay from the consumer group's committed Kafka offsets",
			ErrCorrupt, path, off, err)
	}
}

// intactChunkAfter reports whether data holds, at or after from, the
// start of a record of log logNum (a full or first chunk) whose checksum
// is right. Middle and last chunks do not count: those of a record torn
// between blocks (its first chunks written, its last not) follow the
// damage intact, and are still a torn tail.
func intactChunkAfter(data []byte, from int64, logNum uint32) bool {
	for p := int(from); p+walHeaderSize <= len(data); p++ {
		h := data[p : p+walHeaderSize]
		if h[6] != walTypeFull && h[6] != walTypeFirst || binary.LittleEndian.Uint32(h[7:]) != logNum {
			continue
		}
		end := p + walHeaderSize + int(binary.LittleEndian.Uint16(h[4:]))
		if end > len(data) || p/walBlockSize != (end-1)/walBlockSize {
			continue
		}
		c := crc32.Update(0, walCRC, data[p+6:end])
		if binary.LittleEndian.Uint32(h) == (c>>15|c<<17)+walChecksumKey {
			return true
		}
	}
	return false
}
