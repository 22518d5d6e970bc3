package pebblestore

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/eddy-streams/eddy/store"
)

// kvStore implements store.KeyValueStore: the keys of the task DB under prefix, read and
// written through the DB's batch of staged writes.
type kvStore struct {
	name   string
	prefix []byte // storePrefix(name)
	t      *taskDB
	buf    []byte // the full key of the current point operation; Pebble does not keep it
}

func (s *kvStore) Name() string { return s.name }

// check returns store.ErrClosed, wrapped, once the task DB is closed.
func (s *kvStore) check(op string) error {
	if s.t.closed {
		return s.wrap(op, store.ErrClosed)
	}
	return nil
}

// wrap prefixes err with the package, the task directory, the store and the operation.
func (s *kvStore) wrap(op string, err error) error {
	return fmt.Errorf("pebblestore: %s: store %q: %s: %w", s.t.dir, s.name, op, err)
}

// fullKey returns the Pebble key of key, in s.buf.
func (s *kvStore) fullKey(key []byte) []byte {
	s.buf = append(append(s.buf[:0], s.prefix...), key...)
	return s.buf
}

// Get returns a copy of the value of key, staged writes included.
func (s *kvStore) Get(key []byte) ([]byte, bool, error) {
	if err := s.check("get"); err != nil {
		return nil, false, err
	}
	return s.get("get", key)
}

func (s *kvStore) get(op string, key []byte) ([]byte, bool, error) {
	v, closer, err := s.t.batch.Get(s.fullKey(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, s.wrap(op, err)
	}
	out := make([]byte, len(v)) // never nil, even for an empty value
	copy(out, v)
	if err := closer.Close(); err != nil {
		return nil, false, s.wrap(op, err)
	}
	return out, true, nil
}

func (s *kvStore) Put(key, value []byte) error {
	if err := s.check("put"); err != nil {
		return err
	}
	if value == nil {
		return s.wrap("put", store.ErrNilValue)
	}
	if err := s.t.batch.Set(s.fullKey(key), value, nil); err != nil {
		return s.wrap("put", err)
	}
	return nil
}

func (s *kvStore) PutIfAbsent(key, value []byte) ([]byte, bool, error) {
	if err := s.check("put if absent"); err != nil {
		return nil, false, err
	}
	if value == nil {
		return nil, false, s.wrap("put if absent", store.ErrNilValue)
	}
	old, found, err := s.get("put if absent", key)
	if err != nil || found {
		return old, found, err
	}
	if err := s.t.batch.Set(s.fullKey(key), value, nil); err != nil {
		return nil, false, s.wrap("put if absent", err)
	}
	return nil, false, nil
}

func (s *kvStore) Delete(key []byte) error {
	if err := s.check("delete"); err != nil {
		return err
	}
	if err := s.t.batch.Delete(s.fullKey(key), nil); err != nil {
		return s.wrap("delete", err)
	}
	return nil
}

func (s *kvStore) Range(from, to []byte) (store.Iterator, error) {
	if err := s.check("range"); err != nil {
		return nil, err
	}
	lower, upper, ok := rangeKeys(s.prefix, from, to)
	return s.iterate(lower, upper, !ok), nil
}

func (s *kvStore) PrefixScan(prefix []byte) (store.Iterator, error) {
	if err := s.check("prefix scan"); err != nil {
		return nil, err
	}
	lower, upper := prefixKeys(s.prefix, prefix)
	return s.iterate(lower, upper, false), nil
}

func (s *kvStore) All() (store.Iterator, error) {
	if err := s.check("all"); err != nil {
		return nil, err
	}
	lower, upper := prefixKeys(s.prefix, nil)
	return s.iterate(lower, upper, false), nil
}

// ApproximateNumEntries counts the keys of the store, staged writes included, by
// iterating over them: exact, and O(n) in the store's keys (and the tombstones not yet
// compacted away among them). Pebble keeps no count of keys per key range; the
// alternative, sstable properties, ignores the memtables that hold recent commits and
// counts overwrites and tombstones, so it is far off for small or busy stores.
func (s *kvStore) ApproximateNumEntries() (int64, error) {
	if err := s.check("approximate num entries"); err != nil {
		return 0, err
	}
	lower, upper := prefixKeys(s.prefix, nil)
	it, err := s.t.batch.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return 0, s.wrap("approximate num entries", err)
	}
	var n int64
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	if err := it.Close(); err != nil {
		return 0, s.wrap("approximate num entries", err)
	}
	return n, nil
}

// iterate returns an iterator over the Pebble keys from lower (included) to upper
// (excluded), registered with the task DB.
func (s *kvStore) iterate(lower, upper []byte, empty bool) *iterator {
	it := &iterator{
		s: s, lower: lower, upper: upper, done: empty,
		// Buffers that are never nil, so that an empty key or value is an empty slice.
		key: make([]byte, 0, 16), value: make([]byte, 0, 16),
	}
	if !empty {
		s.t.iters[it] = struct{}{}
	}
	return it
}
