package topology

import (
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
func tableStore[K, V any](name string, keys serde.Serde[K], values serde.Serde[V]) store.KeyValueDef[K, ValueAndTimestamp[V]] {
	return store.KeyValue(name, keys, timestamped(values))
}

// TableFrom reads topic as a table, materialized in the store name (its changelog is
// <application id>-<name>-changelog). A record with a null value deletes its key; a
// record with a null key is dropped. Kafka Streams: StreamsBuilder#table with
// Materialized.as(name); unlike Kafka Streams, which can use the source topic as the
// changelog, Eddy always writes one.
func TableFrom[K, V any](b *Builder, topic, name string, keys serde.Serde[K], values serde.Serde[V], opts ...SourceOption[K, V]) Table[K, V] {
	if b == nil {
		return Table[K, V]{}
	}
	source := b.nodeName("", "KTABLE-SOURCE")
	addSource(b, source, keys, values, []string{topic}, false, true, opts...)
	storeName := b.resourceName(name, "", "table "+topic)
	return materialize(b, source, storeName, keys, values)
}

// materialize adds the processor that keeps a stream of upserts (a null value deletes)
// from parent in the store storeName and forwards their changes.
func materialize[K, V any](b *Builder, parent, storeName string, keys serde.Serde[K], values serde.Serde[V]) Table[K, V] {
	def := tableStore(storeName, keys, values)
	name := b.nodeName(storeName+"-materialize", "")
	addDSLNode(b, name, func() dslProcessor[K, V, K, Change[V]] {
		return &materializer[K, V]{def: def}
	}, parent)
	AddStore(b, def, name)
	return Table[K, V]{b: b, node: name, keys: keys, values: values, view: storeView[K, V](def)}
}

// materializer keeps a table's store and forwards the change of each record.
type materializer[K, V any] struct {
	def store.KeyValueDef[K, ValueAndTimestamp[V]]
	kv  store.KV[K, ValueAndTimestamp[V]]
	ctx *dslContext[K, Change[V]]
}

func (m *materializer[K, V]) init(ctx *dslContext[K, Change[V]]) error {
	m.ctx, m.kv = ctx, m.def.From(ctx)
	return nil
}

func (m *materializer[K, V]) process(r dslRecord[K, V]) error {
	if r.keyNull {
		return nil
	}
	old, hadOld, err := m.kv.Get(r.Key)
	if err != nil {
		return err
	}
	change := Change[V]{Old: old.Value, HasOld: hadOld}
	if r.valueNull {
		if !hadOld {
			return nil
		}
		if err := m.kv.Delete(r.Key); err != nil {
			return err
		}
	} else {
		change.New, change.HasNew = r.Value, true
		if err := m.kv.Put(r.Key, ValueAndTimestamp[V]{Value: r.Value, Timestamp: r.Timestamp}); err != nil {
			return err
		}
	}
	m.ctx.forward(with(r, r.Key, change))
	return nil
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
		out := with(r, r.Key, r.Value.New)
		out.valueNull = !r.Value.HasNew
		ctx.forward(out)
		return nil
	}, t.node)
	return Stream[K, V]{b: t.b, node: name, keys: t.keys, values: t.values}
}
