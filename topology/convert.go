package topology

import (
	"fmt"
	"reflect"

	"github.com/eddy-streams/eddy/internal/plan"
	"github.com/eddy-streams/eddy/processor"
)

// typed turns an erased key or value back into T. nil becomes the zero T: it is what a
// nil key or value of an interface type (any, error) turns into once erased, and what
// the engine passes for a record it made without one.
func typed[T any](v any) (T, error) {
	if v == nil {
		var zero T
		return zero, nil
	}
	t, ok := v.(T)
	if !ok {
		return t, fmt.Errorf("is a %T, not a %s", v, reflect.TypeFor[T]())
	}
	return t, nil
}

// typedRecord turns an erased record back into a Record[K, V]. Its error does not name
// the node: the task's ProcessingError does. It runs for every record a node takes, so
// it formats nothing unless it fails.
func typedRecord[K, V any](r plan.Record) (processor.Record[K, V], error) {
	k, err := typed[K](r.Key)
	if err != nil {
		return processor.Record[K, V]{}, fmt.Errorf("key %w", err)
	}
	v, err := typed[V](r.Value)
	if err != nil {
		return processor.Record[K, V]{}, fmt.Errorf("value %w", err)
	}
	return processor.Record[K, V]{Key: k, Value: v, Timestamp: r.Timestamp, Headers: r.Headers}, nil
}

// erased is the inverse of typedRecord.
func erased[K, V any](r processor.Record[K, V]) plan.Record {
	return plan.Record{Key: r.Key, Value: r.Value, Timestamp: r.Timestamp, Headers: r.Headers}
}
