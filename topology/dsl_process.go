package topology

import (
	"errors"

	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/store"
)

// Process runs the Processor API processors that supplier makes (one per task) on the
// stream, and returns the stream of what they forward. The stores are added to the
// topology, if they are not there yet, and connected to the processor, which opens them
// from its context (store.KeyValue(...).From(ctx)); a store that another operator
// already uses is shared with it, as AddStore does. Named names the node; by default
// KSTREAM-PROCESSOR-0000000003. Kafka Streams: KStream#process with the names of
// stores (Eddy takes their definitions, which name them).
//
// The processor may change the keys, so a later grouping or join repartitions the
// stream. The result keeps the serdes of the types it keeps (see WithSerdes). The
// processor sees a null key or value as the zero value of its type, and what it
// forwards is never null.
func Process[K, V, KR, VR any](s Stream[K, V], supplier processor.Supplier[K, V, KR, VR], stores []store.Definition, opts ...Option) Stream[KR, VR] {
	if s.b == nil {
		return Stream[KR, VR]{}
	}
	name := s.b.nodeName(applyOptions(opts).name, "KSTREAM-PROCESSOR")
	AddProcessor(s.b, name, supplier, s.node)
	connectStores(s.b, name, stores)
	return Stream[KR, VR]{b: s.b, node: name, keys: sameSerde[K, KR](s.keys), values: sameSerde[V, VR](s.values), repartition: true}
}

// ProcessValues is Process for processors that keep the keys: every record the
// processor forwards while it processes a record gets that record's key, null or not,
// whatever key the processor set; so the stream keeps its partitioning and its key
// serde. A record forwarded from a punctuator, outside any Process call, keeps the key
// the processor gave it: forward only keys received. By default the node is named
// KSTREAM-PROCESSVALUES-0000000003. Kafka Streams: KStream#processValues, whose
// FixedKeyProcessor cannot set keys at all.
func ProcessValues[K, V, VR any](s Stream[K, V], supplier processor.Supplier[K, V, K, VR], stores []store.Definition, opts ...Option) Stream[K, VR] {
	if s.b == nil {
		return Stream[K, VR]{}
	}
	name := s.b.nodeName(applyOptions(opts).name, "KSTREAM-PROCESSVALUES")
	addDSLNode(s.b, name, func() dslProcessor[K, V, K, VR] {
		v := &valuesProcessor[K, V, VR]{}
		if supplier != nil {
			v.p = supplier()
		}
		return v
	}, s.node)
	if supplier == nil {
		s.b.problemf("processor %q: supplier is nil", name)
	}
	connectStores(s.b, name, stores)
	return Stream[K, VR]{b: s.b, node: name, keys: s.keys, values: sameSerde[V, VR](s.values), repartition: s.repartition}
}

// connectStores adds the stores and connects them to the processor name.
func connectStores(b *Builder, name string, stores []store.Definition) {
	for _, def := range stores {
		AddStore(b, def, name)
	}
}

// valuesProcessor runs the user processor of ProcessValues.
type valuesProcessor[K, V, VR any] struct {
	p   processor.Processor[K, V, K, VR]
	ctx *fixedKeyContext[K, VR]
}

func (v *valuesProcessor[K, V, VR]) init(ctx *dslContext[K, VR]) error {
	if v.p == nil {
		return errors.New("the supplier returned nil")
	}
	v.ctx = &fixedKeyContext[K, VR]{InitContext: ctx.node, dsl: ctx}
	if i, ok := v.p.(processor.Initializer); ok {
		return i.Init(v.ctx)
	}
	return nil
}

func (v *valuesProcessor[K, V, VR]) process(r dslRecord[K, V]) error {
	v.ctx.inProcess, v.ctx.key, v.ctx.keyNull = true, r.Key, r.keyNull
	defer func() { v.ctx.inProcess = false }()
	return v.p.Process(v.ctx, r.Record)
}

func (v *valuesProcessor[K, V, VR]) close() error {
	if c, ok := v.p.(processor.Closer); ok {
		return c.Close()
	}
	return nil
}

// fixedKeyContext is the processor.Context of ProcessValues: while a record is
// processed, what is forwarded gets its key.
type fixedKeyContext[K, V any] struct {
	processor.InitContext
	dsl       *dslContext[K, V]
	inProcess bool
	key       K
	keyNull   bool
}

var _ processor.Context[string, int] = (*fixedKeyContext[string, int])(nil)

func (c *fixedKeyContext[K, V]) Forward(r processor.Record[K, V]) { c.ForwardTo("", r) }

func (c *fixedKeyContext[K, V]) ForwardTo(child string, r processor.Record[K, V]) {
	out := dslRecord[K, V]{Record: r}
	if c.inProcess {
		out.Key, out.keyNull = c.key, c.keyNull
	}
	c.dsl.forwardTo(child, out)
}

func (c *fixedKeyContext[K, V]) RecordMetadata() (processor.RecordMetadata, bool) {
	return c.dsl.node.RecordMetadata()
}
