// Package plan is the built form of a topology, the one the engine and the test driver
// run: subtopologies of erased nodes, the stores of each with its changelog topic, the
// internal topics and the global stores. Kafka Streams: ProcessorTopology and the parts
// of InternalTopologyBuilder that the runtime reads.
//
// Package topology makes a Topology when it builds one, and no other package makes or
// changes one: a Topology is immutable once made, shared by every task and safe for
// concurrent use, and its slices and maps are read, never written, by its users. The
// functions in the nodes (Decode, New, Encode, Partition, Apply) are safe for concurrent
// use as long as the serdes, suppliers, extractors and partitioners given to the builder
// are.
package plan

import (
	"slices"
	"strings"
)

// Topology is a built topology.
type Topology struct {
	// Subtopologies are ordered by ID. IDs are numbered from 0 in the order in which the
	// first node of each subtopology was added to the builder, so they stay the same for
	// the same sequence of builder calls.
	Subtopologies []*Subtopology
	// InternalTopics are the repartition topics the application owns, ordered by name.
	InternalTopics []InternalTopic
	// GlobalStores are in the order they were added.
	GlobalStores []GlobalStore
}

// Of returns the plan of a *topology.Topology, which package topology keeps unexported:
// it sets Of when it is initialized (it imports this package, so this package cannot
// call it). Of returns nil for anything else, and for a nil topology.
var Of func(topology any) *Topology

// Complete returns a copy of t for the application applicationID, in which the names
// of the internal topics and of the stores' changelog topics are complete:
// <application id>-<name> and <application id>-<store>-changelog. The engine
// and the test driver call it once, before anything reads a topic name.
func (t *Topology) Complete(applicationID string) *Topology {
	full := func(topic string) string { return applicationID + "-" + topic }
	c := &Topology{GlobalStores: t.GlobalStores}
	for _, s := range t.Subtopologies {
		cs := &Subtopology{ID: s.ID, Processors: s.Processors}
		for _, src := range s.Sources {
			if src.Internal {
				n := *src
				n.Topics = make([]string, len(src.Topics))
				for i, topic := range src.Topics {
					n.Topics[i] = full(topic)
				}
				src = &n
			}
			cs.Sources = append(cs.Sources, src)
		}
		for _, sink := range s.Sinks {
			if sink.Internal {
				n := *sink
				n.Topic = full(sink.Topic)
				sink = &n
			}
			cs.Sinks = append(cs.Sinks, sink)
		}
		for _, st := range s.Stores {
			if st.Def.Logged() {
				st.Changelog = ChangelogTopic(applicationID, st.Def.Name())
			}
			cs.Stores = append(cs.Stores, st)
		}
		c.Subtopologies = append(c.Subtopologies, cs)
	}
	declared := make([]InternalTopic, len(t.InternalTopics))
	for i, it := range t.InternalTopics {
		declared[i] = InternalTopic{Name: full(it.Name), Partitions: it.Partitions}
	}
	c.InternalTopics = c.internalTopics(declared)
	return c
}

// New makes the plan of a topology that package topology has checked. internal lists
// the internal topics with their names and partition counts; New fills in the rest.
func New(subtopologies []*Subtopology, internal []InternalTopic, globals []GlobalStore) *Topology {
	t := &Topology{Subtopologies: subtopologies, GlobalStores: globals}
	t.InternalTopics = t.internalTopics(internal)
	return t
}

// internalTopics completes the declared internal topics with their upstream topics and
// configuration, ordered by name.
func (t *Topology) internalTopics(declared []InternalTopic) []InternalTopic {
	var out []InternalTopic
	for _, it := range declared {
		var upstream []string
		for _, s := range t.Subtopologies {
			if slices.ContainsFunc(s.Sinks, func(sink *Sink) bool { return sink.Topic == it.Name }) {
				upstream = append(upstream, s.SourceTopics()...)
			}
		}
		slices.Sort(upstream)
		it.Upstream = slices.Compact(upstream)
		it.Config = repartitionConfig()
		out = append(out, it)
	}
	slices.SortFunc(out, func(a, b InternalTopic) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// repartitionConfig is the configuration of repartition topics: Kafka Streams' defaults
// (RepartitionTopicConfig), with the timestamp type pinned (TimestampTypeConfig).
func repartitionConfig() map[string]string {
	return map[string]string{
		"cleanup.policy":    "delete",
		"retention.ms":      "-1",
		"segment.bytes":     "52428800",
		TimestampTypeConfig: "CreateTime",
	}
}

// TimestampTypeConfig is the topic configuration that every internal topic and
// changelog pins to CreateTime, as Kafka Streams does (InternalTopicConfig's default
// overrides): on a cluster whose log.message.timestamp.type is LogAppendTime, a
// repartitioned record would otherwise take the broker's clock for its event time, and
// land in the wrong windows after a key change.
const TimestampTypeConfig = "message.timestamp.type"

// ChangelogTopic is the name of the changelog topic of a store: Kafka Streams'
// <application.id>-<store>-changelog.
func ChangelogTopic(applicationID, storeName string) string {
	return applicationID + "-" + storeName + "-changelog"
}

// SourceTopics returns the topics that the sources read, sorted. Each appears once, as a
// topic is read by one source only.
func (t *Topology) SourceTopics() []string {
	var topics []string
	for _, s := range t.Subtopologies {
		topics = append(topics, s.SourceTopics()...)
	}
	slices.Sort(topics)
	return topics
}

// SinkTopics returns the topics that the sinks write, sorted, each once even when several
// sinks write it.
func (t *Topology) SinkTopics() []string {
	var topics []string
	for _, s := range t.Subtopologies {
		for _, sink := range s.Sinks {
			topics = append(topics, sink.Topic)
		}
	}
	slices.Sort(topics)
	return slices.Compact(topics)
}

// InternalTopic is a topic that the application owns and creates at start: a repartition
// topic of the DSL. Kafka Streams names them <application.id>-<name>-repartition, and so
// does Eddy once Complete completed the names.
type InternalTopic struct {
	// Name is the topic's name: the bare <name>-repartition before Complete.
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
