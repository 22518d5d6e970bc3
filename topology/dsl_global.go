package topology

import (
	"fmt"
	"reflect"
	"time"

	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
)

// GlobalTable is a handle on a table that every instance of the application keeps
// whole: it holds every partition of its topic, so a stream joins it on any key without
// being repartitioned. Kafka Streams: GlobalKTable<K, V>. The zero GlobalTable belongs
// to no Builder; joins given one do nothing.
type GlobalTable[K, V any] struct {
	b *Builder
	// def is the global store: keys as keys serializes them, values as timestamped
	// serializes them.
	def store.KeyValueDef[K, ValueAndTimestamp[V]]
}

// StoreName is the name of the global store that holds the table. Kafka Streams:
// GlobalKTable#queryableStoreName.
func (g GlobalTable[K, V]) StoreName() string { return g.def.Name() }

// GlobalTableFrom reads topic as a global table, kept in the global store name: every
// instance reads every partition of topic into its own copy of the store before its
// tasks start, then follows the topic while it runs. The topic is the store's
// changelog, so the store writes none. A record with a null value deletes its key; a
// record with a null key is skipped. A record whose key or value the serdes cannot
// deserialize fails the global store's update (and so the application). The store holds
// each value with the timestamp of the record that set it, as a table's store does.
// "" as name generates one (which RequireExplicitNames refuses). Kafka Streams:
// StreamsBuilder#globalTable with Materialized.as(name).
func GlobalTableFrom[K, V any](b *Builder, topic, name string, keys serde.Serde[K], values serde.Serde[V]) GlobalTable[K, V] {
	if b == nil {
		return GlobalTable[K, V]{}
	}
	source := b.nodeName("", "KTABLE-SOURCE")
	storeName := b.storeName(name, "globalTable "+topic)
	if keys == nil || values == nil {
		b.problemf("global table %q of topic %q: key and value serdes must not be nil", storeName, topic)
		return GlobalTable[K, V]{}
	}
	if topic == "" {
		b.problemf("global table %q: empty topic name", storeName)
		return GlobalTable[K, V]{}
	}
	values2 := timestamped(values)
	def := store.KeyValue(storeName, keys, values2, store.WithoutLogging())
	apply := func(s store.KeyValueStore, key, value []byte, ts time.Time) error {
		if key == nil {
			return nil
		}
		k, err := keys.Deserialize(topic, key)
		if err != nil {
			return undecodable(source, topic, fmt.Errorf("key: %w", err))
		}
		// Re-serialized as the store's typed handle serializes keys, so lookups find it.
		stored, err := keys.Serialize(storeName, k)
		if err != nil {
			return fmt.Errorf("serializing key for the store: %w", err)
		}
		if value == nil {
			return s.Delete(stored)
		}
		v, err := values.Deserialize(topic, value)
		if err != nil {
			return undecodable(source, topic, fmt.Errorf("value: %w", err))
		}
		out, err := values2.Serialize(storeName, ValueAndTimestamp[V]{Value: v, Timestamp: ts})
		if err != nil {
			return fmt.Errorf("serializing value for the store: %w", err)
		}
		return s.Put(stored, out)
	}
	b.addGlobalStore(plan.GlobalStore{Def: def, Source: source, Topic: topic, Apply: apply})
	return GlobalTable[K, V]{b: b, def: def}
}

// JoinGlobal joins each record of s with the value of the global table gt under the key
// that keySelector picks from the record: it forwards joiner(value, global value) under
// the record's own key and timestamp when gt has that key, and nothing otherwise. The
// stream is not repartitioned. Records with a null value are dropped, as are those for
// which keySelector returns nil (for key types that can be nil: pointers, interfaces,
// maps, slices); a record with a null key joins (the result keeps the null key). Later
// updates of gt do not update earlier results. Kafka Streams: KStream#join(GlobalKTable,
// KeyValueMapper, ValueJoiner).
func JoinGlobal[K, V, KG, VG, VR any](s Stream[K, V], gt GlobalTable[KG, VG], keySelector func(key K, value V) KG, joiner func(value V, globalValue VG) VR, opts ...Option) Stream[K, VR] {
	return joinGlobal(s, gt, "KSTREAM-JOIN", false, keySelector, joiner, opts)
}

// LeftJoinGlobal is JoinGlobal that also forwards the records that find no value in gt,
// and those for which keySelector returns nil: joiner then gets the zero VG (Kafka
// Streams' null). Records with a null value are dropped. Kafka Streams:
// KStream#leftJoin(GlobalKTable, KeyValueMapper, ValueJoiner), with KIP-962's handling
// of a null key.
func LeftJoinGlobal[K, V, KG, VG, VR any](s Stream[K, V], gt GlobalTable[KG, VG], keySelector func(key K, value V) KG, joiner func(value V, globalValue VG) VR, opts ...Option) Stream[K, VR] {
	return joinGlobal(s, gt, "KSTREAM-LEFTJOIN", true, keySelector, joiner, opts)
}

func joinGlobal[K, V, KG, VG, VR any](s Stream[K, V], gt GlobalTable[KG, VG], kind string, left bool, keySelector func(K, V) KG, joiner func(V, VG) VR, opts []Option) Stream[K, VR] {
	if s.b == nil {
		return Stream[K, VR]{}
	}
	b := s.b
	name := b.nodeName(applyOptions(opts).name, kind)
	switch {
	case gt.b == nil:
		b.problemf("%s: the global table belongs to no builder", name)
		return Stream[K, VR]{}
	case gt.b != b:
		b.problemf("%s: the global table %q belongs to another builder", name, gt.def.Name())
		return Stream[K, VR]{}
	case keySelector == nil || joiner == nil:
		b.problemf("%s: key selector and joiner must not be nil", name)
		return Stream[K, VR]{}
	}
	def := gt.def
	addDSLNode(b, name, func() dslProcessor[K, V, K, VR] {
		return &globalJoiner[K, V, KG, VG, VR]{def: def, left: left, keySelector: keySelector, joiner: joiner}
	}, s.node)
	b.connectGlobal(def.Name(), name)
	return Stream[K, VR]{b: b, node: name, keys: s.keys, values: sameSerde[V, VR](s.values), repartition: s.repartition}
}

// globalJoiner is the processor of JoinGlobal and LeftJoinGlobal.
type globalJoiner[K, V, KG, VG, VR any] struct {
	def         store.KeyValueDef[KG, ValueAndTimestamp[VG]]
	left        bool
	keySelector func(K, V) KG
	joiner      func(V, VG) VR
	kv          store.KV[KG, ValueAndTimestamp[VG]]
	ctx         *dslContext[K, VR]
	dropCounter
}

func (j *globalJoiner[K, V, KG, VG, VR]) init(ctx *dslContext[K, VR]) error {
	j.ctx, j.kv = ctx, j.def.From(ctx)
	return nil
}

func (j *globalJoiner[K, V, KG, VG, VR]) process(r dslRecord[K, V]) error {
	if r.valueNull {
		j.drop()
		return nil
	}
	var other ValueAndTimestamp[VG]
	found := false
	if key := j.keySelector(r.Key, r.Value); !isNullResult(key) {
		var err error
		if other, found, err = j.kv.Get(key); err != nil {
			return err
		}
	} else if !j.left {
		j.drop()
		return nil
	}
	if !found && !j.left {
		return nil
	}
	out := withValue(r, j.joiner(r.Value, other.Value))
	out.keyNull = r.keyNull
	j.ctx.forward(out)
	return nil
}

// isNullResult reports whether v is a nil pointer, interface, map, slice, func or
// channel: what stands for Kafka Streams' null in the result of a user function, such as
// a key selector or a foreign-key extractor.
func isNullResult[T any](v T) bool {
	rv := reflect.ValueOf(&v).Elem()
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
		return rv.IsNil()
	}
	return false
}

// undecodable marks err as a record of a global store's topic that cannot be
// deserialized, for the deserialization handler; the engine fills in the record's
// partition and offset.
func undecodable(source, topic string, err error) error {
	return &processor.DeserializationError{Source: source, Record: processor.RecordMetadata{Topic: topic, Partition: -1, Offset: -1}, Err: err}
}
