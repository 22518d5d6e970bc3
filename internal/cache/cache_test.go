package cache_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/eddy-streams/eddy/internal/cache"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/store/memstore"
	"github.com/eddy-streams/eddy/store/storetest"
)

// TestCachingStoreConformance runs the conformance suite of the store engines over
// caching stores on the in-memory engine, the task's way: a commit flushes the caches
// first, an abort empties them. The small bound makes entries leave the cache all the
// time; the large one keeps every key of the suite cached.
func TestCachingStoreConformance(t *testing.T) {
	for _, bound := range []int64{200, 1 << 30} {
		t.Run(fmt.Sprintf("bound %d bytes", bound), func(t *testing.T) {
			storetest.TestEngine(t, func(*testing.T) store.Engine {
				return cachingEngine{Engine: memstore.New(), bound: bound}
			})
		})
	}
}

type cachingEngine struct {
	store.Engine
	bound int64
}

func (e cachingEngine) Open(dir string) (store.TaskDB, error) {
	db, err := e.Engine.Open(dir)
	if err != nil {
		return nil, err
	}
	return &cachingDB{TaskDB: db, bound: e.bound, caches: map[string]*closableCache{}}, nil
}

// cachingDB is what the task does with the stores of a TaskDB whose definitions ask for
// a cache.
type cachingDB struct {
	store.TaskDB
	bound  int64
	caches map[string]*closableCache
	closed bool
}

func (d *cachingDB) KeyValue(name string) (store.KeyValueStore, error) {
	if c, ok := d.caches[name]; ok {
		return c, nil
	}
	kv, err := d.TaskDB.KeyValue(name)
	if err != nil {
		return nil, err
	}
	c := &closableCache{Store: cache.New(kv, d.bound), db: d}
	d.caches[name] = c
	return c, nil
}

func (d *cachingDB) Commit(offsets map[string]int64) error {
	for _, c := range d.caches {
		if err := c.Flush(); err != nil {
			return err
		}
	}
	return d.TaskDB.Commit(offsets)
}

func (d *cachingDB) Abort() error {
	err := d.TaskDB.Abort()
	for _, c := range d.caches {
		c.Discard()
	}
	return err
}

func (d *cachingDB) Close() error {
	err := d.TaskDB.Close()
	if err == nil {
		d.closed = true
	}
	return err
}

// closableCache fails once its TaskDB is closed, as the suite requires of every store;
// the task never uses a store after closing it.
type closableCache struct {
	*cache.Store
	db *cachingDB
}

func (c *closableCache) check() error {
	if c.db.closed {
		return fmt.Errorf("store %s: %w", c.Name(), store.ErrClosed)
	}
	return nil
}

func (c *closableCache) Get(key []byte) ([]byte, bool, error) {
	if err := c.check(); err != nil {
		return nil, false, err
	}
	return c.Store.Get(key)
}

func (c *closableCache) Put(key, value []byte) error {
	if err := c.check(); err != nil {
		return err
	}
	return c.Store.Put(key, value)
}

func (c *closableCache) PutIfAbsent(key, value []byte) ([]byte, bool, error) {
	if err := c.check(); err != nil {
		return nil, false, err
	}
	return c.Store.PutIfAbsent(key, value)
}

func (c *closableCache) Delete(key []byte) error {
	if err := c.check(); err != nil {
		return err
	}
	return c.Store.Delete(key)
}

// countingStore counts the writes that reach it.
type countingStore struct {
	store.KeyValueStore
	puts, deletes int
}

func (s *countingStore) Put(key, value []byte) error {
	s.puts++
	return s.KeyValueStore.Put(key, value)
}

func (s *countingStore) Delete(key []byte) error {
	s.deletes++
	return s.KeyValueStore.Delete(key)
}

func newCounted(t *testing.T, bound int64) (*cache.Store, *countingStore) {
	t.Helper()
	eng := memstore.New()
	db, err := eng.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(); eng.Close() })
	kv, err := db.KeyValue("s")
	if err != nil {
		t.Fatal(err)
	}
	inner := &countingStore{KeyValueStore: kv}
	return cache.New(inner, bound), inner
}

func mustGet(t *testing.T, s store.KeyValueStore, key string) (string, bool) {
	t.Helper()
	v, found, err := s.Get([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return string(v), found
}

func TestCachingStoreWritesEachKeyOncePerFlush(t *testing.T) {
	c, inner := newCounted(t, 1<<20)
	for i := range 100 {
		for _, k := range []string{"a", "b", "c"} {
			if err := c.Put([]byte(k), fmt.Appendf(nil, "%d", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := c.Delete([]byte("c")); err != nil {
		t.Fatal(err)
	}
	if inner.puts+inner.deletes != 0 {
		t.Fatalf("before the flush, the store under the cache got %d puts and %d deletes, want none", inner.puts, inner.deletes)
	}
	if v, _ := mustGet(t, c, "a"); v != "99" {
		t.Fatalf("Get(a) through the cache = %q, want the latest write 99", v)
	}
	if _, found := mustGet(t, c, "c"); found {
		t.Fatal("Get(c) found a key deleted in the cache")
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if inner.puts != 2 || inner.deletes != 1 {
		t.Fatalf("the flush wrote %d puts and %d deletes, want 2 puts (a, b) and 1 delete (c)", inner.puts, inner.deletes)
	}
	if v, _ := mustGet(t, inner, "b"); v != "99" {
		t.Fatalf("the store under the cache holds b=%q after the flush, want 99", v)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if inner.puts != 2 || inner.deletes != 1 {
		t.Fatalf("a second flush wrote again: %d puts, %d deletes", inner.puts, inner.deletes)
	}
}

func TestCachingStoreWritesBackWhatItEvicts(t *testing.T) {
	// Room for about two entries: the third write evicts the least recently used.
	c, inner := newCounted(t, 2*(96+2))
	for _, k := range []string{"a", "b"} {
		if err := c.Put([]byte(k), []byte("1")); err != nil {
			t.Fatal(err)
		}
	}
	mustGet(t, c, "a") // b is now the least recently used
	if err := c.Put([]byte("x"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	if inner.puts != 1 {
		t.Fatalf("evicting wrote %d puts, want 1", inner.puts)
	}
	if v, found := mustGet(t, inner, "b"); !found || v != "1" {
		t.Fatalf("the evicted key b is %q (found %t) under the cache, want 1", v, found)
	}
	if _, found := mustGet(t, inner, "a"); found {
		t.Fatal("a, used more recently than b, was evicted instead")
	}
	if c.SizeBytes() > 2*(96+2) {
		t.Fatalf("the cache holds %d bytes, over its bound", c.SizeBytes())
	}
}

func TestCachingStoreDiscardForgetsEverything(t *testing.T) {
	c, inner := newCounted(t, 1<<20)
	if err := inner.Put([]byte("a"), []byte("committed")); err != nil {
		t.Fatal(err)
	}
	mustGet(t, c, "a") // cached clean
	if err := c.Put([]byte("a"), []byte("new")); err != nil {
		t.Fatal(err)
	}
	if err := c.Put([]byte("b"), []byte("new")); err != nil {
		t.Fatal(err)
	}
	c.Discard()
	if v, _ := mustGet(t, c, "a"); v != "committed" {
		t.Fatalf("after Discard, a = %q, want the store's value", v)
	}
	if _, found := mustGet(t, c, "b"); found {
		t.Fatal("after Discard, b, never written back, is still found")
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if inner.puts != 1 {
		t.Fatalf("a flush after Discard wrote %d puts, want only the test's own", inner.puts)
	}
}

func TestCachingStoreRangesSeeDirtyWrites(t *testing.T) {
	c, _ := newCounted(t, 1<<20)
	for _, k := range []string{"b", "a", "c"} {
		if err := c.Put([]byte(k), []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Delete([]byte("b")); err != nil {
		t.Fatal(err)
	}
	it, err := c.All()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var got []string
	for it.Next() {
		got = append(got, string(it.Key()))
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[a c]" {
		t.Fatalf("All through the cache = %v, want [a c]", got)
	}
}

// TestCachingStoreUnloggedStaysConsistent covers the path window and session stores
// expire segments by: a write through Unlogged must not be undone by a cached value.
func TestCachingStoreUnloggedStaysConsistent(t *testing.T) {
	c, inner := newCounted(t, 1<<20)
	if err := c.Put([]byte("a"), []byte("cached")); err != nil {
		t.Fatal(err)
	}
	quiet := c.Unlogged()
	if err := quiet.Delete([]byte("a")); err != nil {
		t.Fatal(err)
	}
	if _, found := mustGet(t, c, "a"); found {
		t.Fatal("a key deleted through Unlogged is still found through the cache")
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, found := mustGet(t, inner, "a"); found {
		t.Fatal("a flush wrote back a key deleted through Unlogged")
	}
}

func TestCachingStoreRefusesNil(t *testing.T) {
	c, _ := newCounted(t, 1<<20)
	if err := c.Put([]byte("a"), nil); !errors.Is(err, store.ErrNilValue) {
		t.Fatalf("Put(nil) = %v, want ErrNilValue", err)
	}
}

// TestTypedHandleOverACache checks the typed handle's borrowing path: values read are
// the handle's own, and values written are kept as written.
func TestTypedHandleOverACache(t *testing.T) {
	c, _ := newCounted(t, 1<<20)
	kv := store.KeyValue("s", serde.String(), serde.Bytes()).Wrap(c)
	if err := kv.Put("k", []byte("abc")); err != nil {
		t.Fatal(err)
	}
	v, _, err := kv.Get("k")
	if err != nil {
		t.Fatal(err)
	}
	v[0] = 'X' // the caller's copy
	again, _, err := kv.Get("k")
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != "abc" {
		t.Fatalf("changing a value read changed the cached one: %q", again)
	}
}
