package plan

import (
	"slices"
	"time"

	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/store"
)

// Record is a record whose key and value types were erased by the builder; the adapters
// that the builder generates turn them back into the types of each node.
type Record = processor.Record[any, any]

// NodeContext is what the engine gives each processor node: the user-facing
// InitContext, plus untyped forwarding and record metadata.
type NodeContext interface {
	processor.InitContext
	// Forward passes r to the children of the node, or to the one named child when
	// child is not "".
	Forward(child string, r Record)
	// RecordMetadata is the topic, partition and offset of the input record being
	// processed; false in a wall-clock punctuator.
	RecordMetadata() (processor.RecordMetadata, bool)
}

// NodeProcessor is a processor with its types erased. The builder makes one from each
// user Processor; the engine calls it from its task's goroutine. It may also implement
// processor.Flusher and DropCounter.
type NodeProcessor interface {
	Init(ctx NodeContext) error
	Process(r Record) error
	Close() error
}

// DropCounter is implemented by node processors that drop records by design: the DSL's
// windowed aggregations drop records too late for their window, and its tables,
// aggregations and joins drop records with a null key or value that they ignore.
// DroppedRecords is how many the processor dropped since it was made: one for each
// record, except in the windowed aggregations, which count a record once for each closed
// window it missed, as they call the late-record handler (so a record of hopping or
// sliding windows may count more than once, and still be aggregated in its open
// windows), as Kafka Streams does. The engine sums it over the processors of each task,
// for eddy.Stats.DroppedRecords. Kafka Streams: the task-level dropped-records metric.
// It is called from the task's goroutine, like the processor's other methods.
type DropCounter interface {
	DroppedRecords() int64
}

// Source reads topics into a subtopology.
type Source struct {
	Name     string
	Topics   []string
	Children []string
	// ResetToLatest starts a partition without a committed offset at its end instead of
	// its beginning. Kafka Streams: Topology.AutoOffsetReset.
	ResetToLatest bool
	// Internal: the topics are internal topics, whose names Complete completes.
	Internal bool
	// Decode deserializes a raw Kafka record and extracts its event time (with the
	// source's timestamp extractor, by default the record's own timestamp). The
	// returned record owns no part of key or value.
	Decode func(topic string, key, value []byte, timestamp time.Time, headers []processor.Header) (Record, error)
}

// Processor runs user code.
type Processor struct {
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

// Sink writes records to a topic.
type Sink struct {
	Name    string
	Parents []string
	Topic   string
	// Internal: Topic is an internal topic, whose name Complete completes.
	Internal bool
	// Encode serializes a record's key and value for the topic. A record whose Value is
	// nil (untyped: the DSL's tombstones) gets a nil value, Kafka's null; a nil Key (the
	// DSL's keyless records) a nil key.
	Encode func(r Record) (key, value []byte, err error)
	// Partition picks the partition of a record among n, or is nil to leave the choice
	// to the producer's default partitioner (murmur2 of the key bytes, as Kafka's). A
	// result outside [0, n) is the partitioner's error: the user's function returned it,
	// or, as -1, the record's types were not the sink's (Encode rejects such a record).
	Partition func(r Record, n int32) int32
}

// Store is a state store of a subtopology, with its changelog topic.
type Store struct {
	Def store.Definition
	// Changelog is the store's changelog topic, complete once Complete ran; "" for a
	// store that is not logged, and before Complete.
	Changelog string
}

// Subtopology is one connected part of a topology. A task runs one subtopology on one
// partition number of its source topics, which are therefore copartitioned: they must
// have the same partition count.
type Subtopology struct {
	ID         int
	Sources    []*Source
	Processors []*Processor // parents before children
	Sinks      []*Sink
	// Stores are the stores the processors of this subtopology are connected to.
	Stores []Store
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
