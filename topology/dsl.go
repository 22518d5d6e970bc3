package topology

import (
	"encoding/binary"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
)

// This file holds the typed DSL's handles and the machinery its operators share. The
// operators are package functions, because Go methods cannot take type parameters:
// topology.Map(s, fn) returns a Stream of the mapped types. Each operator adds
// Processor API nodes to the Builder, so that a DSL topology is built, checked,
// described and run like any other, and may mix with AddProcessor nodes.
//
// Nulls. Kafka records may have a null key or value, which Go's typed values cannot
// show. The DSL keeps track of them: user functions receive a null as the zero value of
// its type, while the operators whose semantics depend on nulls (tables, where a null
// value is a delete; joins and aggregations, which drop null keys) see them as such.

// Stream is a handle on a stream of records: every record is an independent fact.
// Kafka Streams: KStream<K, V>. The zero Stream belongs to no Builder; operators given
// one do nothing.
type Stream[K, V any] struct {
	b *Builder
	// node is the node whose output the stream is.
	node string
	// keys and values are the stream's serdes, nil when unknown (after an operator that
	// changed the type). Operators that write a topic or a store need them.
	keys   serde.Serde[K]
	values serde.Serde[V]
	// repartition is set once an operator may have changed the keys: a grouping or a
	// join then writes the stream through a repartition topic first.
	repartition bool
}

// Node is the name of the node whose output the stream is, for adding Processor API
// nodes under it with AddProcessor.
func (s Stream[K, V]) Node() string { return s.node }

// Table is a handle on a changelog stream: the latest value of each key, where a null
// value deletes the key. Table nodes forward Change records. Kafka Streams: KTable<K, V>.
type Table[K, V any] struct {
	b      *Builder
	node   string
	keys   serde.Serde[K]
	values serde.Serde[V]
	// view reads the table's current values, for joins and for the changes of
	// operators that are not materialized.
	view *tableView[K, V]
}

// Node is the name of the node whose output (Change records) the table is.
func (t Table[K, V]) Node() string { return t.node }

// KeyValue is a key and a value, what Map and FlatMap return.
type KeyValue[K, V any] struct {
	Key   K
	Value V
}

// Pair returns a KeyValue.
func Pair[K, V any](key K, value V) KeyValue[K, V] { return KeyValue[K, V]{Key: key, Value: value} }

// Change is the update of one key of a table: its value before (Old) and after (New).
// HasOld is false when the key had no value; HasNew is false when the update deletes it.
// Kafka Streams: Change<V>.
type Change[V any] struct {
	New, Old       V
	HasNew, HasOld bool
}

// ValueAndTimestamp is a value of a table with the timestamp of the record that set it,
// as the DSL's stores keep them. Kafka Streams: ValueAndTimestamp<V>.
type ValueAndTimestamp[V any] struct {
	Value     V
	Timestamp time.Time
}

// timestamped is the serde of the values of the DSL's table and aggregation stores: the
// timestamp in milliseconds as 8 big-endian bytes, then the value, as Kafka Streams'
// ValueAndTimestampSerializer writes them.
func timestamped[V any](values serde.Serde[V]) serde.Serde[ValueAndTimestamp[V]] {
	if values == nil {
		return nil
	}
	return serde.Func(
		func(topic string, v ValueAndTimestamp[V]) ([]byte, error) {
			b, err := values.Serialize(topic, v.Value)
			if err != nil {
				return nil, err
			}
			out := make([]byte, 8, 8+len(b))
			binary.BigEndian.PutUint64(out, uint64(v.Timestamp.UnixMilli()))
			return append(out, b...), nil
		},
		func(topic string, data []byte) (ValueAndTimestamp[V], error) {
			if len(data) < 8 {
				return ValueAndTimestamp[V]{}, fmt.Errorf("topology: a timestamped value of %d bytes: %w", len(data), serde.ErrSize)
			}
			v, err := values.Deserialize(topic, data[8:])
			if err != nil {
				return ValueAndTimestamp[V]{}, err
			}
			return ValueAndTimestamp[V]{Value: v, Timestamp: time.UnixMilli(int64(binary.BigEndian.Uint64(data)))}, nil
		},
	)
}

// Option configures a DSL operator.
type Option func(*opOptions)

type opOptions struct {
	name string
}

// Named names the operator's processor node, instead of a generated name such as
// KSTREAM-FILTER-0000000003. Kafka Streams: Named.as.
func Named(name string) Option { return func(o *opOptions) { o.name = name } }

func applyOptions(opts []Option) opOptions {
	var o opOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}

// nodeName returns the name of an operator's node: the user's, or a generated one in
// Kafka Streams' style (KSTREAM-FILTER-0000000003), numbered by the DSL calls so far.
func (b *Builder) nodeName(given, kind string) string {
	b.generated++
	if given != "" {
		return given
	}
	return fmt.Sprintf("%s-%010d", kind, b.generated)
}

// notInTopicName matches what a Kafka topic name may not hold.
var notInTopicName = regexp.MustCompile(`[^a-z0-9._-]+`)

// resourceName returns the name of a store or internal topic of an operator: the
// user's name with suffix, or a generated one, which holds only what a Kafka topic name
// may hold (letters, digits, '.', '_', '-'), as it becomes part of changelog and
// repartition topic names: "windowed count" gives "windowed-count-0000000003". Under
// RequireExplicitNames a generated name is a problem, which names the operator.
func (b *Builder) resourceName(given, suffix, operator string) string {
	if given != "" {
		return given + suffix
	}
	b.generated++
	name := fmt.Sprintf("%s-%010d%s", notInTopicName.ReplaceAllString(strings.ToLower(operator), "-"), b.generated, suffix)
	if b.requireNames {
		b.problemf("%s: %q would be a generated name (pass a name to the operator: RequireExplicitNames is set)", operator, name)
	}
	return name
}

// storeName returns the name of the store of a DSL operator, as resourceName does, and
// reports a name that an earlier operator gave its store: two operators cannot keep
// their state in one store. Kafka Streams: "StateStore <name> is already added".
func (b *Builder) storeName(given, operator string) string {
	name := b.resourceName(given, "", operator)
	if first, taken := b.dslStores[name]; taken {
		b.problemf("duplicate store %q: %s uses it, and %s before it; store names are unique within a topology", name, operator, first)
		b.duplicateStores[name] = true
		return name
	}
	if b.dslStores == nil {
		b.dslStores = map[string]string{}
		b.duplicateStores = map[string]bool{}
	}
	b.dslStores[name] = operator
	return name
}

// dslRecord is a record as DSL operators see it: typed, with its nulls.
type dslRecord[K, V any] struct {
	processor.Record[K, V]
	keyNull, valueNull bool
	// erasedKey and erasedValue are Key and Value as the node received them, boxed in
	// an interface, so that forwarding them unchanged does not box them again (an
	// allocation each for most types); nil when the operator made the record (with) or
	// received a null. Code that changes Key or Value of a received record must make a
	// new one instead (with, withValue).
	erasedKey, erasedValue any
}

// dslProcessor is a DSL operator's processor. It may also implement flush() error and
// discard() to hold output back until a commit (the record cache).
type dslProcessor[KIn, VIn, KOut, VOut any] interface {
	init(ctx *dslContext[KOut, VOut]) error
	process(r dslRecord[KIn, VIn]) error
}

// dslContext is a DSL processor's context: the user-facing InitContext, and forwarding
// that keeps nulls.
type dslContext[K, V any] struct {
	processor.InitContext
	node plan.NodeContext
	// typed is the processor.Context of user functions that take one (Process).
	typed *typedContext[K, V]
}

func (c *dslContext[K, V]) forward(r dslRecord[K, V]) { c.node.Forward("", erasedNulls(r)) }
func (c *dslContext[K, V]) forwardTo(child string, r dslRecord[K, V]) {
	c.node.Forward(child, erasedNulls(r))
}

// erasedNulls erases r, turning its nulls into nil.
func erasedNulls[K, V any](r dslRecord[K, V]) plan.Record {
	out := plan.Record{Key: r.erasedKey, Value: r.erasedValue, Timestamp: r.Timestamp, Headers: r.Headers}
	switch {
	case r.keyNull:
		out.Key = nil
	case out.Key == nil:
		out.Key = r.Key
	}
	switch {
	case r.valueNull:
		out.Value = nil
	case out.Value == nil:
		out.Value = r.Value
	}
	return out
}

// addDSLNode adds a processor node that runs the DSL processors newProc makes.
func addDSLNode[KIn, VIn, KOut, VOut any](b *Builder, name string, newProc func() dslProcessor[KIn, VIn, KOut, VOut], parents ...string) {
	if b == nil {
		return
	}
	n := addProcessorNode[KIn, VIn, KOut, VOut](b, name, parents)
	n.newProcessor = func() plan.NodeProcessor {
		return &dslAdapter[KIn, VIn, KOut, VOut]{p: newProc()}
	}
}

// dslAdapter runs a dslProcessor as a plan.NodeProcessor.
type dslAdapter[KIn, VIn, KOut, VOut any] struct {
	p dslProcessor[KIn, VIn, KOut, VOut]
}

func (a *dslAdapter[KIn, VIn, KOut, VOut]) Init(nc plan.NodeContext) error {
	typed := &typedContext[KOut, VOut]{InitContext: nc, node: nc}
	return a.p.init(&dslContext[KOut, VOut]{InitContext: typed, node: nc, typed: typed})
}

func (a *dslAdapter[KIn, VIn, KOut, VOut]) Process(r plan.Record) error {
	in, err := typedRecord[KIn, VIn](r)
	if err != nil {
		return err
	}
	return a.p.process(dslRecord[KIn, VIn]{Record: in, keyNull: r.Key == nil, valueNull: r.Value == nil, erasedKey: r.Key, erasedValue: r.Value})
}

func (a *dslAdapter[KIn, VIn, KOut, VOut]) Close() error {
	if c, ok := a.p.(interface{ close() error }); ok {
		return c.close()
	}
	return nil
}

// bufferingProcessor is a dslProcessor that holds output until a commit.
type bufferingProcessor interface {
	flush() error
	discard()
}

// Flush and Discard make the adapter a Flusher for the processors that buffer; for the
// others they do nothing.
func (a *dslAdapter[KIn, VIn, KOut, VOut]) Flush() error {
	if f, ok := a.p.(bufferingProcessor); ok {
		return f.flush()
	}
	return nil
}

func (a *dslAdapter[KIn, VIn, KOut, VOut]) Discard() {
	if f, ok := a.p.(bufferingProcessor); ok {
		f.discard()
	}
}

// funcProcessor is a stateless dslProcessor made of a function.
type funcProcessor[KIn, VIn, KOut, VOut any] struct {
	ctx *dslContext[KOut, VOut]
	fn  func(ctx *dslContext[KOut, VOut], r dslRecord[KIn, VIn]) error
}

func (p *funcProcessor[KIn, VIn, KOut, VOut]) init(ctx *dslContext[KOut, VOut]) error {
	p.ctx = ctx
	return nil
}

func (p *funcProcessor[KIn, VIn, KOut, VOut]) process(r dslRecord[KIn, VIn]) error {
	return p.fn(p.ctx, r)
}

// addFuncNode adds a stateless node that runs fn on each record.
func addFuncNode[KIn, VIn, KOut, VOut any](b *Builder, name string, fn func(ctx *dslContext[KOut, VOut], r dslRecord[KIn, VIn]) error, parents ...string) {
	addDSLNode(b, name, func() dslProcessor[KIn, VIn, KOut, VOut] {
		return &funcProcessor[KIn, VIn, KOut, VOut]{fn: fn}
	}, parents...)
}

// with returns r with another key and value, its nulls cleared, keeping its time and
// headers.
func with[K, V, K2, V2 any](r dslRecord[K, V], key K2, value V2) dslRecord[K2, V2] {
	return dslRecord[K2, V2]{Record: processor.Record[K2, V2]{Key: key, Value: value, Timestamp: r.Timestamp, Headers: r.Headers}}
}

// withValue is withValue(r, value), keeping r's boxed key so that forwarding the
// record does not box the key again.
func withValue[K, V, V2 any](r dslRecord[K, V], value V2) dslRecord[K, V2] {
	out := with(r, r.Key, value)
	out.erasedKey = r.erasedKey
	return out
}
