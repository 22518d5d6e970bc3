package topology

import (
	"fmt"
	"reflect"
	"slices"

	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/serde"
)

// SinkOption configures a sink added with AddSink.
type SinkOption[K, V any] func(*sinkOptions[K, V])

type sinkOptions[K, V any] struct {
	partitioner func(key K, value V, numPartitions int32) int32
}

// WithPartitioner sets how the sink picks the partition of each record among the
// numPartitions of its topic; the result must be in [0, numPartitions). By default, and
// with a nil fn, the producer's default partitioner picks it: murmur2 of the serialized
// key, as Kafka's. Kafka Streams: StreamPartitioner (Produced#withStreamPartitioner).
//
// The partitioner is called from the goroutines of all the tasks that write to the sink,
// at once: it must be safe for concurrent use.
func WithPartitioner[K, V any](fn func(key K, value V, numPartitions int32) int32) SinkOption[K, V] {
	return func(o *sinkOptions[K, V]) { o.partitioner = fn }
}

// AddSink adds a sink node that writes the records of its parents to topic, serializing
// keys and values with the given serdes. The key and value types of the serdes must be
// assignable from those the parents forward; Build reports any that are not.
// Kafka Streams: Topology#addSink.
func AddSink[K, V any](b *Builder, name, topic string, keys serde.Serde[K], values serde.Serde[V], parents []string, opts ...SinkOption[K, V]) {
	addSink(b, name, topic, keys, values, parents, false, opts...)
}

// addSink adds a sink; an internal sink writes an internal topic, named without the
// application id.
func addSink[K, V any](b *Builder, name, topic string, keys serde.Serde[K], values serde.Serde[V], parents []string, internal bool, opts ...SinkOption[K, V]) {
	if b == nil {
		return
	}
	var o sinkOptions[K, V]
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	n := &node{
		kind:     sinkKind,
		name:     name,
		parents:  slices.Clone(parents),
		inKey:    reflect.TypeFor[K](),
		inValue:  reflect.TypeFor[V](),
		topic:    topic,
		internal: internal,
	}
	b.add(n)
	if topic == "" {
		b.problemf("%s: empty topic name", n)
	}
	if keys == nil {
		b.problemf("%s: key serde is nil", n)
	}
	if values == nil {
		b.problemf("%s: value serde is nil", n)
	}
	if keys != nil && values != nil {
		n.encode = encoder(topic, keys, values)
	}
	if o.partitioner != nil {
		n.partition = partitioner(o.partitioner)
	}
}

// encoder makes the Encode function of a sink. Its errors name neither the sink nor the
// topic: the task's ProductionError names both.
func encoder[K, V any](topic string, keys serde.Serde[K], values serde.Serde[V]) func(plan.Record) ([]byte, []byte, error) {
	return func(r plan.Record) ([]byte, []byte, error) {
		in, err := typedRecord[K, V](r)
		if err != nil {
			return nil, nil, err
		}
		var key []byte
		if r.Key != nil { // nil: the DSL's null key, written as Kafka's null
			if key, err = keys.Serialize(topic, in.Key); err != nil {
				return nil, nil, fmt.Errorf("key: %w", err)
			}
		}
		if r.Value == nil {
			return key, nil, nil // a tombstone
		}
		value, err := values.Serialize(topic, in.Value)
		if err != nil {
			return nil, nil, fmt.Errorf("value: %w", err)
		}
		return key, value, nil
	}
}

// partitioner makes the Partition function of a sink. A record whose types are not the
// sink's, which Encode rejects first, gets -1: no partition.
func partitioner[K, V any](fn func(K, V, int32) int32) func(plan.Record, int32) int32 {
	return func(r plan.Record, n int32) int32 {
		key, err := typed[K](r.Key)
		if err != nil {
			return -1
		}
		value, err := typed[V](r.Value)
		if err != nil {
			return -1
		}
		return fn(key, value, n)
	}
}
