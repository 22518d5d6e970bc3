package topology

import (
	"fmt"
	"reflect"
	"time"

	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
)

// This file holds the record cache of the DSL's tables and aggregations. Kafka Streams
// puts a cache in front of their stores (statestore.cache.max.bytes, 10 MiB per
// instance by default), so that the updates of one key within a commit interval reach
// the downstream processors and topics once. Eddy's cache differs in where it sits, not
// in what it emits: writes go to the store (and its changelog) at once, so that every
// processor reading the store (a join, an interactive query) sees the latest value, and
// only the emission downstream waits in the cache until the engine flushes it, before
// every commit.

// DefaultRecordCacheBytes is the default bound of one record cache: each processor
// that caches (a table's materialization, an aggregation) has one per task. Kafka
// Streams bounds all the caches of an instance together by statestore.cache.max.bytes,
// 10 MiB by default; Eddy's caches are bounded one by one, at a tenth of that, so that an
// instance running ten of them matches it.
const DefaultRecordCacheBytes = 1 << 20

// WithoutRecordCache turns the record cache off: every update of a table or an
// aggregation is forwarded at once. By default it is on: the caching operators (table
// sources, stream and table aggregations, cogroups, Materialize, and the windowed and
// session aggregations that emit on window update) forward the updates of a key once
// per commit. Kafka Streams: statestore.cache.max.bytes=0.
func WithoutRecordCache() BuilderOption {
	return func(b *Builder) { b.cache = cacheConfig{off: true} }
}

// RecordCacheMaxBytes sets the bound of each record cache, in bytes of keys and values
// (as their serdes or types measure them) plus a fixed overhead per entry; when a cache
// grows beyond it, the least recently updated keys are forwarded and evicted. Default
// DefaultRecordCacheBytes. A bound below 1 is a problem that Build reports; use
// WithoutRecordCache to turn caching off. Kafka Streams: statestore.cache.max.bytes,
// which bounds all the caches of an instance together.
func RecordCacheMaxBytes(n int64) BuilderOption {
	return func(b *Builder) {
		if n < 1 {
			b.problemf("RecordCacheMaxBytes(%d): the bound must be positive (WithoutRecordCache turns the cache off)", n)
			return
		}
		b.cache = cacheConfig{maxBytes: n}
	}
}

// cacheConfig is the record cache configuration of a Builder; the zero value is the
// default.
type cacheConfig struct {
	off      bool
	maxBytes int64
}

// recordCacheBytes is the bound of the record caches of b's processors, 0 when off.
func (b *Builder) recordCacheBytes() int64 {
	switch {
	case b == nil || b.cache.off:
		return 0
	case b.cache.maxBytes > 0:
		return b.cache.maxBytes
	}
	return DefaultRecordCacheBytes
}

// cacheEntryOverhead is what an entry costs beyond its key and values: the entry, its
// list links and its map slot, roughly.
const cacheEntryOverhead = 96

// recordCache holds back the changes a table processor forwards until flush, keeping
// one per key: the Old value of the first change since the last flush, the New value,
// timestamp and headers of the latest. It is generic over the key type so that windowed
// aggregations use it with windowed keys. Use:
//
//	c := newRecordCache(b.recordCacheBytes(), keys, values, ctx.forward)
//	c.put(r)    // in process, after writing the store: r.Value is the Change to emit
//	c.flush()   // from the processor's flush: forwards one change per key
//	c.discard() // from the processor's discard: drops them
//
// With maxBytes 0 the cache is off: put forwards at once. When the entries outgrow
// maxBytes, put forwards and removes the least recently updated ones first. flush
// forwards in the same order, least recently updated first, as Kafka Streams' NamedCache
// does. A key whose change since the last flush has neither an Old nor a New value (put
// then deleted) is dropped without being forwarded.
//
// A recordCache belongs to one processor of one task: it is not safe for concurrent
// use, and emit must not call put.
type recordCache[K, V any] struct {
	maxBytes int64
	emit     func(dslRecord[K, Change[V]])
	// identity returns the map key of a key and its size in bytes.
	identity func(K) (any, int, error)
	// size returns the size of a value in bytes.
	size func(V) int

	entries map[any]*cacheEntry[K, V]
	// head is the least recently updated entry, tail the most.
	head, tail *cacheEntry[K, V]
	bytes      int64
}

type cacheEntry[K, V any] struct {
	id         any
	r          dslRecord[K, Change[V]]
	fixedBytes int64 // key, Old and overhead
	newBytes   int64
	prev, next *cacheEntry[K, V]
}

func (e *cacheEntry[K, V]) bytes() int64 { return e.fixedBytes + e.newBytes }

// newRecordCache returns a cache that forwards through emit, bounded by maxBytes (0:
// off). keys tells keys apart (by their bytes, unless K is a string, bool or integer
// type, which are told apart by value) and, with values, measures the entries; a nil
// values serde makes values of types other than those, strings and byte slices count a
// fixed 64 bytes.
func newRecordCache[K, V any](maxBytes int64, keys serde.Serde[K], values serde.Serde[V], emit func(dslRecord[K, Change[V]])) *recordCache[K, V] {
	return &recordCache[K, V]{
		maxBytes: maxBytes,
		emit:     emit,
		identity: keyIdentity(keys),
		size:     valueSizer(values),
		entries:  make(map[any]*cacheEntry[K, V]),
	}
}

// put records r, whose value is the change of r.Key that the processor would forward.
// r's key must not be null.
func (c *recordCache[K, V]) put(r dslRecord[K, Change[V]]) error {
	if c.maxBytes <= 0 {
		c.emit(r)
		return nil
	}
	id, keyBytes, err := c.identity(r.Key)
	if err != nil {
		return fmt.Errorf("topology: record cache: %w", err)
	}
	r.erasedKey, r.erasedValue = nil, nil // an entry's value changes with later puts
	e, ok := c.entries[id]
	if ok {
		change := r.Value
		change.Old, change.HasOld = e.r.Value.Old, e.r.Value.HasOld
		e.r.Record = r.Record
		e.r.Value = change
		c.bytes -= e.newBytes
		c.unlink(e)
	} else {
		e = &cacheEntry[K, V]{id: id, r: r, fixedBytes: int64(keyBytes) + cacheEntryOverhead}
		if r.Value.HasOld {
			e.fixedBytes += int64(c.size(r.Value.Old))
		}
		c.entries[id] = e
		c.bytes += e.fixedBytes
	}
	e.newBytes = 0
	if e.r.Value.HasNew {
		e.newBytes = int64(c.size(e.r.Value.New))
	}
	c.bytes += e.newBytes
	c.append(e)
	for c.bytes > c.maxBytes && c.head != nil {
		c.evict(c.head)
	}
	return nil
}

// flush forwards the change of every key held, least recently updated first, and
// empties the cache.
func (c *recordCache[K, V]) flush() {
	for c.head != nil {
		c.evict(c.head)
	}
}

// discard empties the cache without forwarding anything.
func (c *recordCache[K, V]) discard() {
	clear(c.entries)
	c.head, c.tail, c.bytes = nil, nil, 0
}

// evict removes e and forwards its change, unless it has neither value.
func (c *recordCache[K, V]) evict(e *cacheEntry[K, V]) {
	c.unlink(e)
	delete(c.entries, e.id)
	c.bytes -= e.bytes()
	if e.r.Value.HasNew || e.r.Value.HasOld {
		c.emit(e.r)
	}
}

func (c *recordCache[K, V]) append(e *cacheEntry[K, V]) {
	e.prev, e.next = c.tail, nil
	if c.tail != nil {
		c.tail.next = e
	} else {
		c.head = e
	}
	c.tail = e
}

func (c *recordCache[K, V]) unlink(e *cacheEntry[K, V]) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		c.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		c.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

// len returns the number of keys held.
func (c *recordCache[K, V]) len() int { return len(c.entries) }

// size returns the bytes held, as the bound counts them.
func (c *recordCache[K, V]) sizeBytes() int64 { return c.bytes }

// keyIdentity returns how a cache tells keys of type K apart: keys of the kinds whose Go
// equality is their serde's (strings, booleans, integers) by value, the others by their
// serialized bytes, which is how the store tells them apart.
func keyIdentity[K any](keys serde.Serde[K]) func(K) (any, int, error) {
	t := reflect.TypeFor[K]()
	switch t.Kind() {
	case reflect.String:
		return func(k K) (any, int, error) {
			id := any(k)
			if s, ok := id.(string); ok {
				return id, len(s), nil
			}
			return id, reflect.ValueOf(id).Len(), nil
		}
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		size := int(t.Size())
		return func(k K) (any, int, error) { return k, size, nil }
	}
	if keys == nil {
		return func(K) (any, int, error) {
			return nil, 0, fmt.Errorf("keys of type %s need a serde to be told apart", t)
		}
	}
	return func(k K) (any, int, error) {
		b, err := keys.Serialize("", k)
		if err != nil {
			return nil, 0, fmt.Errorf("serializing a key: %w", err)
		}
		return string(b), len(b), nil
	}
}

// valueSizer returns how a cache measures values of type V: by their length for strings
// and byte slices, by their size for numbers and booleans, and by their serialized
// length otherwise (64 bytes when there is no serde, or it fails).
func valueSizer[V any](values serde.Serde[V]) func(V) int {
	t := reflect.TypeFor[V]()
	switch t.Kind() {
	case reflect.String:
		return func(v V) int {
			if s, ok := any(v).(string); ok {
				return len(s)
			}
			return reflect.ValueOf(v).Len()
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return func(v V) int { return reflect.ValueOf(v).Len() }
		}
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		size := int(t.Size())
		return func(V) int { return size }
	}
	const unknown = 64
	if values == nil {
		return func(V) int { return unknown }
	}
	return func(v V) int {
		b, err := values.Serialize("", v)
		if err != nil {
			return unknown
		}
		return len(b)
	}
}

// cachedChanges is embedded by the processors that forward their changes through a
// record cache: it makes them flush and discard it.
type cachedChanges[K, V any] struct {
	cache *recordCache[K, V]
}

func (c *cachedChanges[K, V]) flush() error {
	c.cache.flush()
	return nil
}

func (c *cachedChanges[K, V]) discard() { c.cache.discard() }

// changeRecord is the record forwarding change of key, at time ts, with the headers of
// r.
func changeRecord[K, VIn, V any](r dslRecord[K, VIn], change Change[V], ts time.Time) dslRecord[K, Change[V]] {
	return dslRecord[K, Change[V]]{Record: processor.Record[K, Change[V]]{Key: r.Key, Value: change, Timestamp: ts, Headers: r.Headers}}
}

// windowedCache is what the windowed aggregations' processors share (windowedBase), with
// the record cache of their updates: with EmitOnWindowUpdate, the changes of a window
// between two commits are forwarded once, keyed by the windowed key's bytes (the serde of
// the table's keys, which tells windows apart: key and start for fixed windows, key, end
// and start for sessions). With EmitOnWindowClose there is nothing to cache: the final
// results are forwarded at once. Kafka Streams: CachingWindowStore and
// CachingSessionStore, which forward at a flush the latest value of each window with the
// value the store held before as the old value, and nothing for a session put and
// removed in between.
type windowedCache[K, V, VA any] struct {
	windowedBase[K, V, VA]
	cacheBytes int64
	windowKeys serde.Serde[Windowed[K]]
	aggregates serde.Serde[VA]
	updates    *recordCache[Windowed[K], VA]
}

// initCache initializes the base and opens the cache, which is off with
// EmitOnWindowClose.
func (c *windowedCache[K, V, VA]) initCache(ctx *dslContext[Windowed[K], Change[VA]], emit EmitStrategy) error {
	maxBytes := c.cacheBytes
	if emit == EmitOnWindowClose {
		maxBytes = 0
	}
	c.updates = newRecordCache(maxBytes, c.windowKeys, c.aggregates, ctx.forward)
	return c.initBase(ctx, emit)
}

// update forwards the change of the window w, at ts, through the cache.
func (c *windowedCache[K, V, VA]) update(w Windowed[K], change Change[VA], ts time.Time, headers []processor.Header) error {
	return c.updates.put(dslRecord[Windowed[K], Change[VA]]{Record: processor.Record[Windowed[K], Change[VA]]{Key: w, Value: change, Timestamp: ts, Headers: headers}})
}

// flush and discard forward or drop the cached updates, and let the base follow the
// engine's rollbacks.
func (c *windowedCache[K, V, VA]) flush() error {
	c.updates.flush()
	return c.windowedBase.flush()
}

func (c *windowedCache[K, V, VA]) discard() {
	c.updates.discard()
	c.windowedBase.discard()
}
