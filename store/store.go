package store

import (
	"errors"
)

// Errors of every engine.
var (
	// ErrClosed is returned by a store, iterator or task database used after Close.
	ErrClosed = errors.New("store: closed")
	// ErrCorruptCheckpoint is returned by CommittedOffsets when the offsets stored with
	// the data cannot be read. The engine then discards the task's state and restores it
	// from the changelog.
	ErrCorruptCheckpoint = errors.New("store: corrupt checkpoint")
	// ErrNilValue is returned by Put and PutIfAbsent for a nil value: deletes are explicit.
	ErrNilValue = errors.New("store: nil value (use Delete)")
)

// KeyValueStore is a store of byte keys and values, ordered by the bytes of the keys
// (bytes.Compare). It is the engine-facing form: processors use the typed KV handles.
//
// A store belongs to one task and is used from that task's goroutine only; it is not
// safe for concurrent use. Slices passed in are not retained after a call returns;
// slices returned by Get and PutIfAbsent belong to the caller.
type KeyValueStore interface {
	// Name is the store's name, unique within its topology.
	Name() string
	// Get returns the value of key, and whether it is present.
	Get(key []byte) (value []byte, found bool, err error)
	// Put sets the value of key. value must not be nil.
	Put(key, value []byte) error
	// PutIfAbsent sets the value of key if it has none, and returns the value it had.
	// Kafka Streams: KeyValueStore#putIfAbsent.
	PutIfAbsent(key, value []byte) (existing []byte, found bool, err error)
	// Delete removes key; removing an absent key is not an error.
	Delete(key []byte) error
	// Range iterates over the keys from from to to, both included, in key order. A nil
	// from starts at the first key, a nil to ends at the last. from greater than to
	// yields nothing. Kafka Streams: KeyValueStore#range.
	Range(from, to []byte) (Iterator, error)
	// PrefixScan iterates over the keys that start with prefix, in key order.
	PrefixScan(prefix []byte) (Iterator, error)
	// All iterates over every key in key order.
	All() (Iterator, error)
	// ApproximateNumEntries estimates the number of keys: exact for the in-memory
	// engine, an estimate that may be off by deletes and overwrites for Pebble.
	ApproximateNumEntries() (int64, error)
}

// Unlogger is implemented by store decorators that log writes to a changelog
// (changelog.Logged): Unlogged returns the store under the decorator, whose writes are
// staged and committed with the task as usual but sent to no changelog. Window and
// session stores delete expired segments through it: Kafka Streams expires their
// changelogs by topic retention (cleanup.policy=compact,delete), not by tombstones.
type Unlogger interface {
	Unlogged() KeyValueStore
}

// Iterator walks key-value pairs in key order. Use it like bufio.Scanner: Next until it
// returns false, then Err (see the example). Key and Value are valid until the next
// call to Next or Close; copy them to keep them. Writes to the store while an iterator
// is open are allowed; whether the iterator sees them is not specified. An iterator
// must be closed; it is not safe for concurrent use.
type Iterator interface {
	Next() bool
	Key() []byte
	Value() []byte
	Err() error
	Close() error
}

// TaskDB holds the stores of one task and makes their writes durable together with the
// changelog offsets those writes reflect, so that local state and its checkpoint can
// never disagree. The engine opens one TaskDB per task it runs.
//
// Writes to the stores are staged until Commit, and reads through the stores see the
// staged writes. Like its stores, a TaskDB is used from one goroutine.
type TaskDB interface {
	// KeyValue returns the key-value store named name, creating it when absent.
	KeyValue(name string) (KeyValueStore, error)
	// CommittedOffsets returns, per store name, the changelog offset that the store's
	// committed state reflects: the offset of the next changelog record to restore. A
	// store without an entry has never committed. ErrCorruptCheckpoint (wrapped) when the
	// offsets cannot be read.
	CommittedOffsets() (map[string]int64, error)
	// Commit atomically makes every staged write of every store durable together with
	// offsets (merged into the committed offsets, per store name). After a crash, state
	// is that of some earlier Commit, never a mix; a persistent engine may lose the most
	// recent commits on a crash, and then reports the older offsets they had.
	Commit(offsets map[string]int64) error
	// Abort discards every write staged since the last Commit.
	Abort() error
	// Close makes committed state durable (persistent engines) and releases the task's
	// resources. Staged writes are discarded.
	Close() error
}

// Engine opens task databases. One Engine serves every task of an App and shares its
// resources (for Pebble: the block cache) among them. Its methods are safe for
// concurrent use.
type Engine interface {
	// Open opens the database of the task whose state lives in dir (created if needed;
	// ignored by in-memory engines).
	Open(dir string) (TaskDB, error)
	// Persistent reports whether state outlives Close: false means every task restores
	// its stores from their changelogs when it starts.
	Persistent() bool
	// Close releases the shared resources; every TaskDB must be closed first.
	Close() error
}
