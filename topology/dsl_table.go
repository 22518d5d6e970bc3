package topology

import (
	"time"

	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
)

// tableView reads a table's current values: from the store that materializes it, or,
// for an operator that is not materialized (a filter, a map of values), through the view
// of its parent. Kafka Streams: KTableValueGetterSupplier.
type tableView[K, V any] struct {
	// stores are the stores the view reads, which every processor that reads the view
	// must be connected to (connectView).
	stores []store.Definition
	// open returns the reader of one task, for a processor of that task.
	open func(ctx processor.InitContext) tableReader[K, V]
}

// tableReader returns the value of key and whether the table has one.
type tableReader[K, V any] func(key K) (ValueAndTimestamp[V], bool, error)

// connectView connects the stores of the view to the processor named reader.
func connectView[K, V any](b *Builder, v *tableView[K, V], reader string) {
	for _, def := range v.stores {
		AddStore(b, def, reader)
	}
}

// storeView is the view of a table materialized in def.
func storeView[K, V any](def store.KeyValueDef[K, ValueAndTimestamp[V]]) *tableView[K, V] {
	return &tableView[K, V]{
		stores: []store.Definition{def},
		open: func(ctx processor.InitContext) tableReader[K, V] {
			kv := def.From(ctx)
			return kv.Get
		},
	}
}

// tableStore defines the store that materializes a table or an aggregation named name.
func tableStore[K, V any](name string, keys serde.Serde[K], values serde.Serde[V], opts ...store.Option) store.KeyValueDef[K, ValueAndTimestamp[V]] {
	return store.KeyValue(name, keys, timestamped(values), opts...)
}

// tableState is the store of a processor that materializes a table, with what its
// record cache needs.
type tableState[K, V any] struct {
	def    store.KeyValueDef[K, ValueAndTimestamp[V]]
	keys   serde.Serde[K]
	values serde.Serde[V]
	// cacheBytes bounds the processor's record cache; 0 forwards every update at once.
	cacheBytes int64
}

// newTableState defines the store storeName of a table processor of b, its record
// cache as b's options set it.
func newTableState[K, V any](b *Builder, storeName string, keys serde.Serde[K], values serde.Serde[V]) tableState[K, V] {
	cacheBytes := b.recordCacheBytes()
	def := tableStore(storeName, keys, values, store.WithCaching(cacheBytes))
	return tableState[K, V]{def: def, keys: keys, values: values, cacheBytes: cacheBytes}
}

// open returns, for the processor whose context ctx is, its store and its record cache,
// which forwards to its children.
func (s tableState[K, V]) open(ctx *dslContext[K, Change[V]]) (store.KV[K, ValueAndTimestamp[V]], *recordCache[K, V]) {
	return s.def.From(ctx), newRecordCache(s.cacheBytes, s.keys, s.values, ctx.forward)
}

// table returns the table that node forwards and s's store holds.
func (s tableState[K, V]) table(b *Builder, node string) Table[K, V] {
	return Table[K, V]{b: b, node: node, keys: s.keys, values: s.values, view: storeView[K, V](s.def)}
}

// laterOf returns the later of two times.
func laterOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// TableFrom reads topic as a table, materialized in the store name (its changelog is
// <application id>-<name>-changelog). A record with a null value deletes its key (a
// delete of a key the table does not hold forwards nothing); a record with a null key is
// dropped. The table's updates go through the record cache (see WithoutRecordCache):
// the updates of a key between two commits are forwarded once. Kafka Streams:
// StreamsBuilder#table with Materialized.as(name); unlike Kafka Streams, which can use
// the source topic as the changelog, Eddy always writes one. The source node is named by
// SourceNamed, or generated (KTABLE-SOURCE-0000000001).
func TableFrom[K, V any](b *Builder, topic, name string, keys serde.Serde[K], values serde.Serde[V], opts ...SourceOption) Table[K, V] {
	if b == nil {
		return Table[K, V]{}
	}
	source := b.nodeName(applySourceOptions(opts).name, "KTABLE-SOURCE")
	addSource(b, source, keys, values, []string{topic}, false, true, opts...)
	storeName := b.storeName(name, "table "+topic)
	return materialize(b, source, storeName, keys, values)
}

// materialize adds the processor that keeps a stream of upserts (a null value deletes)
// from parent in the store storeName and forwards their changes.
func materialize[K, V any](b *Builder, parent, storeName string, keys serde.Serde[K], values serde.Serde[V]) Table[K, V] {
	state := newTableState(b, storeName, keys, values)
	name := b.nodeName(storeName+"-materialize", "")
	addDSLNode(b, name, func() dslProcessor[K, V, K, Change[V]] {
		return &materializer[K, V]{state: state}
	}, parent)
	AddStore(b, state.def, name)
	return state.table(b, name)
}

// materializer keeps a table's store and forwards the change of each record. Kafka
// Streams: KTableSource.
type materializer[K, V any] struct {
	cachedChanges[K, V]
	dropCounter
	state tableState[K, V]
	kv    store.KV[K, ValueAndTimestamp[V]]
}

func (m *materializer[K, V]) init(ctx *dslContext[K, Change[V]]) error {
	m.kv, m.cache = m.state.open(ctx)
	return nil
}

func (m *materializer[K, V]) process(r dslRecord[K, V]) error {
	if r.keyNull {
		m.drop()
		return nil
	}
	if r.valueNull {
		return putChange(m.kv, m.cache, r, Change[V]{})
	}
	return putChange(m.kv, m.cache, r, Change[V]{New: r.Value, HasNew: true})
}

// putChange writes the new value of change (deleting the key when it has none) to kv,
// with r's key and timestamp, and puts the change, with the value kv held as its Old
// value, into cache. A delete of a key kv does not hold does nothing.
func putChange[K, VIn, V any](kv store.KV[K, ValueAndTimestamp[V]], cache *recordCache[K, V], r dslRecord[K, VIn], change Change[V]) error {
	old, hadOld, err := kv.Get(r.Key)
	if err != nil {
		return err
	}
	change.Old, change.HasOld = old.Value, hadOld
	if !change.HasNew {
		if !hadOld {
			return nil
		}
		if err := kv.Delete(r.Key); err != nil {
			return err
		}
	} else if err := kv.Put(r.Key, ValueAndTimestamp[V]{Value: change.New, Timestamp: r.Timestamp}); err != nil {
		return err
	}
	return cache.put(changeRecord(r, change, r.Timestamp))
}

// ToStream turns the table into the stream of its updates: each change forwards the new
// value, and a delete a null value (a tombstone when written to a topic). Kafka Streams:
// KTable#toStream.
func ToStream[K, V any](t Table[K, V], opts ...Option) Stream[K, V] {
	if t.b == nil {
		return Stream[K, V]{}
	}
	name := t.b.nodeName(applyOptions(opts).name, "KTABLE-TOSTREAM")
	addFuncNode(t.b, name, func(ctx *dslContext[K, V], r dslRecord[K, Change[V]]) error {
		out := withValue(r, r.Value.New)
		out.valueNull = !r.Value.HasNew
		ctx.forward(out)
		return nil
	}, t.node)
	return Stream[K, V]{b: t.b, node: name, keys: t.keys, values: t.values}
}
