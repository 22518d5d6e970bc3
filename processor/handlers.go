package processor

import (
	"context"
	"strconv"
	"time"
)

// ErrorResponse is an error handler's decision about one failed record.
// Kafka Streams: DeserializationHandlerResponse, ProcessingHandlerResponse and
// ProductionExceptionHandlerResponse.
type ErrorResponse int

const (
	// Fail stops the application: its Run returns the error. The zero value.
	Fail ErrorResponse = iota
	// Continue drops the record (or, for a production error, the output record) and goes
	// on with the next one. With a dead-letter topic configured, the failed input record
	// is written there.
	Continue
)

func (r ErrorResponse) String() string {
	switch r {
	case Fail:
		return "fail"
	case Continue:
		return "continue"
	}
	return "ErrorResponse(" + strconv.Itoa(int(r)) + ")"
}

// FailedRecord is what an ErrorHandler is told about a record that could not be
// deserialized, processed or produced. Kafka Streams: ErrorHandlerContext and the raw
// record given to its handlers.
type FailedRecord struct {
	// Task is the task the record failed in; Node the source, processor or sink node
	// whose code failed.
	Task TaskID
	Node string
	// Topic, Partition and Offset say where the input record was read from. In a
	// punctuator and while flushing (Flusher) there is no input record: Topic is "",
	// Partition -1 and Offset -1. For a produce failure reported by the broker
	// (asynchronously, after the input record was processed) they are the output
	// record's topic and partition, and Offset is -1; Task and Node are then zero.
	Topic     string
	Partition int32
	Offset    int64
	// Timestamp is the input record's timestamp (the output record's for a produce
	// failure); zero without a record.
	Timestamp time.Time
	// Key, Value and Headers are the record's raw bytes as read from Kafka (the output
	// record's bytes for a produce failure); nil without a record. They are shared with
	// the engine: the handler may read them only until it returns, and must not modify
	// them.
	Key, Value []byte
	Headers    []Header
	// Err is the error: a *DeserializationError, a *ProcessingError (wrapping a
	// *PanicError for a recovered panic) or a *ProductionError.
	Err error
}

// ErrorHandler decides whether the application continues past a failed record or fails.
// The engine logs every decision (WARN with the record's coordinates when continuing,
// ERROR when failing), so a handler only decides. It is called from the goroutine that
// processes the record's task, one call at a time per application instance; a handler
// shared by several App instances in one process must be safe for concurrent use. ctx
// ends when the application stops. A handler that panics fails the application.
// Kafka Streams: DeserializationExceptionHandler, ProcessingExceptionHandler,
// ProductionExceptionHandler.
type ErrorHandler func(ctx context.Context, r FailedRecord) ErrorResponse

// LogAndFail fails on every error: the default of every error handler, as in Kafka
// Streams (LogAndFailExceptionHandler, LogAndFailProcessingExceptionHandler,
// DefaultProductionExceptionHandler).
func LogAndFail(context.Context, FailedRecord) ErrorResponse { return Fail }

// LogAndContinue continues past every error. Kafka Streams: LogAndContinueExceptionHandler,
// LogAndContinueProcessingExceptionHandler, and for production errors a handler that
// returns CONTINUE.
func LogAndContinue(context.Context, FailedRecord) ErrorResponse { return Continue }
