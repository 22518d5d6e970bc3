package pebblestore

import (
	"bytes"

	"github.com/cockroachdb/pebble/v2"

	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/store/internal/keyspace"
)

// iterator walks the keys of a store, staged writes included, with a Pebble iterator
// over the task DB's batch, bounded to the store's keys. Key and Value return copies in
// buffers that the iterator owns and reuses on Next, so they stay valid until then
// whatever happens to the batch; they must not be modified.
//
// Commit, Abort and Close detach an open iterator: its Pebble iterator is closed and the
// next Next opens another one over the new batch, from just past the last key returned.
// So an iterator sees the writes made after its last key by the time it is detached, and
// never returns a key twice or out of order.
type iterator struct {
	s *kvStore
	// lower and upper are the Pebble bounds, lower included and upper excluded, new
	// slices that Pebble may keep. A detach moves lower past the last key returned.
	lower, upper []byte
	it           *pebble.Iterator // nil before the first Next, after a detach and at the end
	key, value   []byte           // the current pair, in the iterator's buffers
	done         bool
	closed       bool
	err          error
}

func (it *iterator) Next() bool {
	switch {
	case it.closed:
		it.err = it.s.wrap("iterator", store.ErrClosed)
		return false
	case it.err != nil || it.done:
		return false
	case it.s.t.closed:
		it.err = it.s.wrap("iterator", store.ErrClosed)
		return false
	}
	var ok bool
	if it.it == nil {
		if bytes.Compare(it.lower, it.upper) >= 0 {
			it.finish()
			return false
		}
		pit, err := it.s.t.batch.NewIter(&pebble.IterOptions{LowerBound: it.lower, UpperBound: it.upper})
		if err != nil {
			it.err = it.s.wrap("iterator", err)
			it.finish()
			return false
		}
		it.it = pit
		ok = pit.First()
	} else {
		ok = it.it.Next()
	}
	if !ok {
		it.finish()
		return false
	}
	v, err := it.it.ValueAndErr()
	if err != nil {
		it.err = it.s.wrap("iterator", err)
		it.finish()
		return false
	}
	// Copies, into buffers that are never nil (see kvStore.iterate).
	it.key = append(it.key[:0], it.it.Key()[len(it.s.prefix):]...)
	it.value = append(it.value[:0], v...)
	return true
}

// detach closes the Pebble iterator, keeping the position. REQUIRES: the task DB's batch
// has not changed since the iterator's last Next.
func (it *iterator) detach() {
	if it.it == nil {
		return
	}
	// it.it is positioned at it.key: an iterator at its end is finished.
	it.lower = keyspace.After(concat(it.s.prefix, it.key))
	_ = it.closePebble() // an error is kept for Err
}

// finish ends the iteration.
func (it *iterator) finish() {
	it.done = true
	it.key, it.value = nil, nil
	_ = it.closePebble() // an error is kept for Err
	delete(it.s.t.iters, it)
}

// closePebble closes the Pebble iterator, if open, and returns its error, which Err
// reports too.
func (it *iterator) closePebble() error {
	if it.it == nil {
		return nil
	}
	err := it.it.Close()
	it.it = nil
	if err == nil {
		return nil
	}
	err = it.s.wrap("iterator", err)
	if it.err == nil {
		it.err = err
	}
	return err
}

func (it *iterator) Key() []byte   { return it.key }
func (it *iterator) Value() []byte { return it.value }
func (it *iterator) Err() error    { return it.err }

// Close releases the iterator and returns the error of closing its Pebble iterator, if
// one is open. Closing it again is a no-op, and so is closing it after its task DB
// closed.
func (it *iterator) Close() error {
	if it.closed {
		return nil
	}
	it.closed = true
	it.key, it.value = nil, nil
	delete(it.s.t.iters, it)
	return it.closePebble()
}
