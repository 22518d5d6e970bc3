package pebblestore

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Options configures the engine. The zero value is valid: a zero field takes its
// default. Pebble's own defaults suit a database that owns the machine poorly and a
// stream processor's task worse (an 8 MiB cache per DB, 4 MiB memtables, no Bloom
// filters, writes stopped at 12 L0 sublevels), so every field that matters is set here
// deliberately.
//
// Memory: the block cache and the memtables live outside the Go heap (GOMEMLIMIT does not
// see them). Budget CacheSize once per engine, plus up to 3 × MemTableSize
// per task that writes heavily; an idle task's memtable starts at 256 KiB.
type Options struct {
	// CacheSize is the size in bytes of the block cache shared by every task DB of the
	// engine: uncompressed sstable data, index and filter blocks. One cache for all
	// tasks lets busy tasks use what idle ones do not. Default 64 MiB (Pebble: 8 MiB
	// per DB; Kafka Streams: 50 MiB per RocksDB store).
	CacheSize int64

	// MemTableSize is the size in bytes of each task DB's memtable, where committed
	// writes collect until it is flushed to an L0 sstable in the background. Larger
	// memtables absorb overwrites of hot keys (aggregations) before they reach disk and
	// make fewer, larger L0 files. Default 16 MiB, Kafka Streams' write_buffer_size for
	// RocksDB (Pebble: 4 MiB). At most 4 GiB.
	MemTableSize uint64

	// BloomBitsPerKey is the number of bits per key of the Bloom filters of sstables,
	// at every level. A filter lets a Get of an absent key (an aggregation's first sight
	// of a key, a join's miss) skip a table without reading its blocks; 10 bits per key
	// give about 1% false positives for 1.25 bytes per key. Default 10 (Pebble: no
	// filters); a negative value turns filters off.
	BloomBitsPerKey int

	// L0CompactionThreshold is the number of L0 sublevels (the read amplification of L0)
	// at which an L0 compaction starts. Default 4 (Pebble's and RocksDB's): compacting
	// early keeps Gets cheap, which matters more to a task than write amplification.
	L0CompactionThreshold int

	// L0StopWritesThreshold is the number of L0 sublevels at which writes stop until
	// compactions catch up. A stop blocks the task's Commit, and with it the task's
	// processing loop and perhaps its group membership, so it is set far above the
	// compaction threshold: bursts (a restoration writing large batches) raise read
	// amplification for a while instead of stalling. Default 36, RocksDB's
	// level0_stop_writes_trigger that Kafka Streams runs with (Pebble: 12). It must not
	// be below L0CompactionThreshold.
	L0StopWritesThreshold int

	// MaxOpenFiles is the number of sstables that the engine keeps open, shared by every
	// task DB (the file cache). Default 1000.
	MaxOpenFiles int

	// FS holds the task directories. Default vfs.Default, the operating system's; tests
	// use vfs.NewMem().
	FS vfs.FS

	// Logger receives Pebble's messages, with the attribute source=pebble: Errorf
	// (background errors, corruption) at slog.LevelError, and Infof at slog.LevelDebug,
	// since it carries routine news, such as the WAL replay of every Open, that would
	// print lines for every task at every rebalance. Pebble calls Fatalf on an internal
	// invariant violation and requires that it does not return: the message is logged at
	// slog.LevelError, then Fatalf panics. Default slog.Default().
	Logger *slog.Logger
}

// memTableCount is the number of memtables of a task DB, the one taking writes and those
// queued for flushing, at which writes stop (Pebble's MemTableStopWritesThreshold). 3 is
// Kafka Streams' max_write_buffer_number; Pebble's 2 stops writes whenever one flush is
// slower than filling the next memtable.
const memTableCount = 3

// maxMemTableSize is Pebble's limit on 64-bit machines.
const maxMemTableSize = 4 << 30

// withDefaults returns o with every zero field set to its default, or an error naming
// the fields that are out of range.
func (o Options) withDefaults() (Options, error) {
	var errs []error
	if o.CacheSize < 0 {
		errs = append(errs, fmt.Errorf("negative CacheSize %d", o.CacheSize))
	}
	if o.MemTableSize > maxMemTableSize {
		errs = append(errs, fmt.Errorf("MemTableSize %d above %d", o.MemTableSize, maxMemTableSize))
	}
	if o.L0CompactionThreshold < 0 {
		errs = append(errs, fmt.Errorf("negative L0CompactionThreshold %d", o.L0CompactionThreshold))
	}
	if o.L0StopWritesThreshold < 0 {
		errs = append(errs, fmt.Errorf("negative L0StopWritesThreshold %d", o.L0StopWritesThreshold))
	}
	if o.MaxOpenFiles < 0 {
		errs = append(errs, fmt.Errorf("negative MaxOpenFiles %d", o.MaxOpenFiles))
	}
	setDefault(&o.CacheSize, 64<<20)
	setDefault(&o.MemTableSize, 16<<20)
	setDefault(&o.BloomBitsPerKey, 10)
	setDefault(&o.L0CompactionThreshold, 4)
	setDefault(&o.L0StopWritesThreshold, 36)
	setDefault(&o.MaxOpenFiles, 1000)
	if o.L0StopWritesThreshold < o.L0CompactionThreshold {
		errs = append(errs, fmt.Errorf("L0StopWritesThreshold %d below L0CompactionThreshold %d", o.L0StopWritesThreshold, o.L0CompactionThreshold))
	}
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if err := errors.Join(errs...); err != nil {
		return o, fmt.Errorf("pebblestore: invalid options: %w", err)
	}
	return o, nil
}

func setDefault[T comparable](field *T, def T) {
	var zero T
	if *field == zero {
		*field = def
	}
}

// pebbleOptions returns the options of one task DB, sharing the engine's caches.
// REQUIRES: o has its defaults.
func (o *Options) pebbleOptions(cache *pebble.Cache, files *pebble.FileCache) *pebble.Options {
	po := &pebble.Options{
		Cache:     cache,
		FileCache: files,
		FS:        o.FS,
		// The changelog is the durability: after a crash the DB reopens at the last
		// flushed commit, whose offsets were written in the same batch as its data, and
		// restoration replays the changelog from there.
		DisableWAL: true,
		// New DBs take the newest format (columnar blocks); existing ones are ratcheted
		// up when opened.
		FormatMajorVersion:          pebble.FormatNewest,
		MemTableSize:                o.MemTableSize,
		MemTableStopWritesThreshold: memTableCount,
		L0CompactionThreshold:       o.L0CompactionThreshold,
		L0StopWritesThreshold:       o.L0StopWritesThreshold,
		Logger:                      logger{o.Logger},
	}
	if o.BloomBitsPerKey > 0 {
		for i := range po.Levels {
			po.Levels[i].FilterPolicy = bloom.FilterPolicy(o.BloomBitsPerKey)
		}
	}
	return po
}
