package pebblestore

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/eddy-streams/eddy/store"
)

// taskDB implements store.TaskDB over one Pebble DB. Like its stores and iterators, it
// is used from one goroutine.
type taskDB struct {
	engine *engine
	dir    string
	db     *pebble.DB
	// batch holds the writes staged since the last Commit. It is indexed, so that reads
	// and iterators see them.
	batch  *pebble.Batch
	stores map[string]*kvStore
	// iters are the open iterators. A Pebble iterator reads its batch in place, so
	// Commit and Abort, which replace the batch, and Close detach them first.
	iters  map[*iterator]struct{}
	closed bool
}

func newTaskDB(e *engine, dir string, db *pebble.DB) *taskDB {
	return &taskDB{
		engine: e,
		dir:    dir,
		db:     db,
		batch:  db.NewIndexedBatch(),
		stores: map[string]*kvStore{},
		iters:  map[*iterator]struct{}{},
	}
}

func (t *taskDB) errClosed(op string) error {
	return fmt.Errorf("pebblestore: %s: %s: %w", t.dir, op, store.ErrClosed)
}

// KeyValue returns the store named name. Stores need no creation: a store is the keys
// under its prefix, none at first.
func (t *taskDB) KeyValue(name string) (store.KeyValueStore, error) {
	if t.closed {
		return nil, t.errClosed(fmt.Sprintf("store %q", name))
	}
	s, ok := t.stores[name]
	if !ok {
		s = &kvStore{name: name, prefix: storePrefix(name), t: t}
		t.stores[name] = s
	}
	return s, nil
}

// CommittedOffsets reads the committed offsets from Pebble: those of the last Commit
// after a clean Close, those of some earlier Commit after a crash, always in step with
// the data. The caller owns the map.
func (t *taskDB) CommittedOffsets() (map[string]int64, error) {
	if t.closed {
		return nil, t.errClosed("reading offsets")
	}
	lower, upper := offsetKeys()
	it, err := t.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, fmt.Errorf("pebblestore: %s: reading offsets: %w", t.dir, err)
	}
	out := map[string]int64{}
	for ok := it.First(); ok; ok = it.Next() {
		name := string(it.Key()[len(lower):])
		v, err := it.ValueAndErr()
		if err == nil {
			out[name], err = decodeOffset(v)
		}
		if err != nil {
			return nil, errors.Join(
				fmt.Errorf("pebblestore: %s: offset of store %q: %w", t.dir, name, err),
				it.Close())
		}
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("pebblestore: %s: reading offsets: %w", t.dir, err)
	}
	return out, nil
}

// Commit writes the offsets into the batch of staged writes and commits it, without sync:
// with the WAL off, Pebble refuses to sync, and durability comes from the changelog
// anyway. A negative offset is refused before anything changes. When Pebble fails to
// commit, the staged writes are dropped: the task must restore from its last commit.
func (t *taskDB) Commit(offsets map[string]int64) error {
	if t.closed {
		return t.errClosed("commit")
	}
	for name, off := range offsets {
		if off < 0 {
			return fmt.Errorf("pebblestore: %s: commit: negative offset %d for store %q", t.dir, off, name)
		}
	}
	for name, off := range offsets {
		if err := t.batch.Set(offsetKey(name), encodeOffset(off), nil); err != nil {
			return fmt.Errorf("pebblestore: %s: commit: staging the offset of store %q: %w", t.dir, name, err)
		}
	}
	if t.batch.Empty() {
		return nil
	}
	t.detachIters()
	err := t.batch.Commit(pebble.NoSync)
	if err != nil {
		err = fmt.Errorf("pebblestore: %s: commit (staged writes dropped): %w", t.dir, err)
	}
	return errors.Join(err, t.newBatch())
}

// Abort drops the batch of staged writes.
func (t *taskDB) Abort() error {
	if t.closed {
		return t.errClosed("abort")
	}
	t.detachIters()
	return t.newBatch()
}

// newBatch closes the batch and starts an empty one. REQUIRES: no iterator reads the
// batch.
func (t *taskDB) newBatch() error {
	err := t.batch.Close()
	t.batch = t.db.NewIndexedBatch()
	if err != nil {
		return fmt.Errorf("pebblestore: %s: closing a batch: %w", t.dir, err)
	}
	return nil
}

func (t *taskDB) detachIters() {
	for it := range t.iters {
		it.detach()
	}
}

// Close drops the staged writes, flushes the memtables, so that a clean close loses no
// commit, and closes the DB. Iterators still open end with store.ErrClosed.
func (t *taskDB) Close() error {
	if t.closed {
		return t.errClosed("close")
	}
	t.closed = true
	t.detachIters()
	errs := []error{t.batch.Close()}
	if err := t.db.Flush(); err != nil {
		errs = append(errs, fmt.Errorf("flushing: %w", err))
	}
	errs = append(errs, t.db.Close())
	t.engine.released(t.dir)
	t.batch, t.stores, t.iters = nil, nil, nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("pebblestore: %s: close: %w", t.dir, err)
	}
	return nil
}
