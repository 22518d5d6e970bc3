package memstore

import (
	"fmt"

	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/store/internal/keyspace"
)

// iterator merges the committed data and the staged writes of a store in key order,
// staged writes winning. It reads the trees in place; when the store changes under it
// (a write, Commit or Abort), it seeks again past the last key it returned, so it sees
// writes made after that key and never returns a key twice or out of order.
//
// Key and Value return buffers that the iterator owns and reuses on Next: they must not
// be modified.
type iterator struct {
	s       *kvStore
	b       bounds
	version uint64
	seeked  bool // the cursors are positioned for version
	started bool // key holds the last key returned
	done    bool
	closed  bool
	err     error

	committed, staged cursor
	key, value        []byte
}

func newIterator(s *kvStore, b bounds) *iterator {
	// Non-nil buffers, so that an empty key or value is an empty slice, never nil.
	return &iterator{s: s, b: b, done: b.empty, key: make([]byte, 0, 16), value: make([]byte, 0, 16)}
}

func (it *iterator) Next() bool {
	switch {
	case it.closed:
		it.err = fmt.Errorf("memstore: iterator: %w", store.ErrClosed)
		return false
	case it.err != nil || it.done:
		return false
	case it.s.db.closed:
		it.err = fmt.Errorf("memstore: store %q: iterator: %w", it.s.name, store.ErrClosed)
		return false
	}
	if !it.seeked || it.version != it.s.version {
		it.seek()
	}
	for {
		e, ok := it.step()
		if !ok || it.b.above(e.key) {
			it.done = true
			it.key, it.value = nil, nil
			return false
		}
		if e.deleted {
			continue
		}
		it.key = append(it.key[:0], e.key...)
		it.value = append(it.value[:0], e.value...)
		it.started = true
		return true
	}
}

// seek positions both cursors at the first key the iterator has not returned yet.
func (it *iterator) seek() {
	from := it.b.lower
	if it.started {
		from = keyspace.After(it.key)
	}
	p := newProbe(from)
	it.committed.seekGE(&it.s.committed, p)
	it.staged.seekGE(&it.s.staged, p)
	it.version = it.s.version
	it.seeked = true
}

// step returns the next entry of the merge, a staged entry shadowing a committed one with
// the same key, and moves past it.
func (it *iterator) step() (entry, bool) {
	c, cok := it.committed.current()
	s, sok := it.staged.current()
	switch {
	case !cok && !sok:
		return entry{}, false
	case !sok:
		it.committed.next()
		return c, true
	case !cok:
		it.staged.next()
		return s, true
	}
	switch cmp := compareEntries(&c, &s); {
	case cmp < 0:
		it.committed.next()
		return c, true
	case cmp == 0:
		it.committed.next()
	}
	it.staged.next()
	return s, true
}

func (it *iterator) Key() []byte   { return it.key }
func (it *iterator) Value() []byte { return it.value }
func (it *iterator) Err() error    { return it.err }

// Close releases the iterator. Closing it again is a no-op.
func (it *iterator) Close() error {
	it.closed = true
	it.key, it.value = nil, nil
	it.committed, it.staged = cursor{}, cursor{}
	return nil
}
