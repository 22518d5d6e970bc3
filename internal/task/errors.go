package task

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/store"
)

// ErrorPolicy is what a task does with a record it cannot deserialize, process or
// produce: each handler decides to continue past it or to fail (nil handlers fail, as
// processor.LogAndFail). Kafka Streams: deserialization.exception.handler,
// processing.exception.handler, production.exception.handler and
// errors.dead.letter.queue.topic.name (KIP-161, KIP-1033, KIP-1034).
type ErrorPolicy struct {
	Deserialization processor.ErrorHandler
	Processing      processor.ErrorHandler
	Production      processor.ErrorHandler
	// DeadLetterTopic, when not empty, receives the input record of every failure that
	// a handler continues past, with its raw key, value and headers and the headers of
	// deadLetterHeaders. A failure without an input record (a punctuator, a flush) writes
	// nothing.
	DeadLetterTopic string
	// Context is given to the handlers; nil is context.Background().
	Context context.Context
}

// The headers a dead-letter record carries besides the input record's own, with the
// names of Kafka Streams' KIP-1034 (org.apache.kafka.streams.errors.internals.
// ExceptionHandlerUtils: HEADER_ERRORS_EXCEPTION_NAME and the five after it). Values are
// UTF-8 text: the error's Go type (%T), its message, the panic's stack (or, for an
// error, the chain of wrapped errors, one "type: message" a line), and the input
// record's topic, partition and offset in decimal.
const (
	headerException  = "__streams.errors.exception"
	headerMessage    = "__streams.errors.message"
	headerStacktrace = "__streams.errors.stacktrace"
	headerTopic      = "__streams.errors.topic"
	headerPartition  = "__streams.errors.partition"
	headerOffset     = "__streams.errors.offset"
)

// errorKind names the three handlers in logs.
type errorKind string

const (
	deserializationKind errorKind = "deserialization"
	processingKind      errorKind = "processing"
	productionKind      errorKind = "production"
)

// Decide asks h about r and logs the decision: WARN when continuing, ERROR when failing.
// A nil handler fails; a handler that panics fails, its panic logged. It reports whether
// to continue.
func Decide(ctx context.Context, log *slog.Logger, kind string, h processor.ErrorHandler, r processor.FailedRecord) bool {
	if ctx == nil {
		ctx = context.Background()
	}
	resp := processor.Fail
	if h != nil {
		resp = callHandler(ctx, log, h, r)
	}
	attrs := []any{"kind", kind, "node", r.Node, "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "error", r.Err}
	if resp == processor.Continue {
		log.Warn("continuing past a failed record", attrs...)
		return true
	}
	log.Error("failing on a failed record", attrs...)
	return false
}

func callHandler(ctx context.Context, log *slog.Logger, h processor.ErrorHandler, r processor.FailedRecord) (resp processor.ErrorResponse) {
	defer func() {
		if v := recover(); v != nil {
			log.Error("the error handler panicked; failing", "panic", v, "stack", string(debug.Stack()))
			resp = processor.Fail
		}
	}()
	return h(ctx, r)
}

// decide asks the task's handler of kind about r; on Continue it writes r to the
// dead-letter topic if there is one and r has an input record.
func (t *Task) decide(kind errorKind, r processor.FailedRecord) bool {
	h := t.errors.Processing
	switch kind {
	case deserializationKind:
		h = t.errors.Deserialization
	case productionKind:
		h = t.errors.Production
	}
	if !Decide(t.errors.Context, t.log, string(kind), h, r) {
		return false
	}
	if kind == deserializationKind {
		t.skipped++
	}
	if t.errors.DeadLetterTopic != "" && r.Offset >= 0 {
		t.collector.Send(t.errors.DeadLetterTopic, -1, r.Key, r.Value, r.Timestamp, deadLetterHeaders(r))
	}
	return true
}

// failedRecord describes the record being processed (none in a punctuator or a flush)
// as failing at node with err.
func (t *Task) failedRecord(node string, err error) processor.FailedRecord {
	r := processor.FailedRecord{Task: t.id, Node: node, Partition: -1, Offset: -1, Err: err}
	if c := t.current; c != nil {
		r.Topic, r.Partition, r.Offset = c.meta.Topic, c.meta.Partition, c.meta.Offset
		r.Timestamp, r.Key, r.Value, r.Headers = c.raw.timestamp, c.raw.key, c.raw.value, c.raw.headers
	}
	return r
}

// deadLetterHeaders returns r's headers followed by those that say why it failed (see
// headerException), as Kafka Streams writes them.
func deadLetterHeaders(r processor.FailedRecord) []processor.Header {
	h := make([]processor.Header, 0, len(r.Headers)+6)
	h = append(h, r.Headers...)
	return append(h,
		processor.Header{Key: headerException, Value: fmt.Appendf(nil, "%T", r.Err)},
		processor.Header{Key: headerMessage, Value: []byte(r.Err.Error())},
		processor.Header{Key: headerStacktrace, Value: stackOf(r.Err)},
		processor.Header{Key: headerTopic, Value: []byte(r.Topic)},
		processor.Header{Key: headerPartition, Value: strconv.AppendInt(nil, int64(r.Partition), 10)},
		processor.Header{Key: headerOffset, Value: strconv.AppendInt(nil, r.Offset, 10)},
	)
}

// stackOf is the stack of the panic err wraps, or else err's chain of wrapped errors.
func stackOf(err error) []byte {
	if p, ok := errors.AsType[*processor.PanicError](err); ok {
		return p.Stack
	}
	var b strings.Builder
	for e := err; e != nil; e = errors.Unwrap(e) {
		fmt.Fprintf(&b, "%T: %v\n", e, e)
	}
	return []byte(b.String())
}

// recoverPanic, deferred in a function that calls user code, turns a panic into a
// *processor.PanicError in *err. It must be the deferred call itself (recover works
// only there).
func recoverPanic(err *error) {
	if v := recover(); v != nil {
		*err = &processor.PanicError{Value: v, Stack: debug.Stack()}
	}
}

// call calls fn, user code, with its panic recovered into an error.
func call(fn func() error) (err error) {
	defer recoverPanic(&err)
	return fn()
}

// ApplyGlobal writes in, a record of the topic of global store g, to kv with g.Apply,
// for the engine and the test driver alike. A record Apply cannot deserialize (it
// returned an error wrapping a *processor.DeserializationError, or panicked) goes to the
// deserialization handler: continued past, it is not applied and ApplyGlobal returns
// false and no error; the caller moves the store's offset past it all the same, so that
// a restart does not read it again. No dead-letter record is written for it: the global
// stores have no producer, and a store read again from the start would write it again.
// Other errors fail.
func ApplyGlobal(g plan.GlobalStore, kv store.KeyValueStore, in Input, policy ErrorPolicy, log *slog.Logger) (bool, error) {
	err := applyGlobal(g, kv, in)
	if err == nil {
		return true, nil
	}
	_, isPanic := err.(*processor.PanicError)
	derr, ok := errors.AsType[*processor.DeserializationError](err)
	if !ok && !isPanic {
		return false, fmt.Errorf("global store %q: applying %s partition %d offset %d: %w", g.Def.Name(), in.Topic, in.Partition, in.Offset, err)
	}
	cause := err
	if ok {
		cause = derr.Err
	}
	meta := processor.RecordMetadata{Topic: in.Topic, Partition: in.Partition, Offset: in.Offset}
	derr = &processor.DeserializationError{GlobalStore: g.Def.Name(), Source: g.Source, Record: meta, Err: cause}
	if Decide(policy.Context, log, string(deserializationKind), policy.Deserialization, processor.FailedRecord{
		Node: g.Source, Topic: in.Topic, Partition: in.Partition, Offset: in.Offset,
		Timestamp: in.Timestamp, Key: in.Key, Value: in.Value, Headers: in.Headers, Err: derr,
	}) {
		return false, nil
	}
	return false, derr
}

func applyGlobal(g plan.GlobalStore, kv store.KeyValueStore, in Input) (err error) {
	defer recoverPanic(&err)
	return g.Apply(kv, in.Key, in.Value, in.Timestamp)
}
