package processor

import "fmt"

// ProcessingError is an error from user code (a processor or punctuator) or from a
// store, with the task, node and input record it happened on. The App's Run returns it
// wrapped: errors.As finds it.
type ProcessingError struct {
	Task TaskID
	Node string
	// Record is the input record being processed; Offset is -1 in a punctuator and
	// while flushing.
	Record RecordMetadata
	// Flushing says the error happened while the node, or one it forwarded to, flushed
	// the records it held back before a commit (Flusher).
	Flushing bool
	// Initializing says the error happened in the node's Init, when the task started
	// (Offset is -1).
	Initializing bool
	Err          error
}

func (e *ProcessingError) Error() string {
	if e.Flushing {
		return fmt.Sprintf("task %s: node %q while flushing before a commit: %v", e.Task, e.Node, e.Err)
	}
	if e.Initializing {
		return fmt.Sprintf("task %s: node %q in Init: %v", e.Task, e.Node, e.Err)
	}
	if e.Record.Offset < 0 {
		return fmt.Sprintf("task %s: node %q in a punctuator: %v", e.Task, e.Node, e.Err)
	}
	return fmt.Sprintf("task %s: node %q: topic %q partition %d offset %d: %v",
		e.Task, e.Node, e.Record.Topic, e.Record.Partition, e.Record.Offset, e.Err)
}

func (e *ProcessingError) Unwrap() error { return e.Err }

// DeserializationError is a record that its source's serdes could not read. The App's
// Run returns it wrapped unless it skips undecodable records (eddy.SkipUndecodableRecords).
type DeserializationError struct {
	// Task is the task of the source; unset for a global store's record.
	Task TaskID
	// GlobalStore names the global store whose topic the record is of, "" for a task's
	// source.
	GlobalStore string
	// Source names the source node whose serdes failed.
	Source string
	Record RecordMetadata
	Err    error
}

func (e *DeserializationError) Error() string {
	if e.GlobalStore != "" {
		return fmt.Sprintf("global store %q: source %q cannot deserialize topic %q partition %d offset %d: %v",
			e.GlobalStore, e.Source, e.Record.Topic, e.Record.Partition, e.Record.Offset, e.Err)
	}
	return fmt.Sprintf("task %s: source %q cannot deserialize topic %q partition %d offset %d: %v",
		e.Task, e.Source, e.Record.Topic, e.Record.Partition, e.Record.Offset, e.Err)
}

func (e *DeserializationError) Unwrap() error { return e.Err }

// ProductionError is an output record that could not be written: its sink's serdes
// failed (Kafka Streams: ProductionExceptionHandler#handleSerializationException), or
// the broker refused it (ProductionExceptionHandler#handle). Run returns it wrapped
// unless the production error handler continues past it.
type ProductionError struct {
	Task TaskID
	// Sink names the sink node; empty for a produce failure, which is reported after the
	// record left its task.
	Sink string
	// Topic and Partition are the output record's; Partition is -1 when the
	// serialization failed, before a partition was chosen.
	Topic     string
	Partition int32
	// Input is the input record being processed when the output was made; its Offset
	// is -1 in a punctuator, while flushing, and for a produce failure.
	Input RecordMetadata
	Err   error
}

func (e *ProductionError) Error() string {
	if e.Sink == "" {
		return fmt.Sprintf("producing to topic %q partition %d: %v", e.Topic, e.Partition, e.Err)
	}
	if e.Input.Offset < 0 {
		return fmt.Sprintf("task %s: sink %q cannot serialize a record for topic %q: %v", e.Task, e.Sink, e.Topic, e.Err)
	}
	return fmt.Sprintf("task %s: sink %q cannot serialize a record for topic %q (input topic %q partition %d offset %d): %v",
		e.Task, e.Sink, e.Topic, e.Input.Topic, e.Input.Partition, e.Input.Offset, e.Err)
}

func (e *ProductionError) Unwrap() error { return e.Err }

// PanicError is a panic recovered from user code (a processor, punctuator, DSL callback,
// serde or Flusher): the value passed to panic and the goroutine's stack where it was
// recovered (runtime/debug.Stack). It reaches the caller wrapped in the
// *ProcessingError, *DeserializationError or *ProductionError of where it happened;
// errors.As finds both.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Unwrap returns the panic's value when it is an error (panic(err)), so that errors.Is
// and errors.As see it.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}
