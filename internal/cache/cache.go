// Package cache is the write-back cache that the engine puts in front of a task's
// key-value stores when their definition asks for one (store.WithCaching).
package cache

import (
	"bytes"
	"container/list"
	"fmt"

	"github.com/eddy-streams/eddy/store"
)

// Store is a write-back cache in front of a store.KeyValueStore, bounded in bytes. It is
// what store.WithCaching asks of the engine: reads of cached keys and every write stay in
// memory, and the store under it (with its changelog) receives the latest value of each
// written key once, at Flush, which the engine calls before every commit. Writes that
// overwrite a key between two commits therefore cost one store write and one changelog
// record, not one each. Kafka Streams: CachingKeyValueStore over the instance's
// ThreadCache.
//
// Entries are kept in least-recently-used order. When the keys and values held outgrow
// the bound, the least recently used entries leave the cache, dirty ones written to the
// store under it first. Get keeps what it read from the store as a clean entry.
//
// Range, PrefixScan, All and ApproximateNumEntries flush first and then read the store
// under it, so they see every write; a store read by ranges on every record gains
// nothing from a cache. Unlike Kafka Streams, which merges its cache into range reads,
// Eddy caches only the stores its DSL reads by key (tables, aggregations, time-window
// aggregations).
//
// Like every store, a Store belongs to one task and is used from one goroutine.
// Slices passed to Put are copied; Get returns a copy, as the store.KeyValueStore contract
// says; the typed handles (KeyValueDef.From) borrow instead, sparing the copies.
type Store struct {
	inner    store.KeyValueStore
	maxBytes int64

	entries map[string]*cacheEntry
	// lru holds the entries, the least recently used at the front.
	lru   list.List
	bytes int64
	// dirty lists the entries written since the last flush, oldest write first; an entry
	// that became clean or left the cache since is skipped.
	dirty []*cacheEntry
}

// cacheEntry is one key of a Store. A nil value with dirty set is a delete not
// yet written; clean entries always hold a value.
type cacheEntry struct {
	key   string
	value []byte
	dirty bool
	// place is the entry's element of the cache's lru list.
	place *list.Element
}

// cacheEntryOverhead is what an entry costs beyond its key and value: the entry, its map
// slot, its list element and its place in the dirty list, roughly.
const cacheEntryOverhead = 96

func (e *cacheEntry) size() int64 { return int64(len(e.key)+len(e.value)) + cacheEntryOverhead }

// New returns a cache of at most maxBytes (keys, values and a fixed overhead per
// entry) in front of inner. maxBytes below 1 makes every write go straight through.
func New(inner store.KeyValueStore, maxBytes int64) *Store {
	return &Store{inner: inner, maxBytes: maxBytes, entries: map[string]*cacheEntry{}}
}

func (c *Store) Name() string { return c.inner.Name() }

func (c *Store) Get(key []byte) ([]byte, bool, error) {
	v, found, err := c.GetShared(key)
	if !found || err != nil {
		return nil, found, err
	}
	return bytes.Clone(v), true, nil
}

// GetShared is Get without the copy: the value is valid until the next call on c.
func (c *Store) GetShared(key []byte) ([]byte, bool, error) {
	if e, ok := c.entries[string(key)]; ok {
		c.touch(e)
		return e.value, e.value != nil, nil
	}
	v, found, err := c.inner.Get(key)
	if err != nil || !found {
		return nil, false, err
	}
	if err := c.add(&cacheEntry{key: string(key), value: v}); err != nil {
		return nil, false, err
	}
	return v, true, nil
}

func (c *Store) Put(key, value []byte) error { return c.PutOwned(key, bytes.Clone(value)) }

// PutOwned is Put of a value that c may keep: the caller no longer uses it.
func (c *Store) PutOwned(key, value []byte) error {
	if value == nil {
		return fmt.Errorf("store %s: %w", c.Name(), store.ErrNilValue)
	}
	return c.write(key, value)
}

func (c *Store) PutIfAbsent(key, value []byte) ([]byte, bool, error) {
	existing, found, err := c.Get(key)
	if err != nil || found {
		return existing, found, err
	}
	return nil, false, c.Put(key, value)
}

func (c *Store) Delete(key []byte) error { return c.write(key, nil) }

// write caches value (nil: a delete) as the dirty value of key.
func (c *Store) write(key, value []byte) error {
	if c.maxBytes < 1 {
		if value == nil {
			return c.inner.Delete(key)
		}
		return c.inner.Put(key, value)
	}
	if e, ok := c.entries[string(key)]; ok {
		c.bytes += int64(len(value) - len(e.value))
		e.value = value
		if !e.dirty {
			e.dirty = true
			c.dirty = append(c.dirty, e)
		}
		c.touch(e)
		return c.evictOverBound()
	}
	e := &cacheEntry{key: string(key), value: value, dirty: true}
	c.dirty = append(c.dirty, e)
	return c.add(e)
}

// add caches the new entry e as the most recently used, then evicts down to the bound.
func (c *Store) add(e *cacheEntry) error {
	if c.maxBytes < 1 {
		return nil
	}
	c.entries[e.key] = e
	c.bytes += e.size()
	e.place = c.lru.PushBack(e)
	return c.evictOverBound()
}

func (c *Store) evictOverBound() error {
	for c.bytes > c.maxBytes && c.lru.Len() > 0 {
		e := c.lru.Front().Value.(*cacheEntry)
		if err := c.writeBack(e); err != nil {
			return err
		}
		c.remove(e)
	}
	return nil
}

// writeBack writes e to the store under c if it is dirty, and marks it clean.
func (c *Store) writeBack(e *cacheEntry) error {
	if !e.dirty {
		return nil
	}
	var err error
	if e.value == nil {
		err = c.inner.Delete([]byte(e.key))
	} else {
		err = c.inner.Put([]byte(e.key), e.value)
	}
	if err != nil {
		return err
	}
	e.dirty = false
	return nil
}

// Flush writes every dirty entry to the store under c, in the order they were first
// written since the last flush, and keeps them as clean entries; deleted keys leave the
// cache. The engine calls it before every commit, so that the commit covers them.
func (c *Store) Flush() error {
	for i, e := range c.dirty {
		if err := c.writeBack(e); err != nil {
			c.dirty = c.dirty[i:]
			return err
		}
		if e.value == nil && c.entries[e.key] == e {
			c.remove(e)
		}
	}
	clear(c.dirty)
	c.dirty = c.dirty[:0]
	return nil
}

// Discard empties the cache without writing anything, after the store under it was
// rolled back to its last commit: clean entries may hold values written back since.
func (c *Store) Discard() {
	clear(c.entries)
	clear(c.dirty)
	c.dirty = c.dirty[:0]
	c.lru.Init()
	c.bytes = 0
}

func (c *Store) Range(from, to []byte) (store.Iterator, error) {
	if err := c.Flush(); err != nil {
		return nil, err
	}
	return c.inner.Range(from, to)
}

func (c *Store) PrefixScan(prefix []byte) (store.Iterator, error) {
	if err := c.Flush(); err != nil {
		return nil, err
	}
	return c.inner.PrefixScan(prefix)
}

func (c *Store) All() (store.Iterator, error) {
	if err := c.Flush(); err != nil {
		return nil, err
	}
	return c.inner.All()
}

func (c *Store) ApproximateNumEntries() (int64, error) {
	if err := c.Flush(); err != nil {
		return 0, err
	}
	return c.inner.ApproximateNumEntries()
}

// Unlogged returns the store under c without its changelog when c's store has one
// (store.Unlogger), else that store: window and session stores delete expired segments
// through it. Each of its calls flushes c first and each write drops the key from c,
// so that c and the store under it never disagree.
func (c *Store) Unlogged() store.KeyValueStore {
	inner := c.inner
	if u, ok := inner.(store.Unlogger); ok {
		inner = u.Unlogged()
	}
	return &cacheBypass{c: c, inner: inner}
}

// SizeBytes is the bytes held, as the bound counts them.
func (c *Store) SizeBytes() int64 { return c.bytes }

func (c *Store) touch(e *cacheEntry) { c.lru.MoveToBack(e.place) }

// remove drops e from the cache, written back or not.
func (c *Store) remove(e *cacheEntry) {
	c.lru.Remove(e.place)
	delete(c.entries, e.key)
	c.bytes -= e.size()
}

// forget drops key from the cache, without writing it.
func (c *Store) forget(key []byte) {
	if e, ok := c.entries[string(key)]; ok {
		e.dirty = false
		c.remove(e)
	}
}

// cacheBypass is Store.Unlogged.
type cacheBypass struct {
	c     *Store
	inner store.KeyValueStore
}

func (b *cacheBypass) Name() string { return b.inner.Name() }

func (b *cacheBypass) Get(key []byte) ([]byte, bool, error) {
	if err := b.c.Flush(); err != nil {
		return nil, false, err
	}
	return b.inner.Get(key)
}

func (b *cacheBypass) Put(key, value []byte) error {
	if err := b.c.Flush(); err != nil {
		return err
	}
	b.c.forget(key)
	return b.inner.Put(key, value)
}

func (b *cacheBypass) PutIfAbsent(key, value []byte) ([]byte, bool, error) {
	if err := b.c.Flush(); err != nil {
		return nil, false, err
	}
	b.c.forget(key)
	return b.inner.PutIfAbsent(key, value)
}

func (b *cacheBypass) Delete(key []byte) error {
	if err := b.c.Flush(); err != nil {
		return err
	}
	b.c.forget(key)
	return b.inner.Delete(key)
}

func (b *cacheBypass) Range(from, to []byte) (store.Iterator, error) {
	if err := b.c.Flush(); err != nil {
		return nil, err
	}
	return b.inner.Range(from, to)
}

func (b *cacheBypass) PrefixScan(prefix []byte) (store.Iterator, error) {
	if err := b.c.Flush(); err != nil {
		return nil, err
	}
	return b.inner.PrefixScan(prefix)
}

func (b *cacheBypass) All() (store.Iterator, error) {
	if err := b.c.Flush(); err != nil {
		return nil, err
	}
	return b.inner.All()
}

func (b *cacheBypass) ApproximateNumEntries() (int64, error) {
	return b.c.ApproximateNumEntries()
}
