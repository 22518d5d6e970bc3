package topology

import (
	"slices"
	"time"

	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/store"
)

// This file is the form of a built topology that the engine and the test driver run.
// Applications build topologies with the functions of builder.go and do not need it.

// AnyRecord is a record whose key and value types were erased by the builder; the
// adapters that the builder generates turn them back into the types of each node.
type AnyRecord = processor.Record[any, any]

// OffsetReset says where a source starts reading a partition that has no committed
// offset. Kafka Streams: Topology.AutoOffsetReset / auto.offset.reset.
type OffsetReset int

const (
	// Earliest reads from the oldest retained record (the default, as in Kafka Streams).
	Earliest OffsetReset = iota
	// Latest reads only records produced after the application started.
	Latest
)

// NodeContext is what the engine gives each processor node: the user-facing
// InitContext, plus untyped forwarding and record metadata.
type NodeContext interface {
	processor.InitContext
	// Forward passes r to the children of the node, or to the one named child when
	// child is not "".
	Forward(child string, r AnyRecord)
	// RecordMetadata is the topic, partition and offset of the input record being
	// processed; false in a wall-clock punctuator.
	RecordMetadata() (processor.RecordMetadata, bool)
}

// NodeProcessor is a processor with its types erased. The builder makes one from each
// user Processor; the engine calls it from its task's goroutine.
type NodeProcessor interface {
	Init(ctx NodeContext) error
	Process(r AnyRecord) error
	Close() error
}

// SourceNode reads topics into a subtopology.
type SourceNode struct {
	Name        string
	Topics      []string
	Children    []string
	OffsetReset OffsetReset
	// Internal: the topics are internal topics (see InternalTopic), whose names
	// Topology.WithApplicationID completes.
	Internal bool
	// Decode deserializes a raw Kafka record and extracts its event time (with the
	// source's timestamp extractor, by default the record's own timestamp). The
	// returned record owns no part of key or value.
	Decode func(topic string, key, value []byte, timestamp time.Time, headers []processor.Header) (AnyRecord, error)
}

// ProcessorNode runs user code.
type ProcessorNode struct {
	Name     string
	Parents  []string
	Children []string
	// Stores names the stores connected to this node.
	Stores []string
	// GlobalStores names the global stores the node reads (see GlobalStore).
	GlobalStores []string
	// New makes the node's processor for one task.
	New func() NodeProcessor
}

// SinkNode writes records to a topic.
type SinkNode struct {
	Name    string
	Parents []string
	Topic   string
	// Internal: Topic is an internal topic, whose name Topology.WithApplicationID
	// completes.
	Internal bool
	// Encode serializes a record's key and value for the topic. A record whose Value is
	// nil (untyped: the DSL's tombstones) gets a nil value, Kafka's null; a nil Key (the
	// DSL's keyless records) a nil key.
	Encode func(r AnyRecord) (key, value []byte, err error)
	// Partition picks the partition of a record among n, or is nil to leave the choice
	// to the producer's default partitioner (murmur2 of the key bytes, as Kafka's). A
	// result outside [0, n) is the partitioner's error: the user's function returned it,
	// or, as -1, the record's types were not the sink's (Encode rejects such a record).
	Partition func(r AnyRecord, n int32) int32
}

// Subtopology is one connected part of a topology. A task runs one subtopology on one
// partition number of its source topics, which are therefore copartitioned: they must
// have the same partition count.
type Subtopology struct {
	ID         int
	Sources    []*SourceNode
	Processors []*ProcessorNode // parents before children
	Sinks      []*SinkNode
	// Stores are the stores the processors of this subtopology are connected to.
	Stores []store.Definition
}

// SourceTopics returns the topics of all sources of the subtopology, sorted: its
// copartition group.
func (s *Subtopology) SourceTopics() []string {
	var topics []string
	for _, src := range s.Sources {
		topics = append(topics, src.Topics...)
	}
	slices.Sort(topics)
	return topics
}

// DropCounter is implemented by node processors that drop records by design: the DSL's
// windowed aggregations drop records too late for their window, and its tables,
// aggregations and joins drop records with a null key or value that they ignore. DroppedRecords is
// how many the processor dropped since it was made: one for each record, except in the
// windowed aggregations, which count a record once for each closed window it missed, as
// they call the late-record handler (so a record of hopping or sliding windows may count
// more than once, and still be aggregated in its open windows), as Kafka Streams does.
// The engine sums it over the processors of each task, for eddy.Stats.DroppedRecords.
// Kafka Streams: the task-level dropped-records metric. It is called from the task's
// goroutine, like the processor's other methods.
type DropCounter interface {
	DroppedRecords() int64
}
