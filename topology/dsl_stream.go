package topology

import (
	"fmt"

	"github.com/eddy-streams/eddy/serde"
)

// StreamFrom reads topic as a stream. Kafka Streams: StreamsBuilder#stream. A null key
// or value reaches user functions as the zero value of its type. The source node is
// named by SourceNamed, or generated (KSTREAM-SOURCE-0000000001).
func StreamFrom[K, V any](b *Builder, topic string, keys serde.Serde[K], values serde.Serde[V], opts ...SourceOption) Stream[K, V] {
	if b == nil {
		return Stream[K, V]{}
	}
	name := b.nodeName(applySourceOptions(opts).name, "KSTREAM-SOURCE")
	addSource(b, name, keys, values, []string{topic}, false, true, opts...)
	return Stream[K, V]{b: b, node: name, keys: keys, values: values}
}

// sameSerde returns s as the serde of U when T and U are the same type, and nil
// otherwise: an operator that keeps a type keeps its serde.
func sameSerde[T, U any](s serde.Serde[T]) serde.Serde[U] {
	u, _ := any(s).(serde.Serde[U])
	return u
}

// WithSerdes returns the stream with its serdes set: those that operators writing a
// topic or a store (a grouping, a repartition, a join) use. Operators that change the
// type of the keys or values forget the serdes of what they changed (they keep them
// when the new type is the old one). Kafka Streams
// passes them in Grouped, Repartitioned and Joined instead.
func (s Stream[K, V]) WithSerdes(keys serde.Serde[K], values serde.Serde[V]) Stream[K, V] {
	s.keys, s.values = keys, values
	return s
}

// To writes the stream to topic, which must exist. Kafka Streams: KStream#to. A null
// value is written as Kafka's null (a tombstone).
func To[K, V any](s Stream[K, V], topic string, keys serde.Serde[K], values serde.Serde[V], opts ...Option) {
	if s.b == nil {
		return
	}
	o := applyOptions(opts)
	addSink(s.b, s.b.nodeName(o.name, "KSTREAM-SINK"), topic, keys, values, []string{s.node}, false)
}

// Filter keeps the records for which keep returns true. Kafka Streams: KStream#filter.
func Filter[K, V any](s Stream[K, V], keep func(key K, value V) bool, opts ...Option) Stream[K, V] {
	return filter(s, "KSTREAM-FILTER", keep, true, opts)
}

// FilterNot drops the records for which drop returns true. Kafka Streams:
// KStream#filterNot.
func FilterNot[K, V any](s Stream[K, V], drop func(key K, value V) bool, opts ...Option) Stream[K, V] {
	return filter(s, "KSTREAM-FILTER", drop, false, opts)
}

func filter[K, V any](s Stream[K, V], kind string, pred func(K, V) bool, want bool, opts []Option) Stream[K, V] {
	if s.b == nil {
		return s
	}
	name := s.b.nodeName(applyOptions(opts).name, kind)
	addFuncNode(s.b, name, func(ctx *dslContext[K, V], r dslRecord[K, V]) error {
		if pred(r.Key, r.Value) == want {
			ctx.forward(r)
		}
		return nil
	}, s.node)
	return s.next(name)
}

// next returns the stream of the node name, with s's types, serdes and partitioning.
func (s Stream[K, V]) next(name string) Stream[K, V] {
	s.node = name
	return s
}

// MapValues turns each value into another, keeping the key (and so the partitioning).
// Kafka Streams: KStream#mapValues.
func MapValues[K, V, VR any](s Stream[K, V], fn func(key K, value V) VR, opts ...Option) Stream[K, VR] {
	if s.b == nil {
		return Stream[K, VR]{}
	}
	name := s.b.nodeName(applyOptions(opts).name, "KSTREAM-MAPVALUES")
	addFuncNode(s.b, name, func(ctx *dslContext[K, VR], r dslRecord[K, V]) error {
		out := withValue(r, fn(r.Key, r.Value))
		out.keyNull = r.keyNull
		ctx.forward(out)
		return nil
	}, s.node)
	return Stream[K, VR]{b: s.b, node: name, keys: s.keys, values: sameSerde[V, VR](s.values), repartition: s.repartition}
}

// Map turns each record into another, key included: a later grouping or join
// repartitions the stream. Kafka Streams: KStream#map.
func Map[K, V, KR, VR any](s Stream[K, V], fn func(key K, value V) KeyValue[KR, VR], opts ...Option) Stream[KR, VR] {
	if s.b == nil {
		return Stream[KR, VR]{}
	}
	name := s.b.nodeName(applyOptions(opts).name, "KSTREAM-MAP")
	addFuncNode(s.b, name, func(ctx *dslContext[KR, VR], r dslRecord[K, V]) error {
		kv := fn(r.Key, r.Value)
		ctx.forward(with(r, kv.Key, kv.Value))
		return nil
	}, s.node)
	return Stream[KR, VR]{b: s.b, node: name, keys: sameSerde[K, KR](s.keys), values: sameSerde[V, VR](s.values), repartition: true}
}

// SelectKey gives each record a new key: a later grouping or join repartitions the
// stream. Kafka Streams: KStream#selectKey.
func SelectKey[K, V, KR any](s Stream[K, V], fn func(key K, value V) KR, opts ...Option) Stream[KR, V] {
	if s.b == nil {
		return Stream[KR, V]{}
	}
	name := s.b.nodeName(applyOptions(opts).name, "KSTREAM-KEY-SELECT")
	addFuncNode(s.b, name, func(ctx *dslContext[KR, V], r dslRecord[K, V]) error {
		out := with(r, fn(r.Key, r.Value), r.Value)
		out.valueNull = r.valueNull
		ctx.forward(out)
		return nil
	}, s.node)
	return Stream[KR, V]{b: s.b, node: name, keys: sameSerde[K, KR](s.keys), values: s.values, repartition: true}
}

// FlatMapValues turns each value into zero or more values, each forwarded with the
// record's key. Kafka Streams: KStream#flatMapValues.
func FlatMapValues[K, V, VR any](s Stream[K, V], fn func(key K, value V) []VR, opts ...Option) Stream[K, VR] {
	if s.b == nil {
		return Stream[K, VR]{}
	}
	name := s.b.nodeName(applyOptions(opts).name, "KSTREAM-FLATMAPVALUES")
	addFuncNode(s.b, name, func(ctx *dslContext[K, VR], r dslRecord[K, V]) error {
		for _, v := range fn(r.Key, r.Value) {
			out := withValue(r, v)
			out.keyNull = r.keyNull
			ctx.forward(out)
		}
		return nil
	}, s.node)
	return Stream[K, VR]{b: s.b, node: name, keys: s.keys, values: sameSerde[V, VR](s.values), repartition: s.repartition}
}

// FlatMap turns each record into zero or more records: a later grouping or join
// repartitions the stream. Kafka Streams: KStream#flatMap.
func FlatMap[K, V, KR, VR any](s Stream[K, V], fn func(key K, value V) []KeyValue[KR, VR], opts ...Option) Stream[KR, VR] {
	if s.b == nil {
		return Stream[KR, VR]{}
	}
	name := s.b.nodeName(applyOptions(opts).name, "KSTREAM-FLATMAP")
	addFuncNode(s.b, name, func(ctx *dslContext[KR, VR], r dslRecord[K, V]) error {
		for _, kv := range fn(r.Key, r.Value) {
			ctx.forward(with(r, kv.Key, kv.Value))
		}
		return nil
	}, s.node)
	return Stream[KR, VR]{b: s.b, node: name, keys: sameSerde[K, KR](s.keys), values: sameSerde[V, VR](s.values), repartition: true}
}

// Peek calls fn on each record and passes the record on unchanged. Kafka Streams:
// KStream#peek.
func Peek[K, V any](s Stream[K, V], fn func(key K, value V), opts ...Option) Stream[K, V] {
	if s.b == nil {
		return s
	}
	name := s.b.nodeName(applyOptions(opts).name, "KSTREAM-PEEK")
	addFuncNode(s.b, name, func(ctx *dslContext[K, V], r dslRecord[K, V]) error {
		fn(r.Key, r.Value)
		ctx.forward(r)
		return nil
	}, s.node)
	return s.next(name)
}

// ForEach calls fn on each record; the stream ends there. An error fails the task, as
// an error of a processor does. Kafka Streams: KStream#foreach.
func ForEach[K, V any](s Stream[K, V], fn func(key K, value V) error, opts ...Option) {
	if s.b == nil {
		return
	}
	name := s.b.nodeName(applyOptions(opts).name, "KSTREAM-FOREACH")
	addFuncNode(s.b, name, func(_ *dslContext[K, V], r dslRecord[K, V]) error {
		return fn(r.Key, r.Value)
	}, s.node)
}

// Repartition writes the stream through the internal topic <application id>-<name>-repartition
// and reads it back, so that records are partitioned by their current key. partitions 0
// gives the topic as many partitions as the topics upstream have. The stream's serdes
// must be known (see WithSerdes). Kafka Streams: KStream#repartition.
func Repartition[K, V any](s Stream[K, V], name string, partitions int32) Stream[K, V] {
	if s.b == nil {
		return s
	}
	return s.repartitioned(name, "KSTREAM-REPARTITION", partitions)
}

// repartitioned adds the sink and source of a repartition topic named after name (or a
// generated name, for operator) and returns the stream read back. Records with a null
// key are dropped first, as Kafka Streams' repartition filter does: they have no
// partition.
func (s Stream[K, V]) repartitioned(name, operator string, partitions int32) Stream[K, V] {
	b := s.b
	topic := b.resourceName(name, "-repartition", operator)
	if s.keys == nil || s.values == nil {
		b.problemf("%s %q: the stream's serdes are not known after the operator that changed its types; set them with WithSerdes", operator, topic)
	}
	dropNulls := topic + "-filter"
	addFuncNode(b, dropNulls, func(ctx *dslContext[K, V], r dslRecord[K, V]) error {
		if !r.keyNull {
			ctx.forward(r)
		}
		return nil
	}, s.node)
	b.declareInternalTopic(topic, partitions)
	sink := topic + "-sink"
	addSink(b, sink, topic, s.keys, s.values, []string{dropNulls}, true)
	source := topic + "-source"
	addSource(b, source, s.keys, s.values, []string{topic}, true, true)
	return Stream[K, V]{b: b, node: source, keys: s.keys, values: s.values}
}

// GroupedStream is a stream grouped by key, ready for an aggregation. Kafka Streams:
// KGroupedStream<K, V>.
type GroupedStream[K, V any] struct {
	s Stream[K, V]
}

// GroupByKey groups the stream by its key. When an operator upstream may have changed
// the keys, the stream is first written through the repartition topic
// <application id>-<name>-repartition; name is unused otherwise. Kafka Streams:
// KStream#groupByKey (name: Grouped.as).
func GroupByKey[K, V any](s Stream[K, V], name string) GroupedStream[K, V] {
	if s.b == nil {
		return GroupedStream[K, V]{}
	}
	if s.repartition {
		s = s.repartitioned(name, "groupByKey", 0)
	}
	return GroupedStream[K, V]{s: s}
}

// GroupBy groups the stream by the key that fn selects, through the repartition topic
// <application id>-<name>-repartition, whose keys keys serializes; the stream's value
// serde must be known. Kafka Streams: KStream#groupBy.
func GroupBy[K, V, KR any](s Stream[K, V], name string, fn func(key K, value V) KR, keys serde.Serde[KR]) GroupedStream[KR, V] {
	if s.b == nil {
		return GroupedStream[KR, V]{}
	}
	selected := SelectKey(s, fn, Named(groupByNodeName(name)))
	return GroupByKey(selected.WithSerdes(keys, s.values), name)
}

func groupByNodeName(name string) string {
	if name == "" {
		return ""
	}
	return fmt.Sprintf("%s-key-select", name)
}

// Merge returns the stream of the records of a and b, both of the same Builder, in the
// order they reach it: there is no ordering between the two, as records of a and b
// arrive from different partitions. A later grouping or join repartitions the merged
// stream when it would repartition a or b. Kafka Streams: KStream#merge.
//
// Unlike Kafka Streams, which drops both streams' serdes, the merged stream keeps a's
// serdes, or b's where a's are unknown: either round-trips every value of its type.
func Merge[K, V any](a, b Stream[K, V], opts ...Option) Stream[K, V] {
	bld := a.b
	if bld == nil {
		bld = b.b
	}
	if bld == nil {
		return Stream[K, V]{}
	}
	name := bld.nodeName(applyOptions(opts).name, "KSTREAM-MERGE")
	if a.b != b.b {
		bld.problemf("merge %q: the streams belong to different builders (or one to none)", name)
		return Stream[K, V]{}
	}
	if a.node == b.node {
		bld.problemf("merge %q: stream %q merged with itself", name, a.node)
		return Stream[K, V]{}
	}
	addFuncNode(bld, name, func(ctx *dslContext[K, V], r dslRecord[K, V]) error {
		ctx.forward(r)
		return nil
	}, a.node, b.node)
	out := a.next(name)
	if out.keys == nil {
		out.keys = b.keys
	}
	if out.values == nil {
		out.values = b.values
	}
	out.repartition = a.repartition || b.repartition
	return out
}
