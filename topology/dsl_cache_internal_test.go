package topology

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/store/memstore"
)

// These are unit tests of the record cache and of a caching processor's Flusher side;
// dsl_cache_test.go tests the cache through the driver.

// cacheTestContext is the engine's side of a processor node in these tests: stores from
// an in-memory task database, and forwarding recorded. Once share has opened the
// layers of a topology's window and session stores, it hands them out as a task does,
// and abort resets them.
type cacheTestContext struct {
	db       store.TaskDB
	layers   map[string]store.Layer
	forwards []plan.Record
}

// share opens the layers of the window and session stores of topo, as a task does.
func (c *cacheTestContext) share(t *testing.T, topo *Topology) {
	t.Helper()
	c.layers = map[string]store.Layer{}
	for _, sub := range topo.plan.Subtopologies {
		for _, st := range sub.Stores {
			kv, err := c.db.KeyValue(st.Def.Name())
			if err != nil {
				t.Fatal(err)
			}
			if l, ok, err := store.NewLayer(st.Def, kv); err != nil {
				t.Fatal(err)
			} else if ok {
				c.layers[st.Def.Name()] = l
			}
		}
	}
}

// abort rolls the stores back, as a task's Abort does.
func (c *cacheTestContext) abort(t *testing.T) {
	t.Helper()
	if err := c.db.Abort(); err != nil {
		t.Fatal(err)
	}
	for _, l := range c.layers {
		l.Reset()
	}
}

func newCacheTestContext(t *testing.T) *cacheTestContext {
	t.Helper()
	engine := memstore.New()
	db, err := engine.Open("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(); engine.Close() })
	return &cacheTestContext{db: db}
}

func (c *cacheTestContext) ApplicationID() string           { return "app" }
func (c *cacheTestContext) TaskID() processor.TaskID        { return processor.TaskID{} }
func (c *cacheTestContext) StreamTime() time.Time           { return time.Time{} }
func (c *cacheTestContext) Forward(_ string, r plan.Record) { c.forwards = append(c.forwards, r) }
func (c *cacheTestContext) StateStore(name string) (any, error) {
	if l, ok := c.layers[name]; ok {
		return l, nil
	}
	return c.db.KeyValue(name)
}
func (c *cacheTestContext) Schedule(time.Duration, processor.PunctuationType, processor.Punctuator) (processor.Cancellable, error) {
	return nil, errors.New("no punctuation in these tests")
}
func (c *cacheTestContext) RecordMetadata() (processor.RecordMetadata, bool) {
	return processor.RecordMetadata{}, false
}

// take returns the records forwarded since the last take, shown as key: new/old @ms.
func (c *cacheTestContext) take() []string {
	var out []string
	for _, r := range c.forwards {
		out = append(out, showCacheChange(r.Key, r.Value.(Change[int64]), r.Timestamp))
	}
	c.forwards = nil
	return out
}

func showCacheChange[K any](key K, c Change[int64], ts time.Time) string {
	s := fmt.Sprintf("%v: ", key)
	if c.HasNew {
		s += fmt.Sprint(c.New)
	} else {
		s += "-"
	}
	if c.HasOld {
		s += fmt.Sprintf("/%d", c.Old)
	} else {
		s += "/-"
	}
	return s + fmt.Sprintf(" @%d", ts.UnixMilli())
}

// cacheEmits collects what a cache emits.
type cacheEmits[K any] struct{ got []string }

func (e *cacheEmits[K]) emit(r dslRecord[K, Change[int64]]) {
	e.got = append(e.got, showCacheChange(r.Key, r.Value, r.Timestamp))
}

func (e *cacheEmits[K]) take() []string {
	got := e.got
	e.got = nil
	return got
}

// cacheUpdate is a change of one key of a table, as a table processor puts it into its cache.
func cacheUpdate[K any](key K, newV, oldV *int64, ms int64) dslRecord[K, Change[int64]] {
	var c Change[int64]
	if newV != nil {
		c.New, c.HasNew = *newV, true
	}
	if oldV != nil {
		c.Old, c.HasOld = *oldV, true
	}
	return dslRecord[K, Change[int64]]{Record: processor.Record[K, Change[int64]]{Key: key, Value: c, Timestamp: time.UnixMilli(ms)}}
}

func cacheVal(v int64) *int64 { return &v }

func cachePutAll[K any](t *testing.T, c *recordCache[K, int64], updates ...dslRecord[K, Change[int64]]) {
	t.Helper()
	for _, u := range updates {
		if err := c.put(u); err != nil {
			t.Fatal(err)
		}
	}
}

func checkCacheEmitted(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: cacheEmits %q, want %q", what, got, want)
	}
}

// Kafka Streams' record cache (CachingKeyValueStore with NamedCache): between two
// flushes, the updates of a key are forwarded once, with the value the key had at the
// last flush as the old value and the latest value and timestamp as the new ones.
func TestRecordCacheCollapsesTheUpdatesOfAKey(t *testing.T) {
	var e cacheEmits[string]
	c := newRecordCache(1<<20, serde.String(), serde.Int64(), e.emit)
	cachePutAll(t, c, cacheUpdate("a", cacheVal(1), nil, 10), cacheUpdate("a", cacheVal(2), cacheVal(1), 20), cacheUpdate("a", cacheVal(3), cacheVal(2), 15))
	checkCacheEmitted(t, "before the flush", e.take(), nil)
	c.flush()
	checkCacheEmitted(t, "first flush", e.take(), []string{"a: 3/- @15"})
	cachePutAll(t, c, cacheUpdate("a", cacheVal(4), cacheVal(3), 30), cacheUpdate("a", cacheVal(5), cacheVal(4), 40))
	c.flush()
	checkCacheEmitted(t, "second flush", e.take(), []string{"a: 5/3 @40"})
	c.flush()
	checkCacheEmitted(t, "flush of an empty cache", e.take(), nil)
}

// Kafka Streams' NamedCache flushes its dirty keys in the order of their last update.
func TestRecordCacheFlushesInTheOrderOfLastUpdates(t *testing.T) {
	var e cacheEmits[string]
	c := newRecordCache(1<<20, serde.String(), serde.Int64(), e.emit)
	cachePutAll(t, c, cacheUpdate("a", cacheVal(1), nil, 1), cacheUpdate("b", cacheVal(1), nil, 2), cacheUpdate("c", cacheVal(1), nil, 3), cacheUpdate("a", cacheVal(2), cacheVal(1), 4))
	c.flush()
	checkCacheEmitted(t, "flush", e.take(), []string{"b: 1/- @2", "c: 1/- @3", "a: 2/- @4"})
}

// Kafka Streams' caching store forwards nothing for a key that had no value at the last
// flush and has none again (put, then deleted).
func TestRecordCacheDropsAKeyPutThenDeleted(t *testing.T) {
	var e cacheEmits[string]
	c := newRecordCache(1<<20, serde.String(), serde.Int64(), e.emit)
	cachePutAll(t, c, cacheUpdate("a", cacheVal(1), nil, 1), cacheUpdate("a", nil, cacheVal(1), 2), cacheUpdate("b", cacheVal(7), nil, 3))
	c.flush()
	checkCacheEmitted(t, "flush", e.take(), []string{"b: 7/- @3"})
	if c.len() != 0 || c.sizeBytes() != 0 {
		t.Errorf("after a flush the cache holds %d keys, %d bytes", c.len(), c.sizeBytes())
	}
}

// Kafka Streams' NamedCache evicts its least recently used entry when the cache is full,
// forwarding it at once.
func TestRecordCacheUnitEvictsTheLeastRecentlyUpdatedKeyWhenFull(t *testing.T) {
	var e cacheEmits[string]
	// An entry with a one-byte key and an int64 value, without an old one.
	entry := int64(1 + 8 + cacheEntryOverhead)
	c := newRecordCache(2*entry+entry/2, serde.String(), serde.Int64(), e.emit)
	cachePutAll(t, c, cacheUpdate("a", cacheVal(1), nil, 1), cacheUpdate("b", cacheVal(1), nil, 2), cacheUpdate("a", cacheVal(2), cacheVal(1), 3))
	checkCacheEmitted(t, "two keys", e.take(), nil)
	if c.sizeBytes() != 2*entry {
		t.Errorf("the cache counts %d bytes, want %d", c.sizeBytes(), 2*entry)
	}
	cachePutAll(t, c, cacheUpdate("c", cacheVal(1), nil, 4))
	checkCacheEmitted(t, "a third key", e.take(), []string{"b: 1/- @2"})
	cachePutAll(t, c, cacheUpdate("b", cacheVal(2), cacheVal(1), 5))
	checkCacheEmitted(t, "b again", e.take(), []string{"a: 2/- @3"})
	c.flush()
	checkCacheEmitted(t, "flush", e.take(), []string{"c: 1/- @4", "b: 2/1 @5"})
}

// Kafka Streams with statestore.cache.max.bytes=0: every update is forwarded at once.
func TestRecordCacheOffForwardsEveryUpdate(t *testing.T) {
	var e cacheEmits[string]
	c := newRecordCache(0, serde.String(), serde.Int64(), e.emit)
	cachePutAll(t, c, cacheUpdate("a", cacheVal(1), nil, 1), cacheUpdate("a", cacheVal(2), cacheVal(1), 2))
	checkCacheEmitted(t, "puts", e.take(), []string{"a: 1/- @1", "a: 2/1 @2"})
	c.flush()
	checkCacheEmitted(t, "flush", e.take(), nil)
}

func TestRecordCacheDiscardForwardsNothing(t *testing.T) {
	var e cacheEmits[string]
	c := newRecordCache(1<<20, serde.String(), serde.Int64(), e.emit)
	cachePutAll(t, c, cacheUpdate("a", cacheVal(1), nil, 1))
	c.discard()
	c.flush()
	checkCacheEmitted(t, "flush after discard", e.take(), nil)
	cachePutAll(t, c, cacheUpdate("a", cacheVal(1), nil, 2))
	c.flush()
	checkCacheEmitted(t, "flush after a new update", e.take(), []string{"a: 1/- @2"})
}

// Keys of types that Go equality may not tell apart as the store does are told apart
// by their serialized bytes.
func TestRecordCacheTellsKeysApartByTheirBytes(t *testing.T) {
	type userKey struct {
		Tenant string
		ID     []int
	}
	var e cacheEmits[userKey]
	c := newRecordCache(1<<20, serde.JSON[userKey](), serde.Int64(), e.emit)
	cachePutAll(t, c,
		cacheUpdate(userKey{"t", []int{1}}, cacheVal(1), nil, 1),
		cacheUpdate(userKey{"t", []int{2}}, cacheVal(1), nil, 2),
		cacheUpdate(userKey{"t", []int{1}}, cacheVal(2), cacheVal(1), 3))
	c.flush()
	checkCacheEmitted(t, "flush", e.take(), []string{"{t [2]}: 1/- @2", "{t [1]}: 2/- @3"})

	noSerde := newRecordCache(1<<20, nil, serde.Int64(), e.emit)
	if err := noSerde.put(cacheUpdate(userKey{}, cacheVal(1), nil, 1)); err == nil {
		t.Error("a key that cannot be told apart was cached")
	}
}

// builtNodeProcessor returns a new processor of the node named name in topo.
func builtNodeProcessor(t *testing.T, topo *Topology, name string) plan.NodeProcessor {
	t.Helper()
	for _, sub := range topo.plan.Subtopologies {
		for _, p := range sub.Processors {
			if p.Name == name {
				return p.New()
			}
		}
	}
	t.Fatalf("no processor %q in\n%s", name, topo.Describe())
	return nil
}

// An aggregation writes its store at once (reads see the latest aggregate) and
// forwards through its record cache when the engine flushes it; with the cache off it
// forwards every update, as Kafka Streams does with statestore.cache.max.bytes=0.
func TestAggregationCachesItsUpdatesUntilFlushed(t *testing.T) {
	tests := []struct {
		name         string
		opts         []BuilderOption
		beforeFlush  []string
		afterFlush   []string
		afterDiscard []string
	}{
		{
			name:        "with the cache, three updates of a key are forwarded once",
			opts:        []BuilderOption{RecordCacheMaxBytes(1 << 20)},
			beforeFlush: nil,
			afterFlush:  []string{"a: 3/- @30"},
		},
		{
			name:        "without the cache, every update is forwarded at once",
			opts:        []BuilderOption{WithoutRecordCache()},
			beforeFlush: []string{"a: 1/- @10", "a: 2/1 @20", "a: 3/2 @30"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBuilder(tt.opts...)
			Count(GroupByKey(StreamFrom(b, "in", serde.String(), serde.String()), ""), "counts")
			topo, err := b.Build()
			if err != nil {
				t.Fatal(err)
			}
			ctx := newCacheTestContext(t)
			p := builtNodeProcessor(t, topo, "counts")
			if err := p.Init(ctx); err != nil {
				t.Fatal(err)
			}
			for _, ms := range []int64{10, 20, 30} {
				if err := p.Process(plan.Record{Key: "a", Value: "x", Timestamp: time.UnixMilli(ms)}); err != nil {
					t.Fatal(err)
				}
			}
			checkCacheEmitted(t, "before the flush", ctx.take(), tt.beforeFlush)
			raw, err := ctx.db.KeyValue("counts")
			if err != nil {
				t.Fatal(err)
			}
			count, ok, err := tableStore("counts", serde.String(), serde.Int64()).Wrap(raw).Get("a")
			if err != nil || !ok || count.Value != 3 {
				t.Errorf("the store holds %v, %v, %v before the flush, want 3", count, ok, err)
			}
			f, ok := p.(processor.Flusher)
			if !ok {
				t.Fatalf("the aggregation's processor %T is not a Flusher", p)
			}
			if err := f.Flush(); err != nil {
				t.Fatal(err)
			}
			checkCacheEmitted(t, "after the flush", ctx.take(), tt.afterFlush)
			if err := p.Process(plan.Record{Key: "a", Value: "x", Timestamp: time.UnixMilli(40)}); err != nil {
				t.Fatal(err)
			}
			ctx.take()
			f.Discard()
			if err := f.Flush(); err != nil {
				t.Fatal(err)
			}
			checkCacheEmitted(t, "after a discard", ctx.take(), tt.afterDiscard)
		})
	}
}

func TestRecordCacheBuilderOptions(t *testing.T) {
	if got := NewBuilder().recordCacheBytes(); got != DefaultRecordCacheBytes {
		t.Errorf("by default: %d bytes, want %d", got, DefaultRecordCacheBytes)
	}
	if got := NewBuilder(WithoutRecordCache()).recordCacheBytes(); got != 0 {
		t.Errorf("WithoutRecordCache: %d bytes, want 0", got)
	}
	if got := NewBuilder(RecordCacheMaxBytes(1234)).recordCacheBytes(); got != 1234 {
		t.Errorf("RecordCacheMaxBytes(1234): %d bytes", got)
	}
	b := NewBuilder(RecordCacheMaxBytes(0))
	if _, err := b.Build(); err == nil {
		t.Error("RecordCacheMaxBytes(0) built")
	}
}
