package processor

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Record is one key-value pair flowing through a topology, with its event time and
// headers. Kafka Streams: Record<K, V>.
type Record[K, V any] struct {
	Key       K
	Value     V
	Timestamp time.Time
	Headers   []Header
}

// Header is a Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// TaskID names a task: one subtopology running on one partition number of its input
// topics. Kafka Streams writes it "0_3" (subtopology 0, partition 3), and so does String.
type TaskID struct {
	Subtopology int
	Partition   int32
}

func (id TaskID) String() string { return fmt.Sprintf("%d_%d", id.Subtopology, id.Partition) }

// ParseTaskID parses the form String writes.
func ParseTaskID(s string) (TaskID, error) {
	sub, part, ok := strings.Cut(s, "_")
	subtopology, err1 := strconv.Atoi(sub)
	partition, err2 := strconv.ParseInt(part, 10, 32)
	if !ok || err1 != nil || err2 != nil || subtopology < 0 || partition < 0 {
		return TaskID{}, fmt.Errorf("processor: %q is not a task id (subtopology_partition)", s)
	}
	return TaskID{Subtopology: subtopology, Partition: int32(partition)}, nil
}

// RecordMetadata tells where the record being processed was read from.
type RecordMetadata struct {
	Topic     string
	Partition int32
	Offset    int64
}

// PunctuationType says which clock drives a punctuator. Kafka Streams: PunctuationType.
type PunctuationType int

const (
	// StreamTime punctuators fire as the task's stream time (the largest record timestamp
	// it has seen) passes each interval; they do not fire while no records arrive. One
	// scheduled before the task's first record first fires at that record.
	StreamTime PunctuationType = iota
	// WallClockTime punctuators fire by the system clock, whether records arrive or not.
	WallClockTime
)

func (t PunctuationType) String() string {
	switch t {
	case StreamTime:
		return "stream-time"
	case WallClockTime:
		return "wall-clock"
	}
	return fmt.Sprintf("PunctuationType(%d)", int(t))
}

// Punctuator is called by a scheduled punctuation with the time it fires at (stream time
// or wall-clock time). An error fails the task like an error from Process.
type Punctuator func(at time.Time) error

// Cancellable stops a scheduled punctuation.
type Cancellable interface {
	Cancel()
}

// InitContext is what a processor is given when its task starts, and keeps for its life.
// It must only be used from the goroutine that calls the processor: the engine calls
// Init, Process, punctuators and Close of one task from one goroutine.
type InitContext interface {
	// ApplicationID is the application id of the running App.
	ApplicationID() string
	// TaskID is the task this processor instance belongs to.
	TaskID() TaskID
	// StateStore returns the store with the given name connected to this processor, for
	// the typed handles of package store (store.KeyValue(...).From(ctx)); user code does
	// not call it directly. It fails for a store not connected to the processor.
	StateStore(name string) (any, error)
	// Schedule calls fn every interval of the given clock until the returned Cancellable
	// is cancelled or the task closes. Kafka Streams: ProcessorContext#schedule.
	Schedule(interval time.Duration, kind PunctuationType, fn Punctuator) (Cancellable, error)
	// StreamTime is the task's stream time: the largest timestamp it has read, never
	// going back; the zero Time before the first record.
	StreamTime() time.Time
}

// Context is what a processor is given with each record: InitContext, plus forwarding
// to the processor's children and the metadata of the record being processed.
type Context[K, V any] interface {
	InitContext
	// Forward passes r to every child of the processor, synchronously: the children have
	// processed r when Forward returns. An error in a child fails the task after the
	// current Process call returns; later forwards of that record are dropped.
	Forward(r Record[K, V])
	// ForwardTo passes r to the named child only.
	ForwardTo(child string, r Record[K, V])
	// RecordMetadata is the topic, partition and offset of the input record being
	// processed; false in a wall-clock punctuator, where there is none.
	RecordMetadata() (RecordMetadata, bool)
}

// Processor processes records of one node of a topology. A fresh instance is made for
// each task, so a Processor may keep per-task state in its fields without locking.
// Kafka Streams: Processor<KIn, VIn, KOut, VOut>.
//
// A processor may also implement Initializer, Closer and Flusher.
type Processor[KIn, VIn, KOut, VOut any] interface {
	// Process handles one record. An error stops the task: by default the App then stops
	// with the error, which names the task, node, topic, partition and offset.
	Process(ctx Context[KOut, VOut], r Record[KIn, VIn]) error
}

// Initializer is implemented by processors that need set-up when their task starts:
// typically taking their store handles and scheduling punctuators.
type Initializer interface {
	Init(ctx InitContext) error
}

// Closer is implemented by processors that hold resources beyond their task's stores.
// Close is called once when the task closes, after the last Process call.
type Closer interface {
	Close() error
}

// Flusher is implemented by processors that hold records back between commits, as the
// DSL's record cache does. Before every commit the engine calls Flush on the processors
// of the task that implement it, parents before children, after the records of the
// commit were processed; what Flush forwards, through the context the processor was
// given at Init, is part of that commit. When the engine rolls the task's stores back to
// their last commit (an aborted transaction) it calls Discard instead, so that what was
// held is dropped with the writes that made it. Kafka Streams has no public counterpart:
// its record cache flushes inside the engine.
type Flusher interface {
	Flush() error
	// Discard drops what is held without forwarding it.
	Discard()
}

// Supplier makes a new processor instance; it is called once per task.
type Supplier[KIn, VIn, KOut, VOut any] func() Processor[KIn, VIn, KOut, VOut]

// ProcessFunc adapts a function to a stateless Processor.
type ProcessFunc[KIn, VIn, KOut, VOut any] func(ctx Context[KOut, VOut], r Record[KIn, VIn]) error

// Process calls f.
func (f ProcessFunc[KIn, VIn, KOut, VOut]) Process(ctx Context[KOut, VOut], r Record[KIn, VIn]) error {
	return f(ctx, r)
}

// ContextOf returns the InitContext that a processor's Init was given as the Context of
// its output types, for punctuators that forward records (see the example). It fails
// when K and V are not the output types of the processor.
func ContextOf[K, V any](ctx InitContext) (Context[K, V], error) {
	c, ok := ctx.(Context[K, V])
	if !ok {
		var k K
		var v V
		return nil, fmt.Errorf("processor: the context forwards other types than %T and %T", k, v)
	}
	return c, nil
}
