// Package memstore is the in-memory state store engine: each task's stores live in
// B-trees on the Go heap and vanish when the task's TaskDB closes, so every task restores
// its stores from their changelogs when it starts (Persistent reports false).
//
// Writes are staged in an overlay per store (puts and deletes since the last Commit) that
// reads and iterators merge with the committed data; Commit folds the overlay into the
// committed data and Abort drops it. ApproximateNumEntries is exact.
package memstore

import (
	"fmt"
	"sync"

	"github.com/eddy-streams/eddy/store"
)

// engine implements store.Engine. Its methods are safe for concurrent use.
type engine struct {
	mu     sync.Mutex
	open   int  // task databases opened and not yet closed; REQUIRES: mu
	closed bool // REQUIRES: mu
}

// New returns an in-memory engine. It holds no resources until Open.
func New() store.Engine { return &engine{} }

// Open returns a new, empty task database. dir is ignored: two Opens of one directory
// give two independent databases.
func (e *engine) Open(dir string) (store.TaskDB, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, fmt.Errorf("memstore: opening %s: %w", dir, store.ErrClosed)
	}
	e.open++
	return newTaskDB(e), nil
}

// Persistent reports false: state does not outlive Close.
func (e *engine) Persistent() bool { return false }

// Close closes the engine. It fails while a task database is open, and then leaves the
// engine usable; a second Close returns store.ErrClosed.
func (e *engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return fmt.Errorf("memstore: %w", store.ErrClosed)
	}
	if e.open > 0 {
		return fmt.Errorf("memstore: closing the engine with %d task databases open", e.open)
	}
	e.closed = true
	return nil
}

// released is called by a task database's Close.
func (e *engine) released() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.open--
}
