package topology

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"

	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
)

// This file holds the operators on tables: filters, value maps, materialization, and
// the grouping and aggregation of tables.

// requireFunc reports a problem of operator when fn, a function the user gave as what,
// is nil: it would fail the task at its first record.
func (b *Builder) requireFunc(operator, what string, fn any) {
	if fn == nil || reflect.ValueOf(fn).IsNil() {
		b.problemf("%s: %s is nil", operator, what)
	}
}

// WithSerdes returns the table with its serdes set: those that Materialize and the
// operators writing a topic or a store use. Operators that change the type of the
// values forget their serde (they keep it when the new type is the old one). Kafka
// Streams passes them in Materialized instead.
func (t Table[K, V]) WithSerdes(keys serde.Serde[K], values serde.Serde[V]) Table[K, V] {
	t.keys, t.values = keys, values
	return t
}

// FilterTable keeps the values for which keep returns true: an update whose new value
// fails keep is forwarded as a delete, unless its old value failed keep too (then the
// key was not in the filtered table, and nothing is forwarded). The table is not
// materialized: its view (for joins) reads the parent's and applies keep, and
// Materialize stores it. Kafka Streams: KTable#filter, as it behaves when old values
// are sent (which Eddy always does).
func FilterTable[K, V any](t Table[K, V], keep func(key K, value V) bool, opts ...Option) Table[K, V] {
	return filterTable(t, keep, true, opts)
}

// FilterNotTable drops the values for which drop returns true, as FilterTable drops
// those for which keep returns false. Kafka Streams: KTable#filterNot.
func FilterNotTable[K, V any](t Table[K, V], drop func(key K, value V) bool, opts ...Option) Table[K, V] {
	return filterTable(t, drop, false, opts)
}

func filterTable[K, V any](t Table[K, V], pred func(K, V) bool, want bool, opts []Option) Table[K, V] {
	if t.b == nil {
		return t
	}
	name := t.b.nodeName(applyOptions(opts).name, "KTABLE-FILTER")
	t.b.requireFunc(name, "the predicate", pred)
	passes := func(k K, v V, has bool) bool { return has && pred(k, v) == want }
	addFuncNode(t.b, name, func(ctx *dslContext[K, Change[V]], r dslRecord[K, Change[V]]) error {
		c := r.Value
		out := Change[V]{HasNew: passes(r.Key, c.New, c.HasNew), HasOld: passes(r.Key, c.Old, c.HasOld)}
		if !out.HasNew && !out.HasOld {
			return nil
		}
		if out.HasNew {
			out.New = c.New
		}
		if out.HasOld {
			out.Old = c.Old
		}
		ctx.forward(withValue(r, out))
		return nil
	}, t.node)
	t.node = name
	t.view = mappedView(t.view, func(k K, v ValueAndTimestamp[V]) (ValueAndTimestamp[V], bool) {
		return v, pred(k, v.Value) == want
	})
	return t
}

// MapValuesTable turns each value into another, keeping the key: the old and new values
// of each update are mapped with fn. The table is not materialized: its view (for
// joins) reads the parent's and maps its values, so fn must give the same result for the
// same key and value each time; Materialize stores it. Kafka Streams: KTable#mapValues.
func MapValuesTable[K, V, VR any](t Table[K, V], fn func(key K, value V) VR, opts ...Option) Table[K, VR] {
	if t.b == nil {
		return Table[K, VR]{}
	}
	name := t.b.nodeName(applyOptions(opts).name, "KTABLE-MAPVALUES")
	t.b.requireFunc(name, "the mapper", fn)
	addFuncNode(t.b, name, func(ctx *dslContext[K, Change[VR]], r dslRecord[K, Change[V]]) error {
		c := r.Value
		out := Change[VR]{HasNew: c.HasNew, HasOld: c.HasOld}
		if c.HasNew {
			out.New = fn(r.Key, c.New)
		}
		if c.HasOld {
			out.Old = fn(r.Key, c.Old)
		}
		ctx.forward(withValue(r, out))
		return nil
	}, t.node)
	view := mappedView(t.view, func(k K, v ValueAndTimestamp[V]) (ValueAndTimestamp[VR], bool) {
		return ValueAndTimestamp[VR]{Value: fn(k, v.Value), Timestamp: v.Timestamp}, true
	})
	return Table[K, VR]{b: t.b, node: name, keys: t.keys, values: sameSerde[V, VR](t.values), view: view}
}

// mappedView is the view of a table whose values are those of parent's through fn, which
// reports false for a key the table does not hold.
func mappedView[K, V, VR any](parent *tableView[K, V], fn func(K, ValueAndTimestamp[V]) (ValueAndTimestamp[VR], bool)) *tableView[K, VR] {
	if parent == nil {
		return nil
	}
	return &tableView[K, VR]{
		stores: parent.stores,
		open: func(ctx processor.InitContext) tableReader[K, VR] {
			read := parent.open(ctx)
			return func(key K) (ValueAndTimestamp[VR], bool, error) {
				v, ok, err := read(key)
				if err != nil || !ok {
					return ValueAndTimestamp[VR]{}, false, err
				}
				out, ok := fn(key, v)
				if !ok {
					return ValueAndTimestamp[VR]{}, false, nil
				}
				return out, true, nil
			}
		},
	}
}

// Materialize keeps the table in the store name (changelog <application id>-<name>-changelog),
// which its view then reads instead of its parent's, and forwards its updates through
// the record cache (see WithoutRecordCache). The table's serdes must be known (see
// WithSerdes). Kafka Streams: passing Materialized.as(name) to the operator that made
// the table (KTable#filter, KTable#mapValues); Eddy adds a node <name>-materialize
// instead.
func Materialize[K, V any](t Table[K, V], name string) Table[K, V] {
	b := t.b
	if b == nil {
		return t
	}
	storeName := b.storeName(name, "materialize")
	if t.keys == nil || t.values == nil {
		b.problemf("materialize %q: the table's serdes are not known after the operator that changed its types; set them with WithSerdes", storeName)
	}
	state := newTableState(b, storeName, t.keys, t.values)
	node := b.nodeName(storeName+"-materialize", "")
	addDSLNode(b, node, func() dslProcessor[K, Change[V], K, Change[V]] {
		return &changeMaterializer[K, V]{state: state}
	}, t.node)
	AddStore(b, state.def, node)
	return state.table(b, node)
}

// changeMaterializer keeps the changes of a table in a store and forwards them, with
// the store's old values.
type changeMaterializer[K, V any] struct {
	cachedChanges[K, V]
	state tableState[K, V]
	kv    store.KV[K, ValueAndTimestamp[V]]
}

func (m *changeMaterializer[K, V]) init(ctx *dslContext[K, Change[V]]) error {
	m.kv, m.cache = m.state.open(ctx)
	return nil
}

func (m *changeMaterializer[K, V]) process(r dslRecord[K, Change[V]]) error {
	if r.keyNull {
		return nil
	}
	return putChange(m.kv, m.cache, r, Change[V]{New: r.Value.New, HasNew: r.Value.HasNew})
}

// GroupedTable is a table's values grouped by a new key, ready for an aggregation that
// adds each new value to the aggregate of its key and subtracts each old one. Kafka
// Streams: KGroupedTable<K, V>.
type GroupedTable[K, V any] struct {
	b *Builder
	// node forwards the changes read back from the repartition topic.
	node   string
	keys   serde.Serde[K]
	values serde.Serde[V]
}

// GroupByTable groups the table's values by the key and value that selector makes of
// each, through the repartition topic <application id>-<name>-repartition, whose keys
// and values the serdes serialize. Each update of the table becomes, when selector
// gives its old and new values the same key, one record with both (the aggregation
// subtracts the old value, then adds the new one); otherwise a record that subtracts the
// old value from the aggregate of its key, then one that adds the new value to the
// aggregate of its key. The repartition topic's values are changes: see
// ChangeSerde. Kafka Streams: KTable#groupBy (name: Grouped.as), with KIP-904's single
// record for an unchanged key.
func GroupByTable[K, V, KR, VR any](t Table[K, V], name string, selector func(key K, value V) KeyValue[KR, VR], keys serde.Serde[KR], values serde.Serde[VR]) GroupedTable[KR, VR] {
	b := t.b
	if b == nil {
		return GroupedTable[KR, VR]{}
	}
	topic := b.resourceName(name, "-repartition", "table groupBy")
	if keys == nil || values == nil {
		b.problemf("table groupBy %q: nil key or value serde", topic)
	}
	selectName := ""
	if name != "" {
		selectName = name + "-select"
	}
	selectNode := b.nodeName(selectName, "KTABLE-SELECT")
	b.requireFunc("table groupBy "+topic, "the selector", selector)
	same := sameKeys(keys)
	addFuncNode(b, selectNode, func(ctx *dslContext[KR, Change[VR]], r dslRecord[K, Change[V]]) error {
		c := r.Value
		var oldKV, newKV KeyValue[KR, VR]
		if c.HasOld {
			oldKV = selector(r.Key, c.Old)
		}
		if c.HasNew {
			newKV = selector(r.Key, c.New)
		}
		if c.HasOld && c.HasNew {
			ok, err := same(oldKV.Key, newKV.Key)
			if err != nil {
				return fmt.Errorf("topology: table groupBy %q: %w", topic, err)
			}
			if ok {
				ctx.forward(with(r, newKV.Key, Change[VR]{New: newKV.Value, HasNew: true, Old: oldKV.Value, HasOld: true}))
				return nil
			}
		}
		if c.HasOld {
			ctx.forward(with(r, oldKV.Key, Change[VR]{Old: oldKV.Value, HasOld: true}))
		}
		if c.HasNew {
			ctx.forward(with(r, newKV.Key, Change[VR]{New: newKV.Value, HasNew: true}))
		}
		return nil
	}, t.node)
	b.declareInternalTopic(topic, 0)
	changes := ChangeSerde(values)
	addSink(b, topic+"-sink", topic, keys, changes, []string{selectNode}, true)
	source := topic + "-source"
	addSource(b, source, keys, changes, []string{topic}, true, true)
	return GroupedTable[KR, VR]{b: b, node: source, keys: keys, values: values}
}

// sameKeys returns how to tell whether two keys are the same key: by value for the
// kinds whose Go equality is their serde's, by their serialized bytes otherwise.
func sameKeys[K any](keys serde.Serde[K]) func(a, b K) (bool, error) {
	identity := keyIdentity(keys)
	return func(a, b K) (bool, error) {
		ia, _, err := identity(a)
		if err != nil {
			return false, err
		}
		ib, _, err := identity(b)
		return ia == ib, err
	}
}

// AggregateTable folds the values of each key of g into an aggregate, kept in the store
// name (changelog <application id>-<name>-changelog): a new value is added with adder to
// the aggregate of its key (to init() for a key without one), an old value is subtracted
// with subtractor from the aggregate of its key. When one record carries both (the key
// did not change), the subtraction comes first, and the table forwards one update. A
// key's aggregate stays when everything was subtracted from it. The timestamp of an
// update is the largest of the record's and the aggregate's. The updates go through the
// record cache (see WithoutRecordCache). Kafka Streams: KGroupedTable#aggregate with
// Materialized.as(name) (KTableAggregate); unlike Java's, a Go subtractor cannot delete
// the key by returning null.
func AggregateTable[K, V, VA any](g GroupedTable[K, V], name string, init func() VA, adder, subtractor func(key K, value V, agg VA) VA, aggregates serde.Serde[VA]) Table[K, VA] {
	if g.b != nil {
		g.b.requireFunc("table aggregate "+name, "init", init)
		g.b.requireFunc("table aggregate "+name, "the adder", adder)
		g.b.requireFunc("table aggregate "+name, "the subtractor", subtractor)
	}
	first := func(k K, v V) VA { return adder(k, v, init()) }
	return aggregateTable(g, name, "table aggregate", first, adder, subtractor, aggregates)
}

// CountTable counts the values of each key of g, in the store name, as AggregateTable
// does: a count goes down when a value leaves its key (and stays at 0). Kafka Streams:
// KGroupedTable#count.
func CountTable[K, V any](g GroupedTable[K, V], name string) Table[K, int64] {
	return aggregateTable(g, name, "table count",
		func(K, V) int64 { return 1 },
		func(_ K, _ V, n int64) int64 { return n + 1 },
		func(_ K, _ V, n int64) int64 { return n - 1 },
		serde.Int64())
}

// ReduceTable combines the values of each key of g, in the store name, as
// AggregateTable does: the first value of a key without an aggregate is its aggregate,
// a later one is combined with adder, and an old value is taken out with subtractor.
// Kafka Streams: KGroupedTable#reduce (KTableReduce).
func ReduceTable[K, V any](g GroupedTable[K, V], name string, adder, subtractor func(agg, value V) V) Table[K, V] {
	if g.b != nil {
		g.b.requireFunc("table reduce "+name, "the adder", adder)
		g.b.requireFunc("table reduce "+name, "the subtractor", subtractor)
	}
	return aggregateTable(g, name, "table reduce",
		func(_ K, v V) V { return v },
		func(_ K, v V, agg V) V { return adder(agg, v) },
		func(_ K, v V, agg V) V { return subtractor(agg, v) },
		g.values)
}

func aggregateTable[K, V, VA any](g GroupedTable[K, V], name, operator string, first func(K, V) VA, add, subtract func(K, V, VA) VA, aggregates serde.Serde[VA]) Table[K, VA] {
	b := g.b
	if b == nil {
		return Table[K, VA]{}
	}
	storeName := b.storeName(name, operator)
	if aggregates == nil {
		b.problemf("%s %q: nil aggregate serde", operator, storeName)
	}
	state := newTableState(b, storeName, g.keys, aggregates)
	node := b.nodeName(storeName, "")
	addDSLNode(b, node, func() dslProcessor[K, Change[V], K, Change[VA]] {
		return &tableAggregator[K, V, VA]{state: state, first: first, add: add, subtract: subtract}
	}, g.node)
	AddStore(b, state.def, node)
	return state.table(b, node)
}

// tableAggregator is the processor of the table aggregations. Kafka Streams:
// KTableAggregate and KTableReduce.
type tableAggregator[K, V, VA any] struct {
	cachedChanges[K, VA]
	dropCounter
	state         tableState[K, VA]
	first         func(K, V) VA
	add, subtract func(K, V, VA) VA
	kv            store.KV[K, ValueAndTimestamp[VA]]
}

func (a *tableAggregator[K, V, VA]) init(ctx *dslContext[K, Change[VA]]) error {
	a.kv, a.cache = a.state.open(ctx)
	return nil
}

func (a *tableAggregator[K, V, VA]) process(r dslRecord[K, Change[V]]) error {
	if r.keyNull {
		a.drop()
		return nil
	}
	old, hadOld, err := a.kv.Get(r.Key)
	if err != nil {
		return err
	}
	c := r.Value
	agg, has := old.Value, hadOld
	ts := r.Timestamp
	if c.HasOld && hadOld {
		agg = a.subtract(r.Key, c.Old, agg)
		ts = laterOf(ts, old.Timestamp)
	}
	if c.HasNew {
		if has {
			agg = a.add(r.Key, c.New, agg)
			ts = laterOf(ts, old.Timestamp)
		} else {
			agg = a.first(r.Key, c.New)
		}
		has = true
	}
	if !has {
		return nil
	}
	if err := a.kv.Put(r.Key, ValueAndTimestamp[VA]{Value: agg, Timestamp: ts}); err != nil {
		return err
	}
	return a.cache.put(changeRecord(r, Change[VA]{New: agg, HasNew: true, Old: old.Value, HasOld: hadOld}, ts))
}

// ErrBadChange is wrapped by the errors of ChangeSerde's Deserialize for bytes that are
// not a change it wrote.
var ErrBadChange = errors.New("topology: malformed change")

// Flags of the first byte of a serialized change.
const (
	changeHasNew = 1 << iota
	changeHasOld
)

// ChangeSerde returns the serde of the changes that GroupByTable writes to its
// repartition topic. The format: one byte of flags (1: there is a new value, 2: an old
// one; no other bit is set), then, when there are both, the length of the serialized new
// value as an unsigned varint, the new value and the old value, and when there is one,
// that value. A change with neither is refused. Kafka Streams' ChangedSerializer writes
// the new value's length as 4 bytes instead, and no flags (KIP-904 adds a trailing
// byte); the formats are not compatible.
func ChangeSerde[V any](values serde.Serde[V]) serde.Serde[Change[V]] {
	if values == nil {
		return nil
	}
	return serde.Func(
		func(topic string, c Change[V]) ([]byte, error) {
			var flags byte
			var newBytes, oldBytes []byte
			var err error
			if c.HasNew {
				flags |= changeHasNew
				if newBytes, err = values.Serialize(topic, c.New); err != nil {
					return nil, err
				}
			}
			if c.HasOld {
				flags |= changeHasOld
				if oldBytes, err = values.Serialize(topic, c.Old); err != nil {
					return nil, err
				}
			}
			if flags == 0 {
				return nil, fmt.Errorf("topology: a change with neither a new nor an old value: %w", ErrBadChange)
			}
			out := make([]byte, 1, 1+binary.MaxVarintLen64+len(newBytes)+len(oldBytes))
			out[0] = flags
			if c.HasNew && c.HasOld {
				out = binary.AppendUvarint(out, uint64(len(newBytes)))
			}
			out = append(out, newBytes...)
			return append(out, oldBytes...), nil
		},
		func(topic string, data []byte) (Change[V], error) {
			var c Change[V]
			if len(data) == 0 {
				return c, fmt.Errorf("topology: an empty change: %w", ErrBadChange)
			}
			flags, rest := data[0], data[1:]
			if flags == 0 || flags&^(changeHasNew|changeHasOld) != 0 {
				return c, fmt.Errorf("topology: a change with flags %#x: %w", flags, ErrBadChange)
			}
			newBytes, oldBytes := rest, rest
			if flags == changeHasNew|changeHasOld {
				n, size := binary.Uvarint(rest)
				if size <= 0 || n > uint64(len(rest)-size) {
					return c, fmt.Errorf("topology: a change whose new value's length is not in its %d bytes: %w", len(data), ErrBadChange)
				}
				newBytes, oldBytes = rest[size:size+int(n)], rest[size+int(n):]
			}
			var err error
			if flags&changeHasNew != 0 {
				if c.New, err = values.Deserialize(topic, newBytes); err != nil {
					return c, err
				}
				c.HasNew = true
			}
			if flags&changeHasOld != 0 {
				if c.Old, err = values.Deserialize(topic, oldBytes); err != nil {
					return c, err
				}
				c.HasOld = true
			}
			return c, nil
		},
	)
}
