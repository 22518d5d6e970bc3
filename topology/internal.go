package topology

import (
	"slices"

	"github.com/eddy-streams/eddy/internal/plan"
)

// This file holds what the DSL adds to the built form of a topology (internal/plan):
// internal topics, whose names the application id completes, and global stores.

// internalTopic is an internal topic as declared by the DSL.
type internalTopic struct {
	name       string
	partitions int32
}

// declareInternalTopic records an internal topic the DSL writes and reads; partitions 0
// derives the count at start. Declaring a name twice with different counts is a problem.
func (b *Builder) declareInternalTopic(name string, partitions int32) {
	if it, ok := b.internal[name]; ok {
		if it.partitions != partitions {
			b.problemf("internal topic %q: declared with %d and %d partitions", name, it.partitions, partitions)
		}
		return
	}
	if partitions < 0 {
		b.problemf("internal topic %q: negative partition count %d", name, partitions)
	}
	if b.internal == nil {
		b.internal = make(map[string]*internalTopic)
	}
	b.internal[name] = &internalTopic{name: name, partitions: partitions}
}

// addGlobalStore adds a global store that source fills from topic.
func (b *Builder) addGlobalStore(g plan.GlobalStore) {
	for _, other := range b.globals {
		if other.Def.Name() == g.Def.Name() {
			b.problemf("global store %q: added twice", g.Def.Name())
			return
		}
		if other.Topic == g.Topic {
			b.problemf("global store %q: topic %q already fills global store %q", g.Def.Name(), g.Topic, other.Def.Name())
			return
		}
	}
	if g.Def.Logged() {
		b.problemf("global store %q: must not be logged: its topic %q is its changelog", g.Def.Name(), g.Topic)
	}
	b.globals = append(b.globals, g)
}

// connectGlobal lets the processor named processor read the global store named store.
// The processor must be added before, and store by Build.
func (b *Builder) connectGlobal(storeName, processor string) {
	n := b.byName[processor]
	if n == nil || n.kind != processorKind {
		b.problemf("global store %q: connected to %q, which is not a processor added before", storeName, processor)
		return
	}
	if !slices.Contains(n.globalStores, storeName) {
		n.globalStores = append(n.globalStores, storeName)
	}
}

// checkGlobals checks that the global stores' names and topics are theirs alone and that
// processors read known global stores.
func (c *checker) checkGlobals() {
	sourceTopics := make(map[string]*node)
	for _, n := range c.b.nodes {
		if n.kind == sourceKind {
			for _, topic := range n.topics {
				sourceTopics[topic] = n
			}
		}
	}
	known := make(map[string]bool)
	for _, g := range c.b.globals {
		known[g.Def.Name()] = true
		if _, ok := c.b.storeByName[g.Def.Name()]; ok {
			c.problemf("global store %q: name already used by a store", g.Def.Name())
		}
		if src, ok := sourceTopics[g.Topic]; ok {
			c.problemf("global store %q: topic %q is also read by %s", g.Def.Name(), g.Topic, src)
		}
	}
	for _, n := range c.g.nodes {
		for _, name := range n.globalStores {
			if !known[name] {
				c.problemf("%s: reads unknown global store %q", n, name)
			}
		}
	}
}
