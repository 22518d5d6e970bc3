package topology

import (
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
)

// Aggregate folds the values of each key into an aggregate, kept in the store name
// (changelog <application id>-<name>-changelog): the first value of a key is folded into
// init(), each later one into the aggregate so far. Records with a null key or value are
// dropped, as in Kafka Streams. The timestamp of an update is the largest of the
// timestamps folded in. The table's updates go through the record cache (see
// WithoutRecordCache): the updates of a key between two commits are forwarded once.
// Kafka Streams: KGroupedStream#aggregate with Materialized.as(name).
func Aggregate[K, V, VA any](g GroupedStream[K, V], name string, init func() VA, aggregator func(key K, value V, agg VA) VA, aggregates serde.Serde[VA]) Table[K, VA] {
	if g.s.b != nil {
		g.s.b.requireFunc("aggregate "+name, "init", init)
		g.s.b.requireFunc("aggregate "+name, "the aggregator", aggregator)
	}
	first := func(k K, v V) VA { return aggregator(k, v, init()) }
	return aggregate(g, name, "aggregate", first, aggregator, aggregates)
}

// Count counts the records of each key, in the store name, as Aggregate does. Kafka
// Streams: KGroupedStream#count.
func Count[K, V any](g GroupedStream[K, V], name string) Table[K, int64] {
	return aggregate(g, name, "count", func(K, V) int64 { return 1 }, func(_ K, _ V, n int64) int64 { return n + 1 }, serde.Int64())
}

// Reduce combines the values of each key, in the store name, as Aggregate does: the
// first value of a key is its aggregate, and each later one is combined with it. The
// stream's value serde must be known. Kafka Streams: KGroupedStream#reduce.
func Reduce[K, V any](g GroupedStream[K, V], name string, reducer func(agg, value V) V) Table[K, V] {
	if g.s.b != nil {
		if g.s.values == nil {
			g.s.b.problemf("reduce %q: the stream's value serde is not known; set it with WithSerdes", name)
		}
		g.s.b.requireFunc("reduce "+name, "the reducer", reducer)
	}
	return aggregate(g, name, "reduce", func(_ K, v V) V { return v }, func(_ K, v V, agg V) V { return reducer(agg, v) }, g.s.values)
}

// aggregate adds the processor of an aggregation: first makes the aggregate of a key's
// first value, add folds each later one in.
func aggregate[K, V, VA any](g GroupedStream[K, V], name, operator string, first func(K, V) VA, add func(K, V, VA) VA, aggregates serde.Serde[VA]) Table[K, VA] {
	b := g.s.b
	if b == nil {
		return Table[K, VA]{}
	}
	storeName := b.storeName(name, operator)
	if g.s.keys == nil {
		b.problemf("%s %q: the stream's key serde is not known; set it with WithSerdes", operator, storeName)
	}
	state := newTableState(b, storeName, g.s.keys, aggregates)
	node := b.nodeName(storeName, "")
	addDSLNode(b, node, func() dslProcessor[K, V, K, Change[VA]] {
		return &aggregator[K, V, VA]{state: state, first: first, add: add}
	}, g.s.node)
	AddStore(b, state.def, node)
	return state.table(b, node)
}

// aggregator is the processor of the stream aggregations. Kafka Streams:
// KStreamAggregate.
type aggregator[K, V, VA any] struct {
	cachedChanges[K, VA]
	dropCounter
	state tableState[K, VA]
	first func(K, V) VA
	add   func(K, V, VA) VA
	kv    store.KV[K, ValueAndTimestamp[VA]]
}

func (a *aggregator[K, V, VA]) init(ctx *dslContext[K, Change[VA]]) error {
	a.kv, a.cache = a.state.open(ctx)
	return nil
}

func (a *aggregator[K, V, VA]) process(r dslRecord[K, V]) error {
	if r.keyNull || r.valueNull {
		a.drop()
		return nil
	}
	old, hadOld, err := a.kv.Get(r.Key)
	if err != nil {
		return err
	}
	var agg VA
	ts := r.Timestamp
	if hadOld {
		agg = a.add(r.Key, r.Value, old.Value)
		ts = laterOf(ts, old.Timestamp)
	} else {
		agg = a.first(r.Key, r.Value)
	}
	if err := a.kv.Put(r.Key, ValueAndTimestamp[VA]{Value: agg, Timestamp: ts}); err != nil {
		return err
	}
	return a.cache.put(changeRecord(r, Change[VA]{New: agg, HasNew: true, Old: old.Value, HasOld: hadOld}, ts))
}
