package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"
)

// FormatVersion is the layout of the keys and values this package's users
// write. A store written with another version is refused at Open: the
// runner then replays from the committed Kafka offsets with a new data
// directory rather than misread old state.
//
// Version 2: a lifted CombinePerKey's GroupByKey saves accumulators under
// the name <combine>/GroupAndCombine (version 1 saved its values under the
// GroupByKey's name), and user state and timers are saved under their
// DoFn's unique name instead of its transform ID.
const FormatVersion = 2

var metaVersionKey = NewKey(NSMeta).Text("format-version")

// Options configure Open.
type Options struct {
	// NoSync skips the fsync of each commit: a process crash loses nothing,
	// an operating system crash or power loss may lose the last commits.
	// Tests and benchmarks use it; a runner that commits source offsets
	// after a commit must not.
	NoSync bool
	// CacheSize is Pebble's block cache size in bytes; default 32 MiB.
	CacheSize int64
	// Logger receives Pebble's own log lines (at debug level) and the
	// store's; default discard.
	Logger *slog.Logger
	// DiscardCorrupt makes Open start from empty state when the
	// directory's write-ahead log is corrupt (ErrCorrupt), after logging
	// a warning, instead of refusing to open: the runner then replays
	// from the committed Kafka offsets, as after losing the directory.
	// Default false: Open fails.
	DiscardCorrupt bool
	// FS is the file system the store lives on; default the operating
	// system's (vfs.Default). Tests inject faults with Pebble's errorfs.
	FS vfs.FS
}

// Store is one Pebble database: the durable state of one runner
// instance. It is safe for concurrent use; batches are not.
type Store struct {
	db    *pebble.DB
	lock  *pebble.Lock
	dir   string
	sync  *pebble.WriteOptions
	log   *slog.Logger
	cache *pebble.Cache
	fault *fault

	commits     atomic.Int64
	commitNanos atomic.Int64
	commitBytes atomic.Int64
}

// Open opens (creating if needed) the store in dir. A store is used by one
// process at a time: Open locks the directory, and fails with an error
// matching ErrHeld when another has it. It fails with one matching
// ErrCorrupt when the write-ahead log is damaged (see
// Options.DiscardCorrupt).
func Open(dir string, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = 32 << 20
	}
	if opts.FS == nil {
		opts.FS = vfs.Default
	}
	if err := opts.FS.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	lock, err := lockDir(opts.FS, dir)
	if err != nil {
		return nil, err
	}
	s, err := openLocked(dir, lock, opts)
	if err != nil {
		_ = lock.Close()
		return nil, err
	}
	return s, nil
}

// openLocked opens the store in dir, whose lock the caller holds.
func openLocked(dir string, lock *pebble.Lock, opts Options) (*Store, error) {
	if err := checkWALs(opts.FS, dir); err != nil {
		if !opts.DiscardCorrupt || !errors.Is(err, ErrCorrupt) {
			return nil, err
		}
		opts.Logger.Warn("state: discarding the corrupt state as asked; the run replays from the committed Kafka offsets", "dir", dir, "error", err)
		if err := empty(opts.FS, dir); err != nil {
			return nil, err
		}
	}
	f := &fault{dir: dir, log: opts.Logger}
	cache := pebble.NewCache(opts.CacheSize)
	db, err := pebble.Open(dir, &pebble.Options{
		Cache:         cache,
		FS:            opts.FS,
		Lock:          lock,
		Logger:        pebbleLogger{l: opts.Logger, f: f},
		EventListener: f.listener(),
	})
	if err == nil {
		err = f.get()
	}
	if err != nil {
		if db != nil {
			_ = db.Close()
		}
		cache.Unref()
		return nil, fmt.Errorf("state: opening %s: %w", dir, err)
	}
	s := &Store{db: db, lock: lock, dir: dir, sync: pebble.Sync, log: opts.Logger, cache: cache, fault: f}
	if opts.NoSync {
		s.sync = pebble.NoSync
	}
	if err := s.checkVersion(); err != nil {
		_ = s.db.Close()
		cache.Unref()
		return nil, err
	}
	return s, nil
}

// empty removes everything in dir but Pebble's lock.
func empty(fs vfs.FS, dir string) error {
	names, err := fs.List(dir)
	if err != nil {
		return fmt.Errorf("state: discarding %s: %w", dir, err)
	}
	for _, name := range names {
		if name == "LOCK" {
			continue
		}
		if err := fs.RemoveAll(fs.PathJoin(dir, name)); err != nil {
			return fmt.Errorf("state: discarding %s: %w", dir, err)
		}
	}
	return nil
}

func (s *Store) checkVersion() error {
	v, ok, err := s.Get(metaVersionKey)
	if err != nil {
		return err
	}
	if !ok {
		b := s.NewBatch()
		defer b.Close()
		b.Set(metaVersionKey, versionValue(FormatVersion))
		return b.Commit()
	}
	if len(v) != 8 || binary.BigEndian.Uint64(v) != FormatVersion {
		got := "unreadable"
		if len(v) == 8 {
			got = strconv.FormatUint(binary.BigEndian.Uint64(v), 10)
		}
		return fmt.Errorf("state: %s holds state of format version %s, this runner writes %d: move it away to replay from the committed offsets", s.dir, got, FormatVersion)
	}
	return nil
}

// versionValue is how the format version is stored: 8 bytes big-endian.
func versionValue(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// Close closes the store and releases its directory. Batches not
// committed are lost.
func (s *Store) Close() error {
	err := s.db.Close()
	s.cache.Unref()
	return errors.Join(err, s.lock.Close())
}

// Err returns the store's failure (matching ErrFailed), or nil while it
// works.
func (s *Store) Err() error { return s.fault.get() }

// Get returns a copy of the value of key.
func (s *Store) Get(key []byte) ([]byte, bool, error) {
	if err := s.fault.get(); err != nil {
		return nil, false, err
	}
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("state: get: %w", err)
	}
	defer closer.Close()
	return bytes.Clone(v), true, nil
}

// Scan calls fn for every key with prefix, in key order, until fn returns
// an error (which Scan returns). key and value are valid only during the
// call.
func (s *Store) Scan(prefix []byte, fn func(key, value []byte) error) error {
	return s.ScanRange(prefix, Key(prefix).PrefixEnd(), fn)
}

// ScanRange calls fn for every key in [start, end) (end nil: no end), in
// key order, until fn returns an error.
func (s *Store) ScanRange(start, end []byte, fn func(key, value []byte) error) error {
	if err := s.fault.get(); err != nil {
		return err
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: start, UpperBound: end})
	if err != nil {
		return fmt.Errorf("state: scan: %w", err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return fmt.Errorf("state: scan: %w", err)
		}
		if err := fn(it.Key(), v); err != nil {
			_ = it.Close()
			return err
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("state: scan: %w", err)
	}
	return s.fault.get()
}

// Batch collects writes, typically one bundle's: its state changes, timers,
// group buffers, watermark holds and source positions. Commit applies them
// all or none, durably (unless Options.NoSync). A Batch is not safe for
// concurrent use; reads through the Store do not see it until it commits.
type Batch struct {
	s   *Store
	b   *pebble.Batch
	rec func(Change)
}

// Change is one write of a batch, as Record reports it: Value set for
// Key, Key deleted (Delete), or every key in [Key, End) deleted (End set).
type Change struct {
	Key, Value, End []byte
	Delete          bool
}

// Record makes b report each write to fn as it takes it, before it
// commits (a changelog follows a task's writes this way). fn must not
// keep the slices past the call.
func (b *Batch) Record(fn func(Change)) { b.rec = fn }

// NewBatch starts a batch.
func (s *Store) NewBatch() *Batch { return &Batch{s: s, b: s.db.NewBatch()} }

// NewBatchSized starts a batch with room for about size bytes of writes
// (Size): a batch that outgrows its room copies everything it holds at
// each doubling, which for a checkpoint of megabytes costs more than the
// writes themselves.
func (s *Store) NewBatchSized(size int) *Batch {
	return &Batch{s: s, b: s.db.NewBatchWithSize(max(size, 0))}
}

// Set sets key to value. Both are copied.
func (b *Batch) Set(key, value []byte) {
	if b.rec != nil {
		b.rec(Change{Key: key, Value: value})
	}
	_ = b.b.Set(key, value, nil)
}

// Delete deletes key.
func (b *Batch) Delete(key []byte) {
	if b.rec != nil {
		b.rec(Change{Key: key, Delete: true})
	}
	_ = b.b.Delete(key, nil)
}

// DeleteRange deletes every key in [start, end).
func (b *Batch) DeleteRange(start, end []byte) {
	if b.rec != nil {
		b.rec(Change{Key: start, End: end, Delete: true})
	}
	_ = b.b.DeleteRange(start, end, nil)
}

// DeletePrefix deletes every key with prefix.
func (b *Batch) DeletePrefix(prefix []byte) {
	end := Key(prefix).PrefixEnd()
	if end == nil {
		end = bytes.Repeat([]byte{0xFF}, len(prefix)+1)
	}
	b.DeleteRange(prefix, end)
}

// Empty says whether the batch holds no write.
func (b *Batch) Empty() bool { return b.b.Empty() }

// Size is the batch's encoded size in bytes.
func (b *Batch) Size() int { return b.b.Len() }

// Commit applies the batch atomically; with sync (the default) it returns
// once the batch is on disk. The batch is then empty and reusable.
func (b *Batch) Commit() error {
	if b.b.Empty() {
		return nil
	}
	if err := b.s.fault.get(); err != nil {
		return err
	}
	start := time.Now()
	size := b.b.Len()
	if err := b.b.Commit(b.s.sync); err != nil {
		return fmt.Errorf("state: commit: %w", err)
	}
	// Pebble reports a failed write of the log to Fatalf, then returns
	// nil (see fault).
	if err := b.s.fault.get(); err != nil {
		return err
	}
	b.s.commits.Add(1)
	b.s.commitNanos.Add(int64(time.Since(start)))
	b.s.commitBytes.Add(int64(size))
	b.b.Reset()
	return nil
}

// Close releases the batch, discarding writes not committed.
func (b *Batch) Close() { _ = b.b.Close() }

// Stats are figures of a store's size and health, for metrics.
type Stats struct {
	// DiskBytes is the space the store takes on disk (tables, WAL,
	// obsolete files not yet deleted).
	DiskBytes uint64
	// TableBytes and Tables are the size and number of its sorted tables;
	// MemTableBytes what is in memory, not yet flushed.
	TableBytes    int64
	Tables        int64
	MemTableBytes uint64
	// Commits, CommitSeconds and CommitBytes count batch commits since
	// Open.
	Commits       int64
	CommitSeconds float64
	CommitBytes   int64
	// Compactions since Open, and the read amplification now (the number
	// of sorted runs a read may visit: Pebble's health figure, which grows
	// when compactions fall behind).
	Compactions int64
	ReadAmp     int
}

// Stats returns the store's figures.
func (s *Store) Stats() Stats {
	m := s.db.Metrics()
	t := m.Total()
	return Stats{
		DiskBytes:     m.DiskSpaceUsage(),
		TableBytes:    t.Size,
		Tables:        t.NumFiles,
		MemTableBytes: m.MemTable.Size,
		Commits:       s.commits.Load(),
		CommitSeconds: time.Duration(s.commitNanos.Load()).Seconds(),
		CommitBytes:   s.commitBytes.Load(),
		Compactions:   m.Compact.Count,
		ReadAmp:       m.ReadAmp(),
	}
}
