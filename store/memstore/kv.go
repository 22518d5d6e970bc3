package memstore

import (
	"bytes"
	"fmt"

	"github.com/eddy-streams/eddy/store"
)

// kvStore implements store.KeyValueStore over two B-trees: the committed data, and the
// staged writes since the last Commit. Both hold copies of the keys and values they were
// given; the store never hands out those slices. Put and Delete touch only the staged
// tree, which a Commit interval keeps small; Get, PutIfAbsent and Commit touch both.
type kvStore struct {
	name      string
	db        *taskDB
	committed tree // deleted is never set
	staged    tree // puts and deletes since the last Commit
	// version changes with every change of either tree; an iterator whose version
	// differs seeks again, past the last key it returned.
	version uint64
}

func (s *kvStore) Name() string { return s.name }

func (s *kvStore) check(op string) error {
	if s.db.closed {
		return fmt.Errorf("memstore: store %q: %s: %w", s.name, op, store.ErrClosed)
	}
	return nil
}

// lookup returns the value of key that a read sees, staged writes included. The slice
// belongs to the store.
func (s *kvStore) lookup(key []byte) ([]byte, bool) {
	p := newProbe(key)
	if e, ok := s.staged.get(p); ok {
		return e.value, !e.deleted
	}
	e, ok := s.committed.get(p)
	return e.value, ok
}

// Get returns a copy of the value of key.
func (s *kvStore) Get(key []byte) ([]byte, bool, error) {
	if err := s.check("get"); err != nil {
		return nil, false, err
	}
	v, ok := s.lookup(key)
	if !ok {
		return nil, false, nil
	}
	return bytes.Clone(v), true, nil
}

func (s *kvStore) Put(key, value []byte) error {
	if err := s.check("put"); err != nil {
		return err
	}
	if value == nil {
		return fmt.Errorf("memstore: store %q: put: %w", s.name, store.ErrNilValue)
	}
	s.put(key, value)
	return nil
}

// put stages a copy of key and value. REQUIRES: value is not nil.
func (s *kvStore) put(key, value []byte) {
	s.staged.set(newEntry(key, value, false))
	s.version++
}

func (s *kvStore) PutIfAbsent(key, value []byte) ([]byte, bool, error) {
	if err := s.check("put if absent"); err != nil {
		return nil, false, err
	}
	if value == nil {
		return nil, false, fmt.Errorf("memstore: store %q: put if absent: %w", s.name, store.ErrNilValue)
	}
	if v, ok := s.lookup(key); ok {
		return bytes.Clone(v), true, nil
	}
	s.put(key, value)
	return nil, false, nil
}

// Delete stages a delete of key, whether the committed data holds it or not: finding
// out would cost a search of the committed tree.
func (s *kvStore) Delete(key []byte) error {
	if err := s.check("delete"); err != nil {
		return err
	}
	s.staged.set(newEntry(key, nil, true))
	s.version++
	return nil
}

func (s *kvStore) Range(from, to []byte) (store.Iterator, error) {
	if err := s.check("range"); err != nil {
		return nil, err
	}
	return newIterator(s, rangeBounds(from, to)), nil
}

func (s *kvStore) PrefixScan(prefix []byte) (store.Iterator, error) {
	if err := s.check("prefix scan"); err != nil {
		return nil, err
	}
	return newIterator(s, prefixBounds(prefix)), nil
}

func (s *kvStore) All() (store.Iterator, error) {
	if err := s.check("all"); err != nil {
		return nil, err
	}
	return newIterator(s, bounds{}), nil
}

// ApproximateNumEntries returns the exact number of keys a read sees: the committed
// keys, corrected by each staged write, in O(w log n) for w staged writes and n keys.
func (s *kvStore) ApproximateNumEntries() (int64, error) {
	if err := s.check("approximate num entries"); err != nil {
		return 0, err
	}
	n := int64(s.committed.len())
	var c cursor
	for c.seekGE(&s.staged, probe{}); ; c.next() {
		e, ok := c.current()
		if !ok {
			break
		}
		if !e.deleted {
			n++
		}
		if _, ok := s.committed.get(probe{abbr: e.abbr, key: e.key}); ok {
			n--
		}
	}
	return n, nil
}

// commit folds the staged writes into the committed data, in O(w log n) for w staged
// writes.
func (s *kvStore) commit() {
	if s.staged.len() == 0 {
		return
	}
	var c cursor
	for c.seekGE(&s.staged, probe{}); ; c.next() {
		e, ok := c.current()
		if !ok {
			break
		}
		if e.deleted {
			s.committed.delete(probe{abbr: e.abbr, key: e.key})
		} else {
			s.committed.set(e)
		}
	}
	s.staged.clear()
	s.version++
}

func (s *kvStore) abort() {
	s.staged.clear()
	s.version++
}

// drop releases the store's memory when its task database closes.
func (s *kvStore) drop() {
	s.committed.clear()
	s.staged.clear()
	s.version++
}
