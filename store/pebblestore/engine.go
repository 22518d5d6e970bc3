// Package pebblestore is the persistent state store engine, on Pebble
// (github.com/cockroachdb/pebble/v2): one Pebble DB per task directory, sharing one
// block cache and one file cache per engine.
//
// Durability comes from the changelog, not from Pebble's write-ahead log, which is off.
// Each Commit writes the staged data and the changelog offsets it reflects in one
// batch, so a DB reopened after a crash holds some earlier commit's data with that
// commit's offsets, never a mix, and restoration replays the changelog from them. A
// clean TaskDB.Close flushes, so it loses nothing.
//
// One DB per task, rather than one per instance with a prefix per task, because a
// task's state is then a directory: it opens and closes with the task, is deleted whole
// when the task moves away or its checkpoint is corrupt, and is never compacted along
// with other tasks' keys. The stores of a task share its DB, under one key prefix each,
// so that one batch commits all of them with their offsets. The cost, a memtable and
// compactions per task, is bounded by the shared caches and Options.
//
// Staged writes live in an indexed Pebble batch, which reads and iterators see through.
// See keys.go for the key layout and checkpoint.go for the encoding of offsets.
package pebblestore

import (
	"fmt"
	"maps"
	"path/filepath"
	"runtime"
	"slices"
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"github.com/eddy-streams/eddy/store"
)

// engine implements store.Engine. Its methods are safe for concurrent use.
type engine struct {
	opts  Options // with defaults
	cache *pebble.Cache
	files *pebble.FileCache

	mu sync.Mutex
	// open holds the task databases by directory, from the start of Open to the end of
	// Close; nil while Open is running. REQUIRES: mu
	open   map[string]*taskDB
	closed bool // REQUIRES: mu
}

// New returns an engine configured by opts. It creates the shared caches, whose memory is
// allocated as it is used; Close releases them.
func New(opts Options) (store.Engine, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	return &engine{
		opts:  o,
		cache: pebble.NewCache(o.CacheSize),
		files: pebble.NewFileCache(runtime.GOMAXPROCS(0), o.MaxOpenFiles),
		open:  map[string]*taskDB{},
	}, nil
}

// Open opens (creating if needed) the Pebble DB in dir. A directory can be open once at
// a time in an engine; Pebble's lock file refuses a second opener in another process.
func (e *engine) Open(dir string) (store.TaskDB, error) {
	dir = filepath.Clean(dir)
	e.mu.Lock()
	switch _, busy := e.open[dir]; {
	case e.closed:
		e.mu.Unlock()
		return nil, fmt.Errorf("pebblestore: opening %s: %w", dir, store.ErrClosed)
	case busy:
		e.mu.Unlock()
		return nil, fmt.Errorf("pebblestore: opening %s: already open", dir)
	}
	e.open[dir] = nil
	e.mu.Unlock()

	db, err := pebble.Open(dir, e.opts.pebbleOptions(e.cache, e.files))
	e.mu.Lock()
	defer e.mu.Unlock()
	if err != nil {
		delete(e.open, dir)
		return nil, fmt.Errorf("pebblestore: opening %s: %w", dir, err)
	}
	t := newTaskDB(e, dir, db)
	e.open[dir] = t
	return t, nil
}

// Persistent reports true: committed state outlives Close.
func (e *engine) Persistent() bool { return true }

// Close releases the shared caches. It fails while a task database is open (or being
// opened), and then leaves the engine usable; a second Close returns store.ErrClosed.
func (e *engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return fmt.Errorf("pebblestore: %w", store.ErrClosed)
	}
	if len(e.open) > 0 {
		dirs := slices.Sorted(maps.Keys(e.open))
		return fmt.Errorf("pebblestore: closing the engine with %d task databases open: %q", len(dirs), dirs)
	}
	e.closed = true
	// Each DB held its own references to the caches and dropped them in its Close;
	// these are the engine's.
	e.files.Unref()
	e.cache.Unref()
	return nil
}

// released is called by a task database's Close.
func (e *engine) released(dir string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.open, dir)
}
