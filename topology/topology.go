package topology

import (
	"slices"

	"github.com/eddy-streams/eddy/store"
)

// Topology is a checked topology, as Build returns it: its subtopologies, their nodes and
// stores. It is immutable, and safe for concurrent use; its methods return copies, which
// callers may change freely. The functions in the nodes (Decode, New, Encode, Partition)
// are shared by all copies and are safe for concurrent use as long as the serdes,
// suppliers, timestamp extractors and partitioners given to the builder are.
type Topology struct {
	subtopologies []*Subtopology
	stores        []store.Definition
	// byTopic indexes subtopologies by the topics their sources read.
	byTopic map[string]*Subtopology
	// internal are the internal topics, in order of declaration.
	internal []internalTopic
	globals  []GlobalStore
}

// Subtopologies returns the subtopologies, ordered by ID. IDs are numbered from 0 in the
// order in which the first node of each subtopology was added to the builder, so they
// stay the same for the same sequence of Add calls. Kafka Streams:
// TopologyDescription#subtopologies.
func (t *Topology) Subtopologies() []*Subtopology {
	out := make([]*Subtopology, len(t.subtopologies))
	for i, s := range t.subtopologies {
		out[i] = s.clone()
	}
	return out
}

// SubtopologyForTopic returns the subtopology whose sources read topic, and false if none
// does.
func (t *Topology) SubtopologyForTopic(topic string) (*Subtopology, bool) {
	s, ok := t.byTopic[topic]
	if !ok {
		return nil, false
	}
	return s.clone(), true
}

// SourceTopics returns the topics that the sources read, sorted. Each appears once, as a
// topic is read by one source only.
func (t *Topology) SourceTopics() []string {
	var topics []string
	for topic := range t.byTopic {
		topics = append(topics, topic)
	}
	slices.Sort(topics)
	return topics
}

// SinkTopics returns the topics that the sinks write, sorted, each once even when several
// sinks write it.
func (t *Topology) SinkTopics() []string {
	var topics []string
	for _, s := range t.subtopologies {
		for _, sink := range s.Sinks {
			topics = append(topics, sink.Topic)
		}
	}
	slices.Sort(topics)
	return slices.Compact(topics)
}

// Stores returns the definitions of the topology's stores, in the order they were added.
func (t *Topology) Stores() []store.Definition { return slices.Clone(t.stores) }

// clone returns a deep copy of s, sharing only the nodes' functions and store definitions.
func (s *Subtopology) clone() *Subtopology {
	c := &Subtopology{ID: s.ID, Stores: slices.Clone(s.Stores)}
	for _, src := range s.Sources {
		n := *src
		n.Topics = slices.Clone(src.Topics)
		n.Children = slices.Clone(src.Children)
		c.Sources = append(c.Sources, &n)
	}
	for _, p := range s.Processors {
		n := *p
		n.Parents = slices.Clone(p.Parents)
		n.Children = slices.Clone(p.Children)
		n.Stores = slices.Clone(p.Stores)
		n.GlobalStores = slices.Clone(p.GlobalStores)
		c.Processors = append(c.Processors, &n)
	}
	for _, sink := range s.Sinks {
		n := *sink
		n.Parents = slices.Clone(sink.Parents)
		c.Sinks = append(c.Sinks, &n)
	}
	return c
}
