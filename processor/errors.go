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
	Err      error
}

func (e *ProcessingError) Error() string {
	if e.Flushing {
		return fmt.Sprintf("task %s: node %q while flushing before a commit: %v", e.Task, e.Node, e.Err)
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
	Task TaskID
	// Source names the source node whose serdes failed.
	Source string
	Record RecordMetadata
	Err    error
}

func (e *DeserializationError) Error() string {
	return fmt.Sprintf("task %s: source %q cannot deserialize topic %q partition %d offset %d: %v",
		e.Task, e.Source, e.Record.Topic, e.Record.Partition, e.Record.Offset, e.Err)
}

func (e *DeserializationError) Unwrap() error { return e.Err }
