package memstore

import (
	"fmt"
	"maps"

	"github.com/eddy-streams/eddy/store"
)

// taskDB implements store.TaskDB. Like its stores, it is used from one goroutine.
type taskDB struct {
	engine  *engine
	stores  map[string]*kvStore
	offsets map[string]int64
	closed  bool
}

func newTaskDB(e *engine) *taskDB {
	return &taskDB{engine: e, stores: map[string]*kvStore{}, offsets: map[string]int64{}}
}

// KeyValue returns the store named name, creating it empty when absent. Every call with
// one name returns the same store.
func (db *taskDB) KeyValue(name string) (store.KeyValueStore, error) {
	if db.closed {
		return nil, fmt.Errorf("memstore: store %q: %w", name, store.ErrClosed)
	}
	s, ok := db.stores[name]
	if !ok {
		s = &kvStore{name: name, db: db}
		db.stores[name] = s
	}
	return s, nil
}

// CommittedOffsets returns a copy of the committed offsets; the caller owns it.
func (db *taskDB) CommittedOffsets() (map[string]int64, error) {
	if db.closed {
		return nil, fmt.Errorf("memstore: %w", store.ErrClosed)
	}
	return maps.Clone(db.offsets), nil
}

// Commit folds the staged writes of every store into its committed data and merges
// offsets into the committed offsets. A negative offset is refused before anything
// changes: offsets are those of the next changelog record to restore.
func (db *taskDB) Commit(offsets map[string]int64) error {
	if db.closed {
		return fmt.Errorf("memstore: commit: %w", store.ErrClosed)
	}
	for name, off := range offsets {
		if off < 0 {
			return fmt.Errorf("memstore: commit: negative offset %d for store %q", off, name)
		}
	}
	for _, s := range db.stores {
		s.commit()
	}
	maps.Copy(db.offsets, offsets)
	return nil
}

// Abort drops the staged writes of every store.
func (db *taskDB) Abort() error {
	if db.closed {
		return fmt.Errorf("memstore: abort: %w", store.ErrClosed)
	}
	for _, s := range db.stores {
		s.abort()
	}
	return nil
}

// Close drops every store, committed or not: the state of a non-persistent engine ends
// with its task. Iterators still open end with store.ErrClosed.
func (db *taskDB) Close() error {
	if db.closed {
		return fmt.Errorf("memstore: %w", store.ErrClosed)
	}
	db.closed = true
	for _, s := range db.stores {
		s.drop()
	}
	db.stores, db.offsets = nil, nil
	db.engine.released()
	return nil
}
