package topology

import (
	"slices"
	"strings"
	"time"

	"github.com/eddy-streams/eddy/store"
)

// This file holds what the DSL adds to the engine-facing form of a topology: internal
// topics, whose names the application id completes, global stores, and processors that
// hold output back until a commit.

// InternalTopic is a topic that the application owns and creates at start: a repartition
// topic of the DSL. Kafka Streams names them <application.id>-<name>-repartition, and so
// does Eddy once WithApplicationID completed the names.
type InternalTopic struct {
	// Name is the topic's name: the bare <name>-repartition before WithApplicationID.
	Name string
	// Partitions is the partition count the user asked for, or 0 to derive it as Kafka
	// Streams does: the count of the other topics the reading subtopology is
	// copartitioned with, when it reads any whose count is known; otherwise the largest
	// count among Upstream.
	Partitions int32
	// Upstream are the source topics of the subtopologies that write the topic, sorted.
	Upstream []string
	// Config is the topic configuration to create it with.
	Config map[string]string
}

// repartitionConfig is the configuration of repartition topics: Kafka Streams' defaults
// (StreamsConfig's internal topic properties for repartition topics).
func repartitionConfig() map[string]string {
	return map[string]string{
		"cleanup.policy": "delete",
		"retention.ms":   "-1",
		"segment.bytes":  "52428800",
	}
}

// internalTopic is an internal topic as declared by the DSL.
type internalTopic struct {
	name       string
	partitions int32
}

// GlobalStore is a store that every instance of the application keeps whole: it holds
// every partition of its topic, which is also its changelog. The engine fills it before
// any task starts and keeps it up to date as the topic grows; processors read it through
// their context like their own stores. Kafka Streams: global state stores (GlobalKTable).
type GlobalStore struct {
	// Def is the store's definition. It is not logged: Topic is its changelog.
	Def store.Definition
	// Source names the node that reads Topic, for Describe and errors.
	Source string
	Topic  string
	// Apply writes one record of Topic to the store; a nil value is a tombstone. It owns
	// neither key nor value. It is safe for concurrent use.
	Apply func(s store.KeyValueStore, key, value []byte, timestamp time.Time) error
}

// WithApplicationID returns a copy of the topology in which the names of internal topics
// are complete: <application id>-<name>. The engine and the test driver call it once.
func (t *Topology) WithApplicationID(id string) *Topology {
	full := func(topic string) string { return id + "-" + topic }
	c := &Topology{
		stores:  slices.Clone(t.stores),
		byTopic: make(map[string]*Subtopology),
	}
	for _, s := range t.subtopologies {
		s = s.clone()
		for _, src := range s.Sources {
			if src.Internal {
				for i, topic := range src.Topics {
					src.Topics[i] = full(topic)
				}
			}
			for _, topic := range src.Topics {
				c.byTopic[topic] = s
			}
		}
		for _, sink := range s.Sinks {
			if sink.Internal {
				sink.Topic = full(sink.Topic)
			}
		}
		c.subtopologies = append(c.subtopologies, s)
	}
	for _, it := range t.internal {
		it.name = full(it.name)
		c.internal = append(c.internal, it)
	}
	c.globals = slices.Clone(t.globals)
	return c
}

// InternalTopics returns the internal topics, ordered by name.
func (t *Topology) InternalTopics() []InternalTopic {
	var out []InternalTopic
	for _, it := range t.internal {
		var upstream []string
		for _, s := range t.subtopologies {
			for _, sink := range s.Sinks {
				if sink.Topic == it.name {
					upstream = append(upstream, s.SourceTopics()...)
					break
				}
			}
		}
		slices.Sort(upstream)
		out = append(out, InternalTopic{
			Name:       it.name,
			Partitions: it.partitions,
			Upstream:   slices.Compact(upstream),
			Config:     repartitionConfig(),
		})
	}
	slices.SortFunc(out, func(a, b InternalTopic) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// GlobalStores returns the global stores, in the order they were added.
func (t *Topology) GlobalStores() []GlobalStore {
	return slices.Clone(t.globals)
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
func (b *Builder) addGlobalStore(g GlobalStore) {
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
