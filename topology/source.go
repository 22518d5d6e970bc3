package topology

import (
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
)

// SourceOption configures a source: one added with AddSource, or read by StreamFrom or
// TableFrom. SourceOption has no type parameters, so that the options that do not depend
// on the record types are written without type arguments (WithOffsetReset(Latest),
// SourceNamed("lines")). WithTimestampExtractor, whose function is typed, must be for
// the source's key and value types; Build reports an extractor of other types, naming
// the source. Kafka Streams: Consumed.
type SourceOption func(*sourceOptions)

type sourceOptions struct {
	// extract is the timestamp extractor of WithTimestampExtractor, a
	// func(processor.Record[K, V]) (time.Time, error) of the K and V it was called with;
	// nil for the default. extractKey and extractValue are that K and V.
	extract                  any
	extractKey, extractValue reflect.Type
	reset                    OffsetReset
	// name is the node name of a DSL source (SourceNamed).
	name string
}

// applySourceOptions returns the options that opts set; nil options are ignored.
func applySourceOptions(opts []SourceOption) sourceOptions {
	o := sourceOptions{reset: Earliest}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}

// WithTimestampExtractor sets how the source finds the event time of a record. The
// extractor sees the deserialized record, whose Timestamp is the Kafka record's own
// timestamp (create time or log-append time, by the topic's configuration). The default
// returns that timestamp. An error from the extractor fails the record like a
// deserialization error. A nil fn keeps the default. Kafka Streams: TimestampExtractor
// (default.timestamp.extractor, or Consumed#withTimestampExtractor).
//
// K and V, which Go infers from fn, must be the key and value types of the source's
// serdes: an extractor of other types is a problem that Build reports, naming the source.
//
// The extractor is called from the goroutines of all the tasks that read the source, at
// once: it must be safe for concurrent use.
func WithTimestampExtractor[K, V any](fn func(r processor.Record[K, V]) (time.Time, error)) SourceOption {
	return func(o *sourceOptions) {
		if fn != nil {
			o.extract = fn
			o.extractKey, o.extractValue = reflect.TypeFor[K](), reflect.TypeFor[V]()
		}
	}
}

// WithOffsetReset sets where the source starts reading a partition that has no committed
// offset. Default Earliest. Kafka Streams: Topology.AutoOffsetReset
// (auto.offset.reset, or Consumed#withOffsetResetPolicy).
func WithOffsetReset(reset OffsetReset) SourceOption {
	return func(o *sourceOptions) { o.reset = reset }
}

// SourceNamed names the source node of a DSL operator that reads a topic, StreamFrom or
// TableFrom, instead of a generated name. AddSource, which takes the name as an
// argument, ignores it. Kafka Streams: Consumed#withName.
func SourceNamed(name string) SourceOption {
	return func(o *sourceOptions) { o.name = name }
}

// AddSource adds a source node that reads topics, deserializing keys and values with the
// given serdes. Every topic must be read by one source only. The source's children are
// the processors and sinks that name it as a parent. Kafka Streams: Topology#addSource.
func AddSource[K, V any](b *Builder, name string, keys serde.Serde[K], values serde.Serde[V], topics []string, opts ...SourceOption) {
	addSource(b, name, keys, values, topics, false, false, opts...)
}

// addSource adds a source; internal sources read internal topics, named without the
// application id.
// nullAware sources, those of the DSL, pass a null key or value on as nil instead of
// deserializing it.
func addSource[K, V any](b *Builder, name string, keys serde.Serde[K], values serde.Serde[V], topics []string, internal, nullAware bool, opts ...SourceOption) {
	if b == nil {
		return
	}
	o := applySourceOptions(opts)
	n := &node{
		kind:        sourceKind,
		name:        name,
		outKey:      reflect.TypeFor[K](),
		outValue:    reflect.TypeFor[V](),
		topics:      slices.Clone(topics),
		offsetReset: o.reset,
		internal:    internal,
	}
	b.add(n)
	if keys == nil {
		b.problemf("%s: key serde is nil", n)
	}
	if values == nil {
		b.problemf("%s: value serde is nil", n)
	}
	if len(topics) == 0 {
		b.problemf("%s: no topics", n)
	}
	for i, topic := range topics {
		switch {
		case topic == "":
			b.problemf("%s: empty topic name", n)
		case slices.Index(topics, topic) < i:
			b.problemf("%s: topic %q listed twice", n, topic)
		}
	}
	if o.reset != Earliest && o.reset != Latest {
		b.problemf("%s: unknown offset reset %d", n, int(o.reset))
	}
	extract := recordTimestamp[K, V]
	if o.extract != nil {
		if fn, ok := o.extract.(func(processor.Record[K, V]) (time.Time, error)); ok {
			extract = fn
		} else {
			b.problemf("%s: the timestamp extractor takes keys %s and values %s, but the source reads keys %s and values %s",
				n, o.extractKey, o.extractValue, n.outKey, n.outValue)
		}
	}
	if keys != nil && values != nil {
		n.decode = decoder(keys, values, extract, nullAware)
	}
}

// decodeFunc is the type of SourceNode.Decode.
type decodeFunc = func(topic string, key, value []byte, timestamp time.Time, headers []processor.Header) (plan.Record, error)

// recordTimestamp is the default timestamp extractor: the Kafka record's timestamp.
// Kafka Streams: FailOnInvalidTimestamp, without its rejection of negative timestamps.
func recordTimestamp[K, V any](r processor.Record[K, V]) (time.Time, error) {
	return r.Timestamp, nil
}

// decoder makes the Decode function of a source: deserialize the key, then the value,
// then extract the event time. Bytes, nil ones included, go to the serdes as they are,
// unless the source is nullAware: then a nil key or value becomes a nil in the record,
// and the extractor sees the zero value. Its errors say what failed, not the source or
// the topic: the task's DeserializationError names them.
func decoder[K, V any](keys serde.Serde[K], values serde.Serde[V], extract func(processor.Record[K, V]) (time.Time, error), nullAware bool) decodeFunc {
	return func(topic string, key, value []byte, timestamp time.Time, headers []processor.Header) (plan.Record, error) {
		var k K
		var v V
		var err error
		if key != nil || !nullAware {
			if k, err = keys.Deserialize(topic, key); err != nil {
				return plan.Record{}, fmt.Errorf("key: %w", err)
			}
		}
		if value != nil || !nullAware {
			if v, err = values.Deserialize(topic, value); err != nil {
				return plan.Record{}, fmt.Errorf("value: %w", err)
			}
		}
		r := processor.Record[K, V]{Key: k, Value: v, Timestamp: timestamp, Headers: headers}
		t, err := extract(r)
		if err != nil {
			return plan.Record{}, fmt.Errorf("extracting timestamp: %w", err)
		}
		out := plan.Record{Key: k, Value: v, Timestamp: t, Headers: headers}
		if nullAware && key == nil {
			out.Key = nil
		}
		if nullAware && value == nil {
			out.Value = nil
		}
		return out, nil
	}
}

// OffsetReset says where a source starts reading a partition that has no committed
// offset. Kafka Streams: Topology.AutoOffsetReset / auto.offset.reset.
type OffsetReset int

const (
	// Earliest reads from the oldest retained record (the default, as in Kafka Streams).
	Earliest OffsetReset = iota
	// Latest reads only records produced after the application started.
	Latest
)
