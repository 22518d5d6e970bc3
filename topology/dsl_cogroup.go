package topology

import (
	"fmt"

	"github.com/eddy-streams/eddy/serde"
)

// CogroupedStream is a set of grouped streams with the same key type, each with its
// aggregator, to be folded into one aggregate per key: AggregateCogrouped. Kafka
// Streams: CogroupedKStream<K, VOut>. The zero CogroupedStream belongs to no Builder.
// See the example of Cogroup.
type CogroupedStream[K, VA any] struct {
	b *Builder
	// keys is the key serde of the first input that has one.
	keys   serde.Serde[K]
	inputs []cogroupInput[K, VA]
}

// cogroupInput is one grouped stream of a CogroupedStream: the node it reads, and how to
// add its aggregating processor once the store is known.
type cogroupInput[K, VA any] struct {
	parent string
	add    func(node string, state tableState[K, VA], init func() VA)
}

// Cogroup starts a CogroupedStream with g, whose values aggregator folds into the
// aggregate of their key. Kafka Streams: KGroupedStream#cogroup.
func Cogroup[K, V, VA any](g GroupedStream[K, V], aggregator func(key K, value V, agg VA) VA) CogroupedStream[K, VA] {
	if g.s.b == nil {
		return CogroupedStream[K, VA]{}
	}
	return CogroupCogrouped(CogroupedStream[K, VA]{b: g.s.b}, g, aggregator)
}

// CogroupCogrouped returns c with g added, whose values fold adds into the aggregate
// of their key. g must belong to c's Builder and not be in c already. Like every
// grouped stream, g was repartitioned by its grouping when its keys may have changed;
// all the inputs must be copartitioned, which the engine checks at start (their source
// or repartition topics end up in one subtopology, through the shared store). Kafka
// Streams: CogroupedKStream#cogroup.
func CogroupCogrouped[K, V, VA any](c CogroupedStream[K, VA], g GroupedStream[K, V], fold func(key K, value V, agg VA) VA) CogroupedStream[K, VA] {
	switch {
	case c.b == nil:
		return c
	case g.s.b != c.b:
		c.b.problemf("cogroup: a grouped stream of another Builder (or the zero GroupedStream) added to a cogrouped stream")
		return c
	case fold == nil:
		c.b.problemf("cogroup: the aggregator of the grouped stream of %q is nil", g.s.node)
		return c
	}
	for _, in := range c.inputs {
		if in.parent == g.s.node {
			c.b.problemf("cogroup: the grouped stream of %q is cogrouped twice", g.s.node)
			return c
		}
	}
	if c.keys == nil {
		c.keys = g.s.keys
	}
	b, parent := c.b, g.s.node
	// The input's processor is the stream aggregator (Kafka Streams: KStreamAggregate
	// under CogroupedStreamAggregateBuilder), forwarding to the merging node.
	add := func(node string, state tableState[K, VA], init func() VA) {
		addDSLNode(b, node, func() dslProcessor[K, V, K, Change[VA]] {
			return &aggregator[K, V, VA]{
				state: state,
				first: func(k K, v V) VA { return fold(k, v, init()) },
				add:   fold,
			}
		}, parent)
		AddStore(b, state.def, node)
	}
	// A new slice: c's may be shared with other CogroupedStreams made from it.
	inputs := make([]cogroupInput[K, VA], len(c.inputs), len(c.inputs)+1)
	copy(inputs, c.inputs)
	c.inputs = append(inputs, cogroupInput[K, VA]{parent: parent, add: add})
	return c
}

// AggregateCogrouped folds the values of every input of c into one aggregate per key,
// kept in the store name (changelog <application id>-<name>-changelog) that every
// input's processor updates: the first value of a key, whatever its input, is folded
// into init(), each later one into the aggregate so far, by the aggregator of its input.
// As Aggregate: records with a null key or value are dropped, the timestamp of an update
// is the largest of the timestamps folded in, and the updates go through the record
// cache (one for all the inputs). Kafka Streams: CogroupedKStream#aggregate with
// Materialized.as(name).
//
// The nodes: <name>-cogroup-<i> aggregates the i-th input (from 0, in the order they were
// added), and <name>, which the table's Node names, merges their updates.
func AggregateCogrouped[K, VA any](c CogroupedStream[K, VA], name string, init func() VA, aggregates serde.Serde[VA]) Table[K, VA] {
	b := c.b
	if b == nil {
		return Table[K, VA]{}
	}
	storeName := b.storeName(name, "cogroup")
	if c.keys == nil {
		b.problemf("cogroup %q: the key serde of the grouped streams is not known; set it with WithSerdes", storeName)
	}
	b.requireFunc(fmt.Sprintf("cogroup %q", storeName), "init", init)
	state := newTableState(b, storeName, c.keys, aggregates)
	// The inputs forward at once; the merging node holds the record cache, so that the
	// updates of a key from several inputs are forwarded once, with the Old value before
	// the first of them.
	uncached := state
	uncached.cacheBytes = 0
	var parents []string
	for i, in := range c.inputs {
		node := b.nodeName(fmt.Sprintf("%s-cogroup-%d", storeName, i), "")
		in.add(node, uncached, init)
		parents = append(parents, node)
	}
	merge := b.nodeName(storeName, "")
	addDSLNode(b, merge, func() dslProcessor[K, Change[VA], K, Change[VA]] {
		return &cogroupMerge[K, VA]{state: state}
	}, parents...)
	return state.table(b, merge)
}

// cogroupMerge forwards the updates of a cogrouped aggregation's inputs through the
// record cache. Kafka Streams: the KStreamPassThrough after the cogrouped aggregates,
// whose caching store does what this cache does.
type cogroupMerge[K, VA any] struct {
	cachedChanges[K, VA]
	state tableState[K, VA]
}

func (m *cogroupMerge[K, VA]) init(ctx *dslContext[K, Change[VA]]) error {
	m.cache = newRecordCache(m.state.cacheBytes, m.state.keys, m.state.values, ctx.forward)
	return nil
}

func (m *cogroupMerge[K, VA]) process(r dslRecord[K, Change[VA]]) error {
	return m.cache.put(r)
}
