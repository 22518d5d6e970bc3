package topology

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/eddy-streams/eddy/internal/plan"
)

// Builder assembles a topology with the Processor API: sources, processors, sinks and
// state stores, wired together by name with the package functions AddSource,
// AddProcessor, AddSink and AddStore. Kafka Streams: Topology (its addSource,
// addProcessor, addSink and addStateStore methods).
//
// Nodes may be added in any order: a parent, or a processor a store is connected to, may
// be named before it is added. Nothing fails while adding; Build checks the whole graph
// and returns every problem at once. Neither the Add functions nor Build ever panic.
//
// The zero Builder is ready to use, as is NewBuilder's. A nil *Builder ignores what is
// added to it and fails Build. A Builder is not safe for concurrent use. Build does not
// change the Builder: more nodes may be added and Build called again, each Topology being
// independent of the others.
type Builder struct {
	// nodes holds every node added, duplicates and unnamed ones included, in order.
	nodes []*node
	// byName holds the first node added under each non-empty name: the one that takes
	// part in the graph. Later nodes of the same name are only reported.
	byName map[string]*node
	// stores holds the stores added, in order, and storeByName indexes them.
	stores      []*storeEntry
	storeByName map[string]*storeEntry
	// dslStores names the DSL operator that made each store of the DSL, and
	// duplicateStores the names that two operators gave their store (storeName).
	dslStores       map[string]string
	duplicateStores map[string]bool
	// problems are those found while adding; Build finds the rest.
	problems []error
	// storeCalls counts AddStore calls, to name a store that has no name.
	storeCalls int
	// internal are the internal topics the DSL declared, by name.
	internal map[string]*internalTopic
	// globals are the global stores, in order.
	globals []plan.GlobalStore
	// requireNames: see RequireExplicitNames. generated counts the names the DSL
	// generated, to number them.
	requireNames bool
	generated    int
	// cache configures the DSL's record caches (dsl_cache.go).
	cache cacheConfig
}

// NewBuilder returns an empty Builder.
func NewBuilder(opts ...BuilderOption) *Builder {
	b := &Builder{}
	for _, opt := range opts {
		if opt != nil {
			opt(b)
		}
	}
	return b
}

// BuilderOption configures a Builder.
type BuilderOption func(*Builder)

// RequireExplicitNames makes Build refuse a topology in which a store, changelog or
// internal topic would be named by the builder rather than by the user: such generated
// names depend on the order of the DSL calls, so a change to the topology can rename
// them, which orphans their state and records. Default off, as in Kafka Streams, whose
// ensure.explicit.internal.resource.naming (KIP-1111) it matches.
func RequireExplicitNames() BuilderOption { return func(b *Builder) { b.requireNames = true } }

type nodeKind int

const (
	sourceKind nodeKind = iota + 1
	processorKind
	sinkKind
)

func (k nodeKind) String() string {
	switch k {
	case sourceKind:
		return "source"
	case processorKind:
		return "processor"
	case sinkKind:
		return "sink"
	}
	return fmt.Sprintf("nodeKind(%d)", int(k))
}

// node is a node as added, before Build checks and assembles it.
type node struct {
	kind nodeKind
	name string
	// seq is the node's position among all the nodes added, from 0.
	seq int
	// parents are the names given as parents, in the order given.
	parents []string
	// inKey and inValue are the types of the records the node takes (nil for a source);
	// outKey and outValue those of the records it forwards (nil for a sink).
	inKey, inValue   reflect.Type
	outKey, outValue reflect.Type

	// Sources only.
	topics      []string
	offsetReset OffsetReset
	decode      decodeFunc

	// Sources and sinks: the topics are internal topics (InternalTopic).
	internal bool

	// Processors only; nil when the supplier is.
	newProcessor func() plan.NodeProcessor
	// globalStores are the global stores the processor reads.
	globalStores []string

	// Sinks only.
	topic     string
	encode    func(r plan.Record) (key, value []byte, err error)
	partition func(r plan.Record, n int32) int32
}

// String names the node in errors: its kind and quoted name, or its position when it
// has no name.
func (n *node) String() string {
	if n.name == "" {
		return fmt.Sprintf("%s #%d", n.kind, n.seq+1)
	}
	return fmt.Sprintf("%s %q", n.kind, n.name)
}

// add appends n to the nodes and registers its name, reporting an empty or taken name.
func (b *Builder) add(n *node) {
	n.seq = len(b.nodes)
	b.nodes = append(b.nodes, n)
	if n.name == "" {
		b.problemf("%s: empty name", n)
		return
	}
	if first, taken := b.byName[n.name]; taken {
		if b.duplicateStores[strings.TrimSuffix(n.name, "-materialize")] {
			// The DSL names this node after its store, already reported as a duplicate
			// store: a duplicate processor would only repeat it.
			return
		}
		if first.kind == sourceKind && len(n.parents) > 0 {
			b.problemf("%s: name already used by %s, and a source cannot be a child of %q", n, first, n.parents[0])
			return
		}
		b.problemf("%s: name already used by %s", n, first)
		return
	}
	if b.byName == nil {
		b.byName = make(map[string]*node)
	}
	b.byName[n.name] = n
}

// registered reports whether n is the node that takes part in the graph under its name.
func (b *Builder) registered(n *node) bool { return n.name != "" && b.byName[n.name] == n }

func (b *Builder) problemf(format string, args ...any) {
	b.problems = append(b.problems, fmt.Errorf(format, args...))
}
